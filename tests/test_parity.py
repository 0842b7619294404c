"""Python and YAML are two spellings of one language: every Python example with a @tether.workflow
has a YAML twin with the same stem, and both compile (through `load`, as every command does) to
identical IR, spans aside: equal dataclasses and byte-identical JSON."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tether.core.ir import to_json
from tether.compiler.load import LoadResult, load

EXAMPLES = Path(__file__).resolve().parent.parent / "specs" / "examples"
GOLDEN_IR = Path(__file__).resolve().parent / "golden" / "ir"


def _workflow_names(path: Path) -> list[str]:
    """Functions decorated with `@tether.workflow` or `@tether.workflow(...)`, found without importing."""
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target) in ("tether.workflow", "workflow"):
                    names.append(node.name)
    return names


PYTHON_SPECS = [(path, name) for path in sorted(EXAMPLES.glob("*.py")) for name in _workflow_names(path)]
ids = [f"{path.stem}:{name}" for path, name in PYTHON_SPECS]


def _clean(result: LoadResult) -> LoadResult:
    assert [f"{d.span}: {d.code} {d.message}" for d in result.diagnostics] == []
    assert result.workflow is not None
    return result


def test_the_python_examples_are_found() -> None:
    assert {path.stem for path, _ in PYTHON_SPECS} >= {"checkpointing", "ml_training"}


@pytest.mark.parametrize(("path", "name"), PYTHON_SPECS, ids=ids)
def test_each_python_example_has_one_workflow_and_a_yaml_twin(path: Path, name: str) -> None:
    assert _workflow_names(path) == [name], "one workflow per file, so the twin is unambiguous"
    assert path.with_suffix(
        ".yaml"
    ).is_file(), f"{path.name} defines a workflow but has no {path.stem}.yaml twin"


@pytest.mark.parametrize(("path", "name"), PYTHON_SPECS, ids=ids)
def test_python_and_yaml_twins_compile_to_identical_ir(path: Path, name: str) -> None:
    from_python = _clean(load(f"{path}:{name}")).workflow
    from_yaml = _clean(load(str(path.with_suffix(".yaml")))).workflow
    assert from_python == from_yaml
    assert to_json(from_python) == to_json(from_yaml)  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "name"), PYTHON_SPECS, ids=ids)
def test_python_example_matches_the_golden_ir_of_its_twin(path: Path, name: str) -> None:
    golden = GOLDEN_IR / f"{path.stem}.json"
    if not golden.is_file():
        pytest.skip(f"no golden IR for {path.stem} yet (tests/test_examples.py writes it)")
    assert to_json(_clean(load(f"{path}:{name}")).workflow) == golden.read_text(encoding="utf-8")  # type: ignore[arg-type]


# Every policy form and binding form, in both spellings. Types the YAML front end would infer
# differently from the Python annotation are declared with {type, value}, as a YAML author would.
PYTHON_SIDE = '''
from datetime import timedelta
from typing import NamedTuple, Optional

import tether


class Split(NamedTuple):
    train: list[str]
    test: list[str]


@tether.task(
    retries=tether.Retry(4, backoff=tether.Backoff(delay="30s", factor=2, max_delay="10m")),
    timeout=timedelta(minutes=30),
    secrets=[tether.Secret("store", "token", "STORE_TOKEN"), tether.Secret("db", "password", "DB_PASSWORD")],
    image="ghcr.io/acme/etl:2",
)
def extract(day: str, limit: Optional[int] = None) -> Split:
    return Split([day], [])


@tether.task(
    interruptible=tether.Interruptible(max_interruptions=7),
    checkpoint=tether.Checkpoint(keep=1),
    resources=tether.Resources(cpu="250m", memory="1.5Gi"),
    cache=tether.Cache(version="3"),
    env={"B": "2", "A": "1"},
)
def work(path: str, options: dict[str, int], scale: float) -> float:
    return 1.0


@tether.task(interruptible=True, checkpoint=True, cache=True, retries=1, timeout=90)
def report(scores: list[float], label: str, paths: list[str]) -> None:
    print(scores, label, paths)


@tether.workflow(name="everything", schedule="0 3 * * *", labels={"team": "data"})
def everything(day: str = "2024-06-03", strict: bool = False) -> dict:
    """Every form the two front ends share."""
    split = extract(day=day, limit=10)
    with tether.foreach(split.train) as path:
        score = work(path=path, options={"depth": 2}, scale=1)
    with tether.when((split.train != split.test) | ~strict):
        done = report(scores=score, label=f"day {day}", paths=[split.test[0], "extra"])
    report(scores=[0.5], label="always", paths=[]).after(done, split)
    return {"scores": score, "first": split.train[0]}
'''

YAML_SIDE = """
apiVersion: tether/v1
kind: Workflow
metadata:
  name: everything
  description: Every form the two front ends share.
  labels: {team: data}
spec:
  schedule: "0 3 * * *"
  inputs:
    day: {type: str, default: "2024-06-03"}
    strict: {type: bool, default: false}
  tasks:
    extract:
      python: spec_twin:extract
      image: ghcr.io/acme/etl:2
      inputs:
        day: ${{ inputs.day }}
        limit: {type: "int?", value: 10}
      outputs: {train: "list[str]", test: "list[str]"}
      retries: {count: 4, backoff: {delay: 30s, factor: 2, max_delay: 10m}}
      timeout: 30m
      secrets:
        - {name: store, key: token, env: STORE_TOKEN}
        - {name: db, key: password, env: DB_PASSWORD}
    work:
      python: spec_twin:work
      foreach: ${{ tasks.extract.outputs.train }}
      inputs:
        path: ${{ item }}
        options: {type: "dict[str, int]", value: {depth: 2}}
        scale: {type: float, value: 1}
      outputs: {result: float}
      interruptible: {max_interruptions: 7}
      checkpoint: {keep: 1}
      resources: {cpu: 250m, memory: 1536Mi}
      cache: {version: "3"}
      env: {A: "1", B: "2"}
    report:
      python: spec_twin:report
      when: ${{ tasks.extract.outputs.train != tasks.extract.outputs.test or not inputs.strict }}
      inputs:
        scores: ${{ tasks.work.outputs.result }}
        label: day ${{ inputs.day }}
        paths: {type: "list[str]", value: ["${{ tasks.extract.outputs.test[0] }}", extra]}
      interruptible: true
      checkpoint: true
      cache: true
      retries: 1
      timeout: 90s
    report-2:
      python: spec_twin:report
      after: [report, extract]
      inputs:
        scores: {type: "list[float]", value: [0.5]}
        label: always
        paths: {type: "list[str]", value: []}
      interruptible: true
      checkpoint: true
      cache: true
      retries: 1
      timeout: 90s
  outputs:
    scores: ${{ tasks.work.outputs.result }}
    first: ${{ tasks.extract.outputs.train[0] }}
"""


def test_every_shared_form_compiles_identically(tmp_path: Path) -> None:
    (tmp_path / "spec_twin.py").write_text(textwrap.dedent(PYTHON_SIDE), encoding="utf-8")
    (tmp_path / "spec_twin.yaml").write_text(textwrap.dedent(YAML_SIDE), encoding="utf-8")
    from_python = _clean(load(f"{tmp_path / 'spec_twin.py'}:everything")).workflow
    from_yaml = _clean(load(str(tmp_path / "spec_twin.yaml"))).workflow
    assert to_json(from_python) == to_json(from_yaml)  # type: ignore[arg-type]
    assert from_python == from_yaml
