"""flytekit's own checkpoint tests, imports changed: a Flyte user's task runs as it is.

Ported from flytekit's tests/flytekit/unit/core/test_checkpoint.py
(https://github.com/flyteorg/flytekit/blob/master/tests/flytekit/unit/core/test_checkpoint.py).
Flyte's `SyncCheckpoint(checkpoint_dest=D, checkpoint_src=S)` is one node's checkpoint root here:
what an earlier attempt wrote (`checkpoint_src`) is what attempt 1 writes before attempt 2 opens
the same root. Deliberate differences, each noted where it shows: reading sees every earlier
write (this attempt's too), and restore() to a path that is not a directory restores the file
there instead of raising.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tether
from tether.runtime.checkpoint import Checkpoint, CheckpointKindError


def _checkpoint(root: Path, attempt: int = 1) -> Checkpoint:
    return Checkpoint.from_uri(str(root), attempt=attempt)


def _previous(root: Path, name: str, data: bytes) -> None:
    """What Flyte's checkpoint_src holds: one file an earlier attempt saved."""
    src = root.parent / f"{root.name}-src"
    src.mkdir(parents=True, exist_ok=True)
    (src / name).write_bytes(data)
    _checkpoint(root, attempt=1).save(src / name)


def test_sync_checkpoint_write(tmp_path: Path) -> None:
    cp = _checkpoint(tmp_path)
    assert cp.read() is None
    assert cp.restore() is None
    assert cp.commits() == []
    cp.write(b"bytes")
    assert [c.size for c in cp.commits()] == [5]
    assert cp.read() == b"bytes"  # Flyte reads only an earlier attempt's; tether reads the newest


def test_sync_checkpoint_save_file(tmp_path: Path) -> None:
    cp = _checkpoint(tmp_path / "dest")
    inp = tmp_path / "test"
    with inp.open("wb") as f:
        f.write(b"blah")
    with inp.open("rb") as f:
        cp.save(f)
    assert cp.read() == b"blah"
    assert [c.kind for c in cp.commits()] == ["file"]

    with pytest.raises(ValueError, match=r"^save\(\) takes a path \(str or os.PathLike\) or a binary file object, got type"):
        # Unsupported object
        cp.save(Checkpoint)  # type: ignore[arg-type]


def test_save_of_a_text_file_object_says_to_open_it_in_binary_mode(tmp_path: Path) -> None:
    inp = tmp_path / "test"
    inp.write_text("blah")
    with inp.open("r") as f, pytest.raises(ValueError, match=r"binary mode \('rb'\)"):
        _checkpoint(tmp_path / "dest").save(f)


def test_sync_checkpoint_save_filepath(tmp_path: Path) -> None:
    src_path = tmp_path / "src"
    src_path.mkdir(parents=True, exist_ok=True)
    chkpnt_path = tmp_path / "dest"
    cp = _checkpoint(chkpnt_path)
    inp = src_path / "test"
    with inp.open("wb") as f:
        f.write(b"blah")
    cp.save(inp)
    restored = tmp_path / "restored"
    restored.mkdir()
    assert cp.restore(restored) == restored
    assert (restored / "test").read_bytes() == b"blah"


def test_sync_checkpoint_restore(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    _previous(dest, "prev", b"prev-bytes")
    cp = _checkpoint(dest, attempt=2)
    user_dest = tmp_path / "user_dest"
    user_dest.mkdir()
    assert cp.restore(user_dest) == user_dest
    assert (user_dest / "prev").read_bytes() == b"prev-bytes"
    # Flyte raises ValueError for a path that is not a directory; tether restores the file there.
    assert cp.restore(tmp_path / "as-file") == tmp_path / "as-file"
    assert (tmp_path / "as-file").read_bytes() == b"prev-bytes"


def test_sync_checkpoint_restore_default_path(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    _previous(dest, "prev", b"prev-bytes")
    cp = _checkpoint(dest, attempt=2)
    assert cp.read() == b"prev-bytes"
    restored = cp.restore()
    assert restored is not None and restored.is_dir()
    assert [p.name for p in restored.iterdir()] == ["prev"]
    assert (restored / "prev").read_bytes() == b"prev-bytes"


def test_sync_checkpoint_read_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "dest").mkdir()
    cp = _checkpoint(tmp_path / "dest", attempt=2)
    assert cp.read() is None
    assert cp.restore() is None
    assert not cp.prev_exists()


def test_sync_checkpoint_read_multiple_files(tmp_path: Path) -> None:
    """Read can only work with one file: a saved directory is restored, not read."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "prev").write_bytes(b"prev-bytes")
    (src / "prev2").write_bytes(b"prev-bytes")
    _checkpoint(tmp_path / "dest").save(src)
    cp = _checkpoint(tmp_path / "dest", attempt=2)
    with pytest.raises(ValueError, match="use restore\\(path\\) to get it back") as raised:
        cp.read()
    assert isinstance(raised.value, CheckpointKindError)
    restored = cp.restore()
    assert restored is not None
    assert sorted(os.listdir(restored)) == ["prev", "prev2"]


@tether.task
def t1(n: int) -> int:
    ctx = tether.current_context()
    cp = ctx.checkpoint
    cp.write(bytes(n + 1))
    return n + 1


@tether.task(cache=True)
def t2(n: int) -> int:
    ctx = tether.current_context()
    cp = ctx.checkpoint
    cp.write(bytes(n + 1))
    return n + 1


def test_checkpoint_task() -> None:
    assert t1(n=5) == 6


def test_checkpoint_cached_task() -> None:
    assert t2(n=5) == 6


def test_commits_lists_seq_size_time_and_attempt(tmp_path: Path) -> None:
    _checkpoint(tmp_path, attempt=1).write(b"one")
    _checkpoint(tmp_path, attempt=2).write(b"three")
    commits = _checkpoint(tmp_path, attempt=3).commits()
    assert [(c.seq, c.attempt, c.size, c.kind) for c in commits] == [(1, 1, 3, "bytes"), (2, 2, 5, "bytes")]
    assert all(c.time is not None and c.time.endswith("Z") for c in commits)
