"""The IR: equality ignores spans, canonical order is front-end independent, JSON round-trips."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.core import ir
from tether.core.diagnostics import Span
from tether.core.expr import Literal, parse_template
from tether.core.types import INT, STR, list_of


def _task(name: str, *, upstream: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> ir.Task:
    bindings = tuple(
        ir.Binding(f"in_{up.replace('-', '_')}", INT, parse_template(f"${{{{ tasks.{up}.outputs.result }}}}"))
        for up in upstream
    )
    return ir.Task(
        name=name,
        python=f"mod:{name.replace('-', '_')}",
        inputs=bindings,
        outputs=(ir.Output("result", INT),),
        after=after,
    )


def test_spans_do_not_take_part_in_equality() -> None:
    a = ir.Task(name="t", python="m:f", span=Span("a.yaml", 1, 1), spans={"python": Span("a.yaml", 2, 3)})
    b = ir.Task(name="t", python="m:f", span=Span("b.py", 9, 9))
    assert a == b
    assert hash(a) == hash(b)


def test_retry_policy_counts_retries_not_attempts() -> None:
    policy = ir.RetryPolicy(retries=3, backoff=ir.Backoff(delay_s=30, factor=2, max_delay_s=100))
    assert [policy.backoff.delay_before(k) for k in (1, 2, 3, 4)] == [30, 60, 100, 100]  # type: ignore[union-attr]


def test_topological_order_breaks_ties_by_name_whatever_the_declaration_order() -> None:
    tasks = [
        _task("d", upstream=("b", "c")),
        _task("c", upstream=("a",)),
        _task("b", upstream=("a",)),
        _task("a"),
        _task("z", after=("a",)),
    ]
    order = [t.name for t in ir.topological_order(tasks)]
    assert order == ["a", "b", "c", "d", "z"]
    assert [t.name for t in ir.topological_order(reversed(tasks))] == order


def test_topological_order_terminates_on_a_cycle() -> None:
    tasks = [_task("a", upstream=("b",)), _task("b", upstream=("a",)), _task("c")]
    assert [t.name for t in ir.topological_order(tasks)] == ["c", "a", "b"]


def _workflow() -> ir.Workflow:
    train = ir.Task(
        name="train",
        python="ml:train",
        image="ghcr.io/acme/trainer:1.4",
        inputs=(
            ir.Binding("shards", list_of(STR), parse_template("${{ tasks.prep.outputs.result }}")),
            ir.Binding("epochs", INT, Literal(3)),
            ir.Binding("tag", STR, parse_template("run-${{ inputs.n }}")),
        ),
        outputs=(ir.Output("result", STR),),
        retry=ir.RetryPolicy(2, ir.Backoff(10, 2.0, 300)),
        interruptible=ir.InterruptPolicy(5),
        checkpoint=ir.CheckpointPolicy(2),
        resources=ir.Resources(cpu_millicores=2000, memory_bytes=4 * 2**30, gpu=1),
        timeout_s=7200,
        when=parse_template("${{ inputs.n > 2 and not inputs.dry }}"),
        cache=ir.CachePolicy("1"),
        env=(("B", "2"), ("A", "1")),
        secrets=(ir.Secret("hf", "token", "HF_TOKEN"),),
    )
    prep = ir.Task(
        name="prep",
        image="alpine:3.20",
        container=ir.Container((Literal("sh"),), (Literal("-c"), parse_template("echo ${{ item }}"))),
        inputs=(),
        outputs=(ir.Output("result", STR),),
        foreach=parse_template("${{ inputs.shards }}"),
    )
    return ir.Workflow(
        name="wf",
        tasks=(train, prep),
        inputs=(
            ir.WorkflowInput("n", INT, True, 3, "how many"),
            ir.WorkflowInput("dry", ir.parse_type("bool"), True, False),
            ir.WorkflowInput("shards", list_of(STR)),
        ),
        outputs=(ir.WorkflowOutput("model", parse_template("${{ tasks.train.outputs.result }}"), STR),),
        labels=(("team", "ml"),),
    )


def test_json_round_trip_of_a_canonical_workflow() -> None:
    workflow = ir.canonical(_workflow())
    text = ir.to_json(workflow)
    assert ir.from_json(text) == workflow
    assert ir.to_json(ir.from_json(text)) == text
    data = json.loads(text)
    assert data["ir_version"] == ir.IR_VERSION
    assert [t["name"] for t in data["workflow"]["tasks"]] == ["prep", "train"]
    assert data["workflow"]["tasks"][1]["upstream"] == ["prep"]


def test_canonical_is_idempotent_and_order_free() -> None:
    workflow = _workflow()
    assert ir.canonical(ir.canonical(workflow)) == ir.canonical(workflow)
    shuffled = ir.Workflow(
        name=workflow.name,
        tasks=tuple(reversed(workflow.tasks)),
        inputs=tuple(reversed(workflow.inputs)),
        outputs=workflow.outputs,
        labels=workflow.labels,
    )
    assert ir.to_json(ir.canonical(shuffled)) == ir.to_json(ir.canonical(workflow))


def test_a_newer_ir_version_is_refused() -> None:
    text = ir.to_json(ir.canonical(_workflow())).replace('"ir_version": 1', '"ir_version": 99')
    try:
        ir.from_json(text)
    except ir.IRVersionError as exc:
        assert "99" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected IRVersionError")


names = st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(names, st.lists(names, max_size=3), min_size=1, max_size=12))
def test_topological_order_respects_every_edge(edges: dict[str, list[str]]) -> None:
    known = sorted(edges)
    # keep only edges to earlier names so the graph is acyclic
    tasks = [_task(n, after=tuple(u for u in edges[n] if u in known and u < n)) for n in known]
    order = [t.name for t in ir.topological_order(tasks)]
    assert sorted(order) == known
    position = {name: i for i, name in enumerate(order)}
    for task in tasks:
        for up in task.after:
            assert position[up] < position[task.name]
