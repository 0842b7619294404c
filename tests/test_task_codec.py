"""core.task_codec and core.values: what `tether exec --task/--input/--value` read, round-tripped."""

from __future__ import annotations

import base64
import glob
import json
import math
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES
from tether.compiler.load import load
from tether.core import ir
from tether.core.expr import Literal, parse_template
from tether.core.task_codec import PayloadError, decode_task, encode_task, payload_dict
from tether.core.types import parse_type
from tether.core.values import ValueTextError, decode_text, encode_text

EXAMPLE_WORKFLOWS = [load(path).workflow for path in sorted(glob.glob(str(EXAMPLES / "*.yaml")))]
EXAMPLE_TASKS = [(wf, task) for wf in EXAMPLE_WORKFLOWS if wf is not None for task in wf.tasks]


@pytest.mark.parametrize("workflow, task", EXAMPLE_TASKS, ids=[f"{w.name}/{t.name}" for w, t in EXAMPLE_TASKS])
def test_every_example_task_round_trips_and_is_safe_in_argo(workflow: ir.Workflow, task: ir.Task) -> None:
    text = encode_task(task, workflow)
    assert "{{" not in text and text == encode_task(task, workflow)  # deterministic
    payload = decode_task(text)
    assert payload.task == task and payload.workflow == workflow.name
    shared = decode_task(encode_task(task, workflow, with_bindings=False))
    assert shared.unbound == {b.name for b in task.inputs}
    assert [b.name for b in shared.task.inputs] == [b.name for b in task.inputs]
    assert [b.type for b in shared.task.inputs] == [b.type for b in task.inputs]


def test_payload_carries_the_types_of_what_the_task_reads() -> None:
    wf = next(w for w in EXAMPLE_WORKFLOWS if w is not None and w.name == "fanout-sweep")
    payload = decode_task(encode_task(wf.task("pick-best"), wf))  # type: ignore[arg-type]
    assert str(payload.types["tasks.trial.outputs.loss"]) == "list[float]"  # a fan-out's list
    assert payload.fanned_out == {"trial"}
    assert payload.inputs["grid"].has_default and len(payload.inputs["grid"].default) == 4
    trial = decode_task(encode_task(wf.task("trial"), wf))  # type: ignore[arg-type]
    assert str(trial.types["item"]) == "dict[str, float]"


def _version_1(task: ir.Task, workflow: ir.Workflow, with_bindings: bool = True) -> str:
    """A payload as tether wrote it before version 2: "z1:", the JSON at v 1, no zlib dictionary."""
    data = {**payload_dict(task, workflow, with_bindings), "v": 1}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "z1:" + base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def test_payloads_written_by_an_older_tether_still_run() -> None:
    """A manifest compiled before payload version 2 keeps working with a newer tether in the image."""
    for workflow, task in EXAMPLE_TASKS:
        assert decode_task(_version_1(task, workflow)).task == task


def test_the_preset_dictionary_makes_every_example_payload_shorter() -> None:
    old = new = 0
    for workflow, task in EXAMPLE_TASKS:
        for with_bindings in (True, False):
            before = len(_version_1(task, workflow, with_bindings))
            after = len(encode_task(task, workflow, with_bindings=with_bindings))
            assert after < before
            old, new = old + before, new + after
    print(f"{old / len(EXAMPLE_TASKS) / 2:.0f} -> {new / len(EXAMPLE_TASKS) / 2:.0f} characters per payload")
    assert new < old * 0.7  # measured: 0.58 on the examples (their inline scripts do not shrink)


def test_a_shared_payload_may_keep_its_bindings() -> None:
    """Argo shares one template between nodes with equal bindings: exec renames the task per node."""
    workflow, task = EXAMPLE_TASKS[0]
    payload = decode_task(encode_task(task, workflow, with_bindings=True, shared=True))
    assert payload.shared and not payload.unbound and payload.task == task


@pytest.mark.parametrize("text", ["", "z1:", "z1:!!!", "z2:abc", "z1:" + "A" * 12, "z3:eJwDAAAAAAE", "z9:"])
def test_damaged_payloads_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(PayloadError):
        decode_task(text)


_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
_TYPES = st.sampled_from(["int", "float", "str", "bool", "file", "list[int]", "dict[str, float]", "str?"])
_LITERALS = st.one_of(st.integers(-1000, 1000), st.text(max_size=20), st.booleans(), st.none())


@st.composite
def _tasks(draw: st.DrawFn) -> tuple[ir.Workflow, ir.Task]:
    inputs = draw(st.dictionaries(_NAMES, _TYPES, max_size=3))
    wf_inputs = tuple(ir.WorkflowInput(n, parse_type(t)) for n, t in sorted(inputs.items()))
    bindings = []
    for i, name in enumerate(sorted(inputs)):
        bindings.append(ir.Binding(f"in{i}", parse_type(inputs[name]), parse_template("${{ inputs." + name + " }}")))
    literal = draw(_LITERALS)
    bindings.append(ir.Binding("lit", parse_type("str?"), Literal(literal)))
    text = draw(st.text(alphabet="ab{}$ ", max_size=12))
    container = ir.Container((Literal("sh"), Literal("-c")), (Literal(text),)) if draw(st.booleans()) else None
    task = ir.Task(
        name=draw(_NAMES),
        python=None if container else "mod:fn",
        container=container,
        inputs=tuple(bindings),
        outputs=(ir.Output("out", parse_type(draw(_TYPES))),),
        retry=ir.RetryPolicy(draw(st.integers(0, 5))),
        interruptible=ir.InterruptPolicy(draw(st.integers(0, 5))) if draw(st.booleans()) else None,
        checkpoint=ir.CheckpointPolicy(draw(st.integers(1, 4))) if draw(st.booleans()) else None,
        env=tuple(sorted(draw(st.dictionaries(st.from_regex(r"[A-Z]{1,5}", fullmatch=True), st.text(max_size=8), max_size=2)).items())),
    )
    return ir.Workflow("wf", (task,), wf_inputs), task


@settings(max_examples=60, deadline=None)
@given(_tasks())
def test_generated_tasks_round_trip(case: tuple[ir.Workflow, ir.Task]) -> None:
    workflow, task = case
    text = encode_task(task, workflow)
    assert "{{" not in text
    assert decode_task(text).task == task


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(_JSON)
def test_json_values_round_trip_through_engine_text(value: object) -> None:
    assert decode_text(encode_text(value, parse_type("list[int]")), None) == value  # JSON whatever the type


@given(st.text())
def test_strings_travel_as_raw_text(text: str) -> None:
    assert encode_text(text, parse_type("str")) == text
    assert decode_text(text, parse_type("str")) == text
    assert decode_text(text, parse_type("file")) == text


def test_engine_text_details() -> None:
    assert encode_text({"b": 1, "a": [1.5, None]}, parse_type("dict[str, float]")) == '{"a":[1.5,null],"b":1}'
    assert encode_text(None, parse_type("str?")) == "null" and decode_text("null", parse_type("str?")) is None
    assert decode_text("42", parse_type("int")) == 42 and decode_text("42", parse_type("str")) == "42"
    assert decode_text('["3.5","4"]', parse_type("list[float]")) == [3.5, 4]  # Argo's aggregated outputs
    with pytest.raises(ValueTextError):
        encode_text(math.nan, parse_type("float"))
    with pytest.raises(ValueTextError):
        decode_text("NaN", parse_type("float"))
    with pytest.raises(ValueTextError):
        decode_text("{", parse_type("dict[str, int]"))
