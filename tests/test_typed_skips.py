"""Skipped outputs are typed: a workflow output that reads a task that may be skipped is `T?`.

A task may be skipped when it has a `when`, or reads outputs of a task that may be (core.graph's
skip rule; `after:` alone does not skip). The executor then gives the whole output null, so its
type is `T?`; a declared `T` (a Python workflow's return annotation) is a located error with a
hint. Inside the graph nothing changes: a reader of a skipped task is skipped with it, so a task
input never receives that null and keeps its type `T`.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from cli_helpers import tether as tether_cli
from tether.compiler.load import load
from tether.core.diagnostics import render

_YAML = """apiVersion: tether/v1
kind: Workflow
metadata: {name: skips}
spec:
  inputs:
    n: {type: int, default: 1}
  defaults: {image: busybox}
  tasks:
    gate:
      container: {command: [true]}
      when: "${{ inputs.n > 0 }}"
      outputs: {score: int, stats: "dict[str, float]"}
    reader:
      container: {command: [true], args: ["${{ tasks.gate.outputs.score }}"]}
      inputs: {score: {type: int, value: "${{ tasks.gate.outputs.score }}"}}
      outputs: {doubled: int}
    fan:
      container: {command: [true]}
      foreach: [1, 2]
      when: "${{ inputs.n > 1 }}"
      outputs: {part: int}
    always:
      container: {command: [true]}
      after: [gate]
      outputs: {count: int}
  outputs:
    score: "${{ tasks.gate.outputs.score }}"
    plus_one: "${{ tasks.gate.outputs.score + 1 }}"
    mean: "${{ tasks.gate.outputs.stats.mean }}"
    label: "score ${{ tasks.gate.outputs.score }}"
    doubled: "${{ tasks.reader.outputs.doubled }}"
    parts: "${{ tasks.fan.outputs.part }}"
    count: "${{ tasks.always.outputs.count }}"
    both: "${{ tasks.always.outputs.count + tasks.reader.outputs.doubled }}"
"""


def test_yaml_outputs_of_tasks_that_may_be_skipped_are_optional(tmp_path: Path) -> None:
    path = tmp_path / "skips.yaml"
    path.write_text(_YAML, encoding="utf-8")
    result = load(str(path))
    assert result.workflow is not None, [d.message for d in result.diagnostics]
    types = {o.name: str(o.type) for o in result.workflow.outputs}
    assert types == {
        "score": "int?",
        "plus_one": "int?",  # the whole output is null when `gate` is skipped, not only the reference
        "mean": "float?",
        "label": "str?",
        "doubled": "int?",  # `reader` reads `gate`, so it is skipped with it
        "parts": "list[int]?",
        "count": "int",  # only `after:` a skippable task: it always runs
        "both": "int?",
    }
    reader = result.workflow.task("reader")
    assert reader is not None and str(reader.inputs[0].type) == "int"  # a reader never sees the null


_PY = '''
    from typing import NamedTuple, Optional

    import tether


    class Out(NamedTuple):
        score: int
        total: int


    @tether.task
    def score(n: int) -> int:
        return n


    @tether.task
    def double(x: int) -> int:
        return 2 * x


    @tether.workflow
    def when_int(n: int = 1) -> int:
        with tether.when(n > 0):
            s = score(n=n)
        return s


    @tether.workflow
    def reads_skippable(n: int = 1) -> int:
        with tether.when(n > 0):
            s = score(n=n)
        return double(x=s)


    @tether.workflow
    def named(n: int = 1) -> Out:
        with tether.when(n > 0):
            s = score(n=n)
        return Out(score=s, total=double(x=n))


    @tether.workflow
    def optional_int(n: int = 1) -> Optional[int]:
        with tether.when(n > 0):
            s = score(n=n)
        return s


    @tether.workflow
    def wrong_type(n: int = 1) -> str:
        return score(n=n)


    @tether.workflow
    def unannotated(n: int = 1):
        with tether.when(n > 0):
            s = score(n=n)
        return s
'''


@pytest.fixture()
def py_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "typed_skips_wf.py").write_text(textwrap.dedent(_PY), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return "typed_skips_wf.py"


def _rendered(spec: str) -> str:
    result = load(spec)
    assert result.workflow is None
    return "\n\n".join(render(d, result.sources.get(d.span.file) if d.span else None) for d in result.diagnostics)


def test_python_workflow_declared_int_returning_a_skippable_output_is_an_error(py_spec: str) -> None:
    assert _rendered(f"{py_spec}:when_int") == textwrap.dedent(
        """\
        typed_skips_wf.py:26:5: error[E202]: workflow output 'result' is declared int, but it is null when task 'score' is skipped (it has a 'when')
           |
        26 |     return s
           |     ^^^^^^^^
           = hint: annotate the workflow -> Optional[int], or return an output of a task that always runs"""
    )


def test_the_reason_names_the_task_with_the_when(py_spec: str) -> None:
    assert "error[E202]: workflow output 'result' is declared int, but it is null when task 'double' is skipped " \
        "(it reads outputs of 'score', which may be skipped)" in _rendered(f"{py_spec}:reads_skippable")


def test_namedtuple_fields_are_checked_by_name(py_spec: str) -> None:
    text = _rendered(f"{py_spec}:named")
    assert "workflow output 'score' is declared int, but it is null when task 'score' is skipped" in text
    assert "'total'" not in text  # `double` reads only the workflow input: it always runs


def test_an_optional_return_or_none_accepts_the_skippable_output(py_spec: str) -> None:
    for name in ("optional_int", "unannotated"):
        result = load(f"{py_spec}:{name}")
        assert result.workflow is not None, [d.message for d in result.diagnostics]
        assert [str(o.type) for o in result.workflow.outputs] == ["int?"]


def test_a_return_annotation_of_another_type_is_an_error(py_spec: str) -> None:
    assert _rendered(f"{py_spec}:wrong_type").splitlines()[0] == (
        "typed_skips_wf.py:52:5: error[E202]: workflow output 'result' is declared str, "
        "but tasks.score.outputs.result is int"
    )
    assert _rendered(f"{py_spec}:wrong_type").splitlines()[-1] == (
        "   = hint: convert the value, or annotate the workflow -> int"
    )


def test_run_refuses_the_workflow_that_used_to_return_null_and_succeed(
    py_spec: str, tether_cmd: list[str], tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    refused = tether_cli(tether_cmd, env, "run", f"{py_spec}:when_int", "-p", "n=0", "--json", cwd=tmp_path)
    assert refused.returncode != 0
    assert "error[E202]: workflow output 'result' is declared int, but it is null when task 'score' is skipped" in (
        refused.stdout + refused.stderr
    )
    ran = tether_cli(tether_cmd, env, "run", f"{py_spec}:optional_int", "-p", "n=0", "--json", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["outputs"] == {"result": None}


def test_a_declared_output_type_is_checked_in_any_front_end(tmp_path: Path) -> None:
    """A declared output type on any workflow (as IR may carry it) is checked the same way, with
    the hint spelled for YAML."""
    from tether.compiler.validate import validate
    from tether.core.diagnostics import Diagnostics
    from tether.core.placeholders import evolve
    from tether.core.types import INT

    path = tmp_path / "skips.yaml"
    path.write_text(_YAML, encoding="utf-8")
    workflow = load(str(path)).workflow
    assert workflow is not None
    declared = evolve(workflow, outputs=tuple(evolve(o, type=INT) if o.name == "doubled" else o for o in workflow.outputs))
    diags = Diagnostics()
    validate(declared, diags)
    assert [(d.code, d.message, d.hint) for d in diags.items] == [
        (
            "E202",
            "workflow output 'doubled' is declared int, but it is null when task 'reader' is skipped "
            "(it reads outputs of 'gate', which may be skipped)",
            "declare the output int?, or use an output of a task that always runs",
        )
    ]
    diags = Diagnostics()
    validate(workflow, diags)  # validating a validated workflow again finds nothing new
    assert diags.items == []


def test_a_yaml_workflow_output_can_declare_its_type(tmp_path: Path) -> None:
    """`spec.outputs.NAME: {type: T, value: V}` promises T: reading a skippable task where T is
    not optional is a located error at the value, and `T?` accepts it."""
    text = _YAML.replace(
        '    count: "${{ tasks.always.outputs.count }}"\n',
        '    count: "${{ tasks.always.outputs.count }}"\n'
        '    strict: {type: int, value: "${{ tasks.gate.outputs.score }}"}\n'
        '    lenient: {type: "int?", value: "${{ tasks.gate.outputs.score }}"}\n'
        '    steady: {type: int, value: "${{ tasks.always.outputs.count }}"}\n',
    )
    path = tmp_path / "skips.yaml"
    path.write_text(text, encoding="utf-8")
    result = load(str(path))
    errors = [render(d, text, color=False).replace(str(path), "skips.yaml") for d in result.diagnostics if d.code == "E202"]
    line = text.splitlines().index('    strict: {type: int, value: "${{ tasks.gate.outputs.score }}"}') + 1
    assert len(errors) == 1
    assert errors[0].splitlines()[0] == (
        f"skips.yaml:{line}:32: error[E202]: workflow output 'strict' is declared int, "
        "but it is null when task 'gate' is skipped (it has a 'when')"
    )
    assert "declare the output int?, or use an output of a task that always runs" in errors[0]
    fixed = text.replace('    strict: {type: int, value: "${{ tasks.gate.outputs.score }}"}\n', "")
    path.write_text(fixed, encoding="utf-8")
    workflow = load(str(path)).workflow
    assert workflow is not None
    types = {o.name: str(o.type) for o in workflow.outputs}
    assert types["lenient"] == "int?" and types["steady"] == "int"
