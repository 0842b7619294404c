"""Atomic, durable objects in one directory of a local disk or of any fsspec filesystem.

An object either exists whole under its final name or not at all, and it is durable once the
call that wrote it returns, apart from its name on a local disk, which `sync()` makes durable
(one directory fsync for all the objects just written, instead of one each):

- local disk: write to a temporary name in the same directory, fsync the file, rename it, fsync
  the directory. A rename is atomic, but neither the bytes nor the new name survive a power cut
  until they are fsynced.
- object stores (s3, gcs, memory): a PUT, or a completed multipart upload, is atomic, so the
  object is written under its final name directly.

Every object is checksummed while it streams, written or read (one pass, no second read), on a
helper thread so the hashing overlaps the I/O. The checksum is CRC-32: measured on the 2-core
build box, sha256 runs at ~1.0 GB/s, blake2b ~0.46 GB/s and zlib.crc32 ~1.9 GB/s, against
~1.4 GB/s for a raw read from the page cache: only CRC-32 is fast enough to hide behind the I/O.
It guards against corruption (a truncated copy, a flipped bit), which is all a checkpoint needs;
S3 and GCS use the same family (CRC-32/CRC-32C) for their own integrity checks.
"""

from __future__ import annotations

import io
import os
import posixpath
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    import fsspec

CHUNK = 8 << 20
"""Streaming unit: large enough that per-call overhead vanishes, small enough to bound memory."""

_OFFLOAD = 2 << 20
"""From this size a chunk is hashed on the helper thread; below it a thread costs more than it saves."""

_MAX_IN_FLIGHT = 4
"""Chunks queued for hashing at once: bounds the memory a slow hash can pin (4 x CHUNK)."""

Buffer = bytes | bytearray | memoryview


class Writer(Protocol):
    """What `ObjectStore.write` hands its producer: a sequential, checksummed output stream."""

    def write(self, chunk: Buffer) -> int: ...

    def tell(self) -> int: ...


@dataclass(frozen=True)
class Written:
    """What a data object holds: its size and checksum, recorded so a reader can verify it."""

    size: int
    checksum: str


class Crc32:
    """Running CRC-32 of a stream; large chunks are hashed on a helper thread, overlapping I/O.

    A chunk must not change after `update()` (pass bytes, or a view of a buffer nobody writes to
    until `digest()`): the helper thread may read it later. One helper thread hashes chunks in the
    order they came, so the running value is the CRC of the whole stream.
    """

    def __init__(self) -> None:
        self._value = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()

    def update(self, chunk: Buffer) -> None:
        while self._pending and self._pending[0].done():
            self._pending.popleft().result()
        if not self._pending and len(chunk) < _OFFLOAD:
            self._value = zlib.crc32(chunk, self._value)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="tether-crc32")
        if len(self._pending) >= _MAX_IN_FLIGHT:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._fold, chunk))

    def _fold(self, chunk: Buffer) -> None:
        self._value = zlib.crc32(chunk, self._value)  # releases the GIL for large buffers

    def digest(self) -> str:
        """Wait for queued chunks; the checksum as stored in commit records ('crc32:%08x')."""
        while self._pending:
            self._pending.popleft().result()
        return format_crc32(self._value)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()

    def __enter__(self) -> Crc32:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def format_crc32(value: int) -> str:
    return f"crc32:{value:08x}"


class _HashingWriter:
    """Counts and checksums every chunk on its way to `sink` (a raw fd or a file object)."""

    def __init__(self, sink: Callable[[memoryview], None], crc: Crc32) -> None:
        self._sink = sink
        self._crc = crc
        self._size = 0

    def write(self, chunk: Buffer) -> int:
        view = memoryview(chunk).cast("B")
        self._crc.update(view)
        self._sink(view)
        self._size += len(view)
        return len(view)

    def tell(self) -> int:
        return self._size


class HashingReader:
    """A read-only stream that checksums what passes through, for streaming restores."""

    def __init__(self, source: IO[bytes], crc: Crc32) -> None:
        self._source = source
        self._crc = crc
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._source.read(n)
        self._crc.update(chunk)
        self.size += len(chunk)
        return chunk

    def drain(self) -> None:
        """Read to the end, so the checksum covers the whole object (tar leaves padding unread)."""
        while self.read(CHUNK):
            pass


class ObjectStore(Protocol):
    """Flat, immutable objects under one root; names are plain basenames."""

    root: str

    def names(self) -> list[str]:
        """Every object name under the root (fresh, never cached); [] when the root is absent."""
        ...

    def write(self, name: str, produce: Callable[[Writer], object]) -> Written:
        """Create `name` atomically and durably from what `produce` writes; checksum it on the way."""
        ...

    def put(self, name: str, data: Buffer) -> Written:
        """Create `name` atomically and durably from one buffer; checksum it on the way."""
        ...

    def get(self, name: str) -> bytes:
        """A whole object, unverified (small objects); FileNotFoundError when absent."""
        ...

    def read(self, name: str) -> tuple[bytes, str]:
        """A whole object and the checksum of what was read; FileNotFoundError when absent."""
        ...

    def open(self, name: str) -> IO[bytes]:
        """A sequential reader, for streaming an object somewhere else."""
        ...

    def size(self, name: str) -> int: ...

    def delete(self, name: str) -> None:
        """Remove an object; absent is fine."""
        ...

    def sync(self) -> None:
        """Make the names of every object written so far durable (a local directory fsync)."""
        ...


def write_all(fd: int, data: Buffer) -> None:
    """os.write until everything is written (a single write may be short)."""
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: str) -> None:
    """Make the directory's entries (a new or renamed name) survive a power cut."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_durable(path: str) -> None:
    """os.makedirs, then fsync each parent that gained an entry, so the new path survives a crash."""
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise
        fsync_dir(os.path.dirname(directory))


class LocalStore:
    """Objects as files in one local directory: temp name, fsync, rename, fsync the directory."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def _path(self, name: str) -> str:
        return os.path.join(self.root, name)

    @staticmethod
    def temp_name(name: str) -> str:
        """Where `name` is written before its rename; hidden, and unique because `name` is."""
        return f".{name}.tmp"

    def names(self) -> list[str]:
        try:
            return os.listdir(self.root)
        except FileNotFoundError:
            return []

    def write(self, name: str, produce: Callable[[Writer], object]) -> Written:
        makedirs_durable(self.root)
        temp = self._path(self.temp_name(name))
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            with Crc32() as crc:
                writer = _HashingWriter(lambda view: write_all(fd, view), crc)
                produce(writer)
                os.fsync(fd)  # before digest(): the checksum thread keeps hashing while the disk works
                written = Written(writer.tell(), crc.digest())
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        os.rename(temp, self._path(name))
        return written

    def put(self, name: str, data: Buffer) -> Written:
        return self.write(name, lambda out: out.write(data))

    def get(self, name: str) -> bytes:
        with open(self._path(name), "rb") as f:
            return f.read()

    def read(self, name: str) -> tuple[bytes, str]:
        with open(self._path(name), "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            if size < _OFFLOAD:
                data = f.read()
                return data, format_crc32(zlib.crc32(data))
            return _read_hashing(f, size)

    def open(self, name: str) -> IO[bytes]:
        return open(self._path(name), "rb")

    def size(self, name: str) -> int:
        return os.stat(self._path(name)).st_size

    def delete(self, name: str) -> None:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            pass

    def sync(self) -> None:
        fsync_dir(self.root)


def _read_hashing(f: io.FileIO, size: int) -> tuple[bytes, str]:
    """Read a whole file in one copy, hashing each chunk on the helper thread as the next is read.

    The bytes returned are the bytes hashed: the file is read straight into the storage of the
    bytes object that BytesIO.getvalue() then hands over without copying (CPython returns its
    buffer when nothing else holds a view of it; elsewhere it copies, still correctly). The
    buffer starts as bytes(size), which calloc backs with untouched zero pages: no memset.
    """
    buffer = io.BytesIO(bytes(size))
    view = buffer.getbuffer()
    filled = 0
    with Crc32() as crc:
        while filled < size:
            n = f.readinto(view[filled : filled + CHUNK])
            if not n:
                break  # shorter than it was: the caller sees the size mismatch
            crc.update(view[filled : filled + n])
            filled += n
        checksum = crc.digest()
    view.release()  # the chunk views died with their hashing; now getvalue() need not copy
    data = buffer.getvalue()
    return (data if filled == size else data[:filled]), checksum


class FsspecStore:
    """Objects on any fsspec filesystem (s3, gcs, memory): each PUT is atomic, so no temp names."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    def _path(self, name: str) -> str:
        return posixpath.join(self.root, name)

    def names(self) -> list[str]:
        self.fs.invalidate_cache(self.root)  # another process may have written since we looked
        try:
            paths = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        return [posixpath.basename(str(p).rstrip("/")) for p in paths]

    def write(self, name: str, produce: Callable[[Writer], object]) -> Written:
        path = self._path(name)
        f = self.fs.open(path, "wb")
        try:
            with Crc32() as crc:
                writer = _HashingWriter(f.write, crc)
                produce(writer)
                written = Written(writer.tell(), crc.digest())
        except BaseException:
            # Closing would publish a partial object; it has no commit record either way, and
            # the next commit's retention removes it if the delete below cannot.
            _discard(f)
            self.delete(name)
            raise
        f.close()  # completes the PUT: the object appears whole, or not at all
        return written

    def put(self, name: str, data: Buffer) -> Written:
        # One PUT of the whole buffer (s3fs uploads large ones as concurrent multipart parts),
        # checksummed on the helper thread meanwhile.
        payload = data if isinstance(data, bytes) else bytes(data)
        with Crc32() as crc:
            crc.update(payload)
            self.fs.pipe_file(self._path(name), payload)
            return Written(len(payload), crc.digest())

    def get(self, name: str) -> bytes:
        return bytes(self.fs.cat_file(self._path(name)))

    def read(self, name: str) -> tuple[bytes, str]:
        data = self.get(name)
        return data, format_crc32(zlib.crc32(data))

    def open(self, name: str) -> IO[bytes]:
        return self.fs.open(self._path(name), "rb", block_size=CHUNK)  # type: ignore[no-any-return]

    def size(self, name: str) -> int:
        return int(self.fs.info(self._path(name))["size"])

    def delete(self, name: str) -> None:
        try:
            self.fs.rm_file(self._path(name))
        except FileNotFoundError:
            pass

    def sync(self) -> None:
        """Nothing to do: an object store makes an object's name durable with the object."""


def _discard(f: object) -> None:
    """Abandon an unfinished fsspec upload without publishing it (s3fs aborts the multipart)."""
    try:
        discard = getattr(f, "discard", None)
        if callable(discard):
            discard()
        f.closed = True  # type: ignore[attr-defined]  # so a later close() or __del__ uploads nothing
    except Exception:  # the write is already failing; its original error is the one to raise
        pass
