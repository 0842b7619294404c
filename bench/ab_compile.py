"""A/B: `tether check`'s compile path in this tree against another tree (e.g. the previous commit).

Used to show that a restructure did not slow compiling down. Both trees compile the same
generated specs (bench/compile_scale.py's shapes) in child processes that alternate A, B, A, B...
so load on the machine hits both alike; each child reports its best CPU time of `--repeat` runs
of exactly what `tether check` runs (`tether.commands.check.load_reporting`).

    git worktree add /tmp/base HEAD~5
    python3 bench/ab_compile.py --base /tmp/base/src --sizes 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compile_scale import SHAPES, generate  # noqa: E402  (the same specs as compile_scale)

_CHILD = """
import gc, json, sys, time
from tether.commands.check import load_reporting
path, repeat = sys.argv[1], int(sys.argv[2])
assert load_reporting(path, False).ok
best = float("inf")
for _ in range(repeat):
    start = time.process_time()
    load_reporting(path, False)
    best = min(best, time.process_time() - start)
print(json.dumps(best))
"""


def child_time(src: str, path: Path, repeat: int) -> float:
    env = {"PYTHONPATH": src, "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(repeat)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(json.loads(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the other tree's src directory")
    parser.add_argument("--head", default=str(HERE.parent / "src"), help="this tree's src (default)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'shape':<8} {'tasks':>6} {'base ms':>9} {'head ms':>9} {'head/base':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes:
            for n in args.sizes:
                path = Path(tmp) / f"{shape}-{n}.yaml"
                path.write_text(generate(shape, n), encoding="utf-8")
                base = head = float("inf")
                for _ in range(args.rounds):
                    base = min(base, child_time(args.base, path, args.repeat))
                    head = min(head, child_time(args.head, path, args.repeat))
                print(f"{shape:<8} {n:>6} {base * 1e3:>9.1f} {head * 1e3:>9.1f} {head / base:>9.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
