"""Validation on IR built directly (as the Python front end builds it): inference, graph, names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tether.core.diagnostics import Diagnostics
from tether.core.expr import Interp, Literal, Ref, parse_template
from tether.core.ir import Binding, Container, Output, RetryPolicy, Task, Workflow, WorkflowInput, WorkflowOutput
from tether.core.types import parse_type
from tether.compiler.validate import validate
from tether.core.placeholders import ERROR_TYPE


def T(text: str):  # type: ignore[no-untyped-def]
    return parse_type(text)


def out(task: str, name: str) -> Ref:
    return Ref("tasks", name, task)


def run(workflow: Workflow) -> tuple[Workflow, list[tuple[str, str]]]:
    diags = Diagnostics()
    result = validate(workflow, diags)
    return result, [(d.code, d.message) for d in diags]


def task(name: str, **fields) -> Task:  # type: ignore[no-untyped-def]
    fields.setdefault("python", f"steps:{name.replace('-', '_')}")
    return Task(name, **fields)


def test_types_are_inferred_along_every_edge() -> None:
    wf = Workflow(
        "infer",
        inputs=(WorkflowInput("cfg", T("dict[str, list[int]]")), WorkflowInput("mode", T("str"))),
        tasks=(
            task("split", outputs=(Output("shards", T("list[str]")),)),
            task(
                "prep",
                foreach=out("split", "shards"),
                inputs=(Binding("shard", None, Ref("item")), Binding("first", None, Ref("inputs", "cfg", path=("a", 0)))),
                outputs=(Output("rows", T("int")),),
            ),
            task(
                "total",
                inputs=(
                    Binding("rows", None, out("prep", "rows")),
                    Binding("label", None, parse_template("mode=${{ inputs.mode }}")),
                    Binding("scale", T("float"), Ref("tasks", "rows", "prep", (0,))),
                ),
                outputs=(Output("sum", T("int")),),
            ),
        ),
        outputs=(WorkflowOutput("sum", out("total", "sum")),),
    )
    result, problems = run(wf)
    assert problems == []
    types = {(t.name, b.name): str(b.type) for t in result.tasks for b in t.inputs}
    assert types == {
        ("prep", "shard"): "str",
        ("prep", "first"): "int",
        ("total", "rows"): "list[int]",  # a fan-out's output, seen downstream
        ("total", "label"): "str",
        ("total", "scale"): "float",  # declared; int flows into float
    }
    assert str(result.outputs[0].type) == "int"


def test_a_clean_workflow_keeps_its_task_objects() -> None:
    a = task("a", inputs=(Binding("x", T("int"), Literal(1)),))
    result, problems = run(Workflow("same", tasks=(a,)))
    assert problems == [] and result.tasks[0] is a


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        (
            (task("a", inputs=(Binding("x", T("int"), Literal("three")),)),),
            [("E208", "value \"three\" of input 'x' of task 'a' does not fit type int")],
        ),
        (
            (task("a", outputs=(Output("y", T("float?")),)), task("b", inputs=(Binding("x", T("float"), out("a", "y")),))),
            [("E202", "input 'x' of task 'b' expects float, but tasks.a.outputs.y is float?")],
        ),
        (
            (task("a", when=Literal("yes")),),
            [("E203", "'when' of task 'a' must be bool, not str")],
        ),
        (
            (task("a", foreach=Literal(3), inputs=(Binding("x", None, Ref("item")),)),),
            [("E204", "'foreach' of task 'a' must be a list, not int")],
        ),
        (
            (task("a", foreach=Literal((1, 2)), when=parse_template("${{ item == 1 }}")),),
            [("E205", "'item' is used in 'when' of task 'a', which is decided once for the whole task, before its items")],
        ),
        (
            (task("a", when=parse_template("${{ not 3 }}")),),
            [("E206", "'not' needs a bool, not int")],
        ),
        (
            (task("a", when=parse_template("${{ 'a' < 1 }}")),),
            [("E206", "'<' needs two numbers or two strings, not str and int")],
        ),
        (
            (task("a", inputs=(Binding("x", None, Literal((1, "a"))),)),),
            [("E209", "cannot infer the type of input 'x' of task 'a' from [1, \"a\"]")],
        ),
    ],
)
def test_type_errors(tasks: tuple[Task, ...], expected: list[tuple[str, str]]) -> None:
    assert run(Workflow("types", tasks=tasks))[1] == expected


def test_graph_errors_with_suggestions() -> None:
    wf = Workflow(
        "graph",
        inputs=(WorkflowInput("epochs", T("int")),),
        tasks=(
            task("train", inputs=(Binding("e", None, Ref("inputs", "epoch")),), outputs=(Output("model", T("file")),)),
            task("evaluate", inputs=(Binding("m", None, out("trian", "model")), Binding("n", None, out("train", "modle")))),
            task("publish", after=("publish", "evaluat")),
        ),
    )
    assert run(wf)[1] == [
        ("E302", "unknown workflow input 'epoch'"),
        ("E301", "unknown task 'trian'"),
        ("E303", "task 'train' has no output 'modle'"),
        ("E304", "task 'publish' lists itself in 'after'"),
        ("E301", "unknown task 'evaluat'"),
    ]


def test_each_cycle_is_named_once_in_order() -> None:
    wf = Workflow(
        "cycles",
        tasks=(
            task("a", inputs=(Binding("x", None, out("c", "o")),), outputs=(Output("o", T("int")),)),
            task("b", inputs=(Binding("x", None, out("a", "o")),), outputs=(Output("o", T("int")),)),
            task("c", inputs=(Binding("x", None, out("b", "o")),), outputs=(Output("o", T("int")),)),
            task("x", after=("y",)),
            task("y", after=("x",)),
            task("z", after=("a",)),
        ),
    )
    assert run(wf)[1] == [
        ("E300", "dependency cycle: a -> b -> c -> a"),
        ("E300", "dependency cycle: x -> y -> x"),
    ]


def test_names_and_duplicates_from_a_python_built_workflow() -> None:
    wf = Workflow(
        "My_Flow",
        inputs=(WorkflowInput("batch-size", T("int")), WorkflowInput("n", T("int"), True, "ten")),
        tasks=(
            task("a" * 64),
            task("dup"),
            task("dup"),
            task("env", env=(("AWS_BATCH_X", "1"), ("1BAD", "2")), secrets=(),
                 outputs=(Output("ok", T("int")), Output("ok", T("int")))),
            Task("neither"),
            Task("both", python="m:f", container=Container(), image="alpine"),
            Task("no-image", container=Container((Literal("true"),))),
            task("negative", retry=RetryPolicy(-1)),
        ),
    )
    assert run(wf)[1] == [
        ("E400", "workflow name 'My_Flow' is not a lowercase DNS-1123 label"),
        ("E400", f"task name '{'a' * 64}' is 64 characters long (at most 63)"),
        ("E106", "task 'dup' is defined twice"),
        ("E401", "workflow input name 'batch-size' is not an identifier"),
        ("E208", "default \"ten\" of input 'n' does not fit type int"),
        ("E106", "output 'ok' of task 'env' is defined twice"),
        ("E402", "environment variable 'AWS_BATCH_X' uses the reserved prefix 'AWS_BATCH_'"),
        ("E402", "environment variable name '1BAD' is invalid"),
        ("E115", "task 'neither' has neither 'python' nor 'container'"),
        ("E115", "task 'both' has both 'python' and 'container'"),
        ("E113", "retries of task 'negative' must be 0 or more, not -1"),
    ]


def test_placeholders_for_reported_problems_stay_quiet() -> None:
    """A front end marks what it already reported; validation adds no follow-on noise."""
    wf = Workflow(
        "quiet",
        inputs=(WorkflowInput("broken", ERROR_TYPE),),
        tasks=(
            task("a", outputs=(Output("y", ERROR_TYPE),)),
            task("b", inputs=(Binding("x", T("int"), out("a", "y")), Binding("z", T("str"), Ref("inputs", "broken")))),
        ),
    )
    assert run(wf)[1] == []


def test_interpolation_is_always_a_string() -> None:
    wf = Workflow("s", tasks=(task("a", inputs=(Binding("x", T("int"), Interp(("n=", Literal(1)))),)),))
    assert run(wf)[1] == [("E202", "input 'x' of task 'a' expects int, but the interpolated string is str")]


def test_clean_validation_never_imports_networkx() -> None:
    """networkx costs ~0.3 s to import: only a spec with a cycle may pay for it."""
    probe = (
        "import sys\n"
        "from tether.core.diagnostics import Diagnostics\n"
        "from tether.core.ir import Task, Workflow\n"
        "from tether.compiler.validate import validate\n"
        "wf = Workflow('w', tasks=(Task('a', python='m:a'), Task('b', python='m:b', after=('a',))))\n"
        "validate(wf, Diagnostics()); print('networkx' in sys.modules)\n"
        "wf = Workflow('w', tasks=(Task('a', python='m:a', after=('b',)), Task('b', python='m:b', after=('a',))))\n"
        "validate(wf, Diagnostics()); print('networkx' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True"]



# ---------------------------------------------------------------------------- repeated references

_REPEAT_SPEC = """apiVersion: tether/v1
kind: Workflow
metadata: {{name: wf}}
spec:
  inputs:
    x: {{type: int, default: 1}}
  tasks:
    a:
      python: m:f
      inputs:
        plain:
          type: str
          value: {plain}
        single:
          type: str
          value: '{quoted}'
"""


def _repeat_diagnostics(count: int):  # type: ignore[no-untyped-def]
    from tether.compiler.yaml.spec import compile_yaml_text

    value = "-".join(["${{ inputs.y.k }}"] * count)
    diags = Diagnostics()
    workflow = compile_yaml_text(_REPEAT_SPEC.format(plain=value, quoted=value.replace("-", "''")), "spec.yaml", diags)
    assert workflow is not None
    validate(workflow, diags)
    return list(diags)


def test_each_occurrence_of_a_repeated_reference_gets_its_own_caret() -> None:
    found = _repeat_diagnostics(3)
    assert [d.code for d in found] == ["E302"] * 6
    plain_line, quoted_line = (13, 16)
    start = len("          value: ") + 1
    step = len("${{ inputs.y.k }}-")
    # The caret covers `inputs.y.k` in each `${{ }}`, in the plain scalar and in the quoted one
    # (where each '' before it shifts the source column by one more).
    assert [(d.span.line, d.span.col, d.span.end_col) for d in found if d.span.line == plain_line] == [
        (plain_line, start + 4 + i * step, start + 4 + i * step + len("inputs.y.k")) for i in range(3)
    ]
    qstart = len("          value: '") + 1
    assert [d.span.col for d in found if d.span.line == quoted_line] == [qstart + 4 + i * (step + 1) for i in range(3)]


def _line_events(count: int) -> int:
    """Python lines executed to compile, validate and locate `count` repeated references."""
    _repeat_diagnostics(count)  # warm caches and lazy imports, so both runs pay the same fixed cost
    lines = 0

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        nonlocal lines
        if event == "line":
            lines += 1
        return tracer

    sys.settrace(tracer)
    try:
        found = _repeat_diagnostics(count)
    finally:
        sys.settrace(None)
    assert len(found) == 2 * count and len({d.span for d in found}) == 2 * count
    return lines


def test_reporting_repeated_references_is_linear() -> None:
    """200 repeats once took 25 s (each caret re-mapped the whole string, for every caret).
    Counted in executed lines, not seconds: 4x the references may cost at most 6x the work
    (it was 64x)."""
    assert _line_events(200) < 6 * _line_events(50)


def test_counts_and_durations_past_what_platforms_take_are_refused() -> None:
    """A Python spec can build any int; 1e23 retries would reach Argo as `limit: 1e23`."""
    from tether.core.ir import Backoff, InterruptPolicy

    wf = Workflow("big", tasks=(
        task("many", retry=RetryPolicy(10_001), interruptible=InterruptPolicy(10**23)),
        task("forever", timeout_s=2**31),
        task("slow", retry=RetryPolicy(1, Backoff(2**31, 2.0))),
        task("fine", retry=RetryPolicy(10_000), timeout_s=2**31 - 1),
    ))
    assert run(wf)[1] == [
        ("E113", "retries of task 'many' must be at most 10,000, not 10,001"),
        ("E113", "interruptible of task 'many' must be at most 10,000, not 100,000,000,000,000,000,000,000"),
        ("E113", "timeout of task 'forever' must be at most 2,147,483,647 seconds (about 68 years), not 2,147,483,648"),
        ("E113", "retry backoff of task 'slow' waits longer than 2,147,483,647 seconds"),
    ]
