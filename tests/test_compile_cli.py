"""`tether compile` with the built-in targets as a user runs it: several specs, -o DIR, --check,
profiles, collisions. Real subprocesses, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import tether
from tether.compiler.load import load
from tether.core.ir import to_json

SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: NAME}
spec:
  tasks:
    only: {python: "steps:only", outputs: {x: int}}
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for name in ("one", "two"):
        (tmp_path / f"{name}.yaml").write_text(SPEC.replace("NAME", name), encoding="utf-8")
    (tmp_path / "twin.yaml").write_text(SPEC.replace("NAME", "one"), encoding="utf-8")
    (tmp_path / "steps.py").write_text("def only() -> int:\n    return 1\n", encoding="utf-8")
    return tmp_path


def compile_(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return tether([sys.executable, "-m", "tether"], env, "compile", *args, cwd=cwd)


def test_several_specs_print_their_manifests_separated(work: Path, tether_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = compile_(tether_env, work, "one.yaml", "two.yaml")
    assert done.returncode == 0, done.stderr
    monkeypatch.chdir(work)
    first, second = (load(spec).workflow for spec in ("one.yaml", "two.yaml"))
    assert first is not None and second is not None
    assert done.stdout == to_json(first) + "---\n" + to_json(second)


def test_output_dir_gets_one_file_per_manifest_with_the_ir_bytes(work: Path, tether_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out/ir")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    monkeypatch.chdir(work)
    workflow = load("one.yaml").workflow
    assert workflow is not None
    assert (work / "out" / "ir" / "one.json").read_text(encoding="utf-8") == to_json(workflow)
    assert (work / "out" / "ir" / ".tether-manifests").read_text() == "ir\tone\tone.json\t../../one.yaml\nir\ttwo\ttwo.json\t../../two.yaml\n"
    assert sorted(p.name for p in (work / "out" / "ir").iterdir()) == [".tether-manifests", "one.json", "two.json"]


def test_compiling_one_spec_leaves_the_files_of_others_alone(work: Path, tether_env: dict[str, str]) -> None:
    assert compile_(tether_env, work, "one.yaml", "-o", "out").returncode == 0
    assert compile_(tether_env, work, "two.yaml", "-o", "out").returncode == 0
    assert compile_(tether_env, work, "one.yaml", "-o", "out", "--check").stderr == "out: up to date (1 file)\n"
    (work / "out" / "two.json").unlink()
    missing = compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out", "--check")
    assert missing.returncode == 1
    assert missing.stderr.startswith("out/two.json does not exist\n")


def test_two_specs_writing_one_path_is_an_error_naming_both(work: Path, tether_env: dict[str, str]) -> None:
    done = compile_(tether_env, work, "one.yaml", "twin.yaml", "-o", "out")
    assert done.returncode == 1
    assert "manifest 'one.json' is produced by both one.yaml and twin.yaml" in done.stderr
    assert not (work / "out").exists()


def test_a_broken_spec_among_several_writes_nothing(work: Path, tether_env: dict[str, str]) -> None:
    (work / "two.yaml").write_text(SPEC.replace("NAME", "two").replace("steps:only", "steps.only"))
    done = compile_(tether_env, work, "one.yaml", "two.yaml", "-o", "out")
    assert done.returncode == 1
    assert "two.yaml:6:" in done.stderr and "error[E116]" in done.stderr
    assert not (work / "out").exists()


def test_the_local_plan_uses_the_profile_store(work: Path, tether_env: dict[str, str]) -> None:
    (work / "profile.yaml").write_text("store: s3://bucket/runs\n")
    done = compile_(tether_env, work, "one.yaml", "--target", "local", "--profile", "profile.yaml", "-o", "plans")
    assert done.returncode == 0, done.stderr
    plan = (work / "plans" / "one.plan.txt").read_text()
    assert "store: s3://bucket/runs\n" in plan
    assert "tether exec --store s3://bucket/runs --run RUN_ID --node only" in plan


CONTAINER_SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: shell}
spec:
  tasks:
    hello: {container: {command: [echo, hello]}}
"""


@pytest.mark.parametrize("target", ["argo", "batch"])
def test_a_container_task_takes_its_image_from_the_profile(work: Path, tether_env: dict[str, str], target: str) -> None:
    """The spec names no image: `check` accepts it (`tether run` runs the command here), a cluster
    target takes the profile's image, and without one the task is located (E411)."""
    (work / "shell.yaml").write_text(CONTAINER_SPEC, encoding="utf-8")
    (work / "profile.yaml").write_text("store: s3://bucket/runs\nimage: alpine:3.20\n")
    assert tether([sys.executable, "-m", "tether"], tether_env, "check", "shell.yaml", cwd=work).returncode == 0
    done = compile_(tether_env, work, "shell.yaml", "--target", target, "--profile", "profile.yaml")
    assert done.returncode == 0, done.stderr
    assert "alpine:3.20" in done.stdout
    bare = compile_(tether_env, work, "shell.yaml", "--target", target)
    assert bare.returncode == 1 and "shell.yaml:6:5: error[E411]: task 'hello' has no image" in bare.stderr


def test_a_section_for_a_target_without_settings_is_located(work: Path, tether_env: dict[str, str]) -> None:
    (work / "profile.yaml").write_text("store: s3://b\nlocal: {x: 1}\n")
    done = compile_(tether_env, work, "one.yaml", "--target", "local", "--profile", "profile.yaml")
    assert done.returncode == 1 and done.stdout == ""
    assert "profile.yaml:2:8: error[E131]: target 'local' takes no profile section" in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["one.yaml", "--check"], "tether compile: --check needs -o DIR (the directory to compare)\n"),
        (["one.yaml", "-O", "novalue"], "tether compile: -O 'novalue' is not KEY=VALUE\n"),
        (["one.yaml", "--profile", "absent.yaml"], None),
        (["one.yaml", "-t", "argo", "-O", "knd=template"],
         "tether compile: target 'argo' has no option 'knd' (-O knd=...)\n  = hint: did you mean 'kind'?\n"),
        (["one.yaml", "-t", "argo", "-O", "namespace=x"],
         "tether compile: target 'argo' has no option 'namespace' (-O namespace=...)\n"
         "  = hint: 'namespace' is a profile setting: put it in the profile's `argo:` section (--profile FILE)\n"),
        (["one.yaml", "-t", "local", "-O", "color=x"],
         "tether compile: target 'local' has no option 'color' (-O color=...)\n  = hint: -O takes: run_id, store\n"),
        (["one.yaml", "-t", "batch", "--kind", "template"],
         "tether compile: target 'batch' has no option 'kind' (--kind)\n"
         "  = hint: target 'batch' takes no -O options; see `tether targets batch` for its profile settings\n"),
    ],
)
def test_usage_errors(work: Path, tether_env: dict[str, str], args: list[str], message: str | None) -> None:
    done = compile_(tether_env, work, *args)
    if message is None:
        assert done.returncode == 1 and "cannot read profile absent.yaml" in done.stderr
    else:
        assert (done.returncode, done.stderr) == (2, message)


def test_the_options_a_target_reads_are_accepted(work: Path, tether_env: dict[str, str]) -> None:
    local = compile_(tether_env, work, "one.yaml", "-t", "local", "-O", "store=s3://b/r", "-O", "run_id=r1")
    assert local.returncode == 0 and "tether exec --store s3://b/r --run r1 --node only" in local.stdout
    (work / "profile.yaml").write_text("store: s3://b\nimage: python:3.12\n")
    argo = compile_(tether_env, work, "one.yaml", "-t", "argo", "--profile", "profile.yaml", "-O", "kind=template")
    assert argo.returncode == 0 and "kind: WorkflowTemplate\n" in argo.stdout
