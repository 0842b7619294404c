"""Faster YAML parsers side by side with what the front end uses today (issue 8, item 8).

Before writing a parser, measure the well-kept ones: for generated 1,000 / 5,000 / 10,000-task
specs (bench/compile_scale.py's `generate`), this times in one process and one run:

  safe_load   yaml.load(text, CSafeLoader): PyYAML's C reader into Python values (the baseline)
  compose     yaml.compose(text, CBaseLoader): the node tree with marks the front end walks
  front end   compile_yaml_text: compose + the walk into the (unvalidated) IR
  load()      tether's whole load (front end + validation + canonical order), as `tether check`
  ryml        rapidyaml (MIT, C++ with SWIG bindings): parse into its own tree, no Python objects
  ryml+walk   rapidyaml, then every node walked from Python into dicts/lists/strings
  yaml_rs     yaml-rs (Rust, saphyr; YAML 1.2): straight to Python values, no positions
  ryaml       ryaml (Rust, serde_yaml; YAML 1.2): straight to Python values, no positions

Every number is the best CPU time of `--repeat` runs after a warm-up, with the cyclic GC paused
(as the CLI pauses it around a compile). Ratios are against `compose`, the step a fast path
would replace. A candidate that is not installed is shown as '-'. The last lines count the
scalars on which each candidate reads a spec differently from PyYAML (YAML 1.1 vs 1.2).

    python3 bench/yaml_parsers.py                      # 1,000 / 5,000 / 10,000, chain and random
    python3 bench/yaml_parsers.py --sizes 5000 --shapes chain --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_scale import generate  # noqa: E402  (the same specs as the scale benchmark)

SIZES = (1_000, 5_000, 10_000)
SHAPES = ("chain", "random")
CANDIDATES = ("ryml", "yaml_rs", "ryaml")
"""Import names of the candidates (PyPI: rapidyaml, yaml-rs, ryaml)."""

YAML_11_VS_12 = """\
flags: [yes, no, on, off, y, n, True, FALSE]
octal: [010, 0o10, 0x1F, 1_000, +12]
floats: [1e3, .5, 1., .inf, .NaN]
when: [2001-12-14, 2001-12-14t21:59:43.10-05:00]
nulls: [~, null, Null, '']
strings: ['yes', "010", 12:30, 1:20:30]
"""
"""Scalars YAML 1.1 (PyYAML) and YAML 1.2 (the Rust readers) may read differently."""


def best_cpu(repeat: int, action: Callable[[], object]) -> float:
    """Best CPU seconds of `repeat` runs after one warm-up, the cyclic GC paused throughout."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        action()
        best = float("inf")
        for _ in range(repeat):
            start = time.process_time()
            action()
            best = min(best, time.process_time() - start)
        return best
    finally:
        if enabled:
            gc.enable()


def ryml_to_python(tree: Any, node: int) -> Any:
    """A rapidyaml node as dicts, lists and str (None for a null): what a fast path would read."""
    import ryml

    if tree.is_map(node):
        result: dict[str, Any] = {}
        child = tree.first_child(node)
        while child != ryml.NONE:
            result[bytes(tree.key(child)).decode()] = ryml_to_python(tree, child)
            child = tree.next_sibling(child)
        return result
    if tree.is_seq(node):
        items = []
        child = tree.first_child(node)
        while child != ryml.NONE:
            items.append(ryml_to_python(tree, child))
            child = tree.next_sibling(child)
        return items
    if tree.val_is_null(node):
        return None
    return bytes(tree.val(node)).decode()


def _ryml_walk(data: bytes) -> Any:
    import ryml

    tree = ryml.parse_in_arena(data)
    return ryml_to_python(tree, tree.root_id())


def _version(module: str) -> str:
    from importlib import metadata

    dist = {"ryml": "rapidyaml", "yaml_rs": "yaml-rs"}.get(module, module)
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _available() -> dict[str, Any]:
    found = {}
    for name in CANDIDATES:
        try:
            found[name] = importlib.import_module(name)
        except ImportError:
            continue
    return found


def measure(path: Path, repeat: int, found: dict[str, Any]) -> dict[str, float | None]:
    import yaml

    from tether.commands.check import compiling, load_reporting
    from tether.compiler.yaml.spec import compile_yaml_text
    from tether.core.diagnostics import Diagnostics

    text = path.read_text(encoding="utf-8")
    data = text.encode()

    def front_end() -> object:
        with compiling():  # as the CLI runs it: big thread stack, so no extra depth pass
            diags = Diagnostics()
            workflow = compile_yaml_text(text, str(path), diags)
            assert workflow is not None and not diags.has_errors
            return workflow

    timings: dict[str, float | None] = {
        "safe_load": best_cpu(repeat, lambda: yaml.load(text, Loader=yaml.CSafeLoader)),
        "compose": best_cpu(repeat, lambda: yaml.compose(text, Loader=yaml.CBaseLoader)),
        "front end": best_cpu(repeat, front_end),
        "load()": best_cpu(repeat, lambda: load_reporting(str(path), False)),
    }
    ryml = found.get("ryml")
    timings["ryml"] = best_cpu(repeat, lambda: ryml.parse_in_arena(data)) if ryml else None
    timings["ryml+walk"] = best_cpu(repeat, lambda: _ryml_walk(data)) if ryml else None
    for name in ("yaml_rs", "ryaml"):
        module = found.get(name)
        timings[name] = best_cpu(repeat, lambda: module.loads(text)) if module else None
    return timings


def differences(found: dict[str, Any]) -> list[str]:
    """Per candidate, the scalars of YAML_11_VS_12 it reads unlike PyYAML's safe_load."""
    import yaml

    expected = yaml.safe_load(YAML_11_VS_12)
    lines = []
    for name, module in found.items():
        if name == "ryml":
            continue  # it gives text only: typing the scalars is left to the reader
        try:
            got = module.loads(YAML_11_VS_12)
        except Exception as exc:  # a reader may refuse some of them outright
            lines.append(f"  {name}: refused the sample ({type(exc).__name__}: {str(exc)[:60]})")
            continue
        diff = [
            f"{a!r}->{b!r}"
            for key in expected
            for a, b in zip(expected[key], got.get(key, []))
            if not (a == b and type(a) is type(b)) and not (a != a and b != b)
        ]
        lines.append(f"  {name}: {len(diff)} differ: " + ", ".join(diff))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--shapes", nargs="+", choices=("chain", "fanout", "random"), default=list(SHAPES))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best is kept)")
    args = parser.parse_args(argv)

    import yaml

    found = _available()
    versions = ", ".join(f"{name} {_version(name)}" for name in found) or "none installed"
    print(f"YAML readers: best CPU ms of {args.repeat} after a warm-up, GC paused; python {sys.version.split()[0]},")
    print(f"PyYAML {yaml.__version__} (libyaml {'yes' if yaml.__with_libyaml__ else 'no'}); candidates: {versions}.")
    print(f"(xN) = time / compose. Load average {os.getloadavg()[0]:.1f}.\n")
    names = ("safe_load", "compose", "front end", "load()", "ryml", "ryml+walk", "yaml_rs", "ryaml")
    header = f"{'shape':<7} {'tasks':>6} {'KiB':>5} " + " ".join(f"{n:>15}" for n in names)
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="tether-yaml-") as tmp:
        for shape in args.shapes:
            for n in args.sizes:
                path = Path(tmp) / f"{shape}-{n}.yaml"
                path.write_text(generate(shape, n), encoding="utf-8")
                t = measure(path, args.repeat, found)
                base = t["compose"] or 1.0
                cells = [
                    f"{'-':>15}" if t[k] is None else f"{t[k] * 1e3:>7.1f} (x{t[k] / base:4.2f})"  # type: ignore[operator]
                    for k in names
                ]
                print(f"{shape:<7} {n:>6} {path.stat().st_size / 1024:>5.0f} " + " ".join(cells))
    print("\nYAML 1.1 scalars read unlike PyYAML (the fast path would have to refuse these):")
    print("\n".join(differences(found)) or "  (no candidate installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
