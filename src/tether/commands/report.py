"""Show what happened in a run: one self-contained HTML page (the DAG coloured by status, a
timeline of every attempt with its checkpoints, each node's inputs and outputs), or its data.

  tether report RUN_ID -o report.html      the page (no network, no server)
  tether report RUN_ID --json              the data the page draws, for scripts
  tether report RUN_ID --store s3://bucket/prefix -o report.html

The run may be on any store: a directory, s3://..., whatever fsspec opens (options from
TETHER_STORE_OPTIONS). Secret values never appear: the store does not hold them.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .run_args import add_store_argument, valid_run_id

if TYPE_CHECKING:
    from ..runtime.store import RunStore

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--json", action="store_true", help="the report's data as JSON instead of HTML")
    add_store_argument(parser)


def run(args: argparse.Namespace) -> int:
    from ..runtime.store import RunStore, StoreError, resolve_store_uri
    from .graph import write_text

    if not valid_run_id("report", args.run_id):
        return 2
    try:
        store = RunStore(resolve_store_uri(args.store))
        text = render(store, args.run_id, as_json=args.json)
    except StoreError as exc:
        print(f"tether report: {exc}", file=sys.stderr)
        return 1
    return write_text(text, args.output, "tether report")


def render(store: "RunStore", run_id: str, as_json: bool = False) -> str:
    """The report of `run_id`, as an HTML page or as JSON (sorted keys, deterministic)."""
    import json

    from ..graphics.html import report_page
    from ..graphics.run_data import collect

    data = collect(store, run_id)
    if as_json:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    return report_page(data)


def write_report(store: "RunStore", run_id: str, path: str) -> int:
    """`tether run --report FILE`: the page for the run that just ended (0, or 1 on failure)."""
    from ..runtime.store import StoreError
    from .graph import write_text

    try:
        return write_text(render(store, run_id), path, "tether run --report")
    except StoreError as exc:
        print(f"tether run --report: {exc}", file=sys.stderr)
        return 1
