"""Show the logs of a run's attempts: every node, one node, or one attempt.

  tether logs RUN_ID                 every attempt of every node, in task order
  tether logs RUN_ID NODE            every attempt of one node (a foreach item: 'train[2]'; a
                                     foreach task's name: every item's)
  tether logs RUN_ID NODE --attempt 2

A cluster run (`tether exec` on Argo or AWS Batch: no run.json) is read from its journal, nodes in
the order they first started. Its attempts log to the platform, not to the store, so each is
shown with its outcome and a note says where the log is.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .run_args import add_store_argument, foreach_items, open_run, valid_run_id

if TYPE_CHECKING:
    from ..runtime.store import RunStore

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("node", nargs="?", metavar="NODE", help="a task name, or TASK[i] for a foreach item")
    parser.add_argument("--attempt", type=int, metavar="K", help="only attempt K (counting from 1)")
    add_store_argument(parser)


CLUSTER_LOGS = (
    "run {run} ran on a cluster: its attempts' logs are kept by the platform, not by the run store.\n"
    "  Argo: the run id is the Workflow's uid; find its name with\n"
    "    kubectl get workflows -o custom-columns=NAME:.metadata.name,UID:.metadata.uid | grep {run}\n"
    "  then `argo logs NAME` (or `kubectl logs POD -c main`).\n"
    "  AWS Batch: `aws batch describe-jobs --jobs JOB_ID` gives each attempt's container.logStreamName in\n"
    "  CloudWatch Logs (log group /aws/batch/job unless the job definition sets another);\n"
    "  `tether submit` printed the job ids, and each job carries the tag tether:run={run}."
)
"""Where a cluster attempt's log is: https://argo-workflows.readthedocs.io/en/latest/cli/argo_logs/
(container "main" by default); on Batch, the awslogs driver's default group /aws/batch/job
(https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html) and each attempt's stream
in DescribeJobs' container.logStreamName
(https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerDetail.html)."""


def run(args: argparse.Namespace) -> int:
    from ..runtime.store import StoreError

    if not valid_run_id("logs", args.run_id):
        return 2
    try:
        store, summary = open_run(args.store, args.run_id)
        kind = summary["kind"]
        order = _task_order(store, args.run_id) if kind == "local" else {}
        nodes = store.list_nodes(args.run_id)
        items = foreach_items(nodes, args.node)
        if items:  # a foreach task's name: the logs of every item, in order
            return _show(store, args, items, order, kind == "cluster")
        if args.node is not None and args.node not in nodes:
            known = ", ".join(nodes) or "none has started yet"
            print(f"tether logs: {args.node}: no attempt of it was recorded in run {args.run_id} (nodes: {known})"
                  if order.get(args.node.split("[", 1)[0]) is not None or kind == "cluster" else
                  f"tether logs: {args.node}: no such task in run {args.run_id} (nodes: {known})", file=sys.stderr)
            return 1
        return _show(store, args, [args.node] if args.node is not None else nodes, order, kind == "cluster")
    except StoreError as exc:
        print(f"tether logs: {exc}", file=sys.stderr)
        return 1


def _task_order(store: "RunStore", run_id: str) -> dict[str, int]:
    record = store.load_run(run_id)
    return {task.name: i for i, task in enumerate(record.workflow.tasks)}


def _show(store: "RunStore", args: argparse.Namespace, nodes: list[str], order: dict[str, int], cluster: bool) -> int:
    journals = {node: store.attempts(args.run_id, node) for node in nodes}
    if cluster:  # no workflow in the store: the order nodes first started in
        first = {node: min((a.started for a in journals[node] if a.started), default="~") for node in nodes}
        nodes.sort(key=lambda node: (first[node], node.split("[", 1)[0], _item(node)))
    else:
        nodes.sort(key=lambda node: (order.get(node.split("[", 1)[0], len(order)), _item(node)))
    shown = missing = 0
    out = sys.stdout
    for node in nodes:
        for attempt in journals[node]:
            if args.attempt is not None and attempt.number != args.attempt:
                continue
            outcome = attempt.outcome or "running, or lost"
            code = f", exit {attempt.exit_code}" if attempt.exit_code is not None else ""
            print(f"==> {node} attempt {attempt.number} ({outcome}{code}) <==", file=out)
            data = store.read_log(args.run_id, node, attempt.number)
            if data is None and cluster:
                missing += 1
                text = f"(not in the run store: kept by the cluster){': ' + attempt.message if attempt.message else ''}\n"
            else:
                text = data.decode("utf-8", "replace") if data else "(no log)\n"
            out.write(text if text.endswith("\n") else text + "\n")
            shown += 1
    out.flush()
    if missing:
        print(CLUSTER_LOGS.format(run=args.run_id), file=sys.stderr)
    if shown == 0 and args.attempt is not None:
        print(f"tether logs: no attempt {args.attempt} recorded", file=sys.stderr)
        return 1
    return 0


def _item(node: str) -> int:
    return int(node[node.index("[") + 1 : -1]) if node.endswith("]") else -1
