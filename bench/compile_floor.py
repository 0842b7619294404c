"""How fast can any Python compiler of these specs be? The floor under `bench/compile_argo.py`.

The Argo issue asks `tether compile --target argo` to be 10x faster than Hera as whole
processes. This bench measures, in fresh processes alternated in one run, what a compiler
written in Python pays before it checks anything, against Hera's time for the same DAG:

  python       `python -c pass`: the interpreter's start-up
  stdlib       + importing what a typed command-line compiler needs (argparse, dataclasses,
               typing, re, json)
  +yaml        + PyYAML (the YAML 1.1 reader the spec language is defined by)
  compose      PyYAML's C reader (libyaml) composing the spec into nodes with positions, the
               reading every located diagnostic needs, and nothing else
  toy          a compiler with no checks at all: one regular expression per spec line into
               dicts, the Argo DAG tasks built as dicts, one `json.dumps` (cheaper than YAML)
  tether       `tether compile SPEC --target argo` (validated, escaped, YAML)
  hera         Hera building and serialising the DAG (compile_argo.py's script)

and prints Hera's time / 10, the budget the target leaves. Shapes and specs are compile_argo's.

    python3 bench/compile_floor.py               # chain and diamond, N = 50 and 5,000
    python3 bench/compile_floor.py --sizes 50    # one size
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compile_argo import STEPS_PY, UNSUPPORTED_WARN, Command, environment, hera_script, tether_spec  # noqa: E402

TOY = r'''
import json, re, sys
LINE = re.compile(r"( *)([^:#\s][^:]*):(?: (.*))?$")
root = {}
stack = [(-1, root)]
for raw in open(sys.argv[1], encoding="utf-8").read().splitlines():
    match = LINE.match(raw)
    indent, key, value = len(match.group(1)), match.group(2), match.group(3)
    while stack[-1][0] >= indent:
        stack.pop()
    if value is None:
        stack[-1][1][key] = child = {}
        stack.append((indent, child))
    else:
        stack[-1][1][key] = value
tasks = []
for name, task in root["spec"]["tasks"].items():
    params, depends = [], []
    for key, value in task["inputs"].items():
        if value.startswith("${{"):
            ref = value[3:-2].split(".")
            depends.append(ref[1].strip())
            value = "{{tasks.%s.outputs.parameters.%s}}" % (ref[1].strip(), ref[3].strip())
        params.append({"name": key, "value": value})
    entry = {"name": name, "template": task["python"].partition(":")[2]}
    if depends:
        entry["depends"] = " && ".join(depends)
    entry["arguments"] = {"parameters": params}
    tasks.append(entry)
print(json.dumps({"spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}]}}))
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 5_000], help="task counts")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command (best is kept)")
    args = parser.parse_args(argv)
    with_hera = importlib.util.find_spec("hera") is not None
    if not with_hera:
        print("NOTE: hera is not installed (pip install -e '.[bench]'): no budget to compare with.\n")
    with tempfile.TemporaryDirectory(prefix="tether-compile-floor-") as tmp:
        workdir = Path(tmp)
        (workdir / "steps.py").write_text(STEPS_PY)
        (workdir / "toy.py").write_text(TOY)
        env = environment(workdir)
        python = [sys.executable]
        fixed = [
            Command("python", [*python, "-c", "pass"]),
            Command("stdlib", [*python, "-c", "import argparse, dataclasses, typing, re, json"]),
            Command("+yaml", [*python, "-c", "import argparse, dataclasses, typing, re, json, yaml"]),
        ]
        for command in fixed:
            for _ in range(args.repeat + 1):
                command.run_once(env)
        print("whole-process wall ms, best of %d: %s" % (args.repeat, ", ".join(
            f"{c.label} {c.best_wall * 1e3:.0f}" for c in fixed)))
        print(f"{'shape':<8} {'tasks':>6} {'toy ms':>7} {'compose ms':>11} {'tether ms':>10} {'hera ms':>8} {'hera/10':>8}")
        for shape in ("chain", "diamond"):
            for n in args.sizes:
                spec = workdir / f"{shape}-{n}.yaml"
                spec.write_text(tether_spec(shape, n))
                compose = "import sys, yaml; yaml.compose(open(sys.argv[1], encoding='utf-8').read(), Loader=yaml.CBaseLoader)"
                commands = [
                    Command("toy", [*python, str(workdir / "toy.py"), str(spec)]),
                    Command("compose", [*python, "-c", compose, str(spec)]),
                    Command("tether", [*python, "-m", "tether", "compile", str(spec), "--target", "argo", *UNSUPPORTED_WARN]),
                ]
                if with_hera:
                    (workdir / "hera_dag.py").write_text(hera_script(shape, n))
                    commands.append(Command("hera", [*python, str(workdir / "hera_dag.py")]))
                for command in commands:  # warm-up
                    command.run_once(env)
                    command.best_wall = float("inf")
                for _ in range(args.repeat):
                    for command in commands:
                        command.run_once(env)
                toy, compose_ms, ours = (c.best_wall * 1e3 for c in commands[:3])
                hera = commands[3].best_wall * 1e3 if with_hera else float("nan")
                print(f"{shape:<8} {n:>6} {toy:>7.0f} {compose_ms:>11.0f} {ours:>10.0f} {hera:>8.0f} {hera / 10:>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
