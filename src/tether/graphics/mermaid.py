"""Mermaid flowchart text (https://mermaid.js.org/syntax/flowchart.html): pastes into GitHub
Markdown, which renders ```mermaid blocks. Layers run left to right, as in the HTML page."""

from __future__ import annotations

from .model import Graph
from .text_labels import node_lines

# Mermaid entity codes (#NN;) keep label text from being read as syntax:
# https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters
_ESCAPES = {"&": "#38;", '"': "#34;", "<": "#60;", ">": "#62;", "#": "#35;"}


def node_key(name: str) -> str:
    """A Mermaid id for a task: names are DNS-1123 labels, so '-' -> '_' is one-to-one, and the
    prefix keeps reserved words (`end`, `graph`) and leading digits out of the way."""
    return "t_" + name.replace("-", "_")


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def render(graph: Graph) -> str:
    lines = ["flowchart LR", f"  %% workflow {graph.name}"]
    for node in graph.nodes:
        label = "<br/>".join(escape(line) for line in node_lines(node))
        open_, close = ("[[", "]]") if node.foreach is not None else ("[", "]")
        lines.append(f'  {node_key(node.id)}{open_}"{label}"{close}')
    for edge in graph.edges:
        source, target = node_key(edge.source), node_key(edge.target)
        if edge.kind == "data":
            lines.append(f'  {source} -->|"{escape(edge.label)}"| {target}' if edge.label else f"  {source} --> {target}")
        else:
            lines.append(f'  {source} -.->|"after"| {target}')
    lines += [
        "  classDef python fill:#e8f1fb,stroke:#2f6db5,color:#102a43",
        "  classDef container fill:#eef7ee,stroke:#3a8a3a,color:#102a43",
        "  classDef conditional stroke-dasharray:6 3",
    ]
    for kind in ("python", "container"):
        members = [node_key(n.id) for n in graph.nodes if n.kind == kind]
        if members:
            lines.append(f"  class {','.join(members)} {kind}")
    conditional = [node_key(n.id) for n in graph.nodes if n.when is not None]
    if conditional:
        lines.append(f"  class {','.join(conditional)} conditional")
    return "\n".join(lines) + "\n"
