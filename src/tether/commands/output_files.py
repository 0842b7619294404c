"""Files the CLI writes for the user (graph and report pages, compiled manifests).

Each is written to a temporary file in its own directory and renamed over the target, so a
reader (a browser, Argo CD, `kubectl apply -f`) never sees half a file; a symlink is followed (the
file it names is replaced, the link kept) and a FIFO or device is written through, never replaced. The temporary file is
created with `os.open(..., 0o666)`, so the kernel applies the umask exactly as for any other new
file (0644 under umask 022): `tempfile.mkstemp` would give 0600, which a GitOps checkout, a web
server or a colleague then cannot read. No `os.umask` call: reading the umask that way changes
it for the whole process for a moment.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_temporary(path: Path, data: bytes) -> Path:
    """`data` in a new file next to `path` (mode 0o666 less the umask), not yet renamed.
    Raises OSError (the temporary file removed) when it cannot be written, e.g. a full disk;
    IsADirectoryError when `path` is a directory, which the rename would fail on."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    while True:
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            fd = os.open(temporary, _CREATE, 0o666)
        except FileExistsError:
            continue  # a leftover of a killed writer with a reused pid: pick another name
        break
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
    except BaseException:
        discard(temporary)
        raise
    return temporary


def target_of(path: Path) -> Path:
    """Where writing `path` must land: a symlink's resolved target (the link stays a link)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def is_special(path: Path) -> bool:
    """A FIFO, a device or a socket: written through, never renamed over (`-o /dev/stdout`,
    a named pipe a viewer reads), or the rename would put a regular file in its place."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename (at a symlink's target); a FIFO or a device is
    written through instead; on OSError nothing is left behind."""
    target = target_of(path)
    if is_special(target):
        with open(target, "wb") as stream:
            stream.write(data)
        return
    temporary = write_temporary(target, data)
    try:
        os.replace(temporary, target)
    except BaseException:
        discard(temporary)
        raise


def discard(path: Path) -> None:
    """Remove a temporary file, ignoring one already gone."""
    try:
        os.unlink(path)
    except OSError:
        pass


def reason(exc: OSError, path: Path | str) -> str:
    """The OS's reason, naming the file it is about when that is not `path` itself nor one of
    its temporary files (a parent that is a file, say): "Permission denied",
    "out/sub: Not a directory"."""
    text = exc.strerror or str(exc)
    culprit = exc.filename
    target = Path(path)
    if exc.errno == errno.ENOENT and not target.parent.exists():
        return f"the directory {target.parent} does not exist"
    if culprit is None:
        return text
    culprit_path = Path(os.fsdecode(culprit))
    if culprit_path == target or (culprit_path.parent == target.parent and culprit_path.name.startswith(f".{target.name}.tmp-")):
        return text
    return f"{culprit_path}: {text}"


def unwritable(output: str) -> str | None:
    """Why `output` cannot be written as a file, checked before long work (a run) so the
    mistake shows at once rather than at the end: None when it looks writable."""
    path = Path(output)
    if path.is_dir():
        return "is a directory"
    parent = path.parent
    if not parent.exists():
        return f"the directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the directory {parent} is not writable"
    return None


__all__ = ["discard", "reason", "unwritable", "write_atomically", "write_temporary"]
