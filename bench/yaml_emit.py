"""Emitter speed: `tether.backends.yaml_emit.dump` vs PyYAML's C dumper vs `json.dumps`.

The document is Hera-shaped (what `hera.workflows.Workflow.to_yaml()` builds for a DAG): one
Workflow with a dag template of N tasks, each with name / template / depends /
arguments.parameters, and one container template. All three serialise the same dict in the same
process; times are CPU seconds (`time.process_time`), best of `--repeat` after a warm-up.
The output of `dump` is checked to load back equal with libyaml before anything is timed.

Target: `dump` at least 10x faster than `yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False)`.

    python3 bench/yaml_emit.py                 # 5,000 tasks, best of 7
    python3 bench/yaml_emit.py --tasks 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
try:
    import tether  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

import yaml

from tether.backends.yaml_emit import dump

TARGET_RATIO = 10.0


def hera_shaped_manifest(n_tasks: int) -> dict[str, Any]:
    """A chain DAG of `n_tasks` tasks over one container template, keys in Hera's order."""
    tasks: list[dict[str, Any]] = []
    for i in range(n_tasks):
        task: dict[str, Any] = {"name": f"t{i:05d}", "template": "step"}
        if i:
            task["depends"] = f"t{i - 1:05d}"
        value = "1" if i == 0 else f"{{{{tasks.t{i - 1:05d}.outputs.parameters.y}}}}"
        task["arguments"] = {"parameters": [{"name": "x", "value": value}]}
        tasks.append(task)
    container_template = {
        "name": "step",
        "inputs": {"parameters": [{"name": "x"}]},
        "outputs": {"parameters": [{"name": "y", "valueFrom": {"path": "/tmp/y"}}]},
        "container": {
            "image": "python:3.12",
            "command": ["python", "-c"],
            "args": ["import sys; open('/tmp/y', 'w').write(str(int(sys.argv[1]) + 1))", "{{inputs.parameters.x}}"],
        },
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "chain-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "dag": {"tasks": tasks}}, container_template],
        },
    }


def best_cpu(function: Callable[[], object], repeat: int) -> float:
    function()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    document = hera_shaped_manifest(args.tasks)
    ours = dump(document)
    if yaml.load(ours, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) != document:
        raise SystemExit("yaml_emit.dump output does not load back equal: not timing a wrong emitter")
    pyyaml_dumper = getattr(yaml, "CSafeDumper", None)
    pyyaml_name = "PyYAML CSafeDumper" if pyyaml_dumper else "PyYAML SafeDumper (no libyaml!)"
    candidates: list[tuple[str, Callable[[], str]]] = [
        ("tether yaml_emit.dump", lambda: dump(document)),
        (pyyaml_name, lambda: yaml.dump(document, Dumper=pyyaml_dumper or yaml.SafeDumper, sort_keys=False)),
        ("json.dumps", lambda: json.dumps(document)),
    ]
    rows = [(name, best_cpu(function, args.repeat), len(function().encode("utf-8"))) for name, function in candidates]
    ours_s = rows[0][1]
    print(f"Hera-shaped manifest, {args.tasks:,} tasks; CPU seconds, best of {args.repeat}")
    print(f"{'emitter':<34} {'cpu ms':>9} {'KB':>7} {'vs dump':>9}")
    for name, seconds, size in rows:
        print(f"{name:<34} {seconds * 1e3:>9.1f} {size / 1024:>7.0f} {seconds / ours_s:>8.1f}x")
    ratio = rows[1][1] / ours_s
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"dump is {ratio:.1f}x faster than {pyyaml_name} ({verdict} the {TARGET_RATIO:.0f}x target); "
          f"{ours_s / rows[2][1]:.1f}x json.dumps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
