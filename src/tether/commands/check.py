"""Check workflow specs and report every problem, each with file:line:col, a code and a caret.

Exit status: 0 when every spec is clean (warnings allowed), 1 when any spec has an error,
70 when tether itself failed (a bug; the message says how to report it).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, TextIO

if TYPE_CHECKING:
    from ..core.diagnostics import Diagnostic
    from ..compiler.load import LoadResult

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_INTERNAL = 70  # EX_SOFTWARE
BUG_HINT = (
    "this is a bug in tether, not in your spec: please report it with the spec that triggers it "
    "(set TETHER_DEBUG=1 to print the traceback)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs", nargs="+", metavar="SPEC",
        help="a YAML spec (spec.yaml, '-' for stdin), file.py:workflow or package.module:workflow",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    add_strict_refs_argument(parser)


def add_strict_refs_argument(parser: argparse.ArgumentParser) -> None:
    """`--strict-refs`, shared by check, compile and run (see tether.compiler.python_refs)."""
    parser.add_argument(
        "--strict-refs", action="store_true",
        help="a YAML spec's Python task module that cannot be found (on the spec's directory, PYTHONPATH, "
        "installed packages) or parsed is an error, not a warning",
    )


def run(args: argparse.Namespace) -> int:
    color = use_color(sys.stderr)
    clean = errors = warnings = 0
    internal = False
    for spec in args.specs:
        result = load_reporting(spec, color, strict_refs=args.strict_refs)
        if result is None:
            internal = True
            continue
        print_diagnostics(result, color)
        spec_errors = sum(1 for d in result.diagnostics if d.is_error)
        errors += spec_errors
        warnings += len(result.diagnostics) - spec_errors
        if result.workflow is not None:
            clean += 1
            if not args.quiet:
                print(f"{spec}: ok ({_plural(len(result.workflow.tasks), 'task')})", flush=True)
    failed = len(args.specs) - clean
    if not args.quiet or failed:
        summary = f"checked {_plural(len(args.specs), 'spec')}: {clean} ok"
        if failed:
            summary += f", {failed} with errors ({_plural(errors, 'error')}"
            summary += f", {_plural(warnings, 'warning')})" if warnings else ")"
        elif warnings:
            summary += f" ({_plural(warnings, 'warning')})"
        print(summary, flush=True)
    if internal:
        return EXIT_INTERNAL
    return EXIT_ERRORS if failed else EXIT_OK


def load_reporting(spec: str, color: bool, *, strict_refs: bool = False) -> LoadResult | None:
    """load(spec), turning an unexpected exception into an internal-error diagnostic (None)."""
    from ..compiler.load import load

    try:
        with compiling():
            return load(spec, strict_refs=strict_refs)
    except Exception as exc:  # the boundary: a user never sees a traceback
        print_internal_error(spec, exc, color)
        return None


COMPOSE_THREAD_STACK = 256 << 20
"""New threads' stack while a spec is compiled: the YAML reader composes a big spec on a thread
of its own, and 256 MiB (virtual memory, touched lazily) holds 256k nesting levels."""


@contextmanager
def compiling() -> Iterator[None]:
    """Process-wide switches for compiling a spec, flipped only here in the CLI, never inside a
    library call, and put back afterwards.

    - The cyclic garbage collector is paused: a 10,000-task spec allocates millions of
      long-lived objects (YAML nodes, IR values) and no reference cycles, so each automatic
      collection re-scans them all for nothing; pausing it halves compile time.
    - New threads get a big stack, so the YAML reader can compose a large spec without the
      extra pass that measures its depth first (tether.compiler.yaml.nodes._compose).
    """
    import threading

    enabled = gc.isenabled()
    gc.disable()
    previous_stack = threading.stack_size(COMPOSE_THREAD_STACK)
    try:
        yield
    finally:
        threading.stack_size(previous_stack)
        if enabled:
            gc.enable()


def print_internal_error(spec: str, exc: BaseException, color: bool) -> None:
    from ..core.diagnostics import Diagnostic, render

    if os.environ.get("TETHER_DEBUG"):
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    diagnostic = Diagnostic("E000", f"internal error while compiling '{spec}': {type(exc).__name__}: {exc}", None, BUG_HINT)
    print(render(diagnostic, None, color), file=sys.stderr)


def print_diagnostics(result: LoadResult, color: bool, stream: TextIO | None = None) -> None:
    print_diagnostic_list(result.diagnostics, result.sources, color, stream)


def print_diagnostic_list(
    diagnostics: tuple[Diagnostic, ...] | list[Diagnostic], sources: dict[str, str], color: bool,
    stream: TextIO | None = None,
) -> None:
    from ..core.diagnostics import render

    out = stream if stream is not None else sys.stderr
    for diagnostic in diagnostics:
        source = sources.get(diagnostic.span.file) if diagnostic.span else None
        print(render(diagnostic, source, color), file=out)
        print(file=out)


def use_color(stream: TextIO) -> bool:
    """Colour only for a person at a terminal: a TTY, NO_COLOR unset (no-color.org), TERM not dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
