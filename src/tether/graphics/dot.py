"""Graphviz DOT text (https://graphviz.org/doc/info/lang.html), for `dot -Tsvg` and friends.

A foreach node has a double border (peripheries=2) and its item count; a conditional node a
dashed border; an `after:` edge is dashed and labelled "after", a data edge names the outputs.
"""

from __future__ import annotations

from .model import Graph
from .text_labels import node_lines

_FILL = {"python": "#e8f1fb", "container": "#eef7ee"}
_STROKE = {"python": "#2f6db5", "container": "#3a8a3a"}


def quote(text: str) -> str:
    """A DOT double-quoted ID: only `"` and `\\` need escaping (and newlines become \\n)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(graph: Graph) -> str:
    lines = [
        f"digraph {quote(graph.name)} {{",
        "  rankdir=LR;",
        '  graph [fontname="Helvetica", nodesep=0.3, ranksep=0.6];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#627d98"];',
    ]
    for node in graph.nodes:
        attrs = [
            f"label={quote(chr(10).join(node_lines(node)))}",
            f"fillcolor={quote(_FILL.get(node.kind, '#ffffff'))}",
            f"color={quote(_STROKE.get(node.kind, '#333333'))}",
            f"tooltip={quote(node.kind)}",
        ]
        if node.foreach is not None:
            attrs.append("peripheries=2")
        if node.when is not None:
            attrs.append('style="rounded,filled,dashed"')  # overrides the default node style
        lines.append(f"  {quote(node.id)} [{', '.join(attrs)}];")
    for edge in graph.edges:
        if edge.kind == "data":
            attrs = [f"label={quote(edge.label)}"] if edge.label else []
        else:
            attrs = ['label="after"', "style=dashed"]
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {quote(edge.source)} -> {quote(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
