"""`tether run` anchors relative `file`/`dir` inputs to the directory it ran in, once, at creation.

Two different files reached by the same relative path from two directories are two inputs (two
cache keys), a `--resume` from elsewhere reads the files the run was started with, and a default
`dir: "."` is the directory of the run that used it. The absolute path is what the run records.
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import tether
from tether.core.types import parse_type
from tether.runtime.params import _anchor

SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: files}
spec:
  inputs:
    f: {type: file}
    d: {type: dir, default: "."}
    fs: {type: "list[file]", default: []}
  tasks:
    read:
      python: paths_steps:read
      inputs: {f: "${{ inputs.f }}"}
      outputs: {result: str}
      cache: true
    count:
      python: paths_steps:count
      inputs: {d: "${{ inputs.d }}", fs: "${{ inputs.fs }}"}
      outputs: {result: str}
  outputs:
    read: "${{ tasks.read.outputs.result }}"
    count: "${{ tasks.count.outputs.result }}"
"""

STEPS = """\
import os
import tether

def read(f: tether.File) -> str:
    if os.environ.get("FAIL_READ"):
        raise ValueError("failing on purpose")
    return open(str(f)).read()

def count(d: tether.Dir, fs: list[tether.File]) -> str:
    return f"{d}|{len(os.listdir(str(d)))}|{','.join(str(x) for x in fs)}"
"""


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    spec = tmp_path / "files.yaml"
    spec.write_text(SPEC)
    (tmp_path / "paths_steps.py").write_text(STEPS)
    x, y = tmp_path / "x", tmp_path / "y"
    for where, text in ((x, "from x"), (y, "from y, longer")):
        where.mkdir()
        (where / "in.txt").write_text(text)
    (y / "extra").write_text("")
    return spec, x, y


def _run(tether_cmd: list[str], env: dict[str, str], cwd: Path, *args: str) -> dict:
    done = tether(tether_cmd, env, "run", *args, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_same_relative_path_from_two_directories_is_two_files_not_one_cache_entry(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    spec, x, y = _project(tmp_path)
    store = str(tmp_path / "store")
    first = _run(tether_cmd, tether_env, x, str(spec), "-p", "f=in.txt", "-p", 'fs=["in.txt"]', "--store", store)
    second = _run(tether_cmd, tether_env, y, str(spec), "-p", "f=in.txt", "--store", store)
    assert first["outputs"]["read"] == "from x"
    assert second["outputs"]["read"] == "from y, longer"  # not the cached result of x/in.txt
    assert "cached_from" not in second["nodes"]["read"]
    # the default "." is the directory each run started in; a list of files is anchored too
    assert first["outputs"]["count"] == f"{x}|1|{x / 'in.txt'}"
    assert second["outputs"]["count"] == f"{y}|2|"
    again = _run(tether_cmd, tether_env, y, str(spec), "-p", f"f={y / 'in.txt'}", "--store", store)
    assert again["nodes"]["read"]["status"] == "cached"  # the same file, however it was named


def test_the_run_records_absolute_paths_and_a_resume_elsewhere_reads_the_same_files(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    spec, x, y = _project(tmp_path)
    store = str(tmp_path / "store")
    failed = tether(tether_cmd, {**tether_env, "FAIL_READ": "1"}, "run", str(spec), "-p", "f=in.txt",
                    "--store", store, "--run-id", "rel", "--json", cwd=x)  # fails in x ...
    assert json.loads(failed.stdout)["status"] == "failed", failed.stderr
    params = json.loads((tmp_path / "store/runs/rel/run.json").read_text())["params"]
    assert params == {"f": str(x / "in.txt"), "d": str(x)}
    resumed = _run(tether_cmd, tether_env, y, "--resume", "rel", "--store", store)  # ... resumed from y
    assert resumed["outputs"]["read"] == "from x"
    assert resumed["outputs"]["count"] == f"{x}|1|"


def test_anchoring_keeps_uris_absolute_paths_and_nulls() -> None:
    files = parse_type("dict[str, list[file?]]")
    value = {"a": ["in.txt", "/abs/p", "s3://bucket/k", None, "../up/x"]}
    # `..` is kept: through a symlinked directory it means what the OS makes of it, not `/base/up/x`
    assert _anchor(files, value, "/base/dir") == {"a": ["/base/dir/in.txt", "/abs/p", "s3://bucket/k", None, "/base/dir/../up/x"]}
    assert _anchor(parse_type("dir"), ".", "/base") == "/base" and _anchor(parse_type("file"), "./a//b", "/base") == "/base/a/b"
    assert _anchor(parse_type("str"), "in.txt", "/base") == "in.txt"
