"""A damaged or failing run store is reported, never raised.

- A journal entry that cannot be read (truncated, empty, binary, not an object, a body that
  contradicts its name) is a warning naming the file, read as a start without an end: the
  resume goes on and charges the task nothing.
- A damaged run.json is one clear error, exit 1, no traceback.
- A full disk (a real tmpfs filled by the task), and an S3 endpoint that goes away (a moto
  server stopped mid-run, a closed loopback port), end the run with one error naming the store;
  the attempt caught in it is not charged, and the run resumes once the store is back.
- A checkpoint commit record that names another checkpoint is not trusted.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import tether
from tether.runtime.store import DamagedRecord, RunStore, StoreFailure

STEPS = '''
import os, time

def one() -> int:
    return 1

def fill(path: str) -> int:
    """Fill the disk the store is on, then return: writing the outputs meets ENOSPC."""
    if os.path.isdir(path):  # the test's way of saying "not this time"
        return 1
    chunk = b"x" * 65536
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError:
            pass
    return 1

def wait_for(path: str) -> int:
    while not os.path.exists(path):
        time.sleep(0.02)
    return 1
'''


def _spec(tmp_path: Path, python: str, inputs: str = "{}") -> Path:
    (tmp_path / "dsteps.py").write_text(STEPS)
    spec = tmp_path / "damaged.yaml"
    spec.write_text(
        "apiVersion: tether/v1\nkind: Workflow\nmetadata: {name: damaged}\nspec:\n"
        "  inputs: {path: {type: str, default: unused}}\n  tasks:\n"
        f"    work:\n      python: {python}\n      inputs: {inputs}\n      outputs: {{n: int}}\n"
    )
    return spec


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


# ---------------------------------------------------------------------------- journal entries

DAMAGE = {
    "empty": b"",
    "truncated": b'{"attempt": 1, "event": "end", "outc',
    "binary": bytes(range(256)),
    "not_an_object": b"[1, 2, 3]",
    "wrong_outcome": b'{"attempt": 1, "event": "end", "outcome": "bogus"}',
    "wrong_type": b'{"attempt": 1, "event": "end", "outcome": "success", "exit_code": "zero"}',
    "deep": b"[" * 100_000,
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding run r1, whose one task succeeded; each test damages a copy of it."""
    from conftest import ROOT

    base = tmp_path_factory.mktemp("finished")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}
    env.pop("TETHER_STORE", None)
    spec = _spec(base, "dsteps:one")
    argv = ["run", str(spec), "--store", str(base / "store"), "--run-id", "r1"]
    first = tether([sys.executable, "-m", "tether"], env, *argv)
    assert first.returncode == 0, first.stderr
    return base


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("entry", ["0001-start.json", "0001-end-success.json"])
def test_a_damaged_journal_entry_is_a_warning_and_the_resume_goes_on(
    damage: str, entry: str, finished_run: Path, tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    shutil.copytree(finished_run / "store", store_dir)
    # As if the run had been killed while its records were half-written: no outputs, a bad entry.
    node = store_dir / "runs" / "r1" / "nodes" / "work"
    (node / "outputs.json").unlink()
    if entry.endswith("start.json"):  # killed before its end was written
        (node / "journal" / "0001-end-success.json").unlink()
    (node / "journal" / entry).write_bytes(DAMAGE[damage])
    resumed = tether(tether_cmd, tether_env, "run", "--resume", "r1", "--store", str(store_dir), "--json")
    _no_traceback(resumed)
    assert resumed.returncode == 0, resumed.stderr
    assert "warning: damaged record" in resumed.stderr and entry in resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    attempts = RunStore(str(store_dir)).attempts("r1", "work")
    assert [a.outcome for a in attempts] == ["cancelled", "success"]  # the unreadable one charged nothing


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), end=st.booleans())
def test_attempts_never_raise_on_any_bytes(data: bytes, end: bool, tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "store"))
    journal = Path(store.node_dir("r", "t")) / "journal"
    journal.mkdir(parents=True, exist_ok=True)
    for stale in journal.iterdir():
        stale.unlink()
    (journal / ("0001-end-fatal.json" if end else "0001-start.json")).write_bytes(data)
    (attempt,) = store.attempts("r", "t")
    assert attempt.number == 1
    assert attempt.outcome in (None, "fatal")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_damaged_record_reads_as_absent(data: bytes, tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "store"))
    path = Path(store.node_dir("r", "t")) / "outputs.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    outputs = store.read_outputs("r", "t")
    assert outputs is None or isinstance(outputs, dict)


# ---------------------------------------------------------------------------- run.json

RUN_JSON_DAMAGE = {
    "empty": b"",
    "truncated": b'{"ir": {"name": "dam',
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
    "missing_keys": b"{}",
    "wrong_shapes": b'{"ir": 5, "params": [], "spec": 1, "code_paths": 2, "created": 3}',
}


@pytest.mark.parametrize("damage", sorted(RUN_JSON_DAMAGE))
def test_a_damaged_run_json_is_one_clear_error(
    damage: str, tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    run_json = store_dir / "runs" / "r1" / "run.json"
    run_json.parent.mkdir(parents=True)
    run_json.write_bytes(RUN_JSON_DAMAGE[damage])
    resumed = tether(tether_cmd, tether_env, "run", "--resume", "r1", "--store", str(store_dir))
    _no_traceback(resumed)
    assert resumed.returncode == 1
    assert "damaged record" in resumed.stderr and "run.json" in resumed.stderr
    assert "cannot be resumed" in resumed.stderr
    with pytest.raises(DamagedRecord):
        RunStore(str(store_dir)).load_run("r1")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_damaged_run_json_is_a_damaged_record(data: bytes, tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "store"))
    path = Path(store.run_path("r1")) / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with pytest.raises(DamagedRecord, match="run.json"):
        store.load_run("r1")


# ---------------------------------------------------------------------------- store failures


def test_an_attempt_that_cannot_write_its_outputs_fails_the_run_and_is_not_charged(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    """One record the store refuses (a directory where outputs.json goes): the attempt exits
    74, the run fails with the store's error, status.json says failed, and after the repair the
    resumed run completes a `retries: 0` task."""
    store_dir = tmp_path / "store"
    blocker = store_dir / "runs" / "r1" / "nodes" / "work" / "outputs.json"
    blocker.mkdir(parents=True)
    spec = _spec(tmp_path, "dsteps:one")
    failed = tether(tether_cmd, tether_env, "run", str(spec), "--store", str(store_dir), "--run-id", "r1")
    _no_traceback(failed)
    assert failed.returncode == 1
    assert f"the run store {store_dir} failed: cannot read runs/r1/nodes/work/outputs.json" in failed.stderr
    assert "not charged to the task" in failed.stderr
    store = RunStore(str(store_dir))
    assert (store.read_status("r1") or {}).get("status") == "failed"
    assert [a.outcome for a in store.attempts("r1", "work")] == ["cancelled"]
    blocker.rmdir()
    resumed = tether(tether_cmd, tether_env, "run", "--resume", "r1", "--store", str(store_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert [a.outcome for a in store.attempts("r1", "work")] == ["cancelled", "success"]


# ---------------------------------------------------------------------------- a full disk


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 1 MiB tmpfs: a real disk that a task can fill (needs root, as in CI's container)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_run_clearly_and_charges_nothing(
    tiny_disk: Path, tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store_dir = tiny_disk / "store"
    filler = tiny_disk / "filler"
    spec = _spec(tmp_path, "dsteps:fill", '{path: "${{ inputs.path }}"}')
    argv = ["run", str(spec), "--store", str(store_dir), "--run-id", "full", "-p", f"path={filler}"]
    failed = tether(tether_cmd, tether_env, *argv)
    _no_traceback(failed)
    assert failed.returncode == 1, failed.stderr
    assert f"the run store {store_dir} failed" in failed.stderr
    assert "No space left on device" in failed.stderr
    filler.unlink()  # the disk has room again; the task (retries: 0) was charged nothing
    filler.mkdir()  # and the next attempt's fill() meets a directory: it returns at once
    resumed = tether(tether_cmd, tether_env, "run", "--resume", "full", "--store", str(store_dir), "--json")
    _no_traceback(resumed)
    assert resumed.returncode == 0, resumed.stderr
    outcomes = [a.outcome for a in RunStore(str(store_dir)).attempts("full", "work")]
    assert outcomes == ["cancelled", "success"]


# ---------------------------------------------------------------------------- S3 going away


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _s3_env(env: dict[str, str], endpoint: str) -> dict[str, str]:
    options = {
        "client_kwargs": {"endpoint_url": endpoint},
        "key": "testing",
        "secret": "testing",
        "config_kwargs": {"connect_timeout": 1, "read_timeout": 5, "retries": {"total_max_attempts": 1}},
    }
    return {**env, "TETHER_STORE_OPTIONS": json.dumps(options), "TETHER_STORE_RETRIES": "1"}


def test_an_unreachable_endpoint_is_one_error_naming_the_store(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    env = _s3_env(tether_env, f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    spec = _spec(tmp_path, "dsteps:one")
    for argv in (["run", str(spec), "--run-id", "r1"], ["run", "--resume", "r1"]):
        result = tether(tether_cmd, env, *argv, "--store", "s3://nowhere/runs")
        _no_traceback(result)
        assert result.returncode == 1, result.stderr
        assert "the run store s3://nowhere/runs failed" in result.stderr
        assert "after 2 tries" in result.stderr  # the transient error was retried


def test_an_endpoint_that_goes_away_mid_run_fails_the_run_and_charges_nothing(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    moto_server = pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = _s3_env(tether_env, endpoint)
        options = json.loads(env["TETHER_STORE_OPTIONS"])
        s3fs.S3FileSystem(**options).mkdir("away")
        marker = tmp_path / "go"
        spec = _spec(tmp_path, "dsteps:wait_for", '{path: "${{ inputs.path }}"}')
        argv = [*tether_cmd, "run", str(spec), "--store", "s3://away/x", "--run-id", "r1", "-p", f"path={marker}"]
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        store = RunStore("s3://away/x", options)
        give_up = time.monotonic() + 60
        while not store.attempts("r1", "work"):  # the attempt has started
            assert time.monotonic() < give_up and process.poll() is None
            time.sleep(0.05)
        server.stop()  # the endpoint goes away; then the task returns and must write its outputs
        marker.touch()
        stdout, stderr = process.communicate(timeout=120)
        assert "Traceback" not in stderr + stdout, stderr
        assert process.returncode == 1, stderr
        assert "the run store s3://away/x failed" in stderr, stderr
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()  # the same moto backend, so the store's objects are all still there
        resumed = tether(tether_cmd, env, "run", "--resume", "r1", "--store", "s3://away/x", "--json")
        _no_traceback(resumed)
        assert resumed.returncode == 0, resumed.stderr
        outcomes = [a.outcome for a in RunStore("s3://away/x", options).attempts("r1", "work")]
        assert outcomes == ["cancelled", "success"]
    finally:
        server.stop()


def test_a_store_failure_is_a_store_failure_not_a_crash(tmp_path: Path) -> None:
    """A path where a directory should be: the OSError is a StoreFailure naming the store."""
    store = RunStore(str(tmp_path / "store"))
    (tmp_path / "store" / "runs").mkdir(parents=True)
    (tmp_path / "store" / "runs" / "r1").write_text("a file, not a directory")
    with pytest.raises(StoreFailure, match=r"the run store .* failed: cannot write runs/r1/status.json"):
        store.write_status("r1", {"status": "running"})


# ---------------------------------------------------------------------------- spooled logs


def test_a_log_left_in_the_spool_is_uploaded_on_resume(
    s3_bucket: tuple[str, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, options = s3_bucket
    monkeypatch.setenv("TETHER_SPOOL", str(tmp_path / "spool"))
    store = RunStore(f"{uri}/x", options)
    spooled = Path(store.log_spool_path("r1", "train[2]", 3))
    assert spooled.is_relative_to(Path(os.environ["TETHER_SPOOL"]))
    spooled.parent.mkdir(parents=True)
    spooled.write_bytes(b"the last words of a killed attempt\n")
    assert store.upload_spooled_logs("r1") == ["runs/r1/nodes/train.2/logs/0003.log"]
    assert store.read_log("r1", "train[2]", 3) == b"the last words of a killed attempt\n"
    assert not spooled.exists()
    assert store.upload_spooled_logs("r1") == []


# ---------------------------------------------------------------------------- checkpoints


def test_a_commit_record_naming_another_checkpoint_is_not_trusted(tmp_path: Path) -> None:
    """A commit record copied under a newer name (a replayed or misplaced record, with a data
    object to match) must not be taken for the newest checkpoint: the reader falls back to the
    real newest one. Without the "names another checkpoint" check it would return stale data."""
    import warnings

    import fsspec

    from tether.runtime.checkpoint import Checkpoint, CheckpointWarning

    root = tmp_path / "checkpoints"
    checkpoint = Checkpoint(fsspec.filesystem("file"), str(root), attempt=1, keep=5)
    checkpoint.write(b"old state")
    checkpoint.write(b"the newest state")
    checkpoint.close()
    (old_commit,) = sorted(root.glob("000000000001-*.commit"))
    stem = old_commit.name.removesuffix(".commit")
    forged = "000000000003" + stem[len("000000000001") :]
    (root / f"{forged}.commit").write_bytes(old_commit.read_bytes())  # says seq 1, named seq 3
    (root / f"{forged}.data").write_bytes((root / f"{stem}.data").read_bytes())
    reader = Checkpoint(fsspec.filesystem("file"), str(root), attempt=2, keep=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert reader.read() == b"the newest state"
        latest = reader.latest()
    assert latest is not None and latest.seq == 2
    assert any(issubclass(w.category, CheckpointWarning) and "names another checkpoint" in str(w.message) for w in caught)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
