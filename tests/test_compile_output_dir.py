"""`tether compile -o DIR` when writing fails, when a workflow is renamed or its spec deleted,
and the mode of what it writes. Real subprocesses, real files; a full disk is a real
RLIMIT_FSIZE (writes past it fail with EFBIG, as ENOSPC would; Python ignores SIGXFSZ)."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import tether
from test_compile_cli import SPEC
CONTAINER_SPEC = SPEC.replace('only: {python: "steps:only", outputs: {x: int}}', "t: {container: {image: busybox, command: [echo]}}")
"""A workflow NAME with no Python module to find."""
BIG = SPEC.replace("{name: NAME}", "{name: NAME, description: '" + "x" * 8000 + "'}")
"""A spec whose manifest is bigger than the RLIMIT_FSIZE the tests set (6000 bytes)."""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for name in ("one", "two"):
        (tmp_path / f"{name}.yaml").write_text(SPEC.replace("NAME", name), encoding="utf-8")
    (tmp_path / "steps.py").write_text("def only() -> int:\n    return 1\n", encoding="utf-8")
    return tmp_path


def compile_(env: dict[str, str], cwd: Path, *args: str, **run: Any) -> subprocess.CompletedProcess[str]:
    return tether([sys.executable, "-m", "tether"], env, "compile", *args, cwd=cwd, **run)


def listing(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.iterdir()) if p.is_file()}


def test_a_directory_where_a_manifest_goes_is_one_line_and_changes_nothing(work: Path, tether_env: dict[str, str]) -> None:
    assert compile_(tether_env, work, "one.yaml", "-o", "out").returncode == 0
    before = listing(work / "out")
    (work / "one.yaml").write_text(SPEC.replace("NAME", "one").replace("x: int", "y: int"))
    (work / "out" / "two.json").mkdir()
    done = compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "tether compile: cannot write out/two.json: Is a directory (nothing under out was changed)\n"
    assert listing(work / "out") == before  # one.json not replaced, .tether-manifests as it was
    assert sorted(p.name for p in (work / "out").iterdir()) == [".tether-manifests", "one.json", "two.json"]


def _file_size_limit(limit: int) -> Any:
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_half_way_through_the_set_replaces_nothing(work: Path, tether_env: dict[str, str]) -> None:
    assert compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out").returncode == 0
    before = listing(work / "out")
    (work / "one.yaml").write_text(SPEC.replace("NAME", "one").replace("x: int", "y: int"))
    (work / "two.yaml").write_text(BIG.replace("NAME", "two"))
    done = compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out", preexec_fn=_file_size_limit(6000))
    assert done.returncode == 1, done.stderr
    assert done.stderr == "tether compile: cannot write out/two.json: File too large (nothing under out was changed)\n"
    assert listing(work / "out") == before
    assert sorted(p.name for p in (work / "out").iterdir()) == [".tether-manifests", "one.json", "two.json"]


def test_a_directory_made_for_a_failed_write_is_removed_again(work: Path, tether_env: dict[str, str]) -> None:
    (work / "two.yaml").write_text(BIG.replace("NAME", "two"))
    done = compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "new/out", preexec_fn=_file_size_limit(6000))
    assert done.returncode == 1 and "cannot write new/out/two.json: File too large" in done.stderr
    assert not (work / "new").exists()


def test_an_output_that_is_a_file_is_said_so(work: Path, tether_env: dict[str, str]) -> None:
    (work / "somefile").write_text("mine\n")
    for extra in ([], ["--check"]):
        done = compile_(tether_env, work, "one.yaml", "-o", "somefile", *extra)
        assert done.returncode == 1
        assert done.stderr.startswith("tether compile: -o somefile: not a directory\n  = hint: -o names the directory")
    assert (work / "somefile").read_text() == "mine\n"


def test_a_renamed_workflow_leaves_no_orphan_and_check_sees_it(work: Path, tether_env: dict[str, str]) -> None:
    assert compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out").returncode == 0
    (work / "out" / "handmade.yaml").write_text("kind: ConfigMap\n")  # not tether's: never touched
    (work / "one.yaml").write_text(SPEC.replace("NAME", "uno"))
    check = compile_(tether_env, work, "one.yaml", "-o", "out", "--check")
    assert check.returncode == 1
    assert check.stderr == (
        "out/uno.json does not exist\n"
        "out/one.json is no longer produced by one.yaml\n"
        "run 'tether compile one.yaml --target ir -o out' to update\n"
    )
    assert "--- out/one.json (committed)\n+++ /dev/null\n" in check.stdout
    done = compile_(tether_env, work, "one.yaml", "-o", "out")
    assert done.returncode == 0 and done.stderr == "removed out/one.json (no longer produced by one.yaml)\n"
    assert sorted(p.name for p in (work / "out").iterdir()) == [".tether-manifests", "handmade.yaml", "two.json", "uno.json"]
    assert compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out", "--check").returncode == 0


def test_a_deleted_spec_is_stale_from_any_working_directory(work: Path, tether_env: dict[str, str]) -> None:
    assert compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "deploy/out").returncode == 0
    (work / "two.yaml").unlink()
    check = compile_(tether_env, work / "deploy", "../one.yaml", "-o", "out", "--check")
    assert check.returncode == 1
    assert "out/two.json is owned by two.yaml, which no longer exists\n" in check.stderr.replace("../two.yaml", "two.yaml")
    done = compile_(tether_env, work, "one.yaml", "-o", "deploy/out")
    assert done.returncode == 0
    assert done.stderr == "removed deploy/out/two.json (owned by two.yaml, which no longer exists)\n"
    assert (work / "deploy" / "out" / ".tether-manifests").read_text() == "ir\tone\tone.json\t../../one.yaml\n"


def test_a_manifest_list_written_before_specs_were_recorded_still_works(work: Path, tether_env: dict[str, str]) -> None:
    (work / "out").mkdir()
    (work / "out" / ".tether-manifests").write_text("ir\tone\told-one.json\nir\tgone\tgone.json\n")
    (work / "out" / "old-one.json").write_text("{}\n")
    (work / "out" / "gone.json").write_text("{}\n")
    done = compile_(tether_env, work, "one.yaml", "-o", "out")
    assert done.returncode == 0 and done.stderr == "removed out/old-one.json (no longer produced by workflow 'one')\n"
    assert (work / "out" / "gone.json").exists()  # owner unknown: kept, as before
    assert (work / "out" / ".tether-manifests").read_text() == "ir\tgone\tgone.json\nir\tone\tone.json\t../one.yaml\n"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_have_the_umask_mode(work: Path, tether_env: dict[str, str], umask: int, mode: int) -> None:
    done = compile_(tether_env, work, "one.yaml", "-o", "out", umask=umask)
    assert done.returncode == 0, done.stderr
    for name in ("one.json", ".tether-manifests"):
        assert stat.S_IMODE(os.stat(work / "out" / name).st_mode) == mode
    graph = tether([sys.executable, "-m", "tether"], tether_env, "graph", "one.yaml", "-o", "g.html", cwd=work, umask=umask)
    assert graph.returncode == 0, graph.stderr
    assert stat.S_IMODE(os.stat(work / "g.html").st_mode) == mode
    assert not [p for p in work.rglob(".*tmp-*")]


def test_a_symlink_is_followed_and_a_fifo_written_through(tmp_path: Path) -> None:
    """Never rename over what is not a regular file: a FIFO (a viewer reading a pipe) gets the
    bytes, a symlink keeps pointing at its file, which gets them."""
    import threading

    from tether.commands.output_files import write_atomically

    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "graph.mmd"
    link.symlink_to(real / "graph.mmd")
    write_atomically(link, b"flowchart")
    assert link.is_symlink() and (real / "graph.mmd").read_bytes() == b"flowchart"

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomically(fifo, b"through the pipe")
    reader.join()
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_symlinked_output_directory_keeps_every_specs_manifest(tmp_path: Path, tether_env: dict[str, str]) -> None:
    """`out` -> gitops/argo: compiling a.yaml then b.yaml into it keeps a's manifest (a's spec
    is found through the same resolved path it was recorded from)."""
    (tmp_path / "gitops" / "argo").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    (work / "out").symlink_to(tmp_path / "gitops" / "argo")
    for name in ("a", "b"):
        (work / f"{name}.yaml").write_text(CONTAINER_SPEC.replace("NAME", name), encoding="utf-8")
    for name in ("a", "b"):
        done = tether([sys.executable, "-m", "tether"], tether_env, "compile", f"{name}.yaml", "--target", "ir", "-o", "out", cwd=work)
        assert done.returncode == 0, done.stderr
        assert "removed" not in done.stderr
    assert sorted(p.name for p in (tmp_path / "gitops" / "argo").iterdir() if not p.name.startswith(".")) == ["a.json", "b.json"]


def test_check_fails_when_only_the_owners_file_lags(tmp_path: Path, tether_env: dict[str, str]) -> None:
    """A spec moved to another folder compiles to the same bytes, but `.tether-manifests` still
    names its old place: `--check` says so, or a later compile of one spec would take the other's
    manifest for orphaned and remove it."""
    for folder in ("specs", "flows"):
        (tmp_path / folder).mkdir()
    (tmp_path / "specs" / "a.yaml").write_text(CONTAINER_SPEC.replace("NAME", "a"), encoding="utf-8")
    cmd = [sys.executable, "-m", "tether"]
    assert tether(cmd, tether_env, "compile", "specs/a.yaml", "--target", "ir", "-o", "out", cwd=tmp_path).returncode == 0
    (tmp_path / "specs" / "a.yaml").rename(tmp_path / "flows" / "a.yaml")
    check = tether(cmd, tether_env, "compile", "flows/a.yaml", "--target", "ir", "-o", "out", "--check", cwd=tmp_path)
    assert check.returncode == 1 and "out/.tether-manifests is stale" in check.stderr
    assert "flows/a.yaml" in check.stdout  # the diff of the owners file names the new place
    assert tether(cmd, tether_env, "compile", "flows/a.yaml", "--target", "ir", "-o", "out", cwd=tmp_path).returncode == 0
    again = tether(cmd, tether_env, "compile", "flows/a.yaml", "--target", "ir", "-o", "out", "--check", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_concurrent_compiles_into_one_directory_keep_both_owners(tmp_path: Path, tether_env: dict[str, str]) -> None:
    """Two compiles into one DIR at once: the owners file is read and written under a lock, so
    it ends up naming both manifests whatever the interleaving (no timing is asserted)."""
    (tmp_path / "out").mkdir()
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(CONTAINER_SPEC.replace("NAME", name), encoding="utf-8")
    for _ in range(3):
        runs = [subprocess.Popen([sys.executable, "-m", "tether", "compile", f"{name}.yaml", "--target", "ir", "-o", "out"],
                                 cwd=tmp_path, env=tether_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for name in ("a", "b")]
        assert [run.wait() for run in runs] == [0, 0]
        owners = (tmp_path / "out" / ".tether-manifests").read_text(encoding="utf-8")
        assert "a.json" in owners and "b.json" in owners
        for run in runs:
            run.stdout.close(), run.stderr.close()  # type: ignore[union-attr]
