"""Run one attempt of one task node: the entrypoint every backend (Argo, AWS Batch, local) calls.

Exit codes: 0 success, 75 recoverable failure (retry), 143 terminated by SIGTERM (checkpoint
flushed; an interruption), 1 fatal (never retry), 2 usage (no such run or node).
"""

from __future__ import annotations

import argparse


def _attempt_number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an attempt number (1, 2, ...)")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URI",
        help="run store: a directory, file://, memory:// or s3://bucket/prefix "
        "(default: $TETHER_STORE, else .tether; fsspec options as JSON in $TETHER_STORE_OPTIONS)",
    )
    parser.add_argument("--run", required=True, metavar="RUN_ID", help="the run this attempt belongs to")
    parser.add_argument("--node", required=True, metavar="NODE_ID", help="the task name, or TASK[i] for item i of a foreach")
    parser.add_argument(
        "--attempt",
        type=_attempt_number,
        metavar="N",
        help="1-based attempt number (default: $TETHER_ATTEMPT, else $AWS_BATCH_JOB_ATTEMPT, "
        "else one past the attempts in the journal)",
    )


def run(args: argparse.Namespace) -> int:
    from ..runtime.entry import exec_command
    from ..runtime.store import resolve_store_uri

    return exec_command(resolve_store_uri(args.store), args.run, args.node, args.attempt)
