"""A third-party target registered through a real `tether.backends` entry point (a dist-info
directory on PYTHONPATH, as `pip install` leaves one), compiled with `tether compile` in a
subprocess: listing, its typed profile section, unsupported features, images, and -o DIR with
--check over a manifest set that changes shape (one file per task)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import tether

PLUGIN = '''
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tether.backends import Manifest, resolve_images


@dataclass(frozen=True)
class ToyProfile:
    queue: str = field(default="default", metadata={"help": "where jobs go"})
    max_retries: int = field(default=1, metadata={"key": "maxRetries"})
    mode: Literal["fast", "safe"] = "safe"


@dataclass(frozen=True)
class Toy:
    name: str = "toy"
    description: str = "one YAML file per task"
    profile_type: type | None = ToyProfile

    def compile(self, workflow, profile, diagnostics):
        workflow = resolve_images(workflow, profile, diagnostics)
        manifests = []
        for task in workflow.tasks:
            if task.checkpoint is not None:
                diagnostics.unsupported(
                    f"toy cannot checkpoint task '{task.name}'", task.span_of("checkpoint"), "remove checkpoint"
                )
            document = {
                "task": task.name, "image": task.image, "queue": profile.target.queue,
                "mode": profile.target.mode, "retries": profile.target.max_retries,
                "store": profile.store, "options": dict(profile.options),
            }
            manifests.append(Manifest(f"{workflow.name}/{task.name}.yaml", document))
        return manifests


backend = Toy()
'''

SPEC = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: flow}
spec:
  defaults: {image: "python:3.12"}
  tasks:
    a: {python: "steps:a", outputs: {x: int}}
    b: {python: "steps:b", inputs: {x: "${{ tasks.a.outputs.x }}"}}
"""


@pytest.fixture
def env(tmp_path: Path, tether_env: dict[str, str]) -> dict[str, str]:
    """tether_env plus a site directory holding the plugin and its installed-package metadata."""
    site = tmp_path / "site"
    (site / "toy_tether-0.1.dist-info").mkdir(parents=True)
    (site / "toy_tether.py").write_text(PLUGIN, encoding="utf-8")
    (site / "toy_tether-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toy-tether\nVersion: 0.1\n", encoding="utf-8"
    )
    (site / "toy_tether-0.1.dist-info" / "entry_points.txt").write_text(
        "[tether.backends]\ntoy = toy_tether:backend\n", encoding="utf-8"
    )
    (tmp_path / "flow.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "steps.py").write_text("def a() -> int:\n    return 1\n\n\ndef b(x: int) -> None:\n    pass\n", encoding="utf-8")
    return {**tether_env, "PYTHONPATH": f"{site}:{tether_env['PYTHONPATH']}"}


def compile_(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return tether([sys.executable, "-m", "tether"], env, "compile", *args, cwd=cwd)


def test_the_plugin_is_found_and_its_profile_section_is_typed(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "profile.yaml").write_text(
        "store: s3://runs/x\nimage: base:1\ntoy: {queue: gpu, maxRetries: 3}\nargo: {namespace: ml}\n", encoding="utf-8"
    )
    done = compile_(env, tmp_path, "flow.yaml", "--target", "toy", "--profile", "profile.yaml", "-O", "k=v")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "task: a\nimage: python:3.12\nqueue: gpu\nmode: safe\nretries: 3\nstore: s3://runs/x\noptions:\n  k: v\n"
        "---\n"
        "task: b\nimage: python:3.12\nqueue: gpu\nmode: safe\nretries: 3\nstore: s3://runs/x\noptions:\n  k: v\n"
    )


def test_a_bad_profile_value_is_located_and_nothing_is_printed(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "profile.yaml").write_text("toy:\n  mode: fats\n  queu: q\n", encoding="utf-8")
    done = compile_(env, tmp_path, "flow.yaml", "--target", "toy", "--profile", "profile.yaml")
    assert done.returncode == 1 and done.stdout == ""
    assert "profile.yaml:2:9: error[E132]: 'toy.mode' must be one of fast, safe, not 'fats'" in done.stderr
    assert "did you mean 'fast'?" in done.stderr
    assert "profile.yaml:3:3: error[E133]: unknown key 'queu' in 'toy'" in done.stderr


def test_unsupported_features_are_errors_unless_warn(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(SPEC.replace('outputs: {x: int}}', 'outputs: {x: int}, checkpoint: true}'))
    strict = compile_(env, tmp_path, "flow.yaml", "--target", "toy")
    assert strict.returncode == 1 and strict.stdout == ""
    assert "flow.yaml:7:" in strict.stderr and "error[E410]: toy cannot checkpoint task 'a'" in strict.stderr
    lenient = compile_(env, tmp_path, "flow.yaml", "--target", "toy", "--unsupported=warn")
    assert lenient.returncode == 0, lenient.stderr
    assert "warning[E410]: toy cannot checkpoint task 'a'" in lenient.stderr
    assert lenient.stdout.startswith("task: a\n")


def test_a_task_without_any_image_is_located_for_image_targets_only(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(SPEC.replace('  defaults: {image: "python:3.12"}\n', ""))
    done = compile_(env, tmp_path, "flow.yaml", "--target", "toy")
    assert done.returncode == 1
    assert "flow.yaml:6:5: error[E411]: task 'a' has no image" in done.stderr
    (tmp_path / "profile.yaml").write_text("image: base:2\n")
    filled = compile_(env, tmp_path, "flow.yaml", "--target", "toy", "--profile", "profile.yaml")
    assert filled.returncode == 0 and filled.stdout.count("image: base:2\n") == 2
    assert compile_(env, tmp_path, "flow.yaml", "--target", "ir").returncode == 0


def test_check_reports_stale_missing_and_no_longer_produced_files(env: dict[str, str], tmp_path: Path) -> None:
    assert compile_(env, tmp_path, "flow.yaml", "--target", "toy", "-o", "out").returncode == 0
    assert sorted(p.name for p in (tmp_path / "out" / "flow").iterdir()) == ["a.yaml", "b.yaml"]
    fresh = compile_(env, tmp_path, "flow.yaml", "--target", "toy", "-o", "out", "--check")
    assert (fresh.returncode, fresh.stderr) == (0, "out: up to date (2 files)\n")

    # task b disappears and task c appears: b.yaml is extra, c.yaml missing
    (tmp_path / "flow.yaml").write_text(SPEC.replace("    b:", "    c:"))
    (tmp_path / "out" / "flow" / "a.yaml").write_text("task: edited by hand\n")
    check = compile_(env, tmp_path, "flow.yaml", "--target", "toy", "-o", "out", "--check")
    assert check.returncode == 1
    assert check.stderr == (
        "out/flow/a.yaml is stale\n"
        "out/flow/c.yaml does not exist\n"
        "out/flow/b.yaml is no longer produced by workflow 'flow'\n"
        "run 'tether compile flow.yaml --target toy -o out' to update\n"
    )
    assert "--- out/flow/a.yaml (committed)\n+++ out/flow/a.yaml (compiled from flow.yaml)\n" in check.stdout
    assert "-task: edited by hand\n+task: a\n" in check.stdout
    assert "--- /dev/null\n+++ out/flow/c.yaml (compiled from flow.yaml)\n" in check.stdout
    assert "--- out/flow/b.yaml (committed)\n+++ /dev/null\n" in check.stdout

    assert compile_(env, tmp_path, "flow.yaml", "--target", "toy", "-o", "out").returncode == 0
    assert sorted(p.name for p in (tmp_path / "out" / "flow").iterdir()) == ["a.yaml", "c.yaml"]
    again = compile_(env, tmp_path, "flow.yaml", "--target", "toy", "-o", "out", "--check")
    assert again.returncode == 0, again.stdout


def test_unknown_targets_suggest_plugins_too(env: dict[str, str], tmp_path: Path) -> None:
    done = compile_(env, tmp_path, "flow.yaml", "--target", "tyo")
    assert done.returncode == 2
    assert done.stderr.startswith("tether compile: unknown target 'tyo', did you mean 'toy'?\n")
