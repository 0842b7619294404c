"""Geometry for the SVG a page draws: boxes with their lines and badges, edge paths, labels.

The template only emits elements; every number is computed here, so the page runs no layout
code and looks the same in every browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .layout import layered
from .model import Graph, Node
from .text_labels import count_text

NODE_WIDTH = 250.0
LINE_HEIGHT = 15.0
PAD = 8.0
CHAR_WIDTH = 6.3  # average advance of the 11px sans-serif used for detail lines
BADGE_HEIGHT = 15.0
MIN_VIEW = (1100.0, 300.0)


@dataclass(frozen=True)
class Text:
    text: str  # possibly shortened with an ellipsis
    full: str
    cls: str
    y: float  # baseline, relative to the box


@dataclass(frozen=True)
class Pill:
    key: str
    text: str
    x: float
    y: float
    w: float


@dataclass(frozen=True)
class NodeShape:
    id: str
    kind: str
    x: float
    y: float
    w: float
    h: float
    texts: tuple[Text, ...]
    pills: tuple[Pill, ...]
    foreach: bool
    conditional: bool
    status: str | None
    count: str | None


@dataclass(frozen=True)
class EdgeShape:
    source: str
    target: str
    kind: str
    d: str
    label: str
    label_x: float
    label_y: float


@dataclass(frozen=True)
class Scene:
    width: float
    height: float
    nodes: tuple[NodeShape, ...]
    edges: tuple[EdgeShape, ...]
    crossings: int = 0
    margin: float = field(default=20.0)

    @property
    def view_box(self) -> tuple[float, float, float, float]:
        """The whole graph, but never zoomed in past 1:1 on a small graph (a minimum size)."""
        w = max(self.width + 2 * self.margin, MIN_VIEW[0])
        h = max(self.height + 2 * self.margin, MIN_VIEW[1])
        return (self.width - w) / 2, (self.height - h) / 2, w, h


def build(graph: Graph, status: Mapping[str, str] | None = None, notes: Mapping[str, str] | None = None) -> Scene:
    """Lay `graph` out; `status` colours nodes (a run), `notes` adds a line (e.g. "3/4 done")."""
    status, notes = status or {}, notes or {}
    drafts = {node.id: _draft(node, notes.get(node.id)) for node in graph.nodes}
    layout = layered(
        [n.id for n in graph.nodes],
        [(e.source, e.target) for e in graph.edges],
        lambda node_id: (NODE_WIDTH, drafts[node_id][2]),
    )
    shapes = []
    for node in graph.nodes:
        box = layout.boxes[node.id]
        texts, pills, _ = drafts[node.id]
        shapes.append(
            NodeShape(node.id, node.kind, box.x, box.y, box.w, box.h, texts, pills, node.foreach is not None,
                      node.when is not None, status.get(node.id), count_text(node.count) if node.foreach else None)
        )
    kinds = {(e.source, e.target): e for e in graph.edges}
    edges = []
    for route in layout.routes:
        edge = kinds[(route.source, route.target)]
        (x0, y0), (x1, y1) = route.points[0], route.points[1]
        label = edge.label if edge.kind == "data" else "after"
        edges.append(EdgeShape(edge.source, edge.target, edge.kind, _path(route.points), label, (x0 + x1) / 2, (y0 + y1) / 2 - 4))
    return Scene(layout.width, layout.height, tuple(shapes), tuple(edges), layout.crossings)


def _draft(node: Node, note: str | None) -> tuple[tuple[Text, ...], tuple[Pill, ...], float]:
    """Text lines and badge pills of one node, positioned inside its box, and the box height."""
    texts = [Text(*_fit(node.id, 13 * 0.62), "title", 0.0)]
    texts.append(Text(*_fit(f"{node.kind} · {node.target}", CHAR_WIDTH), "detail", 0.0))
    extra = []
    if node.foreach is not None:
        extra.append((f"foreach {count_text(node.count)}: {node.foreach}", "foreach"))
    if node.when is not None:
        extra.append((f"when: {node.when}", "when"))
    if note:
        extra.append((note, "note"))
    texts += [Text(*_fit(text, CHAR_WIDTH), cls, 0.0) for text, cls in extra]
    y = PAD
    placed = []
    for text in texts:
        y += LINE_HEIGHT
        placed.append(Text(text.text, text.full, text.cls, y - 3))
    pills: list[Pill] = []
    x, row_y = PAD, y + 4
    for badge in node.badges:
        w = len(badge.text) * 5.6 + 10
        if x + w > NODE_WIDTH - PAD and x > PAD:
            x, row_y = PAD, row_y + BADGE_HEIGHT + 3
        pills.append(Pill(badge.key, badge.text, x, row_y, w))
        x += w + 4
    height = (row_y + BADGE_HEIGHT if pills else y) + PAD
    return tuple(placed), tuple(pills), height


def _fit(text: str, char_width: float) -> tuple[str, str]:
    limit = int((NODE_WIDTH - 2 * PAD) / char_width)
    return (text if len(text) <= limit else text[: limit - 1] + "…"), text


def _path(points: tuple[tuple[float, float], ...]) -> str:
    """A smooth curve through the route's points: one horizontal-tangent cubic per segment."""
    (x, y), parts = points[0], [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for nx, ny in points[1:]:
        mid = (x + nx) / 2
        parts.append(f"C{mid:.1f},{y:.1f} {mid:.1f},{ny:.1f} {nx:.1f},{ny:.1f}")
        x, y = nx, ny
    return " ".join(parts)
