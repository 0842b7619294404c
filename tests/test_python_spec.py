"""The Python front end: decorators, the ContextVar builder, SPEC forms, diagnostics, local calls."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, NamedTuple, Optional, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tether
from cli_helpers import tether as tether_cli
from tether.api.graph import Promise
from tether.core.diagnostics import Diagnostics, render_plain
from tether.core.expr import ListExpr, Literal, parse_expr, parse_template
from tether.core.ir import Workflow
from tether.compiler.load import load
from tether.compiler.python.interface import UnsupportedAnnotation, tether_type
from tether.compiler.python.policies import duration_seconds
from tether.compiler.python.source import SourceIndex
from tether.compiler.python.spec import compile_workflow
from tether.core.types import Type, parse_type
from tether.compiler.validate import validate
from tether.runtime.checkpoint import Checkpoint as CheckpointStore
from tether.runtime.context import TaskContext, task_context

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
CASES = Path(__file__).resolve().parent / "python_cases"


def build(workflow: tether.WorkflowFunction[..., Any]) -> tuple[Workflow | None, list[str]]:
    """Compile and validate a workflow object defined in this module: (IR, rendered diagnostics)."""
    diags = Diagnostics()
    result = compile_workflow(workflow, diags, SourceIndex({}))
    if result is not None:
        result = validate(result, diags)
    return result, [render_plain(d) for d in diags.sorted()]


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_case_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- tasks for the tests


class Stats(NamedTuple):
    accuracy: float
    loss: float


@tether.task
def produce(n: int) -> list[int]:
    return list(range(n))


@tether.task()
def measure(values: list[int]) -> Stats:
    return Stats(accuracy=len(values) / 10, loss=0.1)


@tether.task
def announce(message: str, level: Optional[str] = None) -> None:
    print(message, level)


@tether.task(checkpoint=tether.Checkpoint(keep=2))
def count_up(target: int) -> int:
    """Counts to `target`, checkpointing each step; fails once at 3 to prove a resume."""
    cp = tether.current_context().checkpoint
    start = int(cp.read() or b"0")
    for value in range(start, target):
        if value == 3 and tether.current_context().attempt == 1:
            raise tether.RecoverableError("flaky at 3")
        cp.write(str(value + 1).encode())
    return start


# ---------------------------------------------------------------------------- SPEC forms


def test_the_seed_compiles_from_a_file_in_a_subprocess(
    tether_cmd: list[str], tether_env: dict[str, str]
) -> None:
    spec = "specs/examples/checkpointing.py:checkpointing_example"
    done = tether_cli(tether_cmd, tether_env, "compile", spec, "--target", "ir", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    workflow = json.loads(done.stdout)["workflow"]
    (task,) = workflow["tasks"]
    assert (workflow["name"], task["name"], task["python"]) == (
        "checkpointing-example",
        "use-checkpoint",
        "checkpointing:use_checkpoint",
    )
    assert task["retry"] == {"retries": 3, "backoff": None}
    assert task["inputs"] == {"n_iterations": {"expr": "${{ inputs.n_iterations }}", "type": "int"}}
    assert workflow["outputs"]["result"]["expr"] == "${{ tasks.use-checkpoint.outputs.result }}"


def test_a_module_spec_compiles_to_the_same_bytes_as_the_file_spec(
    tether_cmd: list[str], tether_env: dict[str, str]
) -> None:
    def compile_ir(spec: str, cwd: Path) -> Any:
        return tether_cli(tether_cmd, tether_env, "compile", spec, "--target", "ir", cwd=cwd)

    by_module = compile_ir("checkpointing:checkpointing_example", EXAMPLES)
    by_file = compile_ir("specs/examples/checkpointing.py:checkpointing_example", ROOT)
    assert by_module.returncode == 0, by_module.stderr
    assert by_module.stdout == by_file.stdout


def test_task_refs_name_the_module_that_defines_each_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "acme"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "steps.py").write_text(
        "import tether\n\n\n@tether.task\ndef clean(rows: list[str]) -> list[str]:\n    return rows\n",
        encoding="utf-8",
    )
    (package / "flows.py").write_text(
        "import tether\nfrom acme.steps import clean\nfrom sibling import shout\n\n\n"
        "@tether.workflow\ndef nightly(rows: list[str]) -> str:\n    return shout(rows=clean(rows=rows))\n",
        encoding="utf-8",
    )
    (tmp_path / "sibling.py").write_text(
        "import tether\n\n\n@tether.task\ndef shout(rows: list[str]) -> str:\n    return ' '.join(rows).upper()\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # `package.module:workflow` is found from the working directory
    result = load("acme.flows:nightly")
    assert result.workflow is not None, result.diagnostics
    assert {t.name: t.python for t in result.workflow.tasks} == {
        "clean": "acme.steps:clean",
        "shout": "sibling:shout",
    }
    missing = load("acme.nowhere:nightly")
    assert [(d.code, d.message) for d in missing.diagnostics] == [("E120", "no module named 'acme.nowhere'")]


def test_compiling_leaves_sys_path_and_sys_modules_as_they_were() -> None:
    path_before, had_module = list(sys.path), "checkpointing" in sys.modules
    assert load(str(EXAMPLES / "checkpointing.py") + ":checkpointing_example").ok
    assert sys.path == path_before
    assert ("checkpointing" in sys.modules) == had_module


def test_a_broken_spec_is_diagnosed_in_a_subprocess_without_a_traceback(
    tether_cmd: list[str], tether_env: dict[str, str]
) -> None:
    done = tether_cli(tether_cmd, tether_env, "check", "tests/python_cases/import_error.py:never_built", cwd=ROOT)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert (
        "tests/python_cases/import_error.py:6:1: error[E120]: importing 'tests/python_cases/import_error.py' failed: KeyError: 'high'"
        in output
    )
    assert '6 | DEFAULT = THRESHOLDS["high"]' in output


# ---------------------------------------------------------------------------- diagnostics


def _case(name: str) -> str:
    return f"tests/python_cases/{name}"


DIAGNOSTICS = {
    "mistyped_binding.py:mistyped": [
        f"{_case('mistyped_binding.py')}:19:20: error[E202]: input 'n' of task 'count' expects int, but tasks.fetch.outputs.result is str",
    ],
    "missing_annotation.py:annotations": [
        f"{_case('missing_annotation.py')}:9:32: error[E210]: parameter 'factor' of task 'scale' has no type annotation",
        f"{_case('missing_annotation.py')}:14:36: error[E211]: parameter 'extra' of task 'summarize': 'Any' has no tether type",
        f"{_case('missing_annotation.py')}:14:51: error[E211]: return type of task 'summarize': 'set[int]' is not a tether type",
        f"{_case('missing_annotation.py')}:19:5: error[E210]: task 'no-return' has no return annotation",
    ],
    "calls.py:calls": [
        f"{_case('calls.py')}:30:13: error[E123]: task 'split' was called with 1 positional argument(s); task calls take keywords only",
        f"{_case('calls.py')}:31:11: error[E124]: task 'total' has no input 'valuez'",
        f"{_case('calls.py')}:32:5: error[E125]: task 'total-2' is missing required input(s): values",
        f"{_case('calls.py')}:34:11: error[E214]: task 'log' returns nothing, so its result cannot be passed on",
        f"{_case('calls.py')}:35:11: error[E214]: task 'split' has several outputs (train, test); pick one",
        f"{_case('calls.py')}:36:18: error[E303]: task 'split' has no output 'validation'",
        f"{_case('calls.py')}:37:11: error[E213]: input 'values' of task 'total-6': a set cannot be passed to a task",
        f"{_case('calls.py')}:38:11: error[E213]: input 'values' of task 'total-7': a dict cannot hold promises",
        f"{_case('calls.py')}:39:9: error[E201]: input 'message' of task 'log-2': unexpected end of expression",
        f"{_case('calls.py')}:40:5: error[E128]: .after() takes promises of task calls, not a str",
    ],
    "control.py:python_if": [
        f"{_case('control.py')}:29:5: error[E129]: a promise has no truth value while the workflow is being built",
    ],
    "control.py:misuse": [
        f"{_case('control.py')}:37:14: error[E128]: tether.foreach cannot be nested",
        f"{_case('control.py')}:39:10: error[E205]: a tether.foreach item was used outside its `with` block",
        f"{_case('control.py')}:40:10: error[E128]: tether.when needs a condition built from promises, not a bool",
    ],
    "control.py:unnamed": [
        f"{_case('control.py')}:46:5: error[E127]: workflow 'unnamed' returns a tuple; outputs need names",
    ],
    "import_error.py:never_built": [
        f"{_case('import_error.py')}:6:1: error[E120]: importing '{_case('import_error.py')}' failed: KeyError: 'high'",
    ],
    "syntax_error.py:wf": [
        f"{_case('syntax_error.py')}:6:15: error[E120]: importing '{_case('syntax_error.py')}' failed: SyntaxError: invalid syntax",
    ],
    "bad_policies.py:policies": [
        f"{_case('bad_policies.py')}:7:5: error[E113]: task 'train': retries must be 0 or more, not -1",
        f"{_case('bad_policies.py')}:8:5: error[E111]: task 'train': timeout: invalid duration '1.5h'",
        f"{_case('bad_policies.py')}:9:5: error[E112]: task 'train': resources.memory: memory '500m' is in milli-bytes",
        f"{_case('bad_policies.py')}:10:5: error[E113]: task 'train': Checkpoint.keep must be 1 or more, not 0",
        f"{_case('bad_policies.py')}:16:14: error[E113]: task 'fetch': Backoff.factor must be 1 or more, not 0.5",
    ],
    "nested_task.py:wf": [
        f"{_case('nested_task.py')}:6:9: error[E126]: task 'inner' is not a module-level function "
        "(factory.<locals>.inner); the runtime cannot import it",
    ],
    "body_error.py:arithmetic": [
        f"{_case('body_error.py')}:14:5: error[E122]: building workflow 'arithmetic' failed: "
        "TypeError: unsupported operand type(s) for +: 'Promise' and 'int'",
    ],
    "calls.py:split": [
        f"{_case('calls.py')}:14:5: error[E121]: 'split' in '{_case('calls.py')}' is not a @tether.workflow"
    ],
    "calls.py:cals": [f"error[E121]: '{_case('calls.py')}' has no workflow 'cals'"],
}


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="exact columns of call sites need co_positions (3.11+)"
)
@pytest.mark.parametrize("spec", sorted(DIAGNOSTICS))
def test_diagnostics_point_at_the_users_file_line_and_column(
    root: Path, spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root)
    result = load(_case(spec))
    assert [render_plain(d) for d in result.diagnostics] == DIAGNOSTICS[spec]
    assert result.workflow is None


def test_a_spec_file_named_like_a_standard_module_is_refused(tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("import tether\n", encoding="utf-8")
    (diagnostic,) = load(f"{tmp_path / 'json.py'}:wf").diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E120",
        "'json.py' has the name of the standard library module 'json'",
    )


def test_the_mistyped_binding_renders_a_caret_under_the_value(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether.core.diagnostics import render

    monkeypatch.chdir(root)
    result = load(_case("mistyped_binding.py:mistyped"))
    (diagnostic,) = result.diagnostics
    text = render(diagnostic, result.sources[diagnostic.span.file])  # type: ignore[union-attr]
    assert text.splitlines()[1:4] == ["   |", "19 |     return count(n=text)", "   |                    ^^^^"]


def test_decorating_never_raises_for_bad_annotations() -> None:
    module = load_module(CASES / "missing_annotation.py")  # imports fine; compile reports
    assert module.scale([1.0, 2.0], 2) == [2.0, 4.0]


# ---------------------------------------------------------------------------- the builder


@tether.workflow
def pipeline(n: int = 5, threshold: float = 0.3) -> Stats:
    """Measure a range.

    Only the first paragraph is the description.
    """
    values = produce(n=n)
    stats = measure(values=values)
    with tether.when((stats.accuracy > threshold) & ~(stats.loss >= 1)):
        announce(message=f"accuracy {stats.accuracy} over {threshold}").after(values)
    return stats


def test_calls_bind_promises_to_refs_and_the_return_value_to_outputs() -> None:
    workflow, diagnostics = build(pipeline)
    assert diagnostics == []
    assert workflow is not None
    assert [t.name for t in workflow.tasks] == ["produce", "measure", "announce"]
    assert workflow.description == "Measure a range."
    assert [(i.name, str(i.type), i.default) for i in workflow.inputs] == [
        ("n", "int", 5),
        ("threshold", "float", 0.3),
    ]
    measure_task = workflow.task("measure")
    assert measure_task is not None
    assert measure_task.input("values").value == parse_expr("tasks.produce.outputs.result")  # type: ignore[union-attr]
    assert [(o.name, str(o.type)) for o in measure_task.outputs] == [("accuracy", "float"), ("loss", "float")]
    assert {o.name: o.value for o in workflow.outputs} == {
        "accuracy": parse_expr("tasks.measure.outputs.accuracy"),
        "loss": parse_expr("tasks.measure.outputs.loss"),
    }


def test_conditions_and_fstrings_become_the_expressions_yaml_would_write() -> None:
    workflow, _ = build(pipeline)
    announce_task = workflow.task("announce")  # type: ignore[union-attr]
    assert announce_task is not None
    assert announce_task.when == parse_expr(
        "tasks.measure.outputs.accuracy > inputs.threshold and not tasks.measure.outputs.loss >= 1"
    )
    assert announce_task.input("message").value == parse_template(  # type: ignore[union-attr]
        "accuracy ${{ tasks.measure.outputs.accuracy }} over ${{ inputs.threshold }}"
    )
    assert announce_task.after == ("produce",)
    assert [b.name for b in announce_task.inputs] == ["message"]  # `level` keeps its Python default


@tether.workflow
def fan_out(n: int) -> dict[str, Any]:
    lists = produce(n=n)
    with tether.foreach([lists, [1, 2]]) as item:
        stats = measure(values=item)
    first = produce(n=n)
    again = produce(n=3)
    return {"all": stats.accuracy, "sizes": [first, again]}


def test_foreach_marks_the_tasks_in_its_block_and_repeated_calls_get_numbered_names() -> None:
    workflow, diagnostics = build(fan_out)
    assert diagnostics == []
    measure_task = workflow.task("measure")  # type: ignore[union-attr]
    assert measure_task is not None
    # a literal list inside stays one Literal, as the YAML front end reads `[${{ ... }}, [1, 2]]`
    assert measure_task.foreach == ListExpr((parse_expr("tasks.produce.outputs.result"), Literal((1, 2))))
    assert measure_task.input("values").value == parse_expr("item")  # type: ignore[union-attr]
    assert sorted(t.name for t in workflow.tasks) == ["measure", "produce", "produce-2", "produce-3"]  # type: ignore[union-attr]
    assert all(t.foreach is None for t in workflow.tasks if t.name != "measure")  # type: ignore[union-attr]
    outputs = {o.name: str(o.type) for o in workflow.outputs}  # type: ignore[union-attr]
    assert outputs == {"all": "list[float]", "sizes": "list[list[int]]"}  # the fan-out is a list downstream


@tether.workflow
def inner_steps(n: int) -> list[int]:
    return produce(n=n)


@tether.workflow
def outer_steps(n: int = 2) -> Stats:
    return measure(values=inner_steps(n=n))


def test_a_workflow_called_in_a_workflow_is_inlined() -> None:
    workflow, diagnostics = build(outer_steps)
    assert diagnostics == []
    assert [t.name for t in workflow.tasks] == ["produce", "measure"]  # type: ignore[union-attr]


@tether.workflow
def nested_compilation(n: int) -> float:
    before = produce(n=n)
    inner, inner_diagnostics = build(inner_steps)  # a whole compilation inside this one
    assert inner is not None and inner_diagnostics == []
    assert [t.name for t in inner.tasks] == ["produce"]  # it saw only its own node
    after = produce(n=n)  # and this builder is active again
    return measure(values=after).after(before).accuracy  # type: ignore[attr-defined, no-any-return]


def test_a_compilation_nested_in_a_workflow_body_does_not_mix_with_it() -> None:
    workflow, diagnostics = build(nested_compilation)
    assert diagnostics == []
    assert sorted(t.name for t in workflow.tasks) == ["measure", "produce", "produce-2"]  # type: ignore[union-attr]


_BARRIER = threading.Barrier(2, timeout=30)


@tether.workflow
def left(n: int) -> None:
    _BARRIER.wait()
    produce(n=n)
    _BARRIER.wait()  # the other thread's call happened between ours
    announce(message="left")


@tether.workflow
def right(n: int) -> None:
    _BARRIER.wait()
    measure(values=[n])
    _BARRIER.wait()
    announce(message="right")


def test_two_threads_building_at_once_never_see_each_others_nodes() -> None:
    results: dict[str, tuple[Workflow | None, list[str]]] = {}

    def compile_in_thread(workflow: tether.WorkflowFunction[..., Any]) -> None:
        results[workflow.workflow_name] = build(workflow)

    threads = [threading.Thread(target=compile_in_thread, args=(w,)) for w in (left, right)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [t.name for t in results["left"][0].tasks] == ["produce", "announce"]  # type: ignore[union-attr]
    assert [t.name for t in results["right"][0].tasks] == ["measure", "announce"]  # type: ignore[union-attr]


def test_unpacking_a_named_tuple_promise_gives_one_promise_per_field() -> None:
    @tether.workflow
    def unpack(n: int) -> float:
        accuracy, loss = measure(values=produce(n=n))
        assert isinstance(accuracy, Promise) and isinstance(loss, Promise)
        return accuracy

    workflow, diagnostics = build(unpack)
    assert diagnostics == []
    assert workflow.outputs[0].value == parse_expr("tasks.measure.outputs.accuracy")  # type: ignore[union-attr]


def test_workflows_and_blocks_outside_a_build_say_how_to_run_them() -> None:
    with pytest.raises(RuntimeError, match="tether run"):
        pipeline(n=3)
    with pytest.raises(RuntimeError, match="inside a @tether.workflow"):
        with tether.foreach([1, 2]):
            pass
    with pytest.raises(RuntimeError, match="inside a @tether.workflow"):
        with tether.when(True):
            pass


# ---------------------------------------------------------------------------- policies


@tether.task(
    retries=tether.Retry(2, backoff=tether.Backoff(delay="30s", factor=3, max_delay=timedelta(minutes=10))),
    interruptible=True,
    checkpoint=True,
    resources=tether.Resources(cpu=0.5, memory="1.5Gi", gpu=1),
    timeout=timedelta(hours=1, minutes=30),
    cache=True,
    image="python:3.12-slim",
    env={"MODE": "fast"},
    secrets=[tether.Secret("db", "password", "DB_PASSWORD")],
)
def configured(n: int) -> int:
    return n


@tether.workflow
def uses_configured(n: int) -> int:
    return configured(n=n)


def test_policy_objects_become_canonical_units() -> None:
    from tether.core.ir import (
        Backoff,
        CachePolicy,
        CheckpointPolicy,
        InterruptPolicy,
        Resources,
        RetryPolicy,
        Secret,
    )

    workflow, diagnostics = build(uses_configured)
    assert diagnostics == []
    (task,) = workflow.tasks  # type: ignore[union-attr]
    assert task.retry == RetryPolicy(2, Backoff(30, 3.0, 600))
    assert (task.interruptible, task.checkpoint, task.cache) == (
        InterruptPolicy(),
        CheckpointPolicy(),
        CachePolicy(),
    )
    assert task.resources == Resources(cpu_millicores=500, memory_bytes=3 * 2**29, gpu=1)
    assert (task.timeout_s, task.image, task.env) == (5400, "python:3.12-slim", (("MODE", "fast"),))
    assert task.secrets == (Secret("db", "password", "DB_PASSWORD"),)


@pytest.mark.parametrize("timeout", ["90s", 90, 90.0, timedelta(seconds=90), "1m30s"])
def test_every_spelling_of_a_duration_gives_the_same_seconds(timeout: object) -> None:
    problems: list[str] = []
    seconds = duration_seconds(
        timeout, "timeout", "timeout", lambda *report: problems.append(report[2]), positive=True
    )
    assert (seconds, problems) == (90, [])


@pytest.mark.parametrize(
    ("timeout", "problem"),
    [
        (0, "timeout must be longer than 0s"),
        (timedelta(milliseconds=1500), "is not a whole, non-negative number of seconds"),
        ("90 s", "invalid duration"),
    ],
)
def test_bad_durations_are_reported_not_raised(timeout: object, problem: str) -> None:
    problems: list[str] = []
    assert (
        duration_seconds(
            timeout, "timeout", "timeout", lambda *report: problems.append(report[2]), positive=True
        )
        is None
    )
    assert len(problems) == 1 and problem in problems[0]


def _target(n: int) -> int:
    return n


_anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**12)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)
_policy_values = st.fixed_dictionaries(
    {},
    optional={
        "retries": _anything
        | st.builds(
            tether.Retry, _anything, st.none() | st.builds(tether.Backoff, _anything, _anything, _anything)
        ),
        "interruptible": _anything | st.builds(tether.Interruptible, _anything),
        "checkpoint": _anything | st.builds(tether.Checkpoint, _anything),
        "resources": _anything | st.builds(tether.Resources, _anything, _anything, _anything),
        "timeout": _anything,
        "cache": _anything | st.builds(tether.Cache, _anything),
        "image": _anything,
        "env": st.dictionaries(st.text(max_size=4), _anything, max_size=2),
        "secrets": st.lists(
            _anything | st.builds(tether.Secret, _anything, _anything, _anything), max_size=2
        ),
    },
)


@given(_policy_values, _anything)
def test_any_decorator_keywords_and_any_bound_value_give_diagnostics_never_an_exception(
    policies: dict[str, Any], value: Any
) -> None:
    anything_task = tether.task(**policies)(_target)

    @tether.workflow
    def anything(n: int) -> int:
        anything_task(n=value)
        return anything_task(n=n)

    workflow, diagnostics = build(anything)
    assert workflow is not None
    assert all(": error[E" in line for line in diagnostics)


# ---------------------------------------------------------------------------- annotations


@pytest.mark.parametrize(
    ("annotation", "spelling"),
    [
        (int, "int"),
        (float, "float"),
        (bool, "bool"),
        (str, "str"),
        (tether.File, "file"),
        (tether.Dir, "dir"),
        (list[int], "list[int]"),
        (dict[str, float], "dict[str, float]"),
        (Optional[int], "int?"),
        (int | None, "int?"),
        (list[Optional[str]], "list[str?]"),
        (dict[str, list[tether.File]], "dict[str, list[file]]"),
        (Annotated[int, "a note"], "int"),
    ],
)
def test_annotations_map_to_the_type_language(annotation: object, spelling: str) -> None:
    assert str(tether_type(annotation)) == spelling


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (set[int], "'set[int]' is not a tether type"),
        (tuple[int, int], "'tuple[int, int]' is not a tether type"),
        (Any, "'Any' has no tether type"),
        (Union[int, str], "is a union; only Optional[T] (T | None) is supported"),
        (dict[int, str], "dict keys must be str, not int"),
        (list, "'list' needs its element type"),
        (Path, "'Path' is not a tether type"),
    ],
)
def test_unsupported_annotations_say_why(annotation: object, message: str) -> None:
    with pytest.raises(
        UnsupportedAnnotation,
        match=message.replace("[", r"\[")
        .replace("]", r"\]")
        .replace("(", r"\(")
        .replace(")", r"\)")
        .replace("|", r"\|"),
    ):
        tether_type(annotation)


def _annotation_of(t: Type) -> Any:
    base: Any
    if t.kind == "list":
        base = list[_annotation_of(t.args[0])]  # type: ignore[misc]
    elif t.kind == "dict":
        base = dict[str, _annotation_of(t.args[1])]  # type: ignore[misc]
    else:
        base = {"int": int, "float": float, "bool": bool, "str": str, "file": tether.File, "dir": tether.Dir}[
            t.kind
        ]
    return Optional[base] if t.optional else base


_types = st.recursive(
    st.builds(
        Type, st.sampled_from(["int", "float", "bool", "str", "file", "dir"]), st.just(()), st.booleans()
    ),
    lambda inner: st.one_of(
        st.builds(lambda e, o: Type("list", (e,), o), inner, st.booleans()),
        st.builds(lambda v, o: Type("dict", (Type("str"), v), o), inner, st.booleans()),
    ),
    max_leaves=6,
)


@given(_types)
def test_every_type_round_trips_through_its_python_annotation(t: Type) -> None:
    assert tether_type(_annotation_of(t)) == t
    assert parse_type(str(tether_type(_annotation_of(t)))) == t


# ---------------------------------------------------------------------------- calling tasks directly


def test_a_task_called_outside_a_workflow_is_its_function() -> None:
    assert produce(n=3) == [0, 1, 2]
    assert measure([1, 2]) == Stats(0.2, 0.1)  # positional arguments are fine outside a workflow
    assert produce.__wrapped__(n=2) == [0, 1]
    assert count_up.__doc__ is not None and "checkpointing" in count_up.__doc__


def test_a_direct_call_gets_a_context_with_a_working_checkpoint() -> None:
    with pytest.raises(tether.RecoverableError, match="flaky at 3"):
        count_up(target=5)  # attempt 1 with a fresh temporary checkpoint: fails at 3
    with pytest.raises(tether.ContextError):
        tether.current_context()  # and the context is gone after the call


def test_a_checkpoint_written_in_one_call_is_read_by_the_next_attempt(tmp_path: Path) -> None:
    uri = str(tmp_path / "checkpoints")
    with task_context(TaskContext(CheckpointStore.from_uri(uri, attempt=1), 1, "run-1", "count-up")):
        with pytest.raises(tether.RecoverableError):
            count_up(target=5)
    with task_context(TaskContext(CheckpointStore.from_uri(uri, attempt=2), 2, "run-1", "count-up")):
        assert count_up(target=5) == 3  # resumed from the value committed before the failure
        assert tether.current_context().checkpoint.read() == b"5"


def test_the_seed_task_called_directly_raises_at_its_first_failure_point() -> None:
    seed = load_module(EXAMPLES / "checkpointing.py")
    with pytest.raises(tether.RecoverableError, match=r"^Failed at iteration 3, failure_interval 3\.$"):
        seed.use_checkpoint(n_iterations=10)


def test_the_ml_example_functions_run_locally_with_tiny_data() -> None:
    ml = load_module(EXAMPLES / "ml_training.py")
    data = ml.make_dataset(n_samples=60, n_shards=3, seed=1)
    cleaned = [ml.preprocess(shard=shard) for shard in data.shards]
    kept = sum(map(len, cleaned)) + len(ml.clean_rows(data.holdout))
    assert (len(cleaned), kept) == (3, 60 - 2)  # rows 0 and 50 were corrupted and are dropped
    weights = ml.train(shards=cleaned, epochs=5, learning_rate=0.5)
    metrics = ml.evaluate(weights=weights, holdout=data.holdout)
    assert 0.5 < metrics.accuracy <= 1.0 and metrics.loss > 0


def test_a_name_bound_to_something_else_is_located_where_it_is_bound(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text("import tether\n\nretries = 3\nwf = retries + 2\n", encoding="utf-8")
    (diagnostic,) = load(f"{tmp_path / 'flows.py'}:wf").diagnostics
    assert diagnostic.code == "E121" and diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.col) == (4, 1)
