"""The checkpoint contract: `read`, `write`, `save`, `restore`, `prev_exists`, on any fsspec URI.

Layout: flat, under `root` (the run store puts it at `<store>/runs/<run>/nodes/<node>/checkpoints`):

    000000000007-a2-5f3c9e01.data     the checkpoint itself, immutable: raw bytes (write() and
                                      save(file)) or an uncompressed tar (save(dir))
    000000000007-a2-5f3c9e01.commit   its commit record (JSON: seq, attempt, kind, size, checksum)
    .000000000008-a3-0b1d2e3f.data.tmp  local disks only: a write in progress (or a crashed one)

A checkpoint exists when its commit record does. The record is written only after the data
object is durable, and each of the two is atomic (see atomic.py), so a crash at any moment leaves
either the previous checkpoint or the new one, never a torn one. The name sorts by sequence
number: next = highest seen + 1, across all attempts, so the newest checkpoint is the last one
written whichever attempt wrote it; the attempt and a random token in the name keep two writers
(a zombie attempt, two threads) from ever colliding. Readers verify size and checksum, and skip
a bad or missing newest checkpoint with a CheckpointWarning, falling back to the one before.
After each commit, retention keeps the `keep` newest commits and deletes older ones and the
leftovers of crashed writers, never anything newer than the checkpoint just committed; it runs
on a background thread (close() waits for it), off the critical path of the next write.

Flyte's SyncCheckpoint API whole (flytekit/core/checkpointer.py; its unit tests, imports
changed, are tests/test_flyte_checkpoint_api.py): `restore()` with no path returns a local
directory holding the newest checkpoint, `restore(dir)` returns that directory, `save()` takes a
path or an open binary file, and anything else is a ValueError. Better than Flyte's: reading
sees every earlier attempt (not only the previous one), returns None instead of raising when
there is nothing, and `write` and `save` mix freely. `commits()` lists what is kept.

Writes are synchronous: when `write()` or `save()` returns, the checkpoint is durable. A SIGTERM
handler therefore has nothing to flush (close() only waits for retention to finish deleting); whatever was committed before the signal is what the
next attempt reads, and an interrupted write leaves only an uncommitted object, later removed.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import secrets
import shutil
import tarfile
import tempfile
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, Callable, Iterable, Iterator, Literal, Mapping

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .atomic import CHUNK, Buffer, Crc32, FsspecStore, HashingReader, LocalStore, ObjectStore, Writer

Kind = Literal["bytes", "file", "dir"]
_Produce = Callable[[Writer], object]
_KINDS: frozenset[str] = frozenset({"bytes", "file", "dir"})
_FORMAT = 1
_NAME = re.compile(
    r"^(?P<temp>\.)?(?P<seq>\d{12})-a(?P<attempt>\d+)-(?P<token>[0-9a-f]{8})"
    r"\.(?P<ext>data|commit)(?(temp)\.tmp)$"
)


class CheckpointWarning(UserWarning):
    """A committed checkpoint could not be used (corrupt, missing data); an older one was tried."""


class CheckpointKindError(ValueError):
    """read() found a directory checkpoint: its bytes are a tar archive, so restore(path) it."""


class UnsupportedCheckpoint(TypeError, ValueError):
    """save() was given neither a path nor a binary file object. A ValueError as in Flyte
    (flytekit/core/checkpointer.py, SyncCheckpoint.save), and a TypeError as in Python."""


class CheckpointPath(type(pathlib.Path())):  # type: ignore[misc]
    """What restore() returns: a pathlib.Path, as Flyte's restore() returns, that also equals
    its string form (tether's restore() returned a str, and callers compare with one)."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other
        return super().__eq__(other)

    __hash__ = type(pathlib.Path()).__hash__


@dataclass(frozen=True)
class CommitRecord:
    """One committed checkpoint as `Checkpoint.commits()` lists it."""

    seq: int
    attempt: int
    kind: Kind
    size: int
    time: str | None  # ISO 8601 UTC with milliseconds ('...Z'), or what the store gives; None if unknown


@dataclass(frozen=True)
class CheckpointInfo:
    """What a commit record says about one checkpoint."""

    seq: int  # monotonic across attempts: the newest checkpoint has the highest
    attempt: int  # the attempt that wrote it
    kind: Kind  # 'bytes' (write), 'file' or 'dir' (save)
    size: int  # bytes of the data object (for 'dir', of its tar archive)
    checksum: str  # 'crc32:%08x' of the data object
    name: str | None  # basename of the saved file or directory; None for write()


@dataclass(frozen=True, order=True)
class _Key:
    """Identity of one checkpoint; ordering it orders checkpoints from oldest to newest."""

    seq: int
    attempt: int
    token: str

    @property
    def stem(self) -> str:
        return f"{self.seq:012d}-a{self.attempt}-{self.token}"

    @property
    def data(self) -> str:
        return f"{self.stem}.data"

    @property
    def commit(self) -> str:
        return f"{self.stem}.commit"


@dataclass(frozen=True)
class _Listing:
    """The names under the root, sorted into commits, data objects and in-progress temps."""

    commits: frozenset[_Key]
    data: frozenset[_Key]
    temps: tuple[tuple[_Key, str], ...]

    @classmethod
    def parse(cls, names: Iterable[str]) -> _Listing:
        commits: set[_Key] = set()
        data: set[_Key] = set()
        temps: list[tuple[_Key, str]] = []
        for name in names:
            match = _NAME.match(name)
            if match is None:
                continue  # not ours: never touched
            key = _Key(int(match["seq"]), int(match["attempt"]), match["token"])
            if match["temp"]:
                temps.append((key, name))
            elif match["ext"] == "commit":
                commits.add(key)
            else:
                data.add(key)
        return cls(frozenset(commits), frozenset(data), tuple(temps))

    def highest_seq(self) -> int:
        keys = [*self.commits, *self.data, *(key for key, _ in self.temps)]
        return max((key.seq for key in keys), default=0)


class Checkpoint:
    """One task node's checkpoints; every attempt of the node opens the same root."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, *, attempt: int = 1, keep: int = 3) -> None:
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        if keep < 1:
            raise ValueError(f"keep must be at least 1 (the checkpoint just written), got {keep}")
        self.fs = fs
        self.attempt = attempt
        self.keep = keep
        path = fs._strip_protocol(root)
        self._store: ObjectStore = LocalStore(path) if isinstance(fs, LocalFileSystem) else FsspecStore(fs, path)
        self.root = self._store.root
        self._retiring: threading.Thread | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def from_uri(
        cls, uri: str, *, attempt: int = 1, keep: int = 3, storage_options: Mapping[str, Any] | None = None
    ) -> Checkpoint:
        """A local path, file://..., memory://..., s3://bucket/prefix (storage_options go to fsspec)."""
        fs, root = fsspec.core.url_to_fs(uri, **(storage_options or {}))
        return cls(fs, root, attempt=attempt, keep=keep)

    def __repr__(self) -> str:
        return f"Checkpoint({self.fs.protocol!r}, {self.root!r}, attempt={self.attempt}, keep={self.keep})"

    # ------------------------------------------------------------------ reading

    def read(self) -> bytes | None:
        """The newest usable checkpoint's bytes; None when there is none.

        A checkpoint written by save(file) reads as that file's bytes. One written by save(dir)
        raises CheckpointKindError (returning None would make a task silently start over).
        """
        for key, info in self._committed():
            if info.kind == "dir":
                raise CheckpointKindError(
                    f"the newest checkpoint (seq {info.seq}, attempt {info.attempt}) is the directory "
                    f"{info.name!r} saved with save(); use restore(path) to get it back"
                )
            try:
                data, checksum = self._store.read(key.data)
            except FileNotFoundError:
                _warn(key, "its data object is missing")
                continue
            if len(data) != info.size or checksum != info.checksum:
                _warn(key, f"its data does not match the commit record ({len(data)} bytes, {checksum})")
                continue
            return data
        return None

    def restore(self, path: str | os.PathLike[str] | None = None) -> CheckpointPath | None:
        """Materialise the newest usable checkpoint at `path`; the path given, or None if none.

        As Flyte's SyncCheckpoint.restore (flytekit/core/checkpointer.py): with no `path`, a fresh
        local directory holding the newest checkpoint is returned (removed with this object or at
        exit); a 'bytes' or 'file' checkpoint restored into an existing directory becomes
        `path/<saved name>` ('checkpoint' for write()), and the directory is returned.
        Otherwise a 'bytes' or 'file' checkpoint becomes the file `path`, and a 'dir' checkpoint
        the directory `path`, its entries replacing same-named entries of an existing directory.
        Nothing is touched until the checkpoint has been verified, so a corrupt one never
        half-overwrites the target. Unlike Flyte, each call restores the newest checkpoint
        (Flyte returns its first download again, which never sees this attempt's own writes).
        """
        if path is None:
            if self.latest() is None:
                return None
            target = tempfile.mkdtemp(prefix="restore-", dir=self._scratch())
        else:
            target = os.path.abspath(os.fspath(path))
        for key, info in self._committed():
            try:
                self._store.size(key.data)
            except FileNotFoundError:
                _warn(key, "its data object is missing")
                continue
            try:
                if info.kind == "dir":
                    return CheckpointPath(_restore_dir(self._store, key, info, target))
                if os.path.isdir(target):
                    _restore_file(self._store, key, info, os.path.join(target, info.name or "checkpoint"))
                    return CheckpointPath(target)
                return CheckpointPath(_restore_file(self._store, key, info, target))
            except _Corrupt as corrupt:
                _warn(key, str(corrupt))
        return None

    def _scratch(self) -> str:
        """This object's private temporary directory, for restore() without a path."""
        if self._tempdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="tether-checkpoint-")
        return self._tempdir.name

    def commits(self) -> list[CommitRecord]:
        """The committed checkpoints still kept (retention keeps the newest `keep`), oldest first,
        with the time the store gives their commit record (local mtime, S3 LastModified)."""
        try:
            entries = self.fs.ls(self.root, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        times = {str(e["name"]).rstrip("/").rsplit("/", 1)[-1]: _mtime(e) for e in entries}
        listing = _Listing.parse(times)
        out = []
        for key in sorted(listing.commits):
            try:
                info = _parse_record(key, self._store.get(key.commit))
            except FileNotFoundError:
                continue
            except (ValueError, KeyError, TypeError):
                continue  # read() and restore() warn about it; a listing only leaves it out
            out.append(CommitRecord(info.seq, info.attempt, info.kind, info.size, times.get(key.commit)))
        return out

    def latest(self) -> CheckpointInfo | None:
        """The newest committed checkpoint whose data object exists with the recorded size.

        A cheap check (no read of the data): read() and restore() also verify the checksum, so
        they may fall back past a checkpoint latest() reports when its bytes are corrupt.
        """
        for key, info in self._committed():
            try:
                size = self._store.size(key.data)
            except FileNotFoundError:
                _warn(key, "its data object is missing")
                continue
            if size == info.size:
                return info
            _warn(key, f"its data object has {size} bytes, the commit record says {info.size}")
        return None

    def prev_exists(self) -> bool:
        """True only when a committed checkpoint with its data really exists."""
        return self.latest() is not None

    # ------------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        """Commit `data` as the newest checkpoint, atomically and durably."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"write() takes bytes, got {type(data).__name__}; use save(path) for files")
        self._commit("bytes", None, data)

    def save(self, cp: str | os.PathLike[str] | IO[bytes]) -> None:
        """Commit a file, a whole directory tree (empty directories included) or an open binary
        file object as the newest checkpoint.

        As Flyte's SyncCheckpoint.save (flytekit/core/checkpointer.py) takes a path or an
        io.IOBase reader, and raises ValueError for anything else.
        """
        if isinstance(cp, io.IOBase):
            if isinstance(cp, io.TextIOBase):
                raise UnsupportedCheckpoint("save() takes a file opened in binary mode ('rb'), got a text file")
            if not cp.readable():
                raise UnsupportedCheckpoint("save() takes a file object open for reading ('rb')")
            reader = cp
            name = getattr(reader, "name", None)
            base = os.path.basename(name) if isinstance(name, str) and name else None
            self._commit("file", base, lambda out: _copy(reader, out))
            return
        if not isinstance(cp, (str, os.PathLike)):
            raise UnsupportedCheckpoint(
                f"save() takes a path (str or os.PathLike) or a binary file object, got {type(cp).__name__}; "
                "use write(bytes) for bytes"
            )
        source = os.path.abspath(os.fspath(cp))
        name = os.path.basename(source)
        if os.path.isdir(source):
            self._commit("dir", name, lambda out: _tar_directory(source, out))
        else:
            with open(source, "rb") as f:  # FileNotFoundError for a missing path, before any write
                self._commit("file", name, lambda out: _copy(f, out))

    def _commit(self, kind: Kind, name: str | None, content: Buffer | _Produce) -> CheckpointInfo:
        """Data object first, durable; then its commit record; then retention."""
        listing = _Listing.parse(self._store.names())
        key = _Key(listing.highest_seq() + 1, self.attempt, secrets.token_hex(4))
        if callable(content):
            written = self._store.write(key.data, content)
        else:
            written = self._store.put(key.data, content)
        info = CheckpointInfo(key.seq, key.attempt, kind, written.size, written.checksum, name)
        record = {"format": _FORMAT, "data": key.data, **info.__dict__}
        self._store.put(key.commit, json.dumps(record, sort_keys=True).encode())
        # One directory fsync makes both names durable. Until it returns, a power cut may keep
        # the commit record's name but lose the data's: readers then fall back, never tear.
        self._store.sync()
        self._retire(_doomed(listing, key, self.keep))
        return info

    def _retire(self, doomed: list[str]) -> None:
        """Retention, beside the caller's next work rather than on its critical path.

        Deleting a large file costs about as much as fsyncing it (the kernel frees its pages);
        an object store spends a round trip per object. So the deletes run on a thread (as
        Orbax's background delete does); the previous pass is joined first, so one runs at a time.
        """
        self.close()
        if doomed:
            self._retiring = threading.Thread(
                target=self._delete, args=(doomed,), name="tether-checkpoint-retention"
            )
            self._retiring.start()

    def _delete(self, names: list[str]) -> None:
        for name in names:
            try:
                self._store.delete(name)
            except OSError as error:  # the checkpoint is committed; a leftover is only wasted space
                warnings.warn(
                    f"could not delete old checkpoint object {name!r} under {self.root}: {error}",
                    CheckpointWarning,
                    stacklevel=2,
                )

    def close(self) -> None:
        """Wait for retention still deleting old checkpoints; the Checkpoint stays usable.

        Not needed for durability: write() and save() return only once the checkpoint is
        durable, so a SIGTERM handler has nothing to flush. Interpreter exit waits for the
        deletes too; a process killed before they finish leaves objects the next commit removes.
        """
        if self._retiring is not None:
            self._retiring.join()
            self._retiring = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ commit records

    def _committed(self) -> Iterator[tuple[_Key, CheckpointInfo]]:
        """Committed checkpoints whose record is readable and consistent, newest first."""
        listing = _Listing.parse(self._store.names())
        for key in sorted(listing.commits, reverse=True):
            try:
                info = _parse_record(key, self._store.get(key.commit))
            except FileNotFoundError:
                continue  # deleted by a concurrent writer's retention since we listed
            except (ValueError, KeyError, TypeError) as error:
                _warn(key, f"its commit record is unreadable ({error})")
                continue
            yield key, info


def _doomed(listing: _Listing, newest: _Key, keep: int) -> list[str]:
    """What retention deletes once `newest` is durable: commits beyond the `keep` newest (the
    record before its data, so nothing is ever committed without data on purpose), and leftovers
    of crashed writers older than `newest` (a writer still running newer ones is left alone)."""
    commits = sorted(listing.commits | {newest}, reverse=True)
    doomed = [name for key in commits[keep:] for name in (key.commit, key.data)]
    doomed += [key.data for key in sorted(listing.data - listing.commits) if key < newest]
    doomed += [name for key, name in listing.temps if key < newest]
    return doomed


def _parse_record(key: _Key, raw: bytes) -> CheckpointInfo:
    record = json.loads(raw)
    if record["format"] != _FORMAT:
        raise ValueError(f"unknown format {record['format']!r}")
    info = CheckpointInfo(
        seq=int(record["seq"]),
        attempt=int(record["attempt"]),
        kind=record["kind"],
        size=int(record["size"]),
        checksum=str(record["checksum"]),
        name=record["name"],
    )
    if (info.seq, info.attempt) != (key.seq, key.attempt) or record["data"] != key.data:
        raise ValueError("it names another checkpoint")
    if info.kind not in _KINDS or not (info.name is None or isinstance(info.name, str)):
        raise ValueError(f"bad kind or name {info.kind!r}, {info.name!r}")
    return info


def _mtime(entry: Mapping[str, Any]) -> str | None:
    value = entry.get("LastModified") or entry.get("mtime") or entry.get("created")
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return str(value)


def _warn(key: _Key, reason: str) -> None:
    warnings.warn(
        f"skipping checkpoint seq {key.seq} (attempt {key.attempt}): {reason}; trying an older one",
        CheckpointWarning,
        stacklevel=4,
    )


class _Corrupt(Exception):
    """A data object did not match its commit record while being restored."""


def _verify(key: _Key, info: CheckpointInfo, size: int, crc: Crc32) -> None:
    checksum = crc.digest()
    if size != info.size or checksum != info.checksum:
        raise _Corrupt(f"its data does not match the commit record ({size} bytes, {checksum})")


# ---------------------------------------------------------------------- files and directories


def _copy(source: IO[bytes], out: Writer) -> None:
    while chunk := source.read(CHUNK):  # a fresh bytes object each time: safe to hash later
        out.write(chunk)


def _anonymous(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Owners mean nothing on another machine; dropping them keeps the archive deterministic."""
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _tar_directory(source: str, out: Writer) -> None:
    """An uncompressed tar of the tree, entries sorted (tarfile.add sorts), streamed to `out`."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, copybufsize=CHUNK) as tar:  # type: ignore[call-overload]
        for entry in sorted(os.listdir(source)):
            tar.add(os.path.join(source, entry), arcname=entry, filter=_anonymous)


def _sibling(target: str) -> str:
    """A hidden temporary name beside `target`: same filesystem, so the final rename is atomic."""
    return os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.restore-{secrets.token_hex(4)}")


def _restore_file(store: ObjectStore, key: _Key, info: CheckpointInfo, target: str) -> str:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temp = _sibling(target)
    try:
        with store.open(key.data) as source, Crc32() as crc, open(temp, "wb") as sink:
            reader = HashingReader(source, crc)
            while chunk := reader.read(CHUNK):
                sink.write(chunk)
            _verify(key, info, reader.size, crc)
        os.replace(temp, target)
    except BaseException:
        _remove(temp)
        raise
    return target


def _restore_dir(store: ObjectStore, key: _Key, info: CheckpointInfo, target: str) -> str:
    if os.path.exists(target) and not os.path.isdir(target):
        raise NotADirectoryError(f"cannot restore directory checkpoint {info.name!r} over the file {target}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temp = _sibling(target)
    try:
        with store.open(key.data) as source, Crc32() as crc:
            reader = HashingReader(source, crc)
            with tarfile.open(fileobj=reader, mode="r|", bufsize=1 << 20) as tar:  # type: ignore[call-overload]
                os.mkdir(temp)
                _extract(tar, temp)
            reader.drain()
            _verify(key, info, reader.size, crc)
        if not os.path.isdir(target):
            os.rename(temp, target)
            return target
        for entry in os.listdir(temp):
            _remove(os.path.join(target, entry))
            os.rename(os.path.join(temp, entry), os.path.join(target, entry))
        os.rmdir(temp)
    except tarfile.TarError as error:
        _remove(temp)
        raise _Corrupt(f"its archive is unreadable ({error})") from error
    except BaseException:
        _remove(temp)
        raise
    return target


def _extract(tar: tarfile.TarFile, dest: str) -> None:
    """Extract refusing paths that leave `dest` (tarfile's 'data' filter where Python has it)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return

    def checked() -> Iterator[tarfile.TarInfo]:
        for member in tar:
            for name in (member.name, member.linkname if member.issym() or member.islnk() else ""):
                if os.path.isabs(name) or ".." in name.split("/"):
                    raise tarfile.TarError(f"unsafe path in archive: {name!r}")
            yield member

    tar.extractall(dest, members=checked())


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)
