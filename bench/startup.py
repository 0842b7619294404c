"""Whole-process start-up: what a person waits for when they type `tether --help` or `tether check`.

Each command runs in a fresh process (best of N wall times, after one warm-up run so the OS file
cache is warm for everyone); the baseline is a bare `python -c pass` measured in the same run, so
the "over bare" column is the cost tether itself adds. Commands run from this source tree
(PYTHONPATH=src) with this interpreter.

Target (issue 2): `tether --help` and `tether check small.yaml` <= 0.3 s of whole-process wall time.

    python3 bench/startup.py
    python3 bench/startup.py --repeat 20
    python3 bench/startup.py --importtime     # the slowest imports of `tether check`
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_SPECS = ("specs/examples/diamond.yaml", "specs/examples/checkpointing.yaml")
"""diamond has a comparison and list types (builds the lark grammars); checkpointing has neither."""
TARGET_S = 0.3


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NO_COLOR"] = "1"
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_times(argv: list[str], repeat: int) -> tuple[float, float]:
    """(best wall, best CPU) seconds of `repeat` runs of argv after one warm-up.

    CPU is user + system time of the child (from getrusage of reaped children), which a machine
    shared with other work distorts far less than wall time. Fails loudly on a non-zero exit.
    """
    env = _env()

    def once() -> tuple[float, float]:
        cpu_start, wall_start = _children_cpu(), time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall, cpu = time.perf_counter() - wall_start, _children_cpu() - cpu_start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}")
        return wall, cpu

    once()
    runs = [once() for _ in range(repeat)]
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def import_report(argv: list[str], top: int) -> None:
    """The slowest imports (cumulative) of one run, from `python -X importtime`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], cwd=ROOT, env=_env(), capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        rows.append((int(cumulative_us), int(self_us), name.strip()))
    rows.sort(reverse=True)
    print(f"\nslowest imports of: python {' '.join(argv)}")
    print(f"{'cumulative ms':>13} {'self ms':>8}  module")
    for cumulative, self_time, name in rows[:top]:
        print(f"{cumulative / 1e3:>13.1f} {self_time / 1e3:>8.1f}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per command (best is kept)")
    parser.add_argument("--spec", action="append", help="a small spec for `tether check` (repeatable)")
    parser.add_argument("--importtime", action="store_true", help="also list the slowest imports of `tether check`")
    args = parser.parse_args(argv)

    python = sys.executable
    commands: list[tuple[str, list[str]]] = [
        ("python -c pass (baseline)", [python, "-c", "pass"]),
        ("python -c 'import tether'", [python, "-c", "import tether"]),
        ("tether --help", [python, "-m", "tether", "--help"]),
    ]
    specs = args.spec or list(SMALL_SPECS)
    commands += [(f"tether check {spec}", [python, "-m", "tether", "check", spec]) for spec in specs]
    script = shutil.which("tether")
    if script:  # the installed console script, as a user runs it (may point at another checkout)
        commands.append(("tether --help (console script)", [script, "--help"]))

    load = os.getloadavg()[0]
    print(f"start-up: best of {args.repeat} runs after a warm-up; python {sys.version.split()[0]}; load average {load:.1f}")
    print("wall = whole-process wall time; cpu = user + system time of the process\n")
    header = f"{'command':<48} {'wall ms':>8} {'cpu ms':>7} {'wall - bare':>12} {'cpu - bare':>11} {'x bare':>7}  target (wall)"
    print(header)
    print("-" * len(header))
    baseline: tuple[float, float] | None = None
    for label, command in commands:
        wall, cpu = process_times(command, args.repeat)
        baseline = (wall, cpu) if baseline is None else baseline
        bare_wall, bare_cpu = baseline
        verdict = "" if command[-1] == "pass" else ("ok" if wall <= TARGET_S else f"over {TARGET_S:.1f} s")
        print(
            f"{label:<48} {wall * 1e3:>8.1f} {cpu * 1e3:>7.1f} {(wall - bare_wall) * 1e3:>12.1f}"
            f" {(cpu - bare_cpu) * 1e3:>11.1f} {wall / bare_wall:>7.2f}  {verdict}"
        )
    if args.importtime:
        import_report(["-m", "tether", "check", specs[0]], top=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
