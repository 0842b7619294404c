"""The run store: each run's workflow, parameters, node outputs and attempt journal, on any fsspec URI.

Layout (object-store friendly: nothing is ever appended to or renamed on S3, every journal
event is its own small immutable JSON object, so two writers never fight over one object):

    <root>/runs/<run_id>/run.json                          the compiled IR, params, spec, code paths
    <root>/runs/<run_id>/history/0001-run.json             run.json before a `--resume --spec` replaced it
    <root>/runs/<run_id>/status.json                       the executor's view of the run, kept current
    <root>/runs/<run_id>/cluster.json                      a cluster run: created by its first exec
    <root>/runs/<run_id>/nodes/<task>/decision.json        `when` and `foreach` verdict, created once
    <root>/runs/<run_id>/nodes/<task>/skipped.json         the task was skipped (no attempt ran)
    <root>/runs/<run_id>/nodes/<node>/outputs.json         written once, last: the node is done
    <root>/runs/<run_id>/nodes/<node>/journal/0001-start.json
    <root>/runs/<run_id>/nodes/<node>/journal/0001-end-<outcome>.json
    <root>/runs/<run_id>/nodes/<node>/checkpoints/...      tether.runtime.checkpoint's business
    <root>/runs/<run_id>/nodes/<node>/logs/0001.log        stdout+stderr of attempt 1
    <root>/runs/<run_id>/nodes/<node>/inputs/0001.json     attempt 1's definition and inputs keys
    <root>/runs/<run_id>/nodes/<node>/cached.json          the node reused a cache entry (which one)
    <root>/cache/<definition key>/<inputs key>.json        a cached result: outputs, source run and node

`<node>` is `node_path(node_id)`: a foreach item `train[3]` is stored as `train.3`, because
fsspec treats brackets as glob characters and task names (DNS-1123 labels) never hold a dot.

An end event's name carries its outcome, so the attempt itself ("interrupted", it got SIGTERM)
and the executor that killed it ("timeout") can both record what they saw without overwriting
each other; `attempts()` then keeps the most telling one (see `_OUTCOME_PRECEDENCE`).

Records that several pods may race to write first (a cluster run's record, a task's decision)
use a conditional create, so every reader sees the first writer's version: on a local disk a
hard link of a finished temporary file (`os.link` fails if the name exists), on S3 a PUT with
`If-None-Match: *` (s3fs `pipe_file(..., mode="create")`, which moto's server honours too), see
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html ; other fsspec
filesystems get fsspec's own `mode="create"` (check-then-write: exclusive only where the
filesystem makes it so, as memory:// does within one process).

JSON records are written deterministically (sorted keys). On a local disk a record is written to
a temporary name, fsynced and renamed into place, so a reader never sees half a file; on an
object store a single PUT is already all-or-nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..core.ir import Workflow
    from .checkpoint import Checkpoint

from .local_files import write_if_absent, write_replacing
from .store_io import (  # noqa: F401  (SPOOL_ENV, STORE_RETRIES_ENV: part of this module's interface)
    OUTCOMES,
    SPOOL_ENV,
    STORE_RETRIES_ENV,
    DamagedRecord,
    StoreError,
    StoreFailure,
    guarded,
    journal_event,
    parse_record,
    retries_from_env,
    spool_dir,
)

_T = TypeVar("_T")

DEFAULT_STORE = ".tether"
STORE_ENV = "TETHER_STORE"
STORE_OPTIONS_ENV = "TETHER_STORE_OPTIONS"

_OUTCOME_PRECEDENCE = {"success": 5, "timeout": 4, "fatal": 3, "recoverable": 2, "cancelled": 1, "interrupted": 0}
"""When one attempt has several end events, the highest wins. Outputs written means success
whatever else was said; the executor knows why it sent a SIGTERM ("timeout", "cancelled") better
than the attempt that received it and recorded "interrupted"."""

_JOURNAL_NAME = re.compile(r"^(\d{4,})-(start|end-([a-z]+))\.json$")
_CACHE_KEY = re.compile(r"[0-9a-f]{64}")




class RunNotFound(StoreError, LookupError):
    """No run with this id in the store; `existing` lists the ids that are there, newest last."""

    def __init__(self, run_id: str, store_uri: str, existing: list[str]):
        self.run_id = run_id
        self.existing = existing
        if existing:
            shown = ", ".join(existing[-5:])
            more = f" (and {len(existing) - 5} older)" if len(existing) > 5 else ""
            hint = f"runs in this store: {shown}{more}"
        else:
            hint = "this store holds no runs yet (is --store / TETHER_STORE pointing at the right place?)"
        super().__init__(f"no run {run_id!r} in the run store {store_uri}; {hint}")


class InvalidRunId(StoreError, ValueError):
    """A run id outside RUN_ID_PATTERN: a usage error (exit 2), found before anything is written."""


RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""Run ids: a letter or digit, then letters, digits, '.', '_' or '-', 100 characters at most.

Every id is one path segment on any store (no '/', no glob character of fsspec's, never '.' or
'..', far below NAME_MAX once `runs/` and a node path are added) and a valid S3 key part.
Generated ids (`20250101-120000-abc123`), Argo's `{{workflow.uid}}` and `tether submit`'s
`<workflow>-<time>-<hex>` all match."""


def check_run_id(run_id: str) -> str:
    """`run_id` itself when it matches RUN_ID_PATTERN, else InvalidRunId saying what is allowed."""
    if not isinstance(run_id, str) or RUN_ID_PATTERN.fullmatch(run_id) is None:
        shown = run_id if len(str(run_id)) <= 60 else f"{str(run_id)[:57]}..."
        length = f" ({len(run_id)} characters)" if isinstance(run_id, str) and len(run_id) > 100 else ""
        raise InvalidRunId(
            f"not a run id: {shown!r}{length}; a run id is 1 to 100 characters: letters, digits, "
            "'.', '_' and '-', starting with a letter or digit"
        )
    return run_id


class RunExists(StoreError, FileExistsError):
    """`create_run` refuses to overwrite a run (a reused --run-id would mix two runs' journals)."""


@dataclass(frozen=True)
class RunRecord:
    """What a run was started with; written once at creation, never changed."""

    workflow: "Workflow"
    params: Mapping[str, Any]
    spec: str  # the spec reference the user gave (a path or module:workflow)
    code_paths: tuple[str, ...] = ()  # put first on sys.path before a Python task is imported
    created: str = field(default_factory=lambda: utc_now())


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt as the journal tells it. `outcome` is None when it started and never ended."""

    number: int
    outcome: str | None
    exit_code: int | None
    started: str | None
    ended: str | None
    duration_s: float | None
    message: str
    checkpoint_seq: int | None


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds: sortable as text, readable by a person."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _seconds_since(stamp: str) -> float | None:
    """Seconds from a `utc_now()` stamp to now (None when it is not one)."""
    try:
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return round((datetime.now(timezone.utc) - then).total_seconds(), 3)


def resolve_store_uri(cli_value: str | None) -> str:
    """`--store` beats TETHER_STORE beats `.tether` in the working directory.

    A plain local path is made absolute, so a child process started elsewhere (an attempt, a
    forked worker) reaches the same store.
    """
    uri = cli_value or os.environ.get(STORE_ENV) or DEFAULT_STORE
    if "://" not in uri:
        return os.path.abspath(uri)
    return uri


def store_options_from_env() -> dict[str, Any]:
    """storage_options for fsspec from TETHER_STORE_OPTIONS (a JSON object), e.g. an S3 endpoint."""
    text = os.environ.get(STORE_OPTIONS_ENV, "").strip()
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{STORE_OPTIONS_ENV} is not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise StoreError(f"{STORE_OPTIONS_ENV} must be a JSON object, got {type(options).__name__}")
    return options


def node_path(node_id: str) -> str:
    """The store path segment of a node id: `train` -> `train`, `train[3]` -> `train.3`."""
    match = re.fullmatch(r"([^\[\]]+)\[(\d+)\]", node_id)
    if match:
        return f"{match.group(1)}.{match.group(2)}"
    if not node_id or "/" in node_id or "[" in node_id or "]" in node_id or node_id in (".", ".."):
        raise StoreError(f"not a node id: {node_id!r} (expected TASK or TASK[i])")
    return node_id


def node_id_from_path(segment: str) -> str:
    """The inverse of `node_path`."""
    name, dot, index = segment.rpartition(".")
    if dot and index.isdigit():
        return f"{name}[{index}]"
    return segment


def _dumps(value: Any) -> bytes:
    """Standard JSON only (RFC 8259 has no NaN or Infinity, and strict parsers refuse them):
    non-finite floats are refused where they enter (`-p`, task outputs), so none reaches here."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _is_local(fs: "AbstractFileSystem") -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


class RunStore:
    """One fsspec filesystem and a root path under which every run lives."""

    def __init__(self, uri: str, storage_options: Mapping[str, Any] | None = None):
        from fsspec.core import url_to_fs

        self.uri = uri
        options = dict(storage_options) if storage_options is not None else store_options_from_env()
        self.storage_options: dict[str, Any] = options
        if "://" in uri and not uri.startswith(("file://", "local://", "memory://")):
            # Other processes write this store all the time: a cached listing (s3fs keeps one per
            # directory) would hide their records, and even make reads of new objects fail.
            options.setdefault("use_listings_cache", False)
        if uri.startswith(("s3://", "s3a://")):
            # `_io` retries with backoff across calls; botocore's own per-call retries (5 legacy
            # attempts by default) would multiply that into minutes against a dead endpoint.
            # https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
            config = dict(options.get("config_kwargs") or {})
            config.setdefault("retries", {"mode": "standard", "total_max_attempts": 2})
            config.setdefault("connect_timeout", 10)
            options["config_kwargs"] = config
        try:
            fs, root = url_to_fs(uri, **options)
        except (ValueError, ImportError, TypeError) as exc:  # an unknown protocol, a missing s3fs, a bad option
            raise StoreError(f"cannot open the run store {uri}: {type(exc).__name__}: {exc}") from None
        self.fs: AbstractFileSystem = fs
        self.root: str = root.rstrip("/")
        self._local = _is_local(fs)
        self.retries = retries_from_env()
        self._warned: set[str] = set()  # each damaged record is reported once per process

    def warn(self, message: str) -> None:
        """Say once, on stderr, that the store holds something damaged and how it was read."""
        if message not in self._warned:
            self._warned.add(message)
            print(f"tether: warning: {message}", file=sys.stderr, flush=True)

    def _io(self, what: str, call: Callable[[], _T], writing: bool = False) -> _T:
        """`call()` with the store's retries; a failure is a StoreFailure naming the store."""
        return guarded(self.uri, self.retries, what, call, writing)

    def __repr__(self) -> str:
        return f"RunStore({self.uri!r})"

    # ------------------------------------------------------------------ paths

    def run_path(self, run_id: str) -> str:
        return f"{self.root}/runs/{check_run_id(run_id)}"

    def node_dir(self, run_id: str, node_id: str) -> str:
        return f"{self.run_path(run_id)}/nodes/{node_path(node_id)}"

    def _journal_dir(self, run_id: str, node_id: str) -> str:
        return f"{self.node_dir(run_id, node_id)}/journal"

    # ------------------------------------------------------------------ raw records

    def guarded(self, what: str, call: Callable[[], _T], writing: bool = False) -> _T:
        """`call()` (a use of `self.fs` outside this class: the lease, checkpoints) with the
        store's retries and its StoreFailure naming the store; `what` completes "cannot ..."."""
        return self._io(what, call, writing)

    def _shown(self, path: str) -> str:
        """A path as a person finds it in the store: relative to the store's root."""
        return path[len(self.root) + 1 :] if path.startswith(self.root + "/") else path

    def _write_json(self, path: str, value: Any) -> None:
        data = _dumps(value)
        if self._local:
            self._io(f"write {self._shown(path)}", lambda: write_replacing(path, data), writing=True)
        else:
            self._io(f"write {self._shown(path)}", lambda: self.fs.pipe_file(path, data), writing=True)

    def _create_json(self, path: str, value: Any) -> Any:
        """Create `path` with `value` unless it exists; return what the path holds afterwards."""
        if self.create_new(path, value):
            return value
        existing = self._read_json(path)
        return value if existing is None else existing

    def _read_bytes(self, path: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        try:
            return bytes(self._io(f"read {self._shown(path)}", lambda: self.fs.cat_file(path)))
        except FileNotFoundError:
            return None

    def _read_json(self, path: str) -> Any | None:
        """A record, or None when it is absent. A damaged record (not the JSON object tether
        writes: truncated, empty, binary) is read as absent, the least harmful reading for every
        record but run.json (a node without outputs runs again; a decision is made again), and
        said in a warning naming the file."""
        try:
            return self._read_record(path)
        except DamagedRecord as exc:
            self.warn(f"{exc}; read as if it were absent")
            return None

    def _read_record(self, path: str) -> Any | None:
        """A record, or None when absent; DamagedRecord when it is not a JSON object."""
        data = self._read_bytes(path)
        if data is None:
            return None
        return parse_record(data, f"{self.uri.rstrip('/')}/{self._shown(path)}")

    def _list_names(self, path: str) -> list[str]:
        """Base names directly under `path`; [] when it does not exist. Never a cached listing."""
        try:
            entries = self._io(f"list {self._shown(path)}", lambda: self.fs.ls(path, detail=False, refresh=True))
        except FileNotFoundError:
            return []
        return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries)

    # ------------------------------------------------------------------ runs

    def new_run_id(self) -> str:
        """UTC time plus randomness: sorts by creation, unique without coordination."""
        return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)

    def create_run(self, run_id: str, record: RunRecord) -> None:
        from ..core.ir import to_dict

        path = f"{self.run_path(run_id)}/run.json"
        value = {
            "ir": to_dict(record.workflow),
            "params": dict(record.params),
            "spec": record.spec,
            "code_paths": list(record.code_paths),
            "created": record.created,
        }
        # A conditional create, never check-then-write: of two `tether run --run-id X` started at
        # once exactly one creates the record; the other is told, and touches nothing.
        if not self.create_new(path, value):
            raise RunExists(f"run {run_id!r} already exists in {self.uri}; resume it or choose another --run-id")

    def create_new(self, path: str, value: Any) -> bool:
        """Write the JSON record `path` only if nothing is there; False when something was.

        A conditional create (O_EXCL link on disk, If-None-Match on S3) that answers whether
        *this* call created it, as a run record and a lease need; `_create_json` builds on it.
        """
        data = _dumps(value)

        def create() -> bool:
            if self._local:
                return write_if_absent(path, data)
            try:
                self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                return False
            except OSError as exc:
                # s3fs reports the 412 of If-None-Match as an OSError (EINVAL) in some versions.
                if "PreconditionFailed" in str(exc) or "412" in str(exc):
                    return False
                raise
            return True

        return self._io(f"create {self._shown(path)}", create, writing=True)  # retried, or a StoreFailure

    def load_run(self, run_id: str) -> RunRecord:
        from ..core.ir import from_json

        path = f"{self.run_path(run_id)}/run.json"
        cannot = f"run {run_id!r} cannot be resumed (its workflow and inputs are lost); start a new run"
        try:
            data = self._read_record(path)
        except DamagedRecord as exc:
            raise DamagedRecord(f"{exc}; {cannot}") from None
        if data is None:
            raise RunNotFound(run_id, self.uri, self.list_runs())
        try:
            record = RunRecord(
                workflow=from_json(json.dumps(data["ir"])),
                params=dict(data["params"]),
                spec=str(data["spec"]),
                code_paths=tuple(str(p) for p in data["code_paths"]),
                created=str(data["created"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:  # whatever from_json meets
            where = f"{self.uri.rstrip('/')}/{self._shown(path)}"
            problem = f"missing {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {str(exc)[:120]}"
            raise DamagedRecord(f"damaged record {where}: not a run record ({problem}); {cannot}") from None
        return record

    def list_runs(self) -> list[str]:
        """Run ids, oldest first (generated ids sort by time)."""
        return self._list_names(f"{self.root}/runs")

    def write_status(self, run_id: str, status: Mapping[str, Any]) -> None:
        self._write_json(f"{self.run_path(run_id)}/status.json", dict(status))

    def read_status(self, run_id: str) -> dict[str, Any] | None:
        return self._read_json(f"{self.run_path(run_id)}/status.json")

    def ensure_cluster_run(self, run_id: str, workflow: str, started_by: str) -> dict[str, Any]:
        """The run's record on a cluster, created by whichever exec comes first (conditional
        create); returns the record every exec of the run then agrees on."""
        record = {"workflow": workflow, "created": utc_now(), "started_by": started_by, "kind": "cluster"}
        return dict(self._create_json(f"{self.run_path(run_id)}/cluster.json", record))

    def pin_input(self, run_id: str, name: str, value: Any) -> Any:
        """The value of workflow input `name` in a cluster run: the first attempt that reads it
        records it (conditional create), and every later one gets that value back to compare."""
        return self._create_json(f"{self.run_path(run_id)}/inputs/{name}.json", {"value": value})["value"]

    def record_decision(self, run_id: str, task: str, decision: Mapping[str, Any]) -> dict[str, Any]:
        """A task's `when`/`foreach` verdict, first writer wins; returns the recorded one."""
        return dict(self._create_json(f"{self.node_dir(run_id, task)}/decision.json", dict(decision)))

    def read_decision(self, run_id: str, task: str) -> dict[str, Any] | None:
        return self._read_json(f"{self.node_dir(run_id, task)}/decision.json")

    def record_skipped(self, run_id: str, task: str, reason: str) -> None:
        """The task was skipped: no attempt runs, and tasks that read its outputs skip too."""
        self._create_json(f"{self.node_dir(run_id, task)}/skipped.json", {"reason": reason, "time": utc_now()})

    def read_skipped(self, run_id: str, task: str) -> dict[str, Any] | None:
        return self._read_json(f"{self.node_dir(run_id, task)}/skipped.json")

    # ------------------------------------------------------------------ nodes

    def write_outputs(self, run_id: str, node_id: str, outputs: Mapping[str, Any]) -> None:
        """Mark the node done. Written last by a successful attempt, so its presence is the truth."""
        self._write_json(f"{self.node_dir(run_id, node_id)}/outputs.json", dict(outputs))

    def read_outputs(self, run_id: str, node_id: str) -> dict[str, Any] | None:
        """The node's outputs, or None when it has not succeeded (yet)."""
        return self._read_json(f"{self.node_dir(run_id, node_id)}/outputs.json")

    def list_nodes(self, run_id: str) -> list[str]:
        """Node ids that have anything recorded (a journal event, outputs, a checkpoint)."""
        return [node_id_from_path(name) for name in self._list_names(f"{self.run_path(run_id)}/nodes")]

    def record_start(self, run_id: str, node_id: str, attempt: int, info: Mapping[str, Any]) -> None:
        event = {**info, "event": "start", "attempt": attempt, "time": utc_now()}
        self._write_json(f"{self._journal_dir(run_id, node_id)}/{attempt:04d}-start.json", event)

    def record_end(
        self,
        run_id: str,
        node_id: str,
        attempt: int,
        outcome: str,
        exit_code: int | None,
        info: Mapping[str, Any],
    ) -> None:
        """info: duration_s, message, checkpoint_seq (any may be absent)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        event = {**info, "event": "end", "attempt": attempt, "outcome": outcome, "exit_code": exit_code, "time": utc_now()}
        self._write_json(f"{self._journal_dir(run_id, node_id)}/{attempt:04d}-end-{outcome}.json", event)

    def attempts(self, run_id: str, node_id: str) -> list[AttemptRecord]:
        """Every attempt of a node in order, each with its most telling end (or none: lost)."""
        directory = self._journal_dir(run_id, node_id)
        names = [name for name in self._list_names(directory) if _JOURNAL_NAME.match(name)]
        if not names:
            return []
        by_name = self._read_many(directory, names)
        starts: dict[int, dict[str, Any]] = {}
        ends: dict[int, dict[str, Any]] = {}
        for name in names:
            if name not in by_name:
                continue
            match = _JOURNAL_NAME.match(name)
            assert match is not None
            number = int(match.group(1))
            where = f"{self.uri.rstrip('/')}/{self._shown(directory)}/{name}"
            try:
                event = journal_event(by_name[name], match.group(3), where)
            except DamagedRecord as exc:
                # The least harmful reading: the attempt started and its end is unknown (a lost
                # attempt), so a resume goes on and nothing is charged for what cannot be read.
                self.warn(f"{exc}; counted as a start without an end")
                starts.setdefault(number, {})
                continue
            if match.group(2) == "start":
                starts[number] = event
            else:
                current = ends.get(number)
                if current is None or _OUTCOME_PRECEDENCE[event["outcome"]] > _OUTCOME_PRECEDENCE[current["outcome"]]:
                    ends[number] = event
        records = []
        for number in sorted(starts.keys() | ends.keys()):
            start, end = starts.get(number, {}), ends.get(number, {})
            records.append(
                AttemptRecord(
                    number=number,
                    outcome=end.get("outcome"),
                    exit_code=end.get("exit_code"),
                    started=start.get("time"),
                    ended=end.get("time"),
                    duration_s=end.get("duration_s"),
                    message=end.get("message") or "",
                    checkpoint_seq=end.get("checkpoint_seq"),
                )
            )
        return records

    def _read_many(self, directory: str, names: list[str]) -> dict[str, bytes]:
        """The bytes of several objects under `directory` by base name, in one round of concurrent
        GETs on S3; an object deleted meanwhile is left out, any other failure is raised."""

        def read() -> dict[str, bytes]:
            contents = self.fs.cat([f"{directory}/{name}" for name in names], on_error="return")
            result: dict[str, bytes] = {}
            for path, data in contents.items():
                if isinstance(data, FileNotFoundError):
                    continue
                if isinstance(data, BaseException):
                    raise data
                result[path.rstrip("/").rsplit("/", 1)[-1]] = bytes(data)
            return result

        return self._io(f"read the journal {self._shown(directory)}", read)

    def checkpoint(self, run_id: str, node_id: str, attempt: int, keep: int) -> "Checkpoint":
        from .checkpoint import Checkpoint

        return Checkpoint(self.fs, f"{self.node_dir(run_id, node_id)}/checkpoints", attempt=attempt, keep=keep)

    # ------------------------------------------------------------------ logs

    def log_path(self, run_id: str, node_id: str, attempt: int) -> str:
        """The log's path on `self.fs` (no protocol)."""
        return f"{self.node_dir(run_id, node_id)}/logs/{attempt:04d}.log"

    def log_uri(self, run_id: str, node_id: str, attempt: int) -> str:
        """The log's full URI, openable with `fsspec.open(uri, **store.storage_options)`."""
        path = self.log_path(run_id, node_id, attempt)
        return path if self._local else self.fs.unstrip_protocol(path)

    def write_log(self, run_id: str, node_id: str, attempt: int, data: bytes) -> None:
        path = self.log_path(run_id, node_id, attempt)
        if self._local:
            self._io(f"write {self._shown(path)}", lambda: write_replacing(path, data), writing=True)
        else:
            self._io(f"write {self._shown(path)}", lambda: self.fs.pipe_file(path, data), writing=True)

    def read_log(self, run_id: str, node_id: str, attempt: int) -> bytes | None:
        return self._read_bytes(self.log_path(run_id, node_id, attempt))

    # An object store cannot be appended to, so a running attempt's log is spooled to a local
    # file and uploaded when the attempt ends. The spool file's name is derived from the store,
    # run, node and attempt, never random, so a log whose executor was killed before the upload
    # is found and uploaded by the next `--resume` instead of being abandoned in /tmp.

    def log_spool_path(self, run_id: str, node_id: str, attempt: int) -> str:
        """Where an attempt's log is spooled on this machine before its upload (object stores)."""
        return os.path.join(self._spool_dir(run_id), node_path(node_id), f"{attempt:04d}.log")

    def upload_spooled_logs(self, run_id: str) -> list[str]:
        """Upload every log left in this run's spool (its executor died before the upload) and
        delete each once it is in the store; returns their store paths. Nothing on a local store."""
        if self._local:
            return []
        root = self._spool_dir(run_id)
        uploaded: list[str] = []
        for directory, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                match = re.fullmatch(r"(\d{4,})\.log", name)
                if match is None:
                    continue
                node_id = node_id_from_path(os.path.basename(directory))
                local = os.path.join(directory, name)
                with open(local, "rb") as handle:
                    data = handle.read()
                self.write_log(run_id, node_id, int(match.group(1)), data)
                os.unlink(local)
                uploaded.append(self._shown(self.log_path(run_id, node_id, int(match.group(1)))))
        return uploaded

    def _spool_dir(self, run_id: str) -> str:
        return spool_dir(self.uri, check_run_id(run_id))

    # ------------------------------------------------------------------ cache (runtime/cache.py)

    def cache_path(self, definition_key: str, inputs_key: str) -> str:
        """`<root>/cache/<definition key>/<inputs key>.json`; keys from tether.core.cache_key."""
        if not (_CACHE_KEY.fullmatch(definition_key) and _CACHE_KEY.fullmatch(inputs_key)):
            raise StoreError(f"not cache keys: {definition_key!r}, {inputs_key!r}")
        return f"{self.root}/cache/{definition_key}/{inputs_key}.json"

    def read_cache_entry(self, definition_key: str, inputs_key: str) -> dict[str, Any] | None:
        return self._read_json(self.cache_path(definition_key, inputs_key))

    def write_cache_entry(self, definition_key: str, inputs_key: str, entry: Mapping[str, Any], replace: bool) -> bool:
        """Create the entry (False if one exists: the first writer wins), or overwrite it (`replace`)."""
        path = self.cache_path(definition_key, inputs_key)
        if replace:
            self._write_json(path, dict(entry))
            return True
        return self.create_new(path, dict(entry))

    def record_cached(self, run_id: str, node_id: str, source: Mapping[str, Any]) -> None:
        """The node reused a cache entry (`source`: its run, node and keys) instead of running."""
        self._create_json(f"{self.node_dir(run_id, node_id)}/cached.json", {**source, "time": utc_now()})

    # ------------------------------------------------------------------ run management

    def record_node_inputs(self, run_id: str, node_id: str, attempt: int, keys: Mapping[str, str]) -> None:
        """What attempt `attempt` computes from, written before it starts: its task's definition
        key and its input values' key (tether.core.cache_key), so `--resume --spec` can tell
        whether a finished node's definition or inputs changed since.

        Not fsynced on a local disk (it is written for every attempt, and an fsync costs more
        than a trivial task): one lost in a power cut reads as absent, and a node whose keys are
        unknown simply runs again."""
        path = f"{self.node_dir(run_id, node_id)}/inputs/{attempt:04d}.json"
        if not self._local:
            self._write_json(path, dict(keys))
            return
        data = _dumps(dict(keys))

        def write() -> None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.tmp-{os.getpid()}"
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)

        self._io(f"write {self._shown(path)}", write, writing=True)

    def read_result_keys(self, run_id: str, node_id: str, attempt: int | None) -> dict[str, Any] | None:
        """The keys a node's current result was computed from: a cache hit's (cached.json holds
        them), else those recorded by `attempt` (its successful attempt); None when unknown."""
        cached = self._read_json(f"{self.node_dir(run_id, node_id)}/cached.json")
        if cached is not None or attempt is None:
            return cached
        return self._read_json(f"{self.node_dir(run_id, node_id)}/inputs/{attempt:04d}.json")

    def replace_run(self, run_id: str, record: RunRecord) -> str:
        """`--resume --spec`: the run goes on with a new workflow. The record it replaces is kept
        as `history/NNNN-run.json` (returned, relative to the store) before run.json is rewritten."""
        from ..core.ir import to_dict

        old = self._read_record(f"{self.run_path(run_id)}/run.json")
        if old is None:
            raise RunNotFound(run_id, self.uri, self.list_runs())
        history = f"{self.run_path(run_id)}/history"
        number = len(self._list_names(history)) + 1
        kept = f"{history}/{number:04d}-run.json"
        self._write_json(kept, old)
        value = {
            "ir": to_dict(record.workflow),
            "params": dict(record.params),
            "spec": record.spec,
            "code_paths": list(record.code_paths),
            "created": old.get("created", record.created),
        }
        self._write_json(f"{self.run_path(run_id)}/run.json", value)
        return self._shown(kept)

    def supersede_node(self, run_id: str, node_id: str) -> None:
        """A finished node that must run again (its definition or inputs changed): its outputs,
        cache mark and checkpoints are removed, so its next attempt starts from nothing; the
        journal stays (attempt numbers go on)."""
        directory = self.node_dir(run_id, node_id)
        for name in ("outputs.json", "cached.json"):
            path = f"{directory}/{name}"
            try:
                self._io(f"remove {self._shown(path)}", lambda: self.fs.rm_file(path))
            except FileNotFoundError:
                pass
        checkpoints = f"{directory}/checkpoints"
        try:
            self._io(f"remove {self._shown(checkpoints)}", lambda: self.fs.rm(checkpoints, recursive=True))
        except FileNotFoundError:
            pass

    def run_summary(self, run_id: str) -> dict[str, Any]:
        """One line of `tether runs`: id, workflow, kind, status, start and duration (seconds or
        None), from run.json or a cluster run's cluster.json, and status.json when there is one."""
        path = self.run_path(run_id)
        record = self._read_json(f"{path}/run.json")
        cluster = None if record is not None else self._read_json(f"{path}/cluster.json")
        status = self._read_json(f"{path}/status.json") or {}
        if record is not None:
            ir = record.get("ir")
            body = ir.get("workflow") if isinstance(ir, dict) else None
            workflow = body.get("name") if isinstance(body, dict) else None
            started = record.get("created")  # a resumed run started when it was created
        else:
            workflow = (cluster or {}).get("workflow")
            started = (cluster or {}).get("created")
        duration = status.get("duration_s")
        if status.get("status") == "running" and isinstance(status.get("started"), str):
            duration = _seconds_since(status["started"])  # this execution's, so far
        return {
            "run_id": run_id,
            "workflow": workflow if isinstance(workflow, str) else None,
            "kind": "local" if record is not None else ("cluster" if cluster is not None else "unknown"),
            "status": str(status.get("status") or ("unknown" if record is not None else "no status (cluster)")),
            "started": started if isinstance(started, str) else None,
            "duration_s": duration if isinstance(duration, (int, float)) else None,
        }


__all__ = [
    "AttemptRecord",
    "DamagedRecord",
    "InvalidRunId",
    "OUTCOMES",
    "RUN_ID_PATTERN",
    "RunExists",
    "RunNotFound",
    "RunRecord",
    "RunStore",
    "StoreError",
    "StoreFailure",
    "check_run_id",
    "node_id_from_path",
    "node_path",
    "resolve_store_uri",
    "utc_now",
]
