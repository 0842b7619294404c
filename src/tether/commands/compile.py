"""Compile a workflow spec for a target: `ir` (the typed DAG as JSON) or a backend's manifests.

With -o FILE the output is written there; with --check as well, nothing is written and the
exit status is 1, with a unified diff, when FILE is not what compiling would write (a stale
committed manifest in a GitOps repository). Exit 1 also when the spec has errors; 2 for an
unknown target; 70 when tether itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .check import EXIT_ERRORS, EXIT_INTERNAL, EXIT_OK

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="spec.yaml, file.py:workflow or package.module:workflow")
    parser.add_argument("-t", "--target", default="ir", help="what to compile to (default: ir)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 with a diff when FILE (-o) differs from the compiled output",
    )
    parser.add_argument(
        "-O", "--option", action="append", default=[], metavar="KEY=VALUE",
        help="a target option (repeatable), e.g. -O profile=profiles/prod.yaml",
    )


def run(args: argparse.Namespace) -> int:
    from .check import load_reporting, print_diagnostic_list, print_diagnostics, print_internal_error, use_color

    color = use_color(sys.stderr)
    if args.check and not args.output:
        print("tether compile: --check needs -o FILE (the file to compare)", file=sys.stderr)
        return EXIT_USAGE
    options = _parse_options(args.option)
    if options is None:
        return EXIT_USAGE
    from ..backends import UnknownTargetError, get_backend

    try:
        backend = get_backend(args.target)
    except UnknownTargetError as exc:
        print(f"tether compile: {exc}", file=sys.stderr)
        if exc.hint and "did you mean" not in str(exc):
            print(f"  = hint: {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    result = load_reporting(args.spec, color)
    if result is None:
        return EXIT_INTERNAL
    print_diagnostics(result, color)
    if result.workflow is None:
        return EXIT_ERRORS
    from ..core.diagnostics import Diagnostics

    diags = Diagnostics()
    try:
        text = backend.compile(result.workflow, diags, options)
    except Exception as exc:  # a backend bug must not reach the user as a traceback
        print_internal_error(args.spec, exc, color)
        return EXIT_INTERNAL
    print_diagnostic_list(diags.sorted(), result.sources, color)
    if diags.has_errors:
        return EXIT_ERRORS
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    if args.check:
        return _check_up_to_date(Path(args.output), text, args)
    _write_atomically(Path(args.output), text)
    return EXIT_OK


def _parse_options(pairs: list[str]) -> dict[str, str] | None:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            print(f"tether compile: option '{pair}' is not KEY=VALUE", file=sys.stderr)
            return None
        options[key] = value
    return options


def _check_up_to_date(path: Path, text: str, args: argparse.Namespace) -> int:
    """The GitOps staleness check: compare bytes, show what would change."""
    import difflib

    try:
        current = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        current = None
    except (OSError, UnicodeDecodeError) as exc:
        print(f"tether compile: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if current == text:
        print(f"{path}: up to date", file=sys.stderr)
        return EXIT_OK
    diff = difflib.unified_diff(
        [] if current is None else current.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=f"{path} (committed)" if current is not None else "/dev/null",
        tofile=f"{path} (compiled from {args.spec})",
    )
    sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
    what = "does not exist" if current is None else "is stale"
    print(
        f"{path} {what}: run 'tether compile {args.spec} --target {args.target} -o {path}'",
        file=sys.stderr,
    )
    return EXIT_ERRORS


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(text.encode("utf-8"))
    os.replace(temporary, path)
