"""Draw a workflow: Mermaid (paste into Markdown), Graphviz DOT, or one self-contained HTML page.

  tether graph SPEC                       Mermaid flowchart on stdout
  tether graph SPEC --format dot | dot -Tsvg > dag.svg
  tether graph SPEC --format html -o dag.html   (pan, zoom; no network, no server)

Without --format, the format follows -o's extension (.mmd/.md, .dot/.gv, .html/.htm; none:
Mermaid); any other extension (.svg, .png) is refused rather than filled with Mermaid text.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..graphics.model import Graph

FORMATS = ("mermaid", "dot", "html")
_BY_SUFFIX = {".mmd": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot", ".html": "html", ".htm": "html"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("spec", metavar="SPEC", help="file.yaml, file.py:workflow or pkg.module:workflow")
    parser.add_argument("--format", choices=FORMATS, help="mermaid (default), dot or html")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    from ..graphics.model import graph_of
    from .check import EXIT_INTERNAL, load_reporting, use_color
    from .run import _print_diagnostics

    fmt = args.format or _format_for(args.output)
    if fmt is None:
        suffix = os.path.splitext(args.output)[1]
        print(f"tether graph: cannot tell which format to write to '{args.output}' from '{suffix}'", file=sys.stderr)
        print(
            "  = hint: name it .mmd/.md (Mermaid), .dot/.gv (Graphviz) or .html/.htm, or give --format; "
            f"for an image: tether graph SPEC --format dot | dot -T{suffix[1:].lower() or 'svg'} > {args.output}",
            file=sys.stderr,
        )
        return 2
    loaded = load_reporting(args.spec, use_color(sys.stderr))
    if loaded is None:
        return EXIT_INTERNAL
    _print_diagnostics(loaded)
    if loaded.workflow is None:
        return 1
    text = render(graph_of(loaded.workflow), fmt)
    return write_text(text, args.output, "tether graph")


def render(graph: "Graph", fmt: str) -> str:
    from ..graphics import dot, html, mermaid

    if fmt == "dot":
        return dot.render(graph)
    if fmt == "html":
        return html.graph_page(graph)
    return mermaid.render(graph)


def _format_for(output: str | None) -> str | None:
    """The format -o's extension names; Mermaid for stdout or no extension; None for another."""
    if output is None or output == "-":
        return "mermaid"
    suffix = os.path.splitext(output)[1].lower()
    return _BY_SUFFIX.get(suffix) if suffix else "mermaid"


def write_text(text: str, output: str | None, prog: str) -> int:
    """To stdout, or atomically to FILE with the umask's mode (see output_files)."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return 0
    from pathlib import Path

    from .output_files import reason, write_atomically

    try:
        write_atomically(Path(output), text.encode("utf-8"))
    except OSError as exc:
        print(f"{prog}: cannot write {output}: {reason(exc, output)}", file=sys.stderr)
        return 1
    print(f"wrote {output}", file=sys.stderr)
    return 0
