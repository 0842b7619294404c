"""Shared by the Batch backend tests: compile a spec for batch with the test profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tether.backends.batch import build_plan
from tether.backends.batch_profile import BatchProfile
from tether.backends.profile import Profile
from tether.compiler.load import load
from tether.core.diagnostics import Diagnostics, Severity

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "batch"
YAML_EXAMPLES = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))

TEST_TARGET = BatchProfile(
    spot_queue="tether-spot",
    on_demand_queue="tether-on-demand",
    job_role_arn="arn:aws:iam::123456789012:role/tether-job",
    execution_role_arn="arn:aws:iam::123456789012:role/tether-execution",
    secrets_arn_prefix="arn:aws:secretsmanager:us-east-1:123456789012:secret:",
    tags={"owner": "tether-tests"},
)


def profile(store: str = "s3://tether-runs/runs", **target: Any) -> Profile:
    fields = {**TEST_TARGET.__dict__, **target}
    return Profile(store=store, image="public.ecr.aws/docker/library/python:3.12-slim", target=BatchProfile(**fields))


def compile_spec(spec: str | Path, *, unsupported: str = "warn", store: str = "s3://tether-runs/runs",
                 **target: Any) -> tuple[dict[str, Any], Diagnostics]:
    result = load(str(spec))
    assert result.workflow is not None, [str(d) for d in result.diagnostics]
    diags = Diagnostics(unsupported_level=Severity.WARNING if unsupported == "warn" else Severity.ERROR)
    return build_plan(result.workflow, profile(store, **target), diags), diags


def compile_example(name: str, **kw: Any) -> tuple[dict[str, Any], Diagnostics]:
    return compile_spec(EXAMPLES / f"{name}.yaml", **kw)


def write_spec(tmp_path: Path, tasks: str, inputs: str = "{}") -> Path:
    """tmp_path/spec.yaml: workflow `t` with `inputs` and `tasks` (YAML text at task indent)."""
    path = tmp_path / "spec.yaml"
    path.write_text(
        "apiVersion: tether/v1\nkind: Workflow\nmetadata: {name: t}\nspec:\n"
        f"  inputs: {inputs}\n  defaults: {{image: 'busybox:1.36'}}\n  tasks:\n{tasks}",
        encoding="utf-8",
    )
    return path


def container_task(name: str, extra: str = "") -> str:
    """A task running `sh -c true`, with `extra` task keys (YAML lines at key indent)."""
    return f"    {name}:\n      container: {{command: [sh, -c, 'true']}}\n{extra}"
