"""`cache` under `tether run`: real CLI runs against a directory store and a moto S3 store.

Each task appends a line to calls.log when it really runs, so a cache hit is seen as a call
that did not happen, not only as a status."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import tether

from tether.backends import Profile
from tether.backends.argo import backend as argo
from tether.compiler.load import load
from tether.core.cache_key import definition, definition_key, inputs_key
from tether.core.diagnostics import Diagnostics
from tether.core.ir import CachePolicy, Resources, RetryPolicy
from tether.core.placeholders import evolve

STEPS = '''
def square(x: int) -> int:
    with open("calls.log", "a") as log:
        log.write(f"square {x}\\n")
    return x * x


def write(x: int) -> str:
    path = f"out-{x}.txt"
    with open(path, "w") as handle:
        handle.write(str(x))
    with open("calls.log", "a") as log:
        log.write(f"write {x}\\n")
    return path
'''

SPEC = """apiVersion: tether/v1
kind: Workflow
metadata: {name: cached}
spec:
  inputs:
    n: {type: int, default: 3}
    xs: {type: "list[int]", default: [1, 2]}
  tasks:
    sq:
      python: steps:square
      inputs: {x: "${{ inputs.n }}"}
      outputs: {y: int}
      cache: {version: "VERSION"}
    each:
      python: steps:square
      foreach: "${{ inputs.xs }}"
      inputs: {x: "${{ item }}"}
      outputs: {y: int}
      cache: true
    plus:
      python: steps:square
      inputs: {x: "${{ tasks.sq.outputs.y }}"}
      outputs: {y: int}
    file:
      python: steps:write
      inputs: {x: "${{ inputs.n }}"}
      outputs: {path: file}
      cache: true
    shell:
      container:
        image: alpine:3.20
        command: [sh, -c, 'echo "shell $0" >> calls.log; echo "$0" > "$TETHER_OUTPUTS/out"', "${{ inputs.n }}"]
      outputs: {out: int}
      cache: true
  outputs:
    y: "${{ tasks.plus.outputs.y }}"
    ys: "${{ tasks.each.outputs.y }}"
    path: "${{ tasks.file.outputs.path }}"
    out: "${{ tasks.shell.outputs.out }}"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "steps.py").write_text(STEPS, encoding="utf-8")
    write_spec(tmp_path, "1")
    return tmp_path


def write_spec(directory: Path, version: str) -> None:
    (directory / "wf.yaml").write_text(SPEC.replace("VERSION", version), encoding="utf-8")


def run(cmd: list[str], env: dict[str, str], cwd: Path, *args: str) -> tuple[dict[str, Any], str]:
    done = tether(cmd, env, "run", "wf.yaml", "--json", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def calls(cwd: Path) -> list[str]:
    """The task calls since the last look (the log is emptied)."""
    log = cwd / "calls.log"
    lines = sorted(log.read_text(encoding="utf-8").splitlines()) if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {node: view["status"] for node, view in result["nodes"].items()}


def test_a_second_run_reuses_every_cached_task_and_says_from_which_run(
    tether_cmd: list[str], tether_env: dict[str, str], project: Path
) -> None:
    first, _ = run(tether_cmd, tether_env, project)
    assert calls(project) == ["shell 3", "square 1", "square 2", "square 3", "square 9", "write 3"]
    assert set(statuses(first).values()) == {"done"}

    second, stderr = run(tether_cmd, tether_env, project)
    assert calls(project) == ["square 9"]  # only `plus`, which has no cache, ran
    assert second["outputs"] == first["outputs"] == {"y": 81, "ys": [1, 4], "path": "out-3.txt", "out": 3}
    source = first["run_id"]
    assert statuses(second) == {
        "sq": "cached", "each[0]": "cached", "each[1]": "cached", "file": "cached", "shell": "cached", "plus": "done",
    }
    assert second["nodes"]["sq"] == {
        "status": "cached",
        "cached_from": {"run_id": source, "node_id": "sq"},
        "attempts": [],
    }
    # The progress lines and the summary table say it too.
    assert f"sq: cached (from run {source})" in stderr
    assert any(line.split()[:3] == ["sq", "cached", "0:"] and line.split()[-2:] == [source, "-"] for line in stderr.splitlines())
    # So do the run's picture and its status.
    report = tether(tether_cmd, tether_env, "report", second["run_id"], "--json", cwd=project)
    assert report.returncode == 0, report.stderr
    drawn = json.loads(report.stdout)
    assert drawn["status"] == "succeeded"
    assert {t["task"]: t["status"] for t in drawn["tasks"]}["sq"] == "cached"
    status = tether(tether_cmd, tether_env, "status", second["run_id"], "--json", cwd=project)
    assert status.returncode == 0, status.stderr


def test_a_changed_input_or_cache_version_misses_and_no_cache_ignores_the_cache(
    tether_cmd: list[str], tether_env: dict[str, str], project: Path
) -> None:
    run(tether_cmd, tether_env, project)
    calls(project)

    changed, _ = run(tether_cmd, tether_env, project, "-p", "n=4")
    assert calls(project) == ["shell 4", "square 16", "square 4", "write 4"]
    assert statuses(changed)["sq"] == "done" and statuses(changed)["each[0]"] == "cached"

    write_spec(project, "2")  # a new cache.version: sq misses; the other tasks' definitions are unchanged
    bumped, _ = run(tether_cmd, tether_env, project)
    assert calls(project) == ["square 3", "square 9"]
    assert statuses(bumped)["sq"] == "done" and statuses(bumped)["file"] == "cached"

    entries = sorted(p.relative_to(project) for p in (project / ".tether" / "cache").rglob("*.json"))
    fresh, _ = run(tether_cmd, tether_env, project, "--no-cache")
    assert calls(project) == ["shell 3", "square 1", "square 2", "square 3", "square 9", "write 3"]
    assert "cached" not in statuses(fresh).values()
    assert sorted(p.relative_to(project) for p in (project / ".tether" / "cache").rglob("*.json")) == entries


def test_a_file_output_that_is_gone_is_not_reused_and_its_new_result_is_cached(
    tether_cmd: list[str], tether_env: dict[str, str], project: Path
) -> None:
    run(tether_cmd, tether_env, project)
    calls(project)
    (project / "out-3.txt").unlink()
    rerun, _ = run(tether_cmd, tether_env, project)
    assert calls(project) == ["square 9", "write 3"]
    assert statuses(rerun)["file"] == "done" and (project / "out-3.txt").read_text() == "3"

    again, _ = run(tether_cmd, tether_env, project)  # the file is back: the entry is good again
    assert calls(project) == ["square 9"]
    assert statuses(again)["file"] == "cached"


def test_a_stale_entry_is_replaced_by_the_result_that_replaced_it(
    tether_cmd: list[str], tether_env: dict[str, str], project: Path
) -> None:
    first, _ = run(tether_cmd, tether_env, project)
    (entry,) = [p for p in (project / ".tether" / "cache").rglob("*.json") if '"out-3.txt"' in p.read_text()]
    stale = json.loads(entry.read_text())
    entry.write_text(json.dumps({**stale, "outputs": {"path": "gone.txt"}}))  # names a file that is gone
    calls(project)
    rerun, _ = run(tether_cmd, tether_env, project)
    assert calls(project) == ["square 9", "write 3"]
    assert statuses(rerun)["file"] == "done"
    assert json.loads(entry.read_text())["run_id"] == rerun["run_id"] != first["run_id"]
    again, _ = run(tether_cmd, tether_env, project)
    assert again["nodes"]["file"]["cached_from"] == {"run_id": rerun["run_id"], "node_id": "file"}


def test_foreach_items_are_cached_one_by_one(tether_cmd: list[str], tether_env: dict[str, str], project: Path) -> None:
    first, _ = run(tether_cmd, tether_env, project)
    calls(project)
    shifted, _ = run(tether_cmd, tether_env, project, "-p", "xs=[2, 5]")
    assert calls(project) == ["square 5", "square 9"]
    assert shifted["outputs"]["ys"] == [4, 25]
    # Item 0 is now 2: the result of the first run's item 1.
    assert shifted["nodes"]["each[0]"]["cached_from"] == {"run_id": first["run_id"], "node_id": "each[1]"}
    assert shifted["nodes"]["each[1]"]["status"] == "done"


def test_the_cache_lives_in_an_s3_store_too(
    tether_cmd: list[str], tether_env: dict[str, str], project: Path, s3_bucket: tuple[str, dict[str, Any]]
) -> None:
    bucket, options = s3_bucket
    env = {**tether_env, "TETHER_STORE_OPTIONS": json.dumps(options)}
    store = f"{bucket}/tether"
    first, _ = run(tether_cmd, env, project, "--store", store)
    calls(project)
    second, _ = run(tether_cmd, env, project, "--store", store)
    assert calls(project) == ["square 9"]
    assert second["nodes"]["each[1]"]["cached_from"] == {"run_id": first["run_id"], "node_id": "each[1]"}
    assert not (project / ".tether").exists()


# ---------------------------------------------------------------- the keys, and Argo's use of them


def _task(tmp_path: Path, name: str = "sq") -> Any:
    write_spec(tmp_path, "1")
    workflow = load(str(tmp_path / "wf.yaml")).workflow
    return next(t for t in workflow.tasks if t.name == name)


def test_the_definition_key_covers_what_runs_its_interface_image_and_version_only(tmp_path: Path) -> None:
    task = _task(tmp_path)
    key = definition_key(task)
    assert len(key) == 64 and key == definition_key(task)
    # How it runs and what it is called do not change what it computes.
    same = evolve(task, name="other", retry=RetryPolicy(retries=3), resources=Resources(cpu_millicores=2000))
    assert definition_key(same) == key
    assert definition_key(evolve(task, cache=CachePolicy("2"))) != key
    assert definition_key(evolve(task, image="python:3.12")) != key
    assert definition_key(evolve(task, python="steps:write")) != key
    assert definition_key(evolve(task, outputs=())) != key
    assert definition(task)["python"] == "steps:square" and definition(task)["inputs"] == [["x", "int"]]
    shell = _task(tmp_path, "shell")
    assert definition(shell)["command"][-1] == "${{ inputs.n }}"


def test_the_inputs_key_is_canonical() -> None:
    assert inputs_key({"a": 1, "b": [1, 2]}) == inputs_key({"b": [1, 2], "a": 1})
    assert inputs_key({"a": 1}) != inputs_key({"a": 2})
    assert inputs_key({"a": 1}) != inputs_key({"a": 1}, ["sh", "-c", "x"])
    with pytest.raises(ValueError):
        inputs_key({"a": float("nan")})


def test_argo_memoizes_with_the_same_definition_key(tmp_path: Path) -> None:
    write_spec(tmp_path, "1")
    workflow = load(str(tmp_path / "wf.yaml")).workflow
    (manifest,) = argo.compile(workflow, Profile(store="s3://b/r"), Diagnostics())
    spec = manifest.document["spec"]
    templates = {t["name"]: t for t in spec.get("workflowSpec", spec)["templates"]}
    memoized = {name: t["memoize"]["key"] for name, t in templates.items() if "memoize" in t}
    assert memoized, templates.keys()
    by_key = {definition_key(t) for t in workflow.tasks if t.cache is not None}
    for key in memoized.values():
        prefix, _, rest = key.partition("-")
        assert prefix in by_key and rest == "{{=sprig.sha256sum(toJson(inputs.parameters))}}"
        assert len(prefix) + 1 + 64 <= 253  # a ConfigMap data key (Argo's controller stores it as one)


def test_tether_run_help_documents_no_cache(tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    done = subprocess.run([*tether_cmd, "run", "--help"], env=tether_env, capture_output=True, text=True, timeout=60)
    assert "--no-cache" in done.stdout
