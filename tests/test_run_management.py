"""Run management: `tether runs`, `tether status` (live while the run goes on), `tether outputs`,
and `tether run --resume RUN --spec SPEC` keeping what a fixed spec leaves valid.

Every run is a real `tether run` subprocess; a task's module appends to a calls file each time
it runs, so "kept, not run again" is what the task itself saw.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from cli_helpers import tether
from tether.runtime.store import RunStore

MODULE = '''
import os, time

def _called(name):
    with open(os.environ["CALLS_FILE"], "a") as handle:
        handle.write(name + "\\n")

def train(n: int) -> int:
    _called("train")
    return n * 10

def evaluate(model: int, divisor: int) -> float:
    _called("evaluate")
    return model / divisor

def publish(score: float) -> str:
    _called("publish")
    return f"score {score}"

def first() -> int:
    return 1

def wait_for(path: str, x: int) -> int:
    while not os.path.exists(path):
        time.sleep(0.02)
    return x + 1
'''

PIPELINE = """
apiVersion: tether/v1
kind: Workflow
metadata: {{name: {name}}}
spec:
  inputs:
    n: {{type: int, default: 3}}
  tasks:
    train:
      python: mlsteps:train
      inputs: {{n: "{train_n}"}}
      outputs: {{model: int}}
    evaluate:
      python: mlsteps:evaluate
      inputs: {{model: "${{{{ tasks.train.outputs.model }}}}", divisor: {divisor}}}
      outputs: {{score: float}}
{extra}  outputs:
    score: "${{{{ tasks.evaluate.outputs.score }}}}"
"""

PUBLISH = """    publish:
      python: mlsteps:publish
      inputs: {score: "${{ tasks.evaluate.outputs.score }}"}
      outputs: {text: str}
"""

WAITING = """
apiVersion: tether/v1
kind: Workflow
metadata: {name: waiting}
spec:
  inputs:
    path: {type: str}
  tasks:
    first:
      python: mlsteps:first
      outputs: {x: int}
    wait:
      python: mlsteps:wait_for
      inputs: {path: "${{ inputs.path }}", x: "${{ tasks.first.outputs.x }}"}
      outputs: {y: int}
  outputs:
    y: "${{ tasks.wait.outputs.y }}"
"""


def _setup(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    (tmp_path / "mlsteps.py").write_text(MODULE)
    return {**env, "CALLS_FILE": str(tmp_path / "calls.txt")}


def _pipeline(
    tmp_path: Path, file: str, divisor: int, train_n: str = "${{ inputs.n }}", extra: str = "", name: str = "mlpipe"
) -> str:
    path = tmp_path / file
    path.write_text(PIPELINE.format(name=name, train_n=train_n, divisor=divisor, extra=extra))
    return str(path)


def _calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls.txt"
    return path.read_text().split() if path.exists() else []


def test_resume_with_a_fixed_spec_keeps_the_finished_training(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    env = _setup(tmp_path, tether_env)
    store = str(tmp_path / "store")
    broken = _pipeline(tmp_path, "broken.yaml", divisor=0)  # evaluate divides by zero: the run fails
    failed = tether(tether_cmd, env, "run", broken, "--store", store, "--run-id", "r1", "-p", "n=4")
    assert failed.returncode == 1, failed.stderr
    assert _calls(tmp_path) == ["train", "evaluate"]

    fixed = _pipeline(tmp_path, "fixed.yaml", divisor=2, extra=PUBLISH)  # fixed, and a new task
    done = tether(tether_cmd, env, "run", "--resume", "r1", "--spec", fixed, "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    assert _calls(tmp_path) == ["train", "evaluate", "evaluate", "publish"]  # train kept, not run again
    result = json.loads(done.stdout)
    assert result["outputs"] == {"score": 20.0}
    assert [a["outcome"] for a in result["nodes"]["train"]["attempts"]] == ["success"]
    assert f"note: {fixed}: evaluate: definition changed" not in done.stderr  # only its input changed
    assert f"note: {fixed}: publish: new task" in done.stderr
    assert "evaluate: runs again" not in done.stderr  # it had failed: it simply runs
    # the run record now holds the fixed spec; the old one is kept in the run's history
    assert RunStore(store).load_run("r1").spec == fixed
    assert (tmp_path / "store" / "runs" / "r1" / "history" / "0001-run.json").exists()

    # A change of train's input: train runs again, and evaluate with it (its input changes);
    # publish runs again because evaluate's score changes.
    changed = _pipeline(tmp_path, "changed.yaml", divisor=2, train_n="${{ inputs.n + 1 }}", extra=PUBLISH)
    again = tether(tether_cmd, env, "run", "--resume", "r1", "--spec", changed, "--store", store, "--json")
    assert again.returncode == 0, again.stderr
    assert "train: runs again: its inputs changed" in again.stderr
    assert "evaluate: runs again: its inputs changed" in again.stderr
    assert _calls(tmp_path)[4:] == ["train", "evaluate", "publish"]
    assert json.loads(again.stdout)["outputs"] == {"score": 25.0}

    # The same spec once more: everything is kept.
    same = tether(tether_cmd, env, "run", "--resume", "r1", "--spec", changed, "--store", store, "--json")
    assert same.returncode == 0, same.stderr
    assert f"note: {changed}: no task changed" in same.stderr
    assert len(_calls(tmp_path)) == 7


def test_resume_with_an_incompatible_spec_is_refused_before_anything_runs(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    env = _setup(tmp_path, tether_env)
    store = str(tmp_path / "store")
    broken = _pipeline(tmp_path, "broken.yaml", divisor=0)
    assert tether(tether_cmd, env, "run", broken, "--store", store, "--run-id", "r1").returncode == 1
    calls = _calls(tmp_path)

    other = _pipeline(tmp_path, "other.yaml", divisor=2, name="otherpipe")
    refused = tether(tether_cmd, env, "run", "--resume", "r1", "--spec", other, "--store", store)
    assert refused.returncode == 2
    assert (
        f"tether run: cannot resume run r1 with {other}: the spec defines workflow 'otherpipe', but the run ran 'mlpipe'"
        in refused.stderr
    )

    needs_input = tmp_path / "needs_input.yaml"
    text = Path(_pipeline(tmp_path, "fixed.yaml", divisor=2)).read_text()
    needs_input.write_text(text.replace("    n: {type: int, default: 3}\n", "    n: {type: int, default: 3}\n    m: {type: int}\n"))
    refused = tether(tether_cmd, env, "run", "--resume", "r1", "--spec", str(needs_input), "--store", store)
    assert refused.returncode == 2
    assert "input 'm' is new and has no default, and a resumed run has no value for it" in refused.stderr
    assert "hint: a resumed run keeps the workflow and inputs it was started with" in refused.stderr
    assert _calls(tmp_path) == calls  # nothing ran
    assert RunStore(store).load_run("r1").spec == broken  # nothing changed


def test_status_is_live_and_runs_and_outputs_show_the_run(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    env = _setup(tmp_path, tether_env)
    store = str(tmp_path / "store")
    spec = tmp_path / "waiting.yaml"
    spec.write_text(WAITING)
    gate = tmp_path / "gate"
    argv = [*tether_cmd, "run", str(spec), "--store", store, "--run-id", "live", "-p", f"path={gate}", "--json"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        nodes: dict[str, dict[str, object]] = {}
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:  # poll until the run shows both states; never timed
            shown = tether(tether_cmd, env, "status", "live", "--store", store, "--json")
            if shown.returncode == 0:
                status = json.loads(shown.stdout)
                nodes = status["nodes"]
                if nodes.get("first", {}).get("status") == "done" and nodes.get("wait", {}).get("status") == "running":
                    break
            time.sleep(0.1)
        assert status["status"] == "running" and status["workflow"] == "waiting"
        assert nodes["first"]["status"] == "done" and nodes["wait"] == {"status": "running", "attempt": 1}
        text = tether(tether_cmd, env, "status", "live", "--store", store)
        assert text.stdout.startswith("run live: running (waiting, ")
        assert "  wait   running  attempt 1" in text.stdout
        listed = json.loads(tether(tether_cmd, env, "runs", "--store", store, "--json").stdout)["runs"]
        assert [(r["run_id"], r["status"]) for r in listed] == [("live", "running")]
    finally:
        gate.write_text("go")
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err

    final = json.loads(tether(tether_cmd, env, "status", "live", "--store", store, "--json").stdout)
    assert final["status"] == "succeeded"
    assert final["nodes"] == {"first": {"status": "done", "attempt": 1}, "wait": {"status": "done", "attempt": 1}}

    # A cluster run (cluster.json, no run.json) is listed too.
    RunStore(store).ensure_cluster_run("zz-cluster", "etl", "argo")
    runs = tether(tether_cmd, env, "runs", "--store", store, "--json")
    listed = json.loads(runs.stdout)["runs"]
    assert [(r["run_id"], r["workflow"], r["kind"], r["status"]) for r in listed] == [
        ("live", "waiting", "local", "succeeded"),
        ("zz-cluster", "etl", "cluster", "no status (cluster)"),
    ]
    assert isinstance(listed[0]["duration_s"], float) and listed[0]["started"]
    table = tether(tether_cmd, env, "runs", "--store", store).stdout.splitlines()
    assert table[0].split() == ["RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION"]
    assert table[1].split()[:3] == ["live", "waiting", "succeeded"]

    outputs = tether(tether_cmd, env, "outputs", "live", "--store", store)
    assert json.loads(outputs.stdout) == {
        "run_id": "live",
        "outputs": {"y": 2},
        "nodes": {"first": {"x": 1}, "wait": {"y": 2}},
    }
    one = tether(tether_cmd, env, "outputs", "live", "wait", "--store", store)
    assert json.loads(one.stdout) == {"y": 2}
    missing = tether(tether_cmd, env, "outputs", "live", "nope", "--store", store)
    assert missing.returncode == 1
    assert missing.stderr == "tether outputs: nope: no such node in run live (nodes with outputs: first, wait)\n"
    unknown = tether(tether_cmd, env, "status", "nope", "--store", store)
    assert unknown.returncode == 1 and "no run 'nope' in the run store" in unknown.stderr


FANOUT = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: fan}
spec:
  tasks:
    sq:
      container: {command: [sh, -c, 'echo item ${{ item }}; echo ${{ item }} > "$TETHER_OUTPUTS/y"']}
      foreach: [1, 2, 3]
      outputs: {y: int}
"""


def test_logs_and_outputs_of_a_foreach_task_name_show_every_item(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    spec = tmp_path / "fan.yaml"
    spec.write_text(FANOUT)
    store = str(tmp_path / "store")
    done = tether(tether_cmd, tether_env, "run", str(spec), "--store", store, "--run-id", "fan1")
    assert done.returncode == 0, done.stderr
    logs = tether(tether_cmd, tether_env, "logs", "fan1", "sq", "--store", store).stdout
    assert [line for line in logs.splitlines() if line.startswith("==>")] == [
        f"==> sq[{i}] attempt 1 (success, exit 0) <==" for i in range(3)
    ]
    outputs = json.loads(tether(tether_cmd, tether_env, "outputs", "fan1", "sq", "--store", store).stdout)
    assert outputs == {"sq[0]": {"y": 1}, "sq[1]": {"y": 2}, "sq[2]": {"y": 3}}
