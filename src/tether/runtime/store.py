"""The run store: each run's workflow, parameters, node outputs and attempt journal, on any fsspec URI.

Layout (object-store friendly: nothing is ever appended to or renamed on S3, every journal
event is its own small immutable JSON object, so two writers never fight over one object):

    <root>/runs/<run_id>/run.json                          the compiled IR, params, spec, code paths
    <root>/runs/<run_id>/status.json                       the executor's view of the run
    <root>/runs/<run_id>/cluster.json                      a cluster run: created by its first exec
    <root>/runs/<run_id>/nodes/<task>/decision.json        `when` and `foreach` verdict, created once
    <root>/runs/<run_id>/nodes/<task>/skipped.json         the task was skipped (no attempt ran)
    <root>/runs/<run_id>/nodes/<node>/outputs.json         written once, last: the node is done
    <root>/runs/<run_id>/nodes/<node>/journal/0001-start.json
    <root>/runs/<run_id>/nodes/<node>/journal/0001-end-<outcome>.json
    <root>/runs/<run_id>/nodes/<node>/checkpoints/...      tether.runtime.checkpoint's business
    <root>/runs/<run_id>/nodes/<node>/logs/0001.log        stdout+stderr of attempt 1

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
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..core.ir import Workflow
    from .checkpoint import Checkpoint

DEFAULT_STORE = ".tether"
STORE_ENV = "TETHER_STORE"
STORE_OPTIONS_ENV = "TETHER_STORE_OPTIONS"

OUTCOMES = ("success", "recoverable", "interrupted", "fatal", "timeout", "cancelled")
"""How an attempt ended. "cancelled": the attempt was stopped because its *run* was stopped (Ctrl-C
on `tether run`), not for anything about the task or its machine, so it uses neither retry
budget and a resumed run starts the node again as if the attempt had not happened."""

_OUTCOME_PRECEDENCE = {"success": 5, "timeout": 4, "fatal": 3, "recoverable": 2, "cancelled": 1, "interrupted": 0}
"""When one attempt has several end events, the highest wins. Outputs written means success
whatever else was said; the executor knows why it sent a SIGTERM ("timeout", "cancelled") better
than the attempt that received it and recorded "interrupted"."""

_JOURNAL_NAME = re.compile(r"^(\d{4,})-(start|end-([a-z]+))\.json$")


class StoreError(Exception):
    """A run store problem a user can act on (the message says what to do)."""


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
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _is_local(fs: "AbstractFileSystem") -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def _atomic_write_local(path: str, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory: all or nothing."""
    from .atomic import fsync_dir  # the checkpoint module's; imported here to keep start-up light

    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(directory)


def _create_local(path: str, data: bytes) -> bool:
    """Write `path` only if it does not exist: a whole temp file hard-linked into place."""
    from .atomic import fsync_dir

    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    fsync_dir(directory)
    return True


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
        fs, root = url_to_fs(uri, **options)
        self.fs: AbstractFileSystem = fs
        self.root: str = root.rstrip("/")
        self._local = _is_local(fs)

    def __repr__(self) -> str:
        return f"RunStore({self.uri!r})"

    # ------------------------------------------------------------------ paths

    def run_path(self, run_id: str) -> str:
        if not run_id or "/" in run_id or run_id in (".", ".."):
            raise StoreError(f"not a run id: {run_id!r}")
        return f"{self.root}/runs/{run_id}"

    def node_dir(self, run_id: str, node_id: str) -> str:
        return f"{self.run_path(run_id)}/nodes/{node_path(node_id)}"

    def _journal_dir(self, run_id: str, node_id: str) -> str:
        return f"{self.node_dir(run_id, node_id)}/journal"

    # ------------------------------------------------------------------ raw records

    def _write_json(self, path: str, value: Any) -> None:
        data = _dumps(value)
        if self._local:
            _atomic_write_local(path, data)
        else:
            self.fs.pipe_file(path, data)

    def _create_json(self, path: str, value: Any) -> Any:
        """Create `path` with `value` unless it exists; return what the path holds afterwards."""
        data = _dumps(value)
        if self._local:
            created = _create_local(path, data)
        else:
            try:
                self.fs.pipe_file(path, data, mode="create")
                created = True
            except (FileExistsError, OSError) as exc:
                # s3fs reports the 412 of If-None-Match as an OSError (EINVAL) in some versions.
                if isinstance(exc, FileExistsError) or "PreconditionFailed" in str(exc) or "412" in str(exc):
                    created = False
                else:
                    raise
        if created:
            return value
        existing = self._read_json(path)
        return value if existing is None else existing

    def _read_json(self, path: str) -> Any | None:
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        return json.loads(data)

    def _list_names(self, path: str) -> list[str]:
        """Base names directly under `path`; [] when it does not exist. Never a cached listing."""
        try:
            entries = self.fs.ls(path, detail=False, refresh=True)
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
        if self.fs.exists(path):
            raise RunExists(f"run {run_id!r} already exists in {self.uri}; resume it or choose another --run-id")
        self._write_json(
            path,
            {
                "ir": to_dict(record.workflow),
                "params": dict(record.params),
                "spec": record.spec,
                "code_paths": list(record.code_paths),
                "created": record.created,
            },
        )

    def load_run(self, run_id: str) -> RunRecord:
        from ..core.ir import from_json

        data = self._read_json(f"{self.run_path(run_id)}/run.json")
        if data is None:
            raise RunNotFound(run_id, self.uri, self.list_runs())
        return RunRecord(
            workflow=from_json(json.dumps(data["ir"])),
            params=data["params"],
            spec=data["spec"],
            code_paths=tuple(data["code_paths"]),
            created=data["created"],
        )

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
        paths = [f"{directory}/{name}" for name in names]
        contents = self.fs.cat(paths, on_error="omit")  # one round of concurrent GETs on S3
        by_name = {path.rstrip("/").rsplit("/", 1)[-1]: data for path, data in contents.items()}
        starts: dict[int, dict[str, Any]] = {}
        ends: dict[int, dict[str, Any]] = {}
        for name in names:
            if name not in by_name:
                continue
            match = _JOURNAL_NAME.match(name)
            assert match is not None
            number = int(match.group(1))
            event = json.loads(by_name[name])
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
            _atomic_write_local(path, data)
        else:
            self.fs.pipe_file(path, data)

    def read_log(self, run_id: str, node_id: str, attempt: int) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self.log_path(run_id, node_id, attempt)))
        except FileNotFoundError:
            return None


__all__ = [
    "AttemptRecord",
    "OUTCOMES",
    "RunExists",
    "RunNotFound",
    "RunRecord",
    "RunStore",
    "StoreError",
    "node_id_from_path",
    "node_path",
    "resolve_store_uri",
    "utc_now",
]
