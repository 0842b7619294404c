"""A layered (Sugiyama-style) layout computed here, so a page needs no layout library.

Layers are networkx's topological generations; an edge spanning several layers gets a dummy
point in each layer between, so it is routed around boxes and takes part in ordering. Order
within a layer comes from barycenter sweeps (down, then up), keeping the order with the fewest
crossings. Layers run left to right. Deterministic: ties break on the initial (spec) order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import networkx as nx

LAYER_GAP = 90.0  # horizontal space between layers, for edges and their labels
ROW_GAP = 24.0  # vertical space between boxes in a layer
DUMMY_HEIGHT = 8.0
SWEEPS = 6


@dataclass(frozen=True)
class Box:
    id: str
    x: float  # top-left
    y: float
    w: float
    h: float
    layer: int


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    points: tuple[tuple[float, float], ...]  # from the source's right edge to the target's left edge


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    routes: tuple[Route, ...]
    width: float
    height: float
    crossings: int


def layered(
    nodes: Sequence[str], edges: Sequence[tuple[str, str]], size: Callable[[str], tuple[float, float]]
) -> Layout:
    """Place `nodes` (in their given order) with `edges` (source, target) between them."""
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    rank = {node: i for i, generation in enumerate(nx.topological_generations(graph)) for node in generation}
    layers: list[list[str]] = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    for node in nodes:  # spec order inside each layer is the starting point
        layers[rank[node]].append(node)

    chains: dict[tuple[str, str], list[str]] = {}
    up: dict[str, list[str]] = {node: [] for node in nodes}
    down: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in dict.fromkeys(edges):
        chain = [source]
        for layer in range(rank[source] + 1, rank[target]):
            dummy = f"\0{source}\0{target}\0{layer}"
            layers[layer].append(dummy)
            up[dummy], down[dummy] = [], []
            chain.append(dummy)
        chain.append(target)
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
        chains[(source, target)] = chain

    layers = _order(layers, up, down)
    crossings = _crossings(layers, down)

    sizes = {node: size(node) for node in nodes}
    column_width = [max((sizes[n][0] for n in layer if n in sizes), default=0.0) for layer in layers]
    heights = [sum(_height(n, sizes) for n in layer) + ROW_GAP * max(len(layer) - 1, 0) for layer in layers]
    total_h = max(heights, default=0.0)
    boxes: dict[str, Box] = {}
    points: dict[str, tuple[float, float]] = {}
    x = 0.0
    for index, layer in enumerate(layers):
        y = (total_h - heights[index]) / 2
        for node in layer:
            h = _height(node, sizes)
            if node in sizes:
                w = sizes[node][0]
                boxes[node] = Box(node, x + (column_width[index] - w) / 2, y, w, h, index)
            else:
                points[node] = (x + column_width[index] / 2, y + h / 2)
            y += h + ROW_GAP
        x += column_width[index] + LAYER_GAP
    routes = []
    for (source, target), chain in chains.items():
        a, b = boxes[source], boxes[target]
        middle = tuple(points[d] for d in chain[1:-1])
        routes.append(Route(source, target, ((a.x + a.w, a.y + a.h / 2), *middle, (b.x, b.y + b.h / 2))))
    width = max(x - LAYER_GAP, 0.0)
    return Layout(boxes, tuple(routes), width, total_h, crossings)


def _height(node: str, sizes: dict[str, tuple[float, float]]) -> float:
    return sizes[node][1] if node in sizes else DUMMY_HEIGHT


def _order(layers: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]]) -> list[list[str]]:
    """Barycenter sweeps; returns the ordering with the fewest crossings seen."""
    best = [list(layer) for layer in layers]
    best_count = _crossings(best, down)
    current = [list(layer) for layer in layers]
    for _ in range(SWEEPS):
        if best_count == 0:
            break
        for i in range(1, len(current)):
            current[i] = _sorted_by_barycenter(current[i], current[i - 1], up)
        for i in range(len(current) - 2, -1, -1):
            current[i] = _sorted_by_barycenter(current[i], current[i + 1], down)
        count = _crossings(current, down)
        if count < best_count:
            best, best_count = [list(layer) for layer in current], count
    return best


def _sorted_by_barycenter(layer: list[str], fixed: list[str], neighbours: dict[str, list[str]]) -> list[str]:
    position = {node: i for i, node in enumerate(fixed)}

    def key(item: tuple[int, str]) -> tuple[float, int]:
        index, node = item
        linked = [position[n] for n in neighbours[node] if n in position]
        return (sum(linked) / len(linked) if linked else float(index), index)

    return [node for _, node in sorted(enumerate(layer), key=key)]


def _crossings(layers: list[list[str]], down: dict[str, list[str]]) -> int:
    """Edge crossings between adjacent layers (pairs of edges whose ends are in opposite order)."""
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        position = {node: i for i, node in enumerate(lower)}
        ends = sorted((i, position[t]) for i, node in enumerate(upper) for t in down[node] if t in position)
        total += _inversions([t for _, t in ends], ends)
    return total


def _inversions(targets: list[int], ends: list[tuple[int, int]]) -> int:
    """Pairs (a, b) with a's source before b's source but a's target after b's (merge count)."""
    count = 0
    # Edges sharing a source never cross each other; sorting by (source, target) keeps them in order.
    def sort(values: list[int]) -> list[int]:
        nonlocal count
        if len(values) <= 1:
            return values
        mid = len(values) // 2
        left, right = sort(values[:mid]), sort(values[mid:])
        merged: list[int] = []
        i = j = 0
        while i < len(left) and j < len(right):
            if right[j] < left[i]:
                merged.append(right[j])
                count += len(left) - i
                j += 1
            else:
                merged.append(left[i])
                i += 1
        merged += left[i:] + right[j:]
        return merged

    sort(targets)
    return count
