"""Durable writes of whole files on a local disk, for the run store: a reader never sees half a
record, and a crash at any instant leaves either the old file or the new one.

- `write_replacing`: temp file in the same directory, fsync, rename, fsync the directory.
- `write_if_absent`: the same temp file hard-linked into place, so of two writers exactly one
  creates the record (the local form of S3's `If-None-Match: *`).
"""

from __future__ import annotations

import os
import tempfile


def _durable_temp(directory: str, data: bytes) -> str:
    """`data` in a new fsynced temporary file inside `directory` (created if need be); its path."""
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_replacing(path: str, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename, fsync the directory: all or nothing."""
    from .atomic import fsync_dir  # the checkpoint module's; imported here to keep start-up light

    directory = os.path.dirname(path)
    tmp = _durable_temp(directory, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(directory)


def write_if_absent(path: str, data: bytes) -> bool:
    """Write `path` only if it does not exist: a whole temp file hard-linked into place."""
    from .atomic import fsync_dir

    directory = os.path.dirname(path)
    tmp = _durable_temp(directory, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        _unlink_quietly(tmp)
    fsync_dir(directory)
    return True


__all__ = ["write_if_absent", "write_replacing"]
