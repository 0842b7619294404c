"""Show a run's state, node by node: live while it runs (its executor keeps status.json
current, at most every half second), final once it ended.

  tether status RUN_ID            the run's status, then one line per node
  tether status RUN_ID --json     the same as one JSON object

A cluster run (no status.json) is read from its journal and outputs instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .run_args import add_store_argument, open_run, valid_run_id

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run_id", metavar="RUN_ID")
    add_store_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..runtime.store import StoreError

    if not valid_run_id("status", args.run_id):
        return 2
    try:
        store, summary = open_run(args.store, args.run_id)
        status = store.read_status(args.run_id) or {}
        nodes = _nodes(status) if status.get("nodes") else _from_journal(store, args.run_id)
    except StoreError as exc:
        print(f"tether status: {exc}", file=sys.stderr)
        return 1
    result = {**summary, "nodes": nodes}
    if status.get("error"):
        result["error"] = status["error"]
    if args.json:
        print(json.dumps(result, sort_keys=True, allow_nan=False))
        return 0
    from .runs import format_duration

    print(f"run {args.run_id}: {summary['status']} ({summary['workflow'] or '?'}, {format_duration(summary['duration_s'])})")
    if result.get("error"):
        print(f"  error: {result['error']}")
    width = max((len(node) for node in nodes), default=0)
    for node, state in nodes.items():
        attempt = f"  attempt {state['attempt']}" if state.get("attempt") else ""
        message = f"  {state['message']}" if state.get("message") else ""
        print(f"  {node.ljust(width)}  {state['status']}{attempt}{message}")
    return 0


def _nodes(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """status.json's nodes as {node: {status, attempt, message}} (its final form lists attempts)."""
    nodes: dict[str, dict[str, Any]] = {}
    for node, state in status["nodes"].items():
        if not isinstance(state, dict):
            continue
        attempts = state.get("attempts")
        attempt = state.get("attempt", attempts[-1]["number"] if attempts else 0)
        entry: dict[str, Any] = {"status": state.get("status", "unknown"), "attempt": attempt}
        if state.get("message"):
            entry["message"] = state["message"]
        nodes[node] = entry
    return nodes


def _from_journal(store: Any, run_id: str) -> dict[str, dict[str, Any]]:
    """A run without status.json (a cluster run): each recorded node's state from its journal."""
    nodes: dict[str, dict[str, Any]] = {}
    for node in store.list_nodes(run_id):
        attempts = store.attempts(run_id, node)
        if store.read_outputs(run_id, node) is not None:
            state = "done"
        elif store.read_skipped(run_id, node) is not None:
            state = "skipped"
        elif not attempts:
            state = "pending"
        elif attempts[-1].outcome is None:
            state = "running"
        else:
            state = attempts[-1].outcome
        entry: dict[str, Any] = {"status": state, "attempt": attempts[-1].number if attempts else 0}
        if attempts and attempts[-1].message:
            entry["message"] = attempts[-1].message
        nodes[node] = entry
    return nodes
