"""The lines of text a node shows, shared by every format so they all say the same thing."""

from __future__ import annotations

from .model import Node


def node_lines(node: Node) -> list[str]:
    """Title, kind and target, badges, then foreach and when, one entry per line."""
    lines = [node.id, f"{node.kind}: {node.target}" if node.target else node.kind]
    if node.badges:
        lines.append(" · ".join(b.text for b in node.badges))
    if node.foreach is not None:
        lines.append(f"foreach {count_text(node.count)}: {node.foreach}")
    if node.when is not None:
        lines.append(f"when: {node.when}")
    return lines


def count_text(count: int | None) -> str:
    """×4, or ×? when the number of items is only known when the workflow runs."""
    return "×?" if count is None else f"×{count}"
