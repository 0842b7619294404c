"""Self-contained HTML pages (inline CSS, JS and SVG; a CSP that forbids every fetch) rendered
with jinja2 from tether's templates: the graph of a spec and the report of a run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import jinja2

from .model import Graph, duration, graph_from_json
from .scene import Scene, build

ROW_HEIGHT = 22.0
LABEL_WIDTH = 170.0
TIMELINE_WIDTH = 640.0  # the drawing area right of the labels, in SVG units
LABEL_ROOM = 330.0  # right of the drawing area, for the last bar's label


@dataclass(frozen=True)
class Bar:
    row: int
    x: float
    w: float
    y: float
    outcome: str
    label: str
    title: str
    node: str
    attempt: int
    marks: tuple[tuple[float, str], ...]  # (x, tooltip) of each checkpoint commit


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tether", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pretty"] = _pretty
    env.filters["secs"] = lambda s: "–" if s is None else (f"{s:.2f}s" if s < 60 else duration(round(s)))
    env.filters["bytes"] = _bytes
    env.filters["tojson_script"] = _json_for_script
    return env


def graph_page(graph: Graph) -> str:
    scene = build(graph)
    return _environment().get_template("graph.html.j2").render(graph=graph.to_json(), scene=scene)


def report_page(data: Mapping[str, Any]) -> str:
    graph = graph_from_json(data["graph"])
    status = {t["task"]: t["status"] for t in data["tasks"]}
    notes = {t["task"]: _counts_note(t["counts"]) for t in data["tasks"] if len(t["nodes"]) > 1}
    scene: Scene = build(graph, status, notes)
    rows, bars = timeline(data["timeline"])
    return _environment().get_template("report.html.j2").render(
        label_room=LABEL_ROOM,
        run=data, scene=scene, rows=rows, bars=bars, timeline_width=LABEL_WIDTH + TIMELINE_WIDTH + LABEL_ROOM,
        label_width=LABEL_WIDTH, row_height=ROW_HEIGHT, span=data["timeline"]["span_s"],
    )


def timeline(data: Mapping[str, Any]) -> tuple[list[str], list[Bar]]:
    """Rows (one per node that ran) and a bar per attempt, scaled to TIMELINE_WIDTH."""
    span = max(float(data["span_s"]), 1e-3)
    scale = TIMELINE_WIDTH / span
    rows: list[str] = []
    bars = []
    for bar in data["bars"]:
        rows.append(f"{bar['node']} #{bar['attempt']}")
        row = len(rows) - 1
        resumed = f" · resumed from checkpoint {bar['resumed_from']}" if bar["resumed_from"] is not None else ""
        code = f" · exit {bar['exit_code']}" if bar["exit_code"] is not None else ""
        label = f"#{bar['attempt']} {bar['label']}{code} · {bar['duration_s']:.2f}s{resumed}"
        marks = tuple(
            (LABEL_WIDTH + c["at_s"] * scale, f"checkpoint {c['seq']} · {_bytes(c['size'])} · at {c['at_s']:.2f}s")
            for c in bar["checkpoints"]
        )
        bars.append(
            Bar(row, LABEL_WIDTH + bar["start_s"] * scale, max(bar["duration_s"] * scale, 3.0), row * ROW_HEIGHT + 4,
                bar["outcome"] or "running", label, f"{bar['node']} {label}", bar["node"], bar["attempt"], marks)
        )
    return rows, bars


def _counts_note(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    return " · ".join(f"{n}/{total} {status}" for status, n in counts.items())


def _pretty(value: Any, limit: int = 2000) -> str:
    text = json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters; see --json)"


def _bytes(size: int | None) -> str:
    if size is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no `</` can close the element."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
