"""Runtime overhead of `tether run`: a chain of N trivial tasks, every attempt in its own process.

Each task adds one to its predecessor's output, so the tasks run strictly one after another and
the time is all overhead: starting the attempt's process, reading the run and the inputs from
the store, journaling start and end, writing outputs (fsynced), and the executor noticing the
exit. Measured end to end (`tether run chain.yaml` as a subprocess), per task as the marginal
cost: (time for N tasks - time for 1 task) / (N - 1), which removes the one-off interpreter
start-up and spec compilation. Two clocks: wall time, and CPU time (user + system of the
process and every descendant it reaped), which a busy machine distorts much less.

Baselines in the same run: a bare `python -c pass` spawn (the floor for any process-per-attempt
design that execs an interpreter), and the same chain with TETHER_LAUNCHER=spawn, where every
attempt is a fresh `python -m tether exec` process instead of a fork of the pre-imported worker.

  python3 bench/runtime_overhead.py            # N=50, best of 3
  python3 bench/runtime_overhead.py -n 100 --repeat 5
Target (issue 4): <= 30 ms per task (measured peers: Metaflow ~550 ms, KFP 89-106 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

STEP_MODULE = '''
def step(x: int) -> int:
    return x + 1
'''


def chain_spec(n: int) -> str:
    lines = [
        "apiVersion: tether/v1",
        "kind: Workflow",
        f"metadata: {{name: chain-{n}}}",
        "spec:",
        "  tasks:",
    ]
    for i in range(n):
        source = "0" if i == 0 else f'"${{{{ tasks.t{i - 1:04d}.outputs.result }}}}"'
        lines += [
            f"    t{i:04d}:",
            "      python: bench_steps:step",
            f"      inputs: {{x: {source}}}",
            "      outputs: {result: int}",
        ]
    lines += ["  outputs:", f'    result: "${{{{ tasks.t{n - 1:04d}.outputs.result }}}}"']
    return "\n".join(lines) + "\n"


def _env(launcher: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["TETHER_LAUNCHER"] = launcher
    env.pop("TETHER_STORE", None)
    return env


@dataclass(frozen=True)
class Cost:
    wall_s: float
    cpu_s: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(action: Callable[[], None]) -> Cost:
    cpu, started = _children_cpu(), time.perf_counter()
    action()
    return Cost(time.perf_counter() - started, _children_cpu() - cpu)


def time_run(directory: Path, n: int, launcher: str) -> Cost:
    spec = directory / f"chain-{n}.yaml"
    store = directory / f"store-{launcher}"
    argv = [sys.executable, "-m", "tether", "run", str(spec), "--store", str(store), "--json", "--max-parallel", "1"]
    outcome: list[subprocess.CompletedProcess[str]] = []
    cost = measure(lambda: outcome.append(subprocess.run(argv, env=_env(launcher), capture_output=True, text=True)))
    done = outcome[0]
    if done.returncode != 0:
        raise SystemExit(f"tether run failed ({done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout)
    if result["outputs"]["result"] != n or len(result["nodes"]) != n:
        raise SystemExit(f"unexpected result: {result['outputs']}")
    return cost


def time_bare_spawn(count: int) -> Cost:
    def spawn_all() -> None:
        for _ in range(count):
            subprocess.run([sys.executable, "-c", "pass"], check=True)

    cost = measure(spawn_all)
    return Cost(cost.wall_s / count, cost.cpu_s / count)


def best(repeat: int, run: Callable[[], Cost]) -> Cost:
    costs = [run() for _ in range(repeat)]
    return Cost(min(c.wall_s for c in costs), min(c.cpu_s for c in costs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="tasks in the chain (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--no-spawn", action="store_true", help="skip the (slow) `tether exec` spawn baseline")
    args = parser.parse_args()
    if args.n < 2:
        parser.error("-n must be at least 2")

    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        directory = Path(tmp)
        (directory / "bench_steps.py").write_text(STEP_MODULE)
        for n in (1, args.n):
            (directory / f"chain-{n}.yaml").write_text(chain_spec(n))

        bare = best(args.repeat, lambda: time_bare_spawn(20))
        rows: list[tuple[str, float | None, Cost]] = [("python -c pass (spawn + exit)", None, bare)]
        labels = {
            "fork": "tether run, forked pre-imported worker",
            "spawn": "tether run, `python -m tether exec` per attempt",
        }
        for launcher in ["fork"] + ([] if args.no_spawn else ["spawn"]):
            one = best(args.repeat, lambda: time_run(directory, 1, launcher))
            many = best(args.repeat, lambda: time_run(directory, args.n, launcher))
            per_task = Cost((many.wall_s - one.wall_s) / (args.n - 1), (many.cpu_s - one.cpu_s) / (args.n - 1))
            rows.append((labels[launcher], many.wall_s, per_task))

    print(f"chain of {args.n} trivial tasks, every attempt its own process")
    print(f"best of {args.repeat}; {os.cpu_count()} CPUs")
    print()
    columns = f"{'total (s)':>9} | {'wall ms/task':>12} | {'vs bare':>7} | {'CPU ms/task':>11} | {'vs bare':>7}"
    header = f"| {'what':<48} | {columns} |"
    print(header)
    print("|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|")
    for label, total, per_task in rows:
        shown_total = f"{total:.2f}" if total is not None else "-"
        wall = f"{per_task.wall_s * 1000:>12.1f} | {per_task.wall_s / bare.wall_s:>6.2f}x"
        cpu = f"{per_task.cpu_s * 1000:>11.1f} | {per_task.cpu_s / bare.cpu_s:>6.2f}x"
        print(f"| {label:<48} | {shown_total:>9} | {wall} | {cpu} |")
    print()
    fork = rows[1][2]
    verdict = "meets" if fork.wall_s <= 0.030 else "misses"
    print(f"target <= 30 ms per task (wall): {fork.wall_s * 1000:.1f} ms, {verdict} it; CPU {fork.cpu_s * 1000:.1f} ms")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average during the run: {load:.2f} (a busy machine inflates wall time; compare the ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
