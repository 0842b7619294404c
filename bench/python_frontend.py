"""What the Python front end costs next to YAML, for the same workflow at 10 to 5,000 tasks.

Generates one chain workflow per size in both spellings (a `@tether.workflow` whose body calls a
task in a loop, and the equivalent YAML spec), checks that they compile to the same IR, and times
`tether.compiler.load.load()` on each (best of N after a warm-up), which is what `tether check`
and `tether compile` do. The YAML time is the baseline measured in the same run; the ratio is
Python / YAML. The Python figure includes importing the module and running its body.

    python3 bench/python_frontend.py
    python3 bench/python_frontend.py --sizes 10 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

PYTHON = """
import tether


@tether.task(retries=2, timeout="1h", resources=tether.Resources(cpu="1", memory="1Gi"))
def step(n: int, previous: int) -> int:
    return n + previous


@tether.workflow
def chain() -> int:
    value = step(n=0, previous=0)
    for i in range(1, {size}):
        value = step(n=i, previous=value)
    return value
"""


def yaml_spec(module: str, size: int) -> str:
    lines = ["apiVersion: tether/v1", "kind: Workflow", "metadata: {name: chain}", "spec:", "  tasks:"]
    policy = "      retries: 2\n      timeout: 1h\n      resources: {cpu: 1, memory: 1Gi}\n      outputs: {result: int}"
    for i in range(size):
        name = "step" if i == 0 else f"step-{i + 1}"
        previous = (
            "0" if i == 0 else '"${{ tasks.' + ("step" if i == 1 else f"step-{i}") + '.outputs.result }}"'
        )
        lines.append(
            f"    {name}:\n      python: {module}:step\n      inputs: {{n: {i}, previous: {previous}}}\n{policy}"
        )
    last = "step" if size == 1 else f"step-{size}"
    lines.append('  outputs: {result: "${{ tasks.' + last + '.outputs.result }}"}')
    return "\n".join(lines) + "\n"


def best_of(repeat: int, ref: str) -> float:
    from tether.compiler.load import load

    assert load(ref).ok, ref  # warm-up, and proof it compiles
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        load(ref)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from tether.core.ir import to_json
    from tether.compiler.load import load

    print(
        f"{'tasks':>6}  {'yaml (baseline)':>16}  {'python':>10}  {'python/yaml':>11}  {'python per task':>15}"
    )
    with tempfile.TemporaryDirectory() as directory:
        for size in args.sizes:
            module = f"chain_{size}"
            py_file = Path(directory) / f"{module}.py"
            yaml_file = Path(directory) / f"{module}.yaml"
            py_file.write_text(PYTHON.format(size=size), encoding="utf-8")
            yaml_file.write_text(yaml_spec(module, size), encoding="utf-8")
            py_ref = f"{py_file}:chain"
            same = to_json(load(py_ref).workflow) == to_json(load(str(yaml_file)).workflow)  # type: ignore[arg-type]
            if not same:
                print(f"{size}: the two spellings do not compile to the same IR", file=sys.stderr)
                return 1
            yaml_s = best_of(args.repeat, str(yaml_file))
            python_s = best_of(args.repeat, py_ref)
            print(
                f"{size:>6}  {yaml_s:>15.3f}s  {python_s:>9.3f}s  {python_s / yaml_s:>10.1f}x  {python_s / size * 1e6:>12.0f} us"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
