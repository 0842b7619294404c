"""List the runs in a run store, newest last: id, workflow, status, start and duration.

  tether runs                 a table
  tether runs --json          one JSON object: {"runs": [...]}, oldest first

Local runs and cluster runs (`tether exec` on Argo or AWS Batch, with no status.json) alike.
"""

from __future__ import annotations

import argparse
import json
import sys

from .run_args import add_store_argument

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_store_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    from ..runtime.store import RunStore, StoreError, resolve_store_uri

    try:
        store = RunStore(resolve_store_uri(args.store))
        runs = [store.run_summary(run_id) for run_id in store.list_runs()]
    except StoreError as exc:
        print(f"tether runs: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"store": store.uri, "runs": runs}, sort_keys=True, allow_nan=False))
        return 0
    if not runs:
        print(f"no runs in {store.uri}", file=sys.stderr)
        return 0
    rows = [("RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION")]
    for item in runs:
        kind = " (cluster)" if item["kind"] == "cluster" else ""
        rows.append(
            (
                item["run_id"],
                (item["workflow"] or "?") + kind,
                item["status"],
                (item["started"] or "-").replace("T", " ")[:19],
                format_duration(item["duration_s"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def format_duration(seconds: float | None) -> str:
    """1.2s, 3m05s, 2h01m: short and exact enough to compare runs."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
