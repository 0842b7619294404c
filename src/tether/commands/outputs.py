"""Print a run's outputs as JSON: the workflow's outputs once it succeeded, every node's, or one
node's (a foreach item: 'train[2]').

  tether outputs RUN_ID           {"outputs": workflow outputs, "nodes": {node: outputs}}
  tether outputs RUN_ID NODE      that node's outputs (a foreach task: each item's, by node id)
"""

from __future__ import annotations

import argparse
import json
import sys

from .run_args import add_store_argument, foreach_items, open_run, valid_run_id

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("node", nargs="?", metavar="NODE", help="a task name, or TASK[i] for a foreach item")
    add_store_argument(parser)


def run(args: argparse.Namespace) -> int:
    from ..runtime.store import StoreError

    if not valid_run_id("outputs", args.run_id):
        return 2
    try:
        store, _ = open_run(args.store, args.run_id)
        nodes = store.list_nodes(args.run_id)
        items = foreach_items(nodes, args.node)
        if items:  # a foreach task's name: each item's outputs, by node id
            print(json.dumps({item: store.read_outputs(args.run_id, item) for item in items}, sort_keys=False, allow_nan=False))
            return 0
        if args.node is not None:
            outputs = store.read_outputs(args.run_id, args.node)
            if outputs is None:
                why = "no such node" if args.node not in nodes else "it has no outputs (it did not succeed, or not yet)"
                known = ", ".join(n for n in nodes if store.read_outputs(args.run_id, n) is not None) or "none"
                print(f"tether outputs: {args.node}: {why} in run {args.run_id} (nodes with outputs: {known})", file=sys.stderr)
                return 1
            print(json.dumps(outputs, sort_keys=True, allow_nan=False))
            return 0
        by_node = {}
        for node in nodes:
            outputs = store.read_outputs(args.run_id, node)
            if outputs is not None:
                by_node[node] = outputs
        status = store.read_status(args.run_id) or {}
    except StoreError as exc:
        print(f"tether outputs: {exc}", file=sys.stderr)
        return 1
    workflow_outputs = status.get("outputs") if status.get("status") == "succeeded" else None
    print(json.dumps({"run_id": args.run_id, "outputs": workflow_outputs, "nodes": by_node}, sort_keys=True, allow_nan=False))
    return 0
