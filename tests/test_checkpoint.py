"""The checkpoint contract on a local directory, fsspec memory:// and S3 (a real moto server)."""

from __future__ import annotations

import os
import posixpath
import uuid
import zlib
from pathlib import Path
from typing import Callable, Iterator

import fsspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.runtime.atomic import Crc32, format_crc32
from tether.runtime.checkpoint import Checkpoint, CheckpointKindError, CheckpointWarning

Make = Callable[..., Checkpoint]
BIG = 5 << 20  # above the size where checksums move to a helper thread


@pytest.fixture(params=["file", "memory", "s3"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    """A factory of Checkpoints (one per attempt) sharing one fresh root on the given store."""
    options: dict = {}
    if request.param == "file":
        uri = str(tmp_path / "runs" / "r1" / "nodes" / "train" / "checkpoints")
    elif request.param == "memory":
        uri = f"memory://tether-tests/{uuid.uuid4().hex}/checkpoints"
    else:
        bucket, options = request.getfixturevalue("s3_bucket")
        uri = f"{bucket}/runs/r1/nodes/train/checkpoints"

    def make(attempt: int = 1, keep: int = 3) -> Checkpoint:
        return Checkpoint.from_uri(uri, attempt=attempt, keep=keep, storage_options=options)

    yield make
    if request.param == "memory":
        fs = fsspec.filesystem("memory")
        if fs.exists(uri):
            fs.rm(uri, recursive=True)


def objects(cp: Checkpoint, suffix: str) -> list[str]:
    """Full paths of the objects under the checkpoint root ending with `suffix`, oldest first."""
    cp.fs.invalidate_cache(cp.root)
    try:
        paths = cp.fs.ls(cp.root, detail=False)
    except FileNotFoundError:
        return []
    return sorted(str(p) for p in paths if posixpath.basename(str(p)).endswith(suffix))


def tree(path: Path) -> dict[str, bytes | None]:
    """Every entry under `path`: file contents, None for a directory."""
    return {
        str(p.relative_to(path)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(path.rglob("*"))
    }


def test_nothing_written_reads_as_none(make: Make, tmp_path: Path) -> None:
    cp = make()
    assert cp.read() is None
    assert cp.prev_exists() is False
    assert cp.latest() is None
    assert cp.restore(tmp_path / "restored") is None
    assert not (tmp_path / "restored").exists()


def test_a_later_attempt_reads_what_an_earlier_one_wrote(make: Make) -> None:
    make(attempt=1).write(b"epoch 1")
    second = make(attempt=2)
    assert second.prev_exists()
    assert second.read() == b"epoch 1"
    second.write(b"epoch 2")
    third = make(attempt=3)
    assert third.read() == b"epoch 2"
    info = third.latest()
    assert info is not None
    assert (info.seq, info.attempt, info.kind, info.size, info.name) == (2, 2, "bytes", 7, None)


def test_an_attempt_that_wrote_nothing_does_not_hide_older_checkpoints(make: Make) -> None:
    make(attempt=1).write(b"state")
    assert make(attempt=2).read() == b"state"  # attempt 2 crashed before writing anything
    assert make(attempt=3).read() == b"state"  # unlike Flyte, attempt 3 still sees attempt 1's


def test_newest_wins_and_sequence_grows(make: Make) -> None:
    cp = make(keep=10)
    for i in range(1, 6):
        cp.write(f"step {i}".encode())
        info = cp.latest()
        assert info is not None and info.seq == i
    assert cp.read() == b"step 5"


def test_an_empty_checkpoint_is_not_the_absence_of_one(make: Make) -> None:
    cp = make()
    cp.write(b"")
    assert cp.read() == b""
    assert cp.prev_exists()


def test_large_checkpoint_round_trips(make: Make) -> None:
    payload = os.urandom(BIG) + b"tail"
    cp = make()
    cp.write(payload)
    assert make(attempt=2).read() == payload


def test_retention_keeps_the_newest_k(make: Make) -> None:
    cp = make(keep=2)
    for i in range(5):
        cp.write(b"v%d" % i)
    cp.close()  # retention deletes on a background thread
    assert len(objects(cp, ".commit")) == 2
    assert len(objects(cp, ".data")) == 2
    assert cp.read() == b"v4"


def test_leaving_the_context_waits_for_retention(make: Make) -> None:
    with make(keep=1) as cp:
        for i in range(3):
            cp.write(os.urandom(BIG))
    assert len(objects(cp, ".data")) == 1


def test_retention_removes_leftovers_of_crashed_writers(make: Make) -> None:
    cp = make()
    cp.write(b"committed")
    orphan = posixpath.join(cp.root, "000000000002-a1-0badc0de.data")  # data, no commit record
    cp.fs.pipe_file(orphan, b"half a checkpoint")
    assert cp.read() == b"committed"
    cp.write(b"next")
    cp.close()
    info = cp.latest()
    assert info is not None and info.seq == 3  # never reuses a sequence number an orphan holds
    cp.fs.invalidate_cache(cp.root)
    assert not cp.fs.exists(orphan)
    assert cp.read() == b"next"


def test_local_temp_files_of_a_crashed_writer_are_ignored_then_removed(tmp_path: Path) -> None:
    cp = Checkpoint.from_uri(str(tmp_path))
    cp.write(b"committed")
    temp = tmp_path / ".000000000002-a1-0badc0de.data.tmp"
    temp.write_bytes(b"torn")
    assert cp.read() == b"committed"
    cp.write(b"next")
    cp.close()
    assert not temp.exists()
    assert sorted(p.name.split(".")[-1] for p in tmp_path.iterdir()) == ["commit", "commit", "data", "data"]


def test_save_and_restore_a_file(make: Make, tmp_path: Path) -> None:
    source = tmp_path / "model.pt"
    source.write_bytes(os.urandom(BIG))
    cp = make()
    cp.save(source)
    later = make(attempt=2)
    restored = later.restore(tmp_path / "elsewhere" / "copy.pt")
    assert restored == str(tmp_path / "elsewhere" / "copy.pt")
    assert Path(restored).read_bytes() == source.read_bytes()
    # Flyte-style restore into a directory puts the file there under its saved name.
    (tmp_path / "into").mkdir()
    assert later.restore(tmp_path / "into") == str(tmp_path / "into")  # Flyte returns the directory it restored into
    assert (tmp_path / "into" / "model.pt").read_bytes() == source.read_bytes()
    assert later.read() == source.read_bytes()  # a saved file reads as its bytes
    info = later.latest()
    assert info is not None and (info.kind, info.name) == ("file", "model.pt")


def test_save_and_restore_a_directory_tree(make: Make, tmp_path: Path) -> None:
    source = tmp_path / "state"
    (source / "shards" / "deep").mkdir(parents=True)
    (source / "empty").mkdir()
    (source / "meta.json").write_text('{"epoch": 3}')
    (source / "shards" / "0.bin").write_bytes(os.urandom(BIG))
    (source / "shards" / "deep" / "1.bin").write_bytes(b"\x00" * 1000)
    cp = make()
    cp.save(source)

    restored = make(attempt=2).restore(tmp_path / "new")
    assert restored == str(tmp_path / "new")
    assert tree(tmp_path / "new") == tree(source)
    assert tree(source)["empty"] is None


def test_restoring_a_directory_into_an_existing_one_replaces_same_named_entries(make: Make, tmp_path: Path) -> None:
    source = tmp_path / "state"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a").write_bytes(b"new a")
    (source / "b").write_bytes(b"new b")
    make().save(source)
    target = tmp_path / "workdir"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "stale").write_bytes(b"stale")
    (target / "unrelated").write_bytes(b"kept")
    make(attempt=2).restore(target)
    assert tree(target) == {"b": b"new b", "sub": None, "sub/a": b"new a", "unrelated": b"kept"}


def test_saving_the_same_tree_twice_stores_the_same_archive(make: Make, tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "f").write_bytes(b"x" * 10_000)
    (tmp_path / "d" / "g").write_bytes(b"y")
    cp = make()
    cp.save(tmp_path / "d")
    first = cp.latest()
    cp.save(tmp_path / "d")
    second = cp.latest()
    assert first is not None and second is not None and second.seq == first.seq + 1
    assert (second.size, second.checksum) == (first.size, first.checksum)


def test_a_directory_is_not_restored_over_a_file(make: Make, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    make().save(tmp_path / "d")
    (tmp_path / "a-file").write_bytes(b"mine")
    with pytest.raises(NotADirectoryError):
        make().restore(tmp_path / "a-file")
    assert (tmp_path / "a-file").read_bytes() == b"mine"


def test_read_of_a_directory_checkpoint_says_to_restore_it(make: Make, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    cp = make()
    cp.write(b"older bytes")
    cp.save(tmp_path / "d")
    with pytest.raises(CheckpointKindError, match=r"restore\(path\)"):
        cp.read()


def test_write_and_save_mix(make: Make, tmp_path: Path) -> None:
    cp = make()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"in a dir")
    cp.save(tmp_path / "d")
    cp.write(b"bytes after a directory")
    assert cp.read() == b"bytes after a directory"
    restored = cp.restore(tmp_path / "as-file")
    assert restored is not None and Path(restored).read_bytes() == b"bytes after a directory"
    (tmp_path / "f").write_bytes(b"a saved file")
    cp.save(tmp_path / "f")
    assert make(attempt=2).read() == b"a saved file"


def flip_a_byte(cp: Checkpoint, path: str) -> None:
    data = bytearray(cp.fs.cat_file(path))
    data[len(data) // 2] ^= 0xFF
    cp.fs.pipe_file(path, bytes(data))


@pytest.mark.parametrize("size", [100, BIG])
def test_a_corrupt_newest_falls_back_to_the_one_before(make: Make, size: int) -> None:
    cp = make()
    older, newer = os.urandom(size), os.urandom(size)
    cp.write(older)
    cp.write(newer)
    flip_a_byte(cp, objects(cp, ".data")[-1])
    with pytest.warns(CheckpointWarning, match="seq 2 .*does not match"):
        assert make(attempt=2).read() == older


def test_a_corrupt_newest_is_not_restored(make: Make, tmp_path: Path) -> None:
    source = tmp_path / "d"
    source.mkdir()
    (source / "f").write_bytes(b"first")
    cp = make()
    cp.save(source)
    (source / "f").write_bytes(b"second")
    cp.save(source)
    flip_a_byte(cp, objects(cp, ".data")[-1])
    with pytest.warns(CheckpointWarning, match="seq 2"):
        assert cp.restore(tmp_path / "out") == str(tmp_path / "out")
    assert tree(tmp_path / "out") == {"f": b"first"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_a_truncated_newest_falls_back(make: Make) -> None:
    cp = make()
    cp.write(b"whole")
    cp.write(b"also whole")
    newest = objects(cp, ".data")[-1]
    cp.fs.pipe_file(newest, b"also")
    with pytest.warns(CheckpointWarning):
        assert cp.latest() is not None and cp.latest().seq == 1  # type: ignore[union-attr]
    with pytest.warns(CheckpointWarning):
        assert cp.read() == b"whole"


def test_a_commit_record_without_data_is_ignored(make: Make, tmp_path: Path) -> None:
    cp = make()
    cp.write(b"one")
    cp.write(b"two")
    cp.fs.rm_file(objects(cp, ".data")[-1])
    with pytest.warns(CheckpointWarning, match="missing"):
        assert cp.read() == b"one"
    with pytest.warns(CheckpointWarning, match="missing"):
        restored = cp.restore(tmp_path / "r")
    assert restored is not None and Path(restored).read_bytes() == b"one"
    cp.fs.rm_file(objects(cp, ".data")[-1])
    with pytest.warns(CheckpointWarning):
        assert cp.prev_exists() is False
    with pytest.warns(CheckpointWarning):
        assert cp.read() is None


def test_an_unreadable_commit_record_is_skipped_and_outnumbered(make: Make) -> None:
    cp = make()
    cp.write(b"good")
    cp.fs.pipe_file(posixpath.join(cp.root, "000000000009-a1-00000000.commit"), b"{not json")
    with pytest.warns(CheckpointWarning, match="seq 9 .*unreadable"):
        assert cp.read() == b"good"
    cp.write(b"newer")
    info = cp.latest()
    assert info is not None and info.seq == 10
    assert cp.read() == b"newer"


def test_uri_forms_reach_the_same_local_checkpoints(tmp_path: Path) -> None:
    Checkpoint.from_uri(str(tmp_path / "c")).write(b"x")
    assert Checkpoint.from_uri(f"file://{tmp_path / 'c'}").read() == b"x"
    assert Checkpoint(fsspec.filesystem("file"), str(tmp_path / "c")).read() == b"x"


@pytest.mark.parametrize("kwargs", [{"attempt": 0}, {"keep": 0}])
def test_invalid_arguments_are_refused(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Checkpoint.from_uri(str(tmp_path), **kwargs)


def test_write_refuses_text(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="bytes"):
        Checkpoint.from_uri(str(tmp_path)).write("10")  # type: ignore[arg-type]


def test_saving_a_missing_path_writes_nothing(make: Make, tmp_path: Path) -> None:
    cp = make()
    with pytest.raises(FileNotFoundError):
        cp.save(tmp_path / "absent")
    assert objects(cp, "") == []


writes = st.lists(st.tuples(st.integers(1, 4), st.binary(max_size=64)), min_size=1, max_size=8)


@given(writes=writes)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_interleaving_of_attempts_reads_the_last_write(make: Make, writes: list[tuple[int, bytes]]) -> None:
    """Writers of several attempts (zombies included), in any order: read() is the last write."""
    base = make()
    root = posixpath.join(base.root, uuid.uuid4().hex)
    for attempt, payload in writes:
        Checkpoint(base.fs, root, attempt=attempt, keep=2).write(payload)
    reader = Checkpoint(base.fs, root, attempt=5)
    assert reader.read() == writes[-1][1]
    info = reader.latest()
    assert info is not None and (info.seq, info.attempt) == (len(writes), writes[-1][0])


@given(cuts=st.lists(st.integers(0, 7 << 20), max_size=6))
@settings(max_examples=20, deadline=None)
def test_a_checksum_streamed_in_any_chunks_is_the_checksum_of_the_whole(cuts: list[int]) -> None:
    """Chunks above the offload size go to the helper thread, small ones may not: order holds."""
    data = bytes(range(256)) * ((7 << 20) // 256)
    bounds = [0, *sorted(cuts), len(data)]
    with Crc32() as crc:
        for start, end in zip(bounds, bounds[1:]):
            crc.update(memoryview(data)[start:end])
        assert crc.digest() == format_crc32(zlib.crc32(data))
