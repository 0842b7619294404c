"""Whole-process compile to Argo YAML: `tether compile SPEC --target argo` vs a Hera script.

What a user runs in CI before committing manifests to a GitOps repository, measured as a user
waits for it: a fresh process each time, wall time, best of `--repeat`, with tether and Hera
alternated in the same run (one warm-up each first, so both find the OS file cache warm).
Outputs are also compared by size: bytes per task of the YAML each one prints.

Shapes, N = 50, 1,000, 5,000, 10,000 tasks (`--quick`: 50 and 1,000):
  chain    t00000 -> t00001 -> ...; each task `python: steps:step`, input
           `x: ${{ tasks.<previous>.outputs.y }}`, output `y: int` (the first gets `x: 1`).
  diamond  a source task, then layers of width 2, 3, 4, 2, 3, 4, ... (the last one cut to N);
           every task reads the output `y` of every task of the previous layer (inputs x0..xk),
           so each layer is a full fan-in/fan-out: the diamond `a -> (b, c) -> d` repeated.
Hera builds the same DAGs with `hera.workflows` (`Workflow`, `DAG`, `Container` templates with
an input parameter per edge and an output parameter `y`, dependencies through `>>`) and prints
`w.to_yaml()`.

Target: tether at least 10x faster than Hera, and fewer bytes per task (Hera: ~181 per chain
task). While the argo target is not there yet, `--target ir` is measured instead (said loudly).
Hera is an optional dependency (`pip install -e '.[bench]'`); without it, its columns are
skipped with a message.

    python3 bench/compile_argo.py            # both shapes, 4 sizes, best of 3
    python3 bench/compile_argo.py --quick    # N = 50 and 1,000: a smoke run
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
SIZES = (50, 1_000, 5_000, 10_000)
QUICK_SIZES = (50, 1_000)
SHAPES = ("chain", "diamond")
TARGET_SPEEDUP = 10.0
UNSUPPORTED_WARN = ("--unsupported=warn",)
"""The 10,000-task chain and the 5,000- and 10,000-task diamonds are over 1 MiB of Argo JSON,
which tether reports (E430, an error by default: etcd keeps objects up to 1.5 MiB); the bench
measures the compile, so it lets them through as warnings (Hera checks nothing)."""

STEPS_PY = '''\
"""Task functions for the compile_argo benchmark specs (never run, only referenced)."""


def step(x: int) -> int:
    return x + 1


def join2(x0: int, x1: int) -> int:
    return x0 + x1


def join3(x0: int, x1: int, x2: int) -> int:
    return x0 + x1 + x2


def join4(x0: int, x1: int, x2: int, x3: int) -> int:
    return x0 + x1 + x2 + x3
'''


def task_name(index: int) -> str:
    return f"t{index:05d}"


def shape_edges(shape: str, n: int) -> list[list[int]]:
    """For each task, the indices of the tasks whose output `y` it reads (in input order)."""
    if shape == "chain":
        return [[] if i == 0 else [i - 1] for i in range(n)]
    edges: list[list[int]] = [[]]
    previous = [0]
    width_cycle = (2, 3, 4)
    layer = 0
    while len(edges) < n:
        width = min(width_cycle[layer % 3], n - len(edges))
        current = list(range(len(edges), len(edges) + width))
        edges.extend([list(previous)] * width)
        previous, layer = current, layer + 1
    return edges


def function_for(reads: list[int]) -> str:
    return "step" if len(reads) <= 1 else f"join{len(reads)}"


def input_names(reads: list[int]) -> list[str]:
    return ["x"] if len(reads) <= 1 else [f"x{k}" for k in range(len(reads))]


def tether_spec(shape: str, n: int) -> str:
    lines = [
        "apiVersion: tether/v1",
        "kind: Workflow",
        "metadata:",
        f"  name: {shape}-{n}",
        "spec:",
        "  defaults:",
        "    image: python:3.12",  # the image Hera's templates name; without one, E411
        "  tasks:",
    ]
    for index, reads in enumerate(shape_edges(shape, n)):
        lines += [f"    {task_name(index)}:", f"      python: steps:{function_for(reads)}", "      inputs:"]
        if not reads:
            lines.append("        x: 1")
        for name, source in zip(input_names(reads), reads):
            lines.append(f"        {name}: ${{{{ tasks.{task_name(source)}.outputs.y }}}}")
        lines += ["      outputs:", "        y: int"]
    return "\n".join(lines) + "\n"


def hera_script(shape: str, n: int) -> str:
    """A self-contained Python script that builds the same DAG with Hera and prints its Argo YAML.

    The shape helpers are copied in by source (not imported), so the Hera process imports
    nothing of this harness.
    """
    helpers = "\n\n".join(inspect.getsource(function) for function in (task_name, shape_edges, input_names))
    return f'''\
from hera.workflows import DAG, Container, Parameter, Workflow
from hera.workflows.models import ValueFrom

{helpers}


edges = shape_edges({shape!r}, {n})
with Workflow(generate_name="{shape}-", entrypoint="main") as w:
    templates = {{}}
    for width in sorted({{max(len(reads), 1) for reads in edges}}):
        names = input_names([0] * width)
        templates[width] = Container(
            name="step" if width == 1 else f"join{{width}}",
            image="python:3.12",
            command=["python", "-m", "steps"],
            args=["{{{{inputs.parameters." + name + "}}}}" for name in names],
            inputs=[Parameter(name=name) for name in names],
            outputs=[Parameter(name="y", value_from=ValueFrom(path="/tmp/y"))],
        )
    with DAG(name="main"):
        tasks = []
        for index, reads in enumerate(edges):
            arguments = {{"x": "1"}} if not reads else {{
                name: "{{{{tasks." + task_name(source) + ".outputs.parameters.y}}}}"
                for name, source in zip(input_names(reads), reads)
            }}
            task = templates[max(len(reads), 1)](name=task_name(index), arguments=arguments)
            if len(reads) == 1:
                tasks[reads[0]] >> task
            elif reads:
                [tasks[source] for source in reads] >> task
            tasks.append(task)
print(w.to_yaml())
'''


class CommandFailed(Exception):
    """A measured command exited non-zero: reported in its row, the other rows still run."""


@dataclass
class Command:
    label: str
    argv: list[str]
    best_wall: float = float("inf")
    output_bytes: int = 0

    def run_once(self, env: dict[str, str]) -> None:
        start = time.perf_counter()
        done = subprocess.run(self.argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise CommandFailed(f"{self.label}: exit {done.returncode}\n{done.stderr.decode(errors='replace')[-2000:]}")
        self.best_wall = min(self.best_wall, wall)
        self.output_bytes = len(done.stdout)


def environment(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(workdir), str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["NO_COLOR"] = "1"
    return env


def choose_target(workdir: Path, env: dict[str, str]) -> str:
    """`argo` when tether can compile to it, else `ir` (said loudly) so the harness still runs."""
    spec = workdir / "probe.yaml"
    spec.write_text(tether_spec("chain", 3))
    done = subprocess.run(
        [sys.executable, "-m", "tether", "compile", str(spec), "--target", "argo", *UNSUPPORTED_WARN],
        env=env, capture_output=True, text=True,
    )
    if done.returncode == 0:
        return "argo"
    reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
    print(f"NOTE: `tether compile --target argo` failed ({reason}); measuring `--target ir` instead.\n")
    return "ir"


def measure(
    workdir: Path, target: str, sizes: tuple[int, ...], repeat: int, with_hera: bool
) -> Iterator[tuple[str, int, Command, Command | None]]:
    env = environment(workdir)
    for shape in SHAPES:
        for n in sizes:
            spec = workdir / f"{shape}-{n}.yaml"
            spec.write_text(tether_spec(shape, n))
            ours = Command(f"tether {shape} {n}", [sys.executable, "-m", "tether", "compile", str(spec), "--target", target,
                                                   *UNSUPPORTED_WARN])
            hera = None
            if with_hera:
                script = workdir / f"hera_{shape}_{n}.py"
                script.write_text(hera_script(shape, n))
                hera = Command(f"hera {shape} {n}", [sys.executable, str(script)])
            commands = [ours] + ([hera] if hera else [])
            try:
                for command in commands:  # warm-up: file cache, .pyc files
                    command.run_once(env)
                    command.best_wall = float("inf")
                for _ in range(repeat):
                    for command in commands:  # alternated, so drift in machine load hits both
                        command.run_once(env)
            except CommandFailed as failure:
                print(f"{shape:<8} {n:>6} FAILED: {failure}", flush=True)
                continue
            yield shape, n, ours, hera


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 50 and 1,000 only (a smoke run)")
    parser.add_argument("--sizes", type=int, nargs="+", help="task counts (default: 50 1000 5000 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command (best is kept)")
    args = parser.parse_args(argv)
    sizes = tuple(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else SIZES)

    with_hera = importlib.util.find_spec("hera") is not None
    if not with_hera:
        print("NOTE: hera is not installed (pip install -e '.[bench]'): Hera columns skipped.\n")
    misses: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tether-compile-argo-") as tmp:
        workdir = Path(tmp)
        (workdir / "steps.py").write_text(STEPS_PY)
        target = choose_target(workdir, environment(workdir))
        try:
            load = "load average %.2f %.2f %.2f" % os.getloadavg()
        except OSError:
            load = ""
        print(f"tether --target {target}; whole-process wall seconds, best of {args.repeat}, alternated; "
              f"{os.cpu_count()} CPUs, {load}")
        print(f"{'shape':<8} {'tasks':>6} {'tether s':>9} {'hera s':>8} {'speedup':>8} "
              f"{'tether B/task':>14} {'hera B/task':>12}")
        for shape, n, ours, hera in measure(workdir, target, sizes, args.repeat, with_hera):
            ours_bpt = ours.output_bytes / n
            if hera is None:
                print(f"{shape:<8} {n:>6} {ours.best_wall:>9.3f} {'-':>8} {'-':>8} {ours_bpt:>14.0f} {'-':>12}", flush=True)
                continue
            speedup = hera.best_wall / ours.best_wall
            hera_bpt = hera.output_bytes / n
            print(
                f"{shape:<8} {n:>6} {ours.best_wall:>9.3f} {hera.best_wall:>8.3f} {speedup:>7.1f}x "
                f"{ours_bpt:>14.0f} {hera_bpt:>12.0f}",
                flush=True,
            )
            if speedup < TARGET_SPEEDUP:
                misses.append(f"{shape} {n}: {speedup:.1f}x < {TARGET_SPEEDUP:.0f}x")
            if ours_bpt >= hera_bpt:
                misses.append(f"{shape} {n}: {ours_bpt:.0f} >= {hera_bpt:.0f} bytes per task")
    if with_hera:
        print("targets met" if not misses else "targets MISSED: " + "; ".join(misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
