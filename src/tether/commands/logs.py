"""Show the logs of a run's attempts: every node, one node, or one attempt.

  tether logs RUN_ID                 every attempt of every node, in task order
  tether logs RUN_ID NODE            every attempt of one node (a foreach item: 'train[2]')
  tether logs RUN_ID NODE --attempt 2
"""

from __future__ import annotations

import argparse
import sys

from .run_args import add_store_argument, valid_run_id

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("node", nargs="?", metavar="NODE", help="a task name, or TASK[i] for a foreach item")
    parser.add_argument("--attempt", type=int, metavar="K", help="only attempt K (counting from 1)")
    add_store_argument(parser)


def run(args: argparse.Namespace) -> int:
    from ..runtime.store import RunStore, StoreError, resolve_store_uri

    if not valid_run_id("logs", args.run_id):
        return 2
    try:
        store = RunStore(resolve_store_uri(args.store))
        record = store.load_run(args.run_id)
        nodes = store.list_nodes(args.run_id)
    except StoreError as exc:
        print(f"tether logs: {exc}", file=sys.stderr)
        return 1
    if args.node is not None:
        if args.node not in nodes:
            known = ", ".join(nodes) or "none has started yet"
            task = record.workflow.task(args.node.split("[", 1)[0])
            why = "no attempt of it was recorded" if task is not None else "no such task"
            print(f"tether logs: {args.node}: {why} in run {args.run_id} (nodes: {known})", file=sys.stderr)
            return 1
        nodes = [args.node]
    order = {task.name: i for i, task in enumerate(record.workflow.tasks)}
    nodes.sort(key=lambda node: (order.get(node.split("[", 1)[0], len(order)), _item(node)))
    shown = 0
    out = sys.stdout
    for node in nodes:
        for attempt in store.attempts(args.run_id, node):
            if args.attempt is not None and attempt.number != args.attempt:
                continue
            outcome = attempt.outcome or "running, or lost"
            code = f", exit {attempt.exit_code}" if attempt.exit_code is not None else ""
            print(f"==> {node} attempt {attempt.number} ({outcome}{code}) <==", file=out)
            data = store.read_log(args.run_id, node, attempt.number)
            text = data.decode("utf-8", "replace") if data else "(no log)\n"
            out.write(text if text.endswith("\n") else text + "\n")
            shown += 1
    out.flush()
    if shown == 0 and args.attempt is not None:
        print(f"tether logs: no attempt {args.attempt} recorded", file=sys.stderr)
        return 1
    return 0


def _item(node: str) -> int:
    return int(node[node.index("[") + 1 : -1]) if node.endswith("]") else -1
