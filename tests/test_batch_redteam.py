"""Regressions from the red-team pass over the Batch backend: requests AWS would refuse are
located diagnostics at compile time (or PlanBindErrors at submit), never plans that fail in AWS.

Fargate sizes, oversized commands, `cache`, a foreach over a required input, typed `-p` values,
declared-but-unread inputs and bad profile values. Plans are checked with the shared conformance
validator where it exists (tests/test_batch_conformance.py loads it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from batch_helpers import compile_spec, container_task, profile, write_spec
from tether.backends.batch import build_plan, fargate_pair
from tether.backends.batch_profile import BatchProfile
from tether.backends.batch_plan import PlanBindError, bind_plan
from tether.backends.profile import load_profile
from tether.compiler.load import load
from tether.core.diagnostics import Diagnostics
from test_batch_conformance import _validator


def _reads(name: str, inp: str) -> str:
    return f"    {name}:\n      container: {{command: [sh, -c, 'echo ${{{{ inputs.{inp} }}}}']}}\n"


def _def(plan: dict[str, Any], job: str) -> dict[str, Any]:
    sub = next(s for s in plan["submissions"] if s["jobName"] == job)
    return next(d for d in plan["jobDefinitions"] if d["jobDefinitionName"] == sub["jobDefinition"])


def _resources(plan: dict[str, Any], job: str) -> dict[str, str]:
    return {r["type"]: r["value"] for r in _def(plan, job)["containerProperties"]["resourceRequirements"]}


def _validator_errors(plan: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(bind_plan(plan, "run-1")), encoding="utf-8")
    return [f.format() for f in _validator().validate_file(str(path)) if f.level == "error"]


# -- 1. Fargate -------------------------------------------------------------------------------

@pytest.mark.parametrize(("millicores", "mib", "pair"), [
    (100, 3072, (500, 3072)),      # 0.25 vCPU takes at most 2048 MiB: the vCPU goes up
    (250, 100, (250, 512)),        # memory up to the size's smallest
    (1500, 100, (2000, 4096)),
    (1000, 1500, (1000, 2048)),
    (4000, 30721, (8000, 32768)),  # past 4 vCPU's 30720, and 8 vCPU steps by 4096
    (16000, 122880, (16000, 122880)),
    (16001, 512, None),
    (1000, 122881, None),
])
def test_fargate_pairs_are_the_documented_table(millicores: int, mib: int, pair: tuple[int, int] | None) -> None:
    assert fargate_pair(millicores, mib) == pair


def test_fargate_plan_is_valid_and_too_big_is_located(tmp_path: Path) -> None:
    tasks = (container_task("tiny", "      resources: {cpu: 100m, memory: 3Gi}\n")
             + container_task("frac", "      resources: {cpu: '1.5', memory: 100Mi}\n")
             + container_task("big", "      resources: {cpu: '64', memory: 500Gi}\n"))
    spec = write_spec(tmp_path, tasks)
    _, diags = compile_spec(spec, unsupported="error", platform="FARGATE")
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "E410" and "task 'big'" in d.message and d.span is not None and d.span.line == 16
    plan, diags = compile_spec(spec, platform="FARGATE")
    assert _resources(plan, "tiny") == {"VCPU": "0.5", "MEMORY": "3072"}
    assert _resources(plan, "frac") == {"VCPU": "2", "MEMORY": "4096"}
    assert _resources(plan, "big") == {"VCPU": "16", "MEMORY": "122880"}
    assert _validator_errors(plan, tmp_path) == []


def test_fargate_barriers_are_valid(tmp_path: Path) -> None:
    n = 25
    tasks = "".join(container_task(f"up{i}") for i in range(n))
    tasks += container_task("join", "      after: [" + ", ".join(f"up{i}" for i in range(n)) + "]\n")
    plan, diags = compile_spec(write_spec(tmp_path, tasks), platform="FARGATE")
    assert not list(diags)
    barrier = next(d for d in plan["jobDefinitions"] if d["jobDefinitionName"].startswith("tether-barrier"))
    assert barrier["containerProperties"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}]
    assert _validator_errors(plan, tmp_path) == []


def _profile_file(tmp_path: Path, batch: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(f"store: s3://b/p\nimage: busybox:1.36\nbatch:\n{batch}", encoding="utf-8")
    return path


def _compile_with_profile(spec: Path, prof: Path) -> Diagnostics:
    diags = Diagnostics()
    loaded = load_profile(str(prof), "batch", BatchProfile, diags)
    result = load(str(spec))
    assert result.workflow is not None and loaded is not None
    build_plan(result.workflow, loaded, diags)
    return diags


# -- 6. profile values ----------------------------------------------------------------------

def test_bad_profile_values_are_located(tmp_path: Path) -> None:
    prof = _profile_file(tmp_path, (
        "  platform: FARGATE\n"
        "  defaultVcpus: 0\n"
        "  defaultMemoryMiB: 3\n"
        "  onDemandQueue: ''\n"
        "  command: []\n"
        "  tags: {'aws:team': data}\n"
    ))
    diagnostics = Diagnostics()
    load_profile(str(prof), "batch", BatchProfile, diagnostics, {}, ("batch",), text=prof.read_text())
    found = {(d.code, d.message.split("'")[1], d.span.line if d.span else None) for d in diagnostics if d.is_error}
    assert found == {
        ("E132", "batch.defaultVcpus", 5),
        ("E132", "batch.defaultMemoryMiB", 6),
        ("E132", "batch.onDemandQueue", 7),
        ("E132", "batch.command", 8),
        ("E132", "batch.tags", 9),
    }
    fargate = _profile_file(tmp_path, "  platform: FARGATE\n")
    diags = _compile_with_profile(write_spec(tmp_path, container_task("a")), fargate)
    assert {(d.code, d.span.line if d.span else None) for d in diags if d.is_error} == {("E425", 4)}


def test_too_many_tags_with_tethers_own(tmp_path: Path) -> None:
    tags = ", ".join(f"t{i}: v" for i in range(47))
    diagnostics = Diagnostics()
    prof = _profile_file(tmp_path, f"  tags: {{{tags}}}\n")
    load_profile(str(prof), "batch", BatchProfile, diagnostics, {}, ("batch",), text=prof.read_text())
    (d,) = [d for d in diagnostics if d.is_error]
    assert d.code == "E132" and "51, and AWS Batch allows 50" in d.message and d.span is not None and d.span.line == 4


# -- 2. sizes --------------------------------------------------------------------------------

def test_a_literal_foreach_too_large_for_the_command_is_located(tmp_path: Path) -> None:
    # hashes: the task payload is compressed, so only text that does not compress fills it
    items = json.dumps([hashlib.sha256(str(i).encode()).hexdigest() for i in range(200)])
    spec = write_spec(tmp_path, container_task("lit", f"      foreach: {items}\n"))
    _, diags = compile_spec(spec)
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "E426" and "literal foreach" in d.message and d.span is not None and d.span.line == 10


def test_a_large_default_is_located_and_a_large_value_refused_at_bind(tmp_path: Path) -> None:
    big = json.dumps([f"s3://acme-data/raw/part-{i:05d}.parquet" for i in range(200)])
    spec = write_spec(tmp_path, _reads("a", "files"),
                 inputs=f"{{files: {{type: 'list[str]', default: {big}}}}}")
    _, diags = compile_spec(spec)
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "E426" and "input 'files'" in d.message and d.span is not None and d.span.line == 5
    small = write_spec(tmp_path, _reads("a", "files"),
                  inputs="{files: {type: 'list[str]', default: []}}")
    plan, diags = compile_spec(small)
    assert not diags.has_errors
    with pytest.raises(PlanBindError, match="job a: its command and environment take"):
        bind_plan(plan, "r", {"files": big})


def test_each_job_gets_only_the_inputs_its_command_reads(tmp_path: Path) -> None:
    tasks = _reads("a", "n") + _reads("b", "m")
    plan, _ = compile_spec(write_spec(tmp_path, tasks, inputs="{n: {type: int, default: 1}, m: {type: str, default: x}}"))
    bound = bind_plan(plan, "r", {"n": "5", "m": "y"})
    params = {s["jobName"]: s["parameters"] for s in bound["submissions"]}
    assert params == {"a": {"in_n": "inputs.n=5", "run_id": "r"}, "b": {"in_m": "inputs.m=y", "run_id": "r"}}


# -- 3, 7. typed and declared inputs ---------------------------------------------------------

def test_values_are_typed_and_declared_inputs_accepted(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, _reads("a", "n"),
                 inputs="{n: {type: int, default: 2}, tag: {type: str, default: dev}}")
    plan, _ = compile_spec(spec)
    with pytest.raises(PlanBindError, match=r'-p n=abc: expected int, got "abc"'):
        bind_plan(plan, "r", {"n": "abc"})
    with pytest.raises(PlanBindError, match="has no input 'tga'; did you mean 'tag'"):
        bind_plan(plan, "r", {"tga": "prod"})
    bound = bind_plan(plan, "r", {"n": "3", "tag": "prod"})  # `tag` is read by no job: accepted, passed to none
    assert bound["submissions"][0]["parameters"] == {"in_n": "inputs.n=3", "run_id": "r"}


# -- 4. cache --------------------------------------------------------------------------------

def test_cache_is_a_warning_at_its_key(tmp_path: Path) -> None:
    """Batch has no memoization: the spec still compiles (a rerun costs time, not correctness)."""
    _, diags = compile_spec(write_spec(tmp_path, container_task("a", "      cache: true\n")), unsupported="error")
    (d,) = list(diags)
    assert d.code == "E427" and "memoization" in d.message and d.span is not None and d.span.line == 10
    assert not diags.has_errors


# -- 5. foreach over a required input --------------------------------------------------------

def test_foreach_over_a_required_input_is_sized_at_bind(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, container_task("sq", "      foreach: ${{ inputs.xs }}\n"), inputs="{xs: {type: 'list[int]'}}")
    plan, diags = compile_spec(spec, unsupported="error")
    assert not list(diags)
    sub = bind_plan(plan, "r", {"xs": "[1, 2, 3]"})["submissions"][0]
    assert sub["arrayProperties"] == {"size": 3} and sub["tags"]["tether:foreach-input"] == "xs"
    one = bind_plan(plan, "r", {"xs": "[7]"})["submissions"][0]
    assert "arrayProperties" not in one and one["parameters"]["node"] == "sq[0]"
    with pytest.raises(PlanBindError, match="missing required input: xs"):
        bind_plan(plan, "r", {})


def test_the_default_profile_still_compiles(tmp_path: Path) -> None:
    plan, diags = compile_spec(write_spec(tmp_path, container_task("a")))
    assert not list(diags) and profile().target.platform == "EC2"


def test_a_fargate_spot_reclaim_is_retried_like_an_ec2_one() -> None:
    """ECS stops a reclaimed Fargate Spot task with "Your Spot Task was interrupted." after
    SIGTERM (exec exits 143): retried, as a reclaimed EC2 host is, so the interruption budget works."""
    from engines.batch import decide
    from tether.backends.batch import EVALUATE_ON_EXIT

    assert decide(EVALUATE_ON_EXIT, 143, "Your Spot Task was interrupted.", None)[0] == "RETRY"
    assert decide(EVALUATE_ON_EXIT, None, "Host EC2 (instance i-0abc) terminated.", None)[0] == "RETRY"
    assert decide(EVALUATE_ON_EXIT, 143, "Essential container in task exited", None)[0] == "EXIT"
    assert decide(EVALUATE_ON_EXIT, 1, "", None)[0] == "EXIT"


def test_the_size_check_leaves_room_for_the_longest_run_id(tmp_path: Path) -> None:
    """A plan that compiles is never refused by `tether submit` for its run id alone."""
    from tether.backends.batch import MAX_OVERRIDES

    for length in range(MAX_OVERRIDES - 1400, MAX_OVERRIDES - 900, 50):
        spec = write_spec(tmp_path, container_task("a", "      inputs: {s: '${{ inputs.s }}'}\n"),
                     inputs="{s: {type: str, default: '" + "x" * length + "'}}")
        plan, diags = compile_spec(spec)
        if diags.has_errors:
            continue
        bind_plan(plan, "r" * 100)  # must not raise PlanBindError
