"""Run ids have one documented charset and length; any other id is a usage error (exit 2) in
`tether run`, `tether run --resume`, `tether exec` and `tether logs`, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_helpers import tether
from runtime_helpers import RUN_SPECS
from tether.runtime.store import RUN_ID_PATTERN, InvalidRunId, RunStore, StoreError, check_run_id

GOOD = [
    "r",
    "7",
    "20250101-120000-abc123",  # RunStore.new_run_id
    "1f0c6a2e-5b7d-4c3e-9a1b-2d3e4f5a6b7c",  # Argo's {{workflow.uid}}
    "etl-20250101T120000Z-0a1b2c3d",  # tether submit's ids
    "Run_2.final",
    "a" * 100,
]
BAD = ["", "q[2]", "../r1", "..", ".", ".hidden", "-x", "_x", "a/b", "a b", "a*", "é", "a\n", "a" * 101, "a" * 300]


@pytest.mark.parametrize("run_id", GOOD)
def test_the_ids_tether_makes_and_clusters_give_are_valid(run_id: str, tmp_path: Path) -> None:
    assert check_run_id(run_id) == run_id
    store = RunStore(str(tmp_path))
    assert store.run_path(run_id) == f"{store.root}/runs/{run_id}"


@pytest.mark.parametrize("run_id", BAD)
def test_any_other_id_is_refused_with_the_rule(run_id: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidRunId, match="1 to 100 characters: letters, digits"):
        check_run_id(run_id)
    with pytest.raises(StoreError):  # every store path goes through the same check
        RunStore(str(tmp_path)).run_path(run_id)


def test_generated_ids_are_valid(tmp_path: Path) -> None:
    assert check_run_id(RunStore(str(tmp_path)).new_run_id())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_an_id_is_accepted_exactly_when_it_is_one_safe_path_segment(run_id: str) -> None:
    try:
        check_run_id(run_id)
    except InvalidRunId:
        assert RUN_ID_PATTERN.fullmatch(run_id) is None
        return
    assert 1 <= len(run_id) <= 100
    assert run_id not in (".", "..") and not set(run_id) & set("/\\[]*?{}! \n\t:")
    assert run_id[0].isascii() and run_id[0].isalnum()


@pytest.mark.parametrize("run_id", ["q[2]", "x" * 300, "../r1"])
def test_tether_run_refuses_a_bad_id_as_a_usage_error_and_writes_nothing(
    run_id: str, tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    result = tether(tether_cmd, tether_env, "run", str(RUN_SPECS / "flaky.yaml"), "--store", str(store), "--run-id", run_id)
    assert result.returncode == 2, result.stderr
    assert "not a run id" in result.stderr and "Traceback" not in result.stderr
    assert not store.exists()


def test_resume_exec_and_logs_refuse_a_bad_id_as_a_usage_error(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    commands = [
        ["run", "--resume", "q[2]", "--store", store],
        ["exec", "--run", "../r1", "--node", "a", "--store", store],
        ["exec", "--run", "../r1", "--node", "a", "--task", "x", "--store", store],  # cluster mode too
        ["logs", "a/b", "--store", store],
    ]
    for argv in commands:
        result = tether(tether_cmd, tether_env, *argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert "not a run id" in result.stderr and "Traceback" not in result.stderr, argv
    assert not Path(store).exists()
