"""One orchestrator per run: the lease `tether run` holds for as long as its executor lives.

Two executors on one run would both start the same nodes, interleave their checkpoints and
write outputs twice, and a resume would record the other one's live attempts as lost. So
`tether run` (new or `--resume`) takes the run's lease before it starts anything, and a second
one is refused with the holder's host, pid and start time.

Local stores: an OS lock (`fcntl.lockf`, a POSIX record lock) on `runs/<id>/lease.lock`, held
by the executor's process. The kernel drops it when that process dies, however it dies, and a
forked attempt does not inherit it (POSIX record locks belong to a process, see
https://man7.org/linux/man-pages/man2/fcntl.2.html "Record locks are not inherited by a child
created via fork"), so a lock that is free means the last holder is gone. The file also holds
the holder's description, so a refusal can name it, and a takeover can say whose lock it was.

Object stores (no locks): lease *generations*, `runs/<id>/lease/000001.json`, `000002.json`, ...
The newest generation is the lease. Taking it means creating the next generation with a
conditional create (`RunStore.create_new`: S3 `PUT` with `If-None-Match: *`, see
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html ; s3fs
`pipe_file(mode="create")`, which moto's server honours), so of two executors taking the same
free or stale lease exactly one wins. Conditional creates of new names were chosen over
`If-Match` replacement of one object because s3fs exposes only the former. The holder renews its
generation (`heartbeat`, a plain PUT of its own object) every `ttl_s / 4`; a lease whose last
renewal is older than `ttl_s` has expired, and one held on this host by a pid that no longer
exists is stale at once. Release marks the generation released. Clocks of different hosts are
assumed to agree to well within `ttl_s`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .store import StoreError, utc_now

if TYPE_CHECKING:
    from .store import RunStore

LEASE_TTL_S = 60.0
"""An object-store lease not renewed for this long has expired (its executor is presumed dead)."""

_GENERATION = "{:06d}.json"


class LeaseHeld(StoreError):
    """Another live executor holds the run's lease: this one must not run it."""

    def __init__(self, run_id: str, holder: "Holder | None", where: str):
        self.holder = holder
        who = holder.describe() if holder is not None else "a process that has not said who it is yet"
        super().__init__(
            f"run {run_id!r} is already being run by {who} ({where}); "
            "wait for it to finish, or stop it (Ctrl-C or SIGTERM), then resume"
        )


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a run's lease."""

    host: str
    pid: int
    since: str  # when it took the lease (UTC, ISO-8601)
    renewed: str  # its last heartbeat
    ttl_s: float = LEASE_TTL_S
    generation: int = 0  # object stores: the lease object's number; 0 for an OS lock
    released: bool = False

    @classmethod
    def me(cls, ttl_s: float, generation: int = 0) -> "Holder":
        now = utc_now()
        return cls(socket.gethostname(), os.getpid(), now, now, ttl_s, generation)

    @classmethod
    def parse(cls, data: bytes) -> "Holder | None":
        """The holder a lease record describes, or None when it is empty or damaged."""
        try:
            value = json.loads(data)
            return cls(
                host=str(value["host"]),
                pid=int(value["pid"]),
                since=str(value["since"]),
                renewed=str(value["renewed"]),
                ttl_s=float(value.get("ttl_s", LEASE_TTL_S)),
                generation=int(value.get("generation", 0)),
                released=bool(value.get("released", False)),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        beat = f" (last heartbeat {self.renewed})" if self.generation else ""  # an OS lock needs none
        return f"host {self.host}, pid {self.pid}, since {self.since}{beat}"

    def stale_because(self, now: float | None = None) -> str | None:
        """Why this lease no longer protects anyone (its process gone, its heartbeat expired), else None."""
        if self.released:
            return "it was released"
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return "its process is gone"
        renewed = _parse_time(self.renewed)
        current = time.time() if now is None else now
        if renewed is None or current - renewed > self.ttl_s:
            return f"its heartbeat expired (last {self.renewed}, expiry {self.ttl_s:g}s)"
        return None


@dataclass
class Lease:
    """A held lease. `taken_over` is the stale holder it replaced (with why), for the run to say."""

    store: "RunStore"
    run_id: str
    holder: Holder
    taken_over: tuple[Holder, str] | None = None
    _fd: int | None = None  # the locked file (OS lock)
    _lost: str | None = None

    @property
    def renew_every_s(self) -> float | None:
        """How often `heartbeat` must run; None when the lease needs none (an OS lock)."""
        return None if self._fd is not None else self.holder.ttl_s / 4

    def heartbeat(self) -> str | None:
        """Renew an object-store lease. Returns why the lease was lost (another executor took it
        over after this one's heartbeat expired), else None. A failed renewal is retried at the
        next beat: one store hiccup must not end a run."""
        if self._fd is not None or self._lost is not None:
            return self._lost
        try:
            newest = _newest_generation(self.store, self.run_id)
            if newest > self.holder.generation:
                other = _read_generation(self.store, self.run_id, newest)
                who = other.describe() if other is not None else f"lease generation {newest}"
                self._lost = f"the run's lease was taken over by {who}"
                return self._lost
            self.holder = replace(self.holder, renewed=utc_now())
            self.store.fs.pipe_file(_generation_path(self.store, self.run_id, self.holder.generation), _dumps(self.holder))
        except OSError:
            pass
        return None

    def release(self) -> None:
        """Give the lease up (idempotent): the OS lock is unlocked, a lease object marked released."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)  # the file stays: unlinking a lock file races with the next locker
            finally:
                os.close(fd)  # closing releases the lock
            return
        if self._lost is None and not self.holder.released:
            self.holder = replace(self.holder, released=True, renewed=utc_now())
            try:
                if _newest_generation(self.store, self.run_id) == self.holder.generation:
                    self.store.fs.pipe_file(
                        _generation_path(self.store, self.run_id, self.holder.generation), _dumps(self.holder)
                    )
            except OSError:
                pass  # it expires on its own

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(store: "RunStore", run_id: str, ttl_s: float = LEASE_TTL_S) -> Lease:
    """Take the run's lease, taking over a stale one; LeaseHeld when a live executor holds it."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(store.fs, LocalFileSystem) and _has_lockf():
        return _acquire_lock(store, run_id, ttl_s)
    return _acquire_object(store, run_id, ttl_s)


# ---------------------------------------------------------------------- local: an OS lock


def _has_lockf() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:  # not POSIX: the object-store lease works on a local disk too
        return False
    return True


def _acquire_lock(store: "RunStore", run_id: str, ttl_s: float) -> Lease:
    import fcntl

    directory = store.run_path(run_id)
    os.makedirs(directory, exist_ok=True)
    path = f"{directory}/lease.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # EACCES or EAGAIN: locked by a live process
        os.close(fd)
        raise LeaseHeld(run_id, _read_lock_holder(path), f"it holds the lock on {path}") from None
    try:
        previous = Holder.parse(_read_all(fd))
        me = Holder.me(ttl_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _dumps(me), 0)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    taken = (previous, "its process is gone") if previous is not None and not previous.released else None
    return Lease(store, run_id, me, taken, _fd=fd)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _read_lock_holder(path: str) -> Holder | None:
    """The description the lock's holder wrote; it writes it just after locking, so look twice.

    Opened and closed here only by a process that does not hold the lock: closing any descriptor
    of a file drops the closing process's own record locks on it.
    """
    for _ in range(5):
        try:
            with open(path, "rb") as handle:
                holder = Holder.parse(handle.read())
        except OSError:
            holder = None
        if holder is not None:
            return holder
        time.sleep(0.05)
    return None


# ---------------------------------------------------------------------- object stores: generations


def _lease_dir(store: "RunStore", run_id: str) -> str:
    return f"{store.run_path(run_id)}/lease"


def _generation_path(store: "RunStore", run_id: str, generation: int) -> str:
    return f"{_lease_dir(store, run_id)}/{_GENERATION.format(generation)}"


def _newest_generation(store: "RunStore", run_id: str) -> int:
    try:
        names = store.fs.ls(_lease_dir(store, run_id), detail=False, refresh=True)
    except FileNotFoundError:
        return 0
    numbers = [name.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json") for name in names]
    return max((int(n) for n in numbers if n.isdigit()), default=0)


def _read_generation(store: "RunStore", run_id: str, generation: int) -> Holder | None:
    try:
        return Holder.parse(store.fs.cat_file(_generation_path(store, run_id, generation)))
    except FileNotFoundError:
        return None


def _acquire_object(store: "RunStore", run_id: str, ttl_s: float) -> Lease:
    taken: tuple[Holder, str] | None = None
    for _ in range(20):  # each lost race means another executor took a generation: look again
        newest = _newest_generation(store, run_id)
        if newest:
            current = _read_generation(store, run_id, newest)
            why = "its lease record is damaged" if current is None else current.stale_because()
            if why is None:
                assert current is not None
                raise LeaseHeld(run_id, current, f"lease {_generation_path(store, run_id, newest)}")
            if current is not None and not current.released:
                taken = (current, why)
        me = Holder.me(ttl_s, newest + 1)
        if store.create_new(_generation_path(store, run_id, me.generation), me.to_json()):
            return Lease(store, run_id, me, taken)
    raise StoreError(f"could not take the lease of run {run_id!r} in {store.uri}: it keeps changing hands")


# ---------------------------------------------------------------------- helpers


def _dumps(holder: Holder) -> bytes:
    return (json.dumps(holder.to_json(), sort_keys=True) + "\n").encode()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check only, nothing is sent
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # Linux: a zombie (dead, not yet reaped by its parent) is gone for our purposes
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _parse_time(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


__all__ = ["LEASE_TTL_S", "Holder", "Lease", "LeaseHeld", "acquire"]
