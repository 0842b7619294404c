"""Show what happened in a run: one self-contained HTML page (the DAG coloured by status, a
timeline of every attempt with its checkpoints, each node's inputs and outputs), or its data.

  tether report RUN_ID -o report.html      the page (no network, no server)
  tether report RUN_ID --json              the data the page draws, for scripts
  tether report RUN_ID --store s3://bucket/prefix -o report.html
  tether report RUN_ID --spec SPEC         a cluster run (Argo, AWS Batch): the store has its
                                           journal, outputs and checkpoints, not its workflow

The run may be on any store: a directory, s3://..., whatever fsspec opens (options from
TETHER_STORE_OPTIONS). Secret values never appear: the store does not hold them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..runtime.store import RunRecord, RunStore
from .run_args import add_store_argument, open_run, valid_run_id


class ClusterRun(RunStore):
    """The store, with the record given for its one cluster run: no params (the engine passed
    them to each pod), so an input without a default is shown as its expression."""

    def __init__(self, uri: str, options: dict[str, Any], run_id: str, record: RunRecord):
        super().__init__(uri, options)
        self._cluster_run = (run_id, record)

    def load_run(self, run_id: str) -> RunRecord:
        return self._cluster_run[1] if run_id == self._cluster_run[0] else super().load_run(run_id)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--json", action="store_true", help="the report's data as JSON instead of HTML")
    parser.add_argument("--spec", metavar="SPEC", help="the spec a cluster run was compiled from (its DAG)")
    add_store_argument(parser)


def run(args: argparse.Namespace) -> int:
    from ..runtime.store import StoreError
    from .graph import write_text

    if not valid_run_id("report", args.run_id):
        return 2
    try:
        store, summary = open_run(args.store, args.run_id)
        if summary["kind"] == "cluster":
            view = _cluster_view(store, args, summary)
            if view is None:
                return 1
            store = view
        text = render(store, args.run_id, as_json=args.json)
    except StoreError as exc:
        print(f"tether report: {exc}", file=sys.stderr)
        return 1
    return write_text(text, args.output, "tether report")


def _cluster_view(store: RunStore, args: argparse.Namespace, summary: dict[str, Any]) -> RunStore | None:
    """The store, seen with the workflow of `--spec` as the cluster run's record (a cluster
    attempt records no run.json: its pod carries its task, not the workflow)."""
    workflow = summary.get("workflow") or "?"
    if args.spec is None:
        print(f"tether report: run {args.run_id} ran on a cluster: the store holds its journal, outputs and "
              f"checkpoints, not its workflow ({workflow}); pass the spec it was compiled from: "
              f"tether report {args.run_id} --spec SPEC", file=sys.stderr)
        return None
    from .check import load_reporting, print_diagnostics, use_color

    color = use_color(sys.stderr)
    loaded = load_reporting(args.spec, color)
    if loaded is None or loaded.workflow is None:
        if loaded is not None:
            print_diagnostics(loaded, color)
        return None
    if loaded.workflow.name != workflow:
        print(f"tether report: {args.spec} is workflow {loaded.workflow.name!r}, but run {args.run_id} ran "
              f"{workflow!r}: pass that workflow's spec", file=sys.stderr)
        return None
    record = RunRecord(workflow=loaded.workflow, params={}, spec=args.spec, code_paths=(),
                       created=str(summary.get("started") or ""))
    return ClusterRun(store.uri, store.storage_options, args.run_id, record)
def render(store: RunStore, run_id: str, as_json: bool = False) -> str:
    """The report of `run_id`, as an HTML page or as JSON (sorted keys, deterministic)."""
    import json

    from ..graphics.html import report_page
    from ..graphics.run_data import collect

    data = collect(store, run_id)
    if as_json:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    return report_page(data)


def write_report(store: RunStore, run_id: str, path: str) -> int:
    """`tether run --report FILE`: the page for the run that just ended (0, or 1 on failure)."""
    from ..runtime.store import StoreError
    from .graph import write_text

    try:
        return write_text(render(store, run_id), path, "tether run --report")
    except StoreError as exc:
        print(f"tether run --report: {exc}", file=sys.stderr)
        return 1
