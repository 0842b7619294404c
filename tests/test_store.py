"""The run store on a local directory, fsspec memory:// and a real S3 server (moto), same tests."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.core import ir
from tether.core.expr import parse_template
from tether.core.types import parse_type
from tether.runtime.store import (
    OUTCOMES,
    AttemptRecord,
    RunExists,
    RunNotFound,
    RunRecord,
    RunStore,
    StoreError,
    node_id_from_path,
    node_path,
    resolve_store_uri,
)


def _workflow() -> ir.Workflow:
    return ir.Workflow(
        name="demo",
        inputs=(ir.WorkflowInput("n", parse_type("int"), True, 10),),
        tasks=(
            ir.Task(
                name="count",
                python="steps:count",
                inputs=(ir.Binding("n", parse_type("int"), parse_template("${{ inputs.n }}")),),
                outputs=(ir.Output("result", parse_type("int")),),
                retry=ir.RetryPolicy(3),
                checkpoint=ir.CheckpointPolicy(2),
            ),
        ),
        outputs=(ir.WorkflowOutput("result", parse_template("${{ tasks.count.outputs.result }}"), parse_type("int")),),
    )


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    if request.param == "local":
        yield RunStore(str(tmp_path / "store"))
    elif request.param == "memory":
        uri = f"memory://store-{uuid.uuid4().hex[:8]}"
        store = RunStore(uri)
        yield store
        if store.fs.exists(store.root):
            store.fs.rm(store.root, recursive=True)
    else:
        bucket, options = request.getfixturevalue("s3_bucket")
        yield RunStore(f"{bucket}/prefix", storage_options=options)


def test_run_record_round_trips(store: RunStore) -> None:
    run_id = store.new_run_id()
    record = RunRecord(_workflow(), {"n": 12}, "demo.yaml", ("/code",))
    store.create_run(run_id, record)
    loaded = store.load_run(run_id)
    assert loaded == record
    assert store.list_runs() == [run_id]


def test_a_run_is_never_overwritten(store: RunStore) -> None:
    store.create_run("r1", RunRecord(_workflow(), {}, "demo.yaml"))
    with pytest.raises(RunExists, match="already exists"):
        store.create_run("r1", RunRecord(_workflow(), {"n": 1}, "demo.yaml"))
    assert store.load_run("r1").params == {}


def test_missing_run_names_the_runs_that_exist(store: RunStore) -> None:
    store.create_run("20260101-000000-aaaaaa", RunRecord(_workflow(), {}, "demo.yaml"))
    with pytest.raises(RunNotFound) as info:
        store.load_run("20260101-000000-aaaaab")
    assert info.value.existing == ["20260101-000000-aaaaaa"]
    assert "20260101-000000-aaaaaa" in str(info.value)


def test_missing_run_in_an_empty_store_says_so(store: RunStore) -> None:
    with pytest.raises(RunNotFound, match="holds no runs yet"):
        store.load_run("nope")


def test_outputs_mark_a_node_done(store: RunStore) -> None:
    assert store.read_outputs("r", "count") is None
    store.write_outputs("r", "count", {"result": 9, "path": "/tmp/x"})
    assert store.read_outputs("r", "count") == {"result": 9, "path": "/tmp/x"}
    store.write_outputs("r", "shard[3]", {"result": [1, 2]})
    assert store.read_outputs("r", "shard[3]") == {"result": [1, 2]}
    assert store.list_nodes("r") == ["count", "shard[3]"]


def test_journal_tells_attempts_in_order(store: RunStore) -> None:
    store.record_start("r", "count", 1, {"pid": 11})
    store.record_end("r", "count", 1, "recoverable", 75, {"duration_s": 1.5, "message": "flaky", "checkpoint_seq": 3})
    store.record_start("r", "count", 2, {})
    store.record_end("r", "count", 2, "interrupted", 143, {"duration_s": 0.5})
    store.record_start("r", "count", 3, {})  # lost: never ended
    attempts = store.attempts("r", "count")
    assert [(a.number, a.outcome, a.exit_code) for a in attempts] == [
        (1, "recoverable", 75),
        (2, "interrupted", 143),
        (3, None, None),
    ]
    first = attempts[0]
    assert (first.duration_s, first.message, first.checkpoint_seq) == (1.5, "flaky", 3)
    assert first.started is not None and first.ended is not None and first.started <= first.ended
    assert attempts[2].ended is None
    assert store.attempts("r", "other") == []


def test_executor_timeout_beats_the_attempts_own_interrupted(store: RunStore) -> None:
    store.record_start("r", "count", 1, {})
    store.record_end("r", "count", 1, "interrupted", 143, {"message": "terminated"})
    store.record_end("r", "count", 1, "timeout", None, {"message": "timed out after 5s"})
    [attempt] = store.attempts("r", "count")
    assert (attempt.outcome, attempt.exit_code, attempt.message) == ("timeout", None, "timed out after 5s")


def test_executor_cancel_beats_the_attempts_own_interrupted(store: RunStore) -> None:
    store.record_start("r", "count", 1, {})
    store.record_end("r", "count", 1, "cancelled", None, {"message": "the run was stopped"})
    store.record_end("r", "count", 1, "interrupted", 143, {"message": "terminated"})
    [attempt] = store.attempts("r", "count")
    assert (attempt.outcome, attempt.message) == ("cancelled", "the run was stopped")


def test_unknown_outcome_is_refused(store: RunStore) -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        store.record_end("r", "count", 1, "exploded", 1, {})


def test_status_and_logs(store: RunStore) -> None:
    assert store.read_status("r") is None
    store.write_status("r", {"status": "running", "nodes": {"count": "done"}})
    assert store.read_status("r") == {"status": "running", "nodes": {"count": "done"}}
    assert store.read_log("r", "count", 1) is None
    store.write_log("r", "count", 1, b"hello\n")
    assert store.read_log("r", "count", 1) == b"hello\n"
    import fsspec

    with fsspec.open(store.log_uri("r", "count", 1), "rb", **store.storage_options) as handle:
        assert handle.read() == b"hello\n"


def test_records_are_deterministic_json(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path))
    store.write_outputs("r", "count", {"b": 1, "a": 2})
    text = (tmp_path / "runs/r/nodes/count/outputs.json").read_text()
    assert text == json.dumps({"a": 2, "b": 1}, indent=2, sort_keys=True) + "\n"
    assert not [p for p in (tmp_path / "runs/r/nodes/count").iterdir() if p.name.startswith(".tmp")]


def test_node_paths_escape_foreach_brackets() -> None:
    assert node_path("train") == "train"
    assert node_path("train[12]") == "train.12"
    assert node_id_from_path("train.12") == "train[12]"
    assert node_id_from_path("train") == "train"
    for bad in ("", "a/b", "a[x]", ".."):
        with pytest.raises(StoreError):
            node_path(bad)


def test_store_uri_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TETHER_STORE", raising=False)
    assert resolve_store_uri(None) == str(tmp_path / ".tether")
    monkeypatch.setenv("TETHER_STORE", "s3://bucket/runs")
    assert resolve_store_uri(None) == "s3://bucket/runs"
    assert resolve_store_uri("rel") == os.path.join(str(tmp_path), "rel")
    assert resolve_store_uri("memory://x") == "memory://x"


def test_store_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_STORE_OPTIONS", json.dumps({"skip_instance_cache": True}))
    assert RunStore("memory://opts").storage_options == {"skip_instance_cache": True}
    monkeypatch.setenv("TETHER_STORE_OPTIONS", "[1")
    with pytest.raises(StoreError, match="not valid JSON"):
        RunStore("memory://opts")


def test_new_run_ids_sort_by_time_and_are_unique() -> None:
    store = RunStore("memory://ids")
    ids = [store.new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i) == len("20261122-215301-3f9a1c") for i in ids)


def test_attempt_record_is_frozen() -> None:
    record = AttemptRecord(1, None, None, None, None, None, "", None)
    with pytest.raises(Exception):
        record.number = 2  # type: ignore[misc]


_TASK_NAMES = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(name=_TASK_NAMES, index=st.none() | st.integers(min_value=0, max_value=10**6))
def test_node_path_round_trips_every_node_id(name: str, index: int | None) -> None:
    node_id = name if index is None else f"{name}[{index}]"
    segment = node_path(node_id)
    assert "[" not in segment and "]" not in segment and "/" not in segment
    assert node_id_from_path(segment) == node_id


@settings(max_examples=60, deadline=None)
@given(events=st.lists(st.tuples(st.integers(1, 4), st.sampled_from(("start", *OUTCOMES))), max_size=12))
def test_attempts_has_one_record_per_attempt_with_the_strongest_end(events: list[tuple[int, str]]) -> None:
    store = RunStore(f"memory://journal-{uuid.uuid4().hex[:8]}")
    for number, event in events:
        if event == "start":
            store.record_start("r", "n", number, {})
        else:
            store.record_end("r", "n", number, event, None, {})
    records = store.attempts("r", "n")
    assert [a.number for a in records] == sorted({number for number, _ in events})
    rank = {outcome: i for i, outcome in enumerate(("interrupted", "cancelled", "recoverable", "fatal", "timeout", "success"))}
    for record in records:
        ends = [event for number, event in events if number == record.number and event != "start"]
        assert record.outcome == (max(ends, key=rank.__getitem__) if ends else None)
    if store.fs.exists(store.root):
        store.fs.rm(store.root, recursive=True)
