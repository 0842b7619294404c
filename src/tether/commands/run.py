"""Run a workflow on this machine: each task attempt in its own process, with the retries,
interruptions and checkpoints a cluster would give it.

  tether run SPEC [-p NAME=VALUE ...]          run it (SPEC: file.yaml, file.py:workflow, pkg.mod:workflow)
  tether run SPEC --dry-run                    show the plan; run nothing, write nothing
  tether run --resume RUN_ID                   continue a failed, interrupted or killed run
  tether run --resume RUN_ID --spec SPEC       continue it with a fixed spec: changed nodes run again
  tether run SPEC --interrupt NODE@ATTEMPT     send that attempt SIGTERM, as a spot reclaim would
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..runtime.deferred_stop import DeferredStop

if TYPE_CHECKING:
    from ..compiler.load import LoadResult
    from ..core.ir import Workflow
    from ..runtime.interrupts import InterruptRequest
    from ..runtime.lease import Lease
    from ..runtime.store import RunRecord, RunStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("spec", nargs="?", metavar="SPEC", help="file.yaml, file.py:workflow or pkg.module:workflow")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a workflow input; VALUE is JSON when it parses as JSON, else text (repeatable)",
    )
    parser.add_argument("--store", metavar="URI", help="run store (default: $TETHER_STORE, else ./.tether)")
    parser.add_argument("--run-id", metavar="ID", help="name the new run (default: a generated, sortable id)")
    parser.add_argument("--resume", metavar="RUN_ID", help="continue this run: finished nodes are not rerun")
    parser.add_argument(
        "--spec",
        dest="spec_option",
        metavar="SPEC",
        help="with --resume: go on with this (fixed) spec; finished nodes whose definition and inputs "
        "are unchanged are kept, changed and new ones run",
    )
    parser.add_argument(
        "--max-parallel", type=int, metavar="N", help="attempts running at once (default: the number of CPUs)"
    )
    parser.add_argument(
        "--interrupt",
        action="append",
        default=[],
        metavar="NODE@ATTEMPT[:after=SECONDS]",
        help="SIGTERM that attempt as a spot reclaim would: after SECONDS, else at its first "
        "checkpoint commit (at most 1s for a task that declares no checkpoint) (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan; run nothing, write nothing")
    parser.add_argument(
        "--no-cache", action="store_true", help="run every task: read no cache entry and write none"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (run_id, status, outputs, nodes) on stdout"
    )
    parser.add_argument(
        "--debug", action="store_true", help=f"print the traceback of an internal error (also: {DEBUG_ENV}=1)"
    )
    from .check import add_strict_refs_argument

    add_strict_refs_argument(parser)
    parser.add_argument("--report", metavar="FILE", help="when the run ends, write its HTML report (tether report) here")


def _fail(message: str, code: int = 2) -> int:
    print(f"tether run: {message}", file=sys.stderr)
    return code


def _code_paths(spec: str) -> tuple[str, ...]:
    """Where a task's module is imported from: the spec's directory (a module ref: the cwd)."""
    path = spec.rsplit(":", 1)[0] if not spec.endswith((".yaml", ".yml")) else spec
    if path.endswith((".py", ".yaml", ".yml")):
        return (os.path.dirname(os.path.abspath(path)),)
    return (os.getcwd(),)


DEBUG_ENV = "TETHER_DEBUG"


def run(args: argparse.Namespace) -> int:
    """`tether run` behind a top-level handler like `check`'s: a store failure is one error
    line; anything unexpected is one line with a bug-report hint, and its traceback is printed
    only with --debug or TETHER_DEBUG=1."""
    from ..runtime.store import StoreError

    try:
        return _run(args)
    except StoreError as exc:
        return _fail(f"error: {exc}", 1)
    except Exception as exc:
        if _from_object_store_client(exc):  # a store call that no RunStore method guarded
            from ..runtime.store import resolve_store_uri

            return _fail(f"error: the run store {resolve_store_uri(args.store)} failed: {type(exc).__name__}: {exc}", 1)
        if getattr(args, "debug", False) or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            import traceback

            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        hint = "" if getattr(args, "debug", False) else " (run with --debug or TETHER_DEBUG=1 for the traceback)"
        return _fail(
            f"internal error: {type(exc).__name__}: {exc}\n"
            f"  = hint: this is a bug in tether: please report it with the command that triggers it{hint}",
            1,
        )


def _from_object_store_client(exc: BaseException) -> bool:
    """Raised by botocore, aiobotocore or aiohttp: the store's endpoint failed, not tether."""
    return any(cls.__module__.split(".")[0] in ("botocore", "aiobotocore", "aiohttp") for cls in type(exc).__mro__)


def _run(args: argparse.Namespace) -> int:
    from ..runtime.interrupts import InterruptRequest, InterruptSyntaxError
    from ..runtime.params import ParamError, anchor_paths, bind, resolve
    from ..runtime.store import InvalidRunId, RunRecord, RunStore, StoreError, check_run_id, resolve_store_uri

    if getattr(args, "spec_option", None):
        if args.spec and args.spec != args.spec_option:
            return _fail(f"two specs given: {args.spec} and --spec {args.spec_option}")
        args.spec = args.spec_option
    if args.resume and (args.param or args.run_id):
        return _fail("--resume continues a run with the inputs it was started with; drop -p and --run-id")
    try:
        for given_id in (args.resume, args.run_id):
            if given_id is not None:
                check_run_id(given_id)
    except InvalidRunId as exc:
        return _fail(str(exc))  # a usage error (2), before anything is loaded or written
    if not args.resume and not args.spec:
        return _fail("give a SPEC to run, or --resume RUN_ID")
    if args.max_parallel is not None and args.max_parallel < 1:
        return _fail("--max-parallel must be at least 1")
    if getattr(args, "report", None):
        from .output_files import unwritable

        why = unwritable(args.report)  # said now, not after a long run
        if why is not None:
            return _fail(f"--report {args.report}: {why}")
    try:
        interrupts = [InterruptRequest.parse(text) for text in args.interrupt]
        store = RunStore(resolve_store_uri(args.store))
    except (InterruptSyntaxError, StoreError) as exc:
        return _fail(str(exc))

    respec: "RunRecord | int | None" = None
    if args.resume:
        try:
            record = store.load_run(args.resume)
        except StoreError as exc:
            return _fail(str(exc), 1)
        if args.spec:  # a fixed spec: finished nodes still valid under it are kept (runtime/respec.py)
            respec = _load_respec(args, record)
            if isinstance(respec, int):
                return respec
        workflow, given, run_id = (respec or record).workflow, dict((respec or record).params), args.resume
        values, shown = resolve(workflow, given), given
    else:
        from ..compiler.load import load
        from .check import compiling

        with compiling():
            loaded = load(args.spec, strict_refs=args.strict_refs)
        _print_diagnostics(loaded)
        if loaded.workflow is None:
            return 1
        workflow = loaded.workflow
        try:
            bound = bind(workflow, args.param)
        except ParamError as exc:
            for line in str(exc).splitlines():
                print(f"tether run: {line}", file=sys.stderr)
            return 2
        # Relative file/dir values mean the files seen from here, for good (runtime/params.py);
        # the plan still shows an anchored default as a default (`shown`: what -p gave).
        given = anchor_paths(workflow, bound.given, os.getcwd())
        values, shown, run_id = resolve(workflow, given), bound.given, args.run_id

    unknown = [str(r) for r in interrupts if workflow.task(r.node_id.split("[", 1)[0]) is None]
    if unknown:
        names = ", ".join(t.name for t in workflow.tasks)
        return _fail(f"--interrupt {', '.join(unknown)}: no such task (tasks: {names})")

    if args.dry_run:
        from ..runtime.plan import plan_json, render

        if args.json:  # the plan as one JSON object, as --json promises
            import json

            print(json.dumps(plan_json(workflow, values, shown, store.uri, run_id), sort_keys=True, allow_nan=False))
        else:
            sys.stdout.write(render(workflow, values, shown, store.uri, run_id))
        return 0

    if store.fs.protocol in ("memory", ("memory",)):
        return _fail(
            "a memory:// store lives inside one process, and every attempt runs in its own: use a directory or s3://"
        )
    # From here on the run exists: a Ctrl-C / SIGTERM / SIGHUP is held until the executor takes
    # it, so the run always ends recorded as interrupted, with its id and the resume hint.
    with DeferredStop() as stop:
        return _start(args, store, record if args.resume else None, respec, workflow, given, run_id, values,
                      interrupts, stop)


def _start(
    args: argparse.Namespace,
    store: "RunStore",
    record: "RunRecord | None",
    respec: "RunRecord | int | None",
    workflow: "Workflow",
    given: dict[str, Any],
    run_id: str | None,
    values: Mapping[str, Any],
    interrupts: Sequence["InterruptRequest"],
    stop: "DeferredStop",
) -> int:
    """Create the run (unless resuming), take its lease, and execute it."""
    from ..runtime.store import RunExists, RunRecord, StoreError

    if record is None:
        run_id = run_id or store.new_run_id()
        try:
            store.create_run(run_id, RunRecord(workflow, given, args.spec, _code_paths(args.spec)))
            record = store.load_run(run_id)  # exactly what every attempt will see
        except (RunExists, StoreError) as exc:
            return _fail(str(exc), 1)
    assert run_id is not None
    from ..runtime.lease import acquire

    try:
        lease = acquire(store, run_id)  # one executor per run: refused while another one lives
    except StoreError as exc:  # LeaseHeld names the live holder
        return _fail(str(exc), 1)
    with lease:
        if lease.taken_over is not None:
            holder, why = lease.taken_over
            print(f"note: took over the run's lease from {holder.describe()}: {why}", file=sys.stderr)
        if args.resume and isinstance(respec, RunRecord):  # only now that this executor owns the run
            from ..runtime.respec import changes

            kept = store.replace_run(run_id, respec)
            for line in changes(record.workflow, respec.workflow) or ["no task changed"]:
                print(f"note: {args.spec}: {line}", file=sys.stderr)
            print(f"note: run {run_id} goes on with {args.spec}; its previous spec is kept as {kept}", file=sys.stderr)
            record = store.load_run(run_id)
        return _execute(args, store, record, run_id, values, interrupts, lease, stop)


def _load_respec(args: argparse.Namespace, record: "RunRecord") -> "RunRecord | int":
    """The run's record with the workflow of `--spec`, or the exit code when it cannot go on
    (the spec does not compile: 1; it cannot take the run's inputs or is another workflow: 2)."""
    from ..compiler.load import load
    from ..runtime.respec import incompatibilities
    from ..runtime.store import RunRecord
    from .check import compiling

    with compiling():
        loaded = load(args.spec, strict_refs=args.strict_refs)
    _print_diagnostics(loaded)
    if loaded.workflow is None:
        return 1
    problems = incompatibilities(record.workflow, loaded.workflow, record.params)
    if problems:
        for problem in problems:
            print(f"tether run: cannot resume run {args.resume} with {args.spec}: {problem}", file=sys.stderr)
        print("  = hint: a resumed run keeps the workflow and inputs it was started with; start a new run", file=sys.stderr)
        return 2
    from ..runtime.params import anchor_paths

    # A new input's relative file/dir default is anchored here, as `tether run` does for a new run.
    params = anchor_paths(loaded.workflow, record.params, os.getcwd())
    return RunRecord(loaded.workflow, params, args.spec, _code_paths(args.spec), record.created)


def _execute(
    args: argparse.Namespace,
    store: "RunStore",
    record: "RunRecord",
    run_id: str,
    values: Mapping[str, Any],
    interrupts: Sequence["InterruptRequest"],
    lease: "Lease",
    stop: "DeferredStop",
) -> int:
    """Run (or continue) the run; print progress and the summary to stderr, the result to stdout."""
    import json

    from ..runtime import worker
    from ..runtime.executor import Executor
    from ..runtime.progress import LiveReporter, PlainReporter, summary

    store_flag = "" if args.store is None else f" --store {store.uri}"
    verb = "resumed" if args.resume else "started"
    # "resume with:" belongs to a run that did not finish: the summary says it then (progress.summary).
    print(f"run {run_id} {verb}{store_flag}", file=sys.stderr, flush=True)
    workflow = record.workflow
    if any(task.container is not None for task in workflow.tasks):
        print("note: container tasks run their commands on this machine; images are not pulled", file=sys.stderr)
    live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    reporter = LiveReporter(sys.stderr) if live else PlainReporter(sys.stderr)
    worker.preload()
    executor = Executor(
        store=store,
        run_id=run_id,
        workflow=workflow,
        params=values,
        max_parallel=args.max_parallel or os.cpu_count() or 1,
        interrupts=interrupts,
        reporter=reporter,
        resuming=bool(args.resume),
        record=record,
        heartbeat=lease.heartbeat if lease.renew_every_s is not None else None,
        heartbeat_s=lease.renew_every_s or 15.0,
        use_cache=not args.no_cache,
        respec=bool(args.resume and args.spec),
        pending_signal=stop.take,
    )
    try:
        report = executor.run()
    finally:
        stop.release()  # the run is recorded: a Ctrl-C now may cut the summary or --report short
        if isinstance(reporter, LiveReporter):
            reporter.close()
    print(summary(report, store), file=sys.stderr)
    if args.report:
        from .report import write_report

        write_report(store, run_id, args.report)
    unfired = _unfired_interrupts(store, run_id, interrupts)
    result = report.to_json()
    if unfired:  # a test meant to prove resume must not pass without the interruption it asked for
        result["status"] = "failed"
        result["message"] = "; ".join(unfired)
        for line in unfired:
            print(f"tether run: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, sort_keys=True, allow_nan=False))
    elif report.status == "succeeded" and not unfired:
        for name, value in report.outputs.items():
            print(f"{name}: {json.dumps(value, sort_keys=True, allow_nan=False)}")
    if report.status == "succeeded":
        return 1 if unfired else 0
    if report.stopped_by_signal is not None:
        return 128 + report.stopped_by_signal  # the shell convention: 130 after Ctrl-C, 143 after SIGTERM
    return 1


def _print_diagnostics(loaded: "LoadResult") -> None:
    from ..core.diagnostics import render

    color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    for diagnostic in loaded.diagnostics:
        source = loaded.sources.get(diagnostic.span.file) if diagnostic.span else None
        print(render(diagnostic, source, color), file=sys.stderr)


def _unfired_interrupts(store: "RunStore", run_id: str, interrupts: Sequence["InterruptRequest"]) -> list[str]:
    """Why each --interrupt that did not interrupt its attempt never fired (the journal says
    whether attempt K of the node ended "interrupted")."""
    reasons = []
    for request in interrupts:
        attempts = store.attempts(run_id, request.node_id)
        target = next((a for a in attempts if a.number == request.attempt), None)
        if target is not None and target.outcome == "interrupted":
            continue
        if target is not None:
            why = f"attempt {request.attempt} of {request.node_id} ended ({target.outcome or 'lost'}) before it was interrupted"
        elif attempts and attempts[-1].outcome == "success":
            why = (
                f"{request.node_id} succeeded at attempt {attempts[-1].number}, so there was no attempt {request.attempt}"
            )
        elif attempts:
            why = f"{request.node_id} made {len(attempts)} attempt{'s' if len(attempts) != 1 else ''}, not {request.attempt}"
        else:
            why = f"{request.node_id} never ran"
        reasons.append(f"--interrupt {request} never fired: {why}")
    return reasons
