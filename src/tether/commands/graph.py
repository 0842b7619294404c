"""Draw a workflow: Mermaid (paste into Markdown), Graphviz DOT, or one self-contained HTML page.

  tether graph SPEC                       Mermaid flowchart on stdout
  tether graph SPEC --format dot | dot -Tsvg > dag.svg
  tether graph SPEC --format html -o dag.html   (pan, zoom; no network, no server)

Without --format, the format follows -o's extension (.mmd/.md, .dot/.gv, .html), else Mermaid.
"""

from __future__ import annotations

import argparse
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
    from ..compiler.load import load
    from ..graphics.model import graph_of
    from .check import compiling
    from .run import _print_diagnostics

    with compiling():
        loaded = load(args.spec)
    _print_diagnostics(loaded)
    if loaded.workflow is None:
        return 1
    text = render(graph_of(loaded.workflow), args.format or _format_for(args.output))
    return write_text(text, args.output, "tether graph")


def render(graph: "Graph", fmt: str) -> str:
    from ..graphics import dot, html, mermaid

    if fmt == "dot":
        return dot.render(graph)
    if fmt == "html":
        return html.graph_page(graph)
    return mermaid.render(graph)


def _format_for(output: str | None) -> str:
    import os

    return _BY_SUFFIX.get(os.path.splitext(output or "")[1].lower(), "mermaid")


def write_text(text: str, output: str | None, prog: str) -> int:
    """To stdout, or atomically to FILE (a reader never sees half a page)."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return 0
    import os
    import tempfile

    directory = os.path.dirname(os.path.abspath(output))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, output)
    except OSError as exc:
        print(f"{prog}: cannot write {output}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {output}", file=sys.stderr)
    return 0
