"""`tether exec`: run one attempt of one task node. Every backend's attempt runs this.

    tether exec --store URI --run RUN_ID --node NODE_ID [--attempt N | --retries N]
                [--task PAYLOAD] [--input NAME=TEXT]... [--value REF=TEXT]...
                [--outputs-dir DIR [--outputs-escape kubernetes]] [--decide]

Local mode (no --task): the task and the run's parameters come from the run record `tether run`
wrote to the store.

Cluster mode (--task PAYLOAD, what Argo and AWS Batch run; nothing prepared beforehand):
  --task PAYLOAD       the task, `core.task_codec.encode_task(task, workflow, with_bindings)`
  --input NAME=TEXT    a task input's value as the engine rendered it, in engine text
                       (`core.values.encode_text`: raw text for str/file/dir, else compact JSON)
  --value REF=TEXT     the value of a reference an expression reads (`inputs.n`,
                       `tasks.a.outputs.x`, `item`), in engine text; refs not given come from the
                       store (upstream outputs, a fan-out's items) or the input's default
  --outputs-dir DIR    also write each output to DIR/<name> as engine text (Argo output parameters)
  --outputs-escape kubernetes
                       write those files (and the strings inside --decide's items) escaped for
                       container args: `$` as `$$`, `{` as `$(TETHER_LBRACE)`, for an engine that
                       substitutes them into a pod's args, where the kubelet's expansion (with
                       TETHER_LBRACE={ in the env) restores them, and Argo finds no `{{` in them
  --decide             only decide the task (NODE_ID is the task name): write DIR/when ("true" or
                       "false"), DIR/items (JSON list of {"i": index, "v": item}) and DIR/count
                       (nodes to run: 0 when skipped, the item count, or 1), record the verdict
                       in the store (first decider wins), exit 0
  The first exec of a run records the run in the store (a conditional create). A skipped node
  (`when` false, or it reads outputs of a skipped task) exits 0 and writes no outputs.

Attempt number: --attempt N (1-based), else --retries N (0-based, Argo's `{{retries}}`) + 1, else
$TETHER_ATTEMPT, else $AWS_BATCH_JOB_ATTEMPT, else one past the journal. Node id: TASK, or
TASK[i] for item i of a foreach; a foreach TASK alone takes i from $AWS_BATCH_JOB_ARRAY_INDEX.

Exit codes: 0 success (or skipped), 75 recoverable failure with retry budget left, 143 SIGTERM
(an interruption; the checkpoint is flushed), 1 fatal (never retry), 2 usage (nothing recorded).
"""

from __future__ import annotations

import argparse


def _attempt_number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an attempt number (1, 2, ...)")
    return int(text)


def _retries(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a retry count (0, 1, ...)")
    return int(text)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=TEXT")
    return name, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URI",
        help="run store: a directory, file://, memory:// or s3://bucket/prefix "
        "(default: $TETHER_STORE, else .tether; fsspec options as JSON in $TETHER_STORE_OPTIONS)",
    )
    parser.add_argument("--run", required=True, metavar="RUN_ID", help="the run this attempt belongs to")
    parser.add_argument("--node", required=True, metavar="NODE_ID", help="the task name, or TASK[i] for item i of a foreach")
    number = parser.add_mutually_exclusive_group()
    number.add_argument(
        "--attempt",
        type=_attempt_number,
        metavar="N",
        help="1-based attempt number (default: $TETHER_ATTEMPT, else $AWS_BATCH_JOB_ATTEMPT, "
        "else one past the attempts in the journal)",
    )
    number.add_argument("--retries", type=_retries, metavar="N", help="0-based retry count (Argo's {{retries}}): attempt N+1")
    parser.add_argument("--task", metavar="PAYLOAD", help="the task definition (cluster mode); without it, from the run record")
    parser.add_argument("--input", type=_pair, action="append", default=[], metavar="NAME=TEXT", help="a task input's value in engine text (cluster mode)")
    parser.add_argument("--value", type=_pair, action="append", default=[], metavar="REF=TEXT", help="a reference's value in engine text (cluster mode)")
    parser.add_argument("--outputs-dir", metavar="DIR", help="also write each output to DIR/<name> in engine text")
    parser.add_argument(
        "--outputs-escape",
        choices=("kubernetes",),
        help="write the --outputs-dir files escaped for a container's args (cluster mode)",
    )
    parser.add_argument("--decide", action="store_true", help="only evaluate `when` and `foreach`; write DIR/when, DIR/items, DIR/count")


def run(args: argparse.Namespace) -> int:
    import os

    from ..runtime.store import STORE_ENV, InvalidRunId, check_run_id, resolve_store_uri

    try:
        check_run_id(args.run)
    except InvalidRunId as exc:
        import sys

        print(f"tether exec: error: --run: {exc}", file=sys.stderr)
        return 2  # a usage error: nothing recorded
    if args.task is not None and not (args.store or os.environ.get(STORE_ENV)):
        import sys

        print(
            "tether exec: error: a cluster attempt needs its run store: pass --store URI or set "
            f"{STORE_ENV} (a pod's local .tether would lose its checkpoints with the pod)",
            file=sys.stderr,
        )
        return 2
    store_uri = resolve_store_uri(args.store)
    if args.task is not None:
        from ..runtime.cluster import ClusterRequest, exec_cluster

        return exec_cluster(
            ClusterRequest(
                store_uri=store_uri,
                run_id=args.run,
                node=args.node,
                payload=args.task,
                attempt=args.attempt,
                retries=args.retries,
                inputs=tuple(args.input),
                values=tuple(args.value),
                outputs_dir=args.outputs_dir,
                decide=args.decide,
                outputs_escape=args.outputs_escape,
            )
        )
    if args.input or args.value or args.decide or args.outputs_escape:
        import sys

        print("tether exec: error: --input, --value, --decide and --outputs-escape need --task PAYLOAD (cluster mode)", file=sys.stderr)
        return 2
    from ..runtime.entry import exec_command

    attempt = args.attempt if args.retries is None else args.retries + 1
    return exec_command(store_uri, args.run, args.node, attempt, args.outputs_dir)
