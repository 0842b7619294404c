"""The AWS Batch test engine itself, on small hand-written plans whose jobs run `sh -c` / `python3 -c`.

Ordering is proven by files, never by clocks: a job that must run after another checks the other's
marker file and fails without it. Every plan is also a real Batch request (batch_validate.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from engines.batch import (
    DEPENDENCY_FAILED,
    EXITED,
    RECLAIMED,
    TIMED_OUT,
    PlanError,
    Reclaim,
    decide,
    glob_matches,
    run_plan,
)

IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"
TETHER_RULES = [  # what the Batch backend emits (DESIGN.md, AWS Batch)
    {"action": "RETRY", "onExitCode": "75"},
    {"action": "RETRY", "onStatusReason": "Host EC2*"},
    {"action": "EXIT", "onReason": "*"},
]


def jobdef(name: str, command: list[str], *, env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "image": IMAGE,
        "command": command,
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
    }
    if env:
        props["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    props.update(extra.pop("props", {}))
    return {"jobDefinitionName": name, "type": "container", "containerProperties": props, **extra}


def submit(name: str, definition: str, **extra: Any) -> dict[str, Any]:
    return {"jobName": name, "jobQueue": "tether-spot", "jobDefinition": definition, **extra}


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


# --------------------------------------------------------------------------- plans

def dependency_plan(shared: str) -> dict[str, Any]:
    return {
        "jobDefinitions": [
            jobdef("mark", sh('touch "$SHARED/$NAME"'), env={"SHARED": shared}),
            jobdef("after-a", sh('test -f "$SHARED/a" && touch "$SHARED/b"'), env={"SHARED": shared}),
            jobdef("fail", sh("exit 3")),
        ],
        "submissions": [
            submit("a", "mark", containerOverrides={"environment": [{"name": "NAME", "value": "a"}]}),
            submit("b", "after-a:1", dependsOn=[{"jobId": "a"}]),
            submit("c", "fail"),
            submit("d", "mark", dependsOn=[{"jobId": "a"}, {"jobId": "c"}],
                   containerOverrides={"environment": [{"name": "NAME", "value": "d"}]}),
            submit("e", "mark", dependsOn=[{"jobId": "d"}],
                   containerOverrides={"environment": [{"name": "NAME", "value": "e"}]}),
        ],
    }


def array_plan(shared: str) -> dict[str, Any]:
    i = "$AWS_BATCH_JOB_ARRAY_INDEX"
    return {
        "jobDefinitions": [
            jobdef("gen", sh(f'touch "$SHARED/gen-{i}"'), env={"SHARED": shared}),
            jobdef("use", sh(f'test -f "$SHARED/gen-{i}" && touch "$SHARED/use-{i}"'), env={"SHARED": shared}),
            jobdef("seq", sh(f'if [ {i} -gt 0 ]; then test -f "$SHARED/seq-$(({i} - 1))" || exit 9; fi; '
                             f'test ! -f "$SHARED/seq-$(({i} + 1))" && touch "$SHARED/seq-{i}"'), env={"SHARED": shared}),
            jobdef("all", sh('test -f "$SHARED/gen-0" && test -f "$SHARED/gen-1" && test -f "$SHARED/gen-2"'),
                   env={"SHARED": shared}),
            jobdef("odd-fails", sh(f"exit $(({i} % 2))")),
        ],
        "submissions": [
            submit("gen", "gen", arrayProperties={"size": 3}),
            submit("use", "use", arrayProperties={"size": 3}, dependsOn=[{"jobId": "gen", "type": "N_TO_N"}]),
            submit("seq", "seq", arrayProperties={"size": 3}, dependsOn=[{"type": "SEQUENTIAL"}]),
            submit("all", "all", dependsOn=[{"jobId": "gen"}]),
            submit("odd", "odd-fails", arrayProperties={"size": 2}),
            submit("odd-next", "gen", arrayProperties={"size": 2}, dependsOn=[{"jobId": "odd", "type": "N_TO_N"}]),
        ],
    }


def attempts_plan(shared: str) -> dict[str, Any]:
    return {
        "jobDefinitions": [
            jobdef("third-time", sh('[ "$AWS_BATCH_JOB_ATTEMPT" = 3 ]'), retryStrategy={"attempts": 3}),
            jobdef("always-fails", sh("exit 1")),
        ],
        "submissions": [
            submit("third-time", "third-time"),
            submit("twice", "always-fails", retryStrategy={"attempts": 2}),
            submit("once", "always-fails"),
        ],
    }


def evaluate_plan(shared: str) -> dict[str, Any]:
    retry = {"attempts": 3, "evaluateOnExit": TETHER_RULES}
    return {
        "jobDefinitions": [
            jobdef("tempfail-once", sh('[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exit 75; exit 0'), retryStrategy=retry),
            jobdef("fatal", sh("exit 1"), retryStrategy=retry),
            jobdef("tempfail-always", sh("exit 75"), retryStrategy=retry),
            # sleeps (until reclaimed) on attempt 1 of the job, or of its child 1
            jobdef("long-first", sh('[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && [ "${AWS_BATCH_JOB_ARRAY_INDEX:-1}" = 1 ] '
                                    '&& exec sleep 60; exit 0'), retryStrategy=retry),
        ],
        "submissions": [
            submit("tempfail-once", "tempfail-once"),
            submit("fatal", "fatal"),
            submit("tempfail-always", "tempfail-always"),
            submit("reclaimed", "long-first"),
            submit("reclaimed-child", "long-first", arrayProperties={"size": 2}),
        ],
    }


def parameters_plan(shared: str) -> dict[str, Any]:
    echo = ["python3", "-c", "import sys; print(' '.join(sys.argv[1:]))"]
    return {
        "jobDefinitions": [
            jobdef("echo", [*echo, "Ref::greeting", "Ref::who", "Ref::missing", "x-Ref::who"],
                   parameters={"greeting": "hello", "who": "nobody"},
                   env={"KEEP": "1", "REPLACED": "old"},
                   props={"secrets": [{"name": "TOKEN",
                                       "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tok"}]}),
            jobdef("needs-secret", sh("true"),
                   props={"secrets": [{"name": "GONE",
                                       "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone"}]}),
        ],
        "submissions": [
            submit("echo", "echo", parameters={"who": "world"},
                   containerOverrides={"environment": [{"name": "REPLACED", "value": "new"}]}),
            submit("override", "echo", parameters={"greeting": "hi"},
                   containerOverrides={"command": [*echo, "Ref::greeting", "$TOKEN"]}),
            submit("no-secret", "needs-secret"),
            submit("no-binary", "echo", containerOverrides={"command": ["tether-no-such-binary"]}),
        ],
    }


def timeout_plan(shared: str) -> dict[str, Any]:
    return {
        "jobDefinitions": [jobdef("sleeper", ["sleep", "120"], retryStrategy={"attempts": 3},
                                  timeout={"attemptDurationSeconds": 60})],
        "submissions": [submit("sleeper", "sleeper"), submit("quick", "sleeper", containerOverrides={"command": ["true"]})],
    }


PLANS: dict[str, Callable[[str], dict[str, Any]]] = {
    "dependencies": dependency_plan,
    "arrays": array_plan,
    "attempts": attempts_plan,
    "evaluate": evaluate_plan,
    "parameters": parameters_plan,
    "timeout": timeout_plan,
}


# --------------------------------------------------------------------------- the plans are real requests

@pytest.fixture(scope="module")
def batch_validate(request: pytest.FixtureRequest) -> Any:
    shared = request.getfixturevalue("shared_dir")
    sys.path.insert(0, str(shared / "conformance"))
    try:
        return pytest.importorskip("batch_validate")
    finally:
        sys.path.remove(str(shared / "conformance"))


@pytest.mark.parametrize("name", sorted(PLANS))
def test_plans_are_valid_batch_requests(batch_validate: Any, name: str) -> None:
    text = json.dumps(PLANS[name]("/tmp/shared"))
    errors = [f.format() for f in batch_validate.validate_file(f"{name}.json", text=text) if f.level == "error"]
    assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------- behaviour

def test_dependencies_order_jobs_and_a_failed_dependency_fails_without_running(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    result = run_plan(dependency_plan(str(shared)), workdir=tmp_path / "work")

    assert result.jobs == {"a": "SUCCEEDED", "b": "SUCCEEDED", "c": "FAILED", "d": "FAILED", "e": "FAILED"}
    assert sorted(p.name for p in shared.iterdir()) == ["a", "b"]
    assert result.attempts_of("d") == [] and result.attempts_of("e") == []
    assert result.status_reasons["d"] == DEPENDENCY_FAILED == result.status_reasons["e"]
    [c] = result.attempts_of("c")
    assert (c.exit_code, c.status_reason, c.action) == (3, EXITED, "EXIT")
    [a] = result.attempts_of("a")
    assert a.env["AWS_BATCH_JOB_ID"] == result.job_ids["a"]
    assert a.env["AWS_BATCH_JQ_NAME"] == "tether-spot" and a.env["AWS_BATCH_CE_NAME"]
    assert "AWS_BATCH_JOB_ARRAY_INDEX" not in a.env


def test_array_jobs_n_to_n_sequential_and_parent_status(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    result = run_plan(array_plan(str(shared)), workdir=tmp_path / "work", max_parallel=3)

    assert result.jobs == {"gen": "SUCCEEDED", "use": "SUCCEEDED", "seq": "SUCCEEDED", "all": "SUCCEEDED",
                           "odd": "FAILED", "odd-next": "FAILED"}
    for i in range(3):
        [child] = result.attempts_of("use", i)
        assert child.env["AWS_BATCH_JOB_ARRAY_INDEX"] == str(i)
        assert child.env["AWS_BATCH_JOB_ARRAY_SIZE"] == "3"
        assert child.env["AWS_BATCH_JOB_ID"] == f"{result.job_ids['use']}:{i}"
    assert {p.name for p in shared.iterdir()} >= {"use-0", "use-1", "use-2", "seq-0", "seq-1", "seq-2"}
    # odd:1 failed, so odd-next:1 (N_TO_N) never ran while odd-next:0 did.
    assert [a.exit_code for a in result.attempts_of("odd", 1)] == [1]
    assert len(result.attempts_of("odd-next", 0)) == 1 and result.attempts_of("odd-next", 1) == []
    assert result.status_reasons["odd-next:1"] == DEPENDENCY_FAILED


def test_attempts_are_honoured_exactly_and_numbered_from_one(tmp_path: Path) -> None:
    result = run_plan(attempts_plan(""), workdir=tmp_path)

    assert result.jobs == {"third-time": "SUCCEEDED", "twice": "FAILED", "once": "FAILED"}
    third = result.attempts_of("third-time")
    assert [a.env["AWS_BATCH_JOB_ATTEMPT"] for a in third] == ["1", "2", "3"]
    assert [a.action for a in third] == ["RETRY", "RETRY", "SUCCEEDED"]
    assert [a.action for a in result.attempts_of("twice")] == ["RETRY", "EXIT"]
    assert [a.action for a in result.attempts_of("once")] == ["EXIT"]


def test_evaluate_on_exit_retries_75_and_reclaims_but_not_fatal_exits(tmp_path: Path) -> None:
    reclaims = [Reclaim("reclaimed", attempt=1, after_s=0.2), Reclaim("reclaimed-child", attempt=1, index=1, after_s=0.2)]
    result = run_plan(evaluate_plan(""), reclaims=reclaims, workdir=tmp_path, stop_grace_s=5)

    assert result.jobs == {"tempfail-once": "SUCCEEDED", "fatal": "FAILED", "tempfail-always": "FAILED",
                           "reclaimed": "SUCCEEDED", "reclaimed-child": "SUCCEEDED"}
    first, second = result.attempts_of("tempfail-once")
    assert (first.exit_code, first.action, first.rule) == (75, "RETRY", 0)
    assert second.action == "SUCCEEDED"
    [fatal] = result.attempts_of("fatal")
    assert (fatal.exit_code, fatal.action, fatal.rule) == (1, "EXIT", 2)
    assert [(a.rule, a.action) for a in result.attempts_of("tempfail-always")] == [(0, "RETRY"), (0, "RETRY"), (0, "EXIT")]
    for name, index in (("reclaimed", None), ("reclaimed-child", 1)):
        lost, ok = result.attempts_of(name, index)
        assert (lost.exit_code, lost.status_reason, lost.reason, lost.action, lost.rule) == (None, RECLAIMED, None, "RETRY", 1)
        assert (ok.attempt, ok.action) == (2, "SUCCEEDED")
    assert [a.action for a in result.attempts_of("reclaimed-child", 0)] == ["SUCCEEDED"]


@pytest.mark.parametrize(
    ("rules", "exit_code", "status_reason", "expected"),
    [
        (TETHER_RULES, 75, EXITED, ("RETRY", 0)),
        (TETHER_RULES, 1, EXITED, ("EXIT", 2)),
        (TETHER_RULES, None, RECLAIMED, ("RETRY", 1)),
        ([{"action": "exit", "onExitCode": "7*"}], 75, EXITED, ("EXIT", 0)),  # action is case-insensitive
        ([{"action": "EXIT", "onExitCode": "7*"}], 17, EXITED, ("RETRY", None)),  # '*' is a prefix glob only
        ([{"action": "EXIT", "onExitCode": "*"}], None, RECLAIMED, ("RETRY", None)),  # no exit code, no match
        ([{"action": "EXIT", "onStatusReason": "host ec2*"}], None, RECLAIMED, ("RETRY", None)),  # case-sensitive
        ([{"action": "EXIT", "onExitCode": "75", "onStatusReason": "Host*"}], 75, EXITED, ("RETRY", None)),  # all must match
        ([], 1, EXITED, ("RETRY", None)),  # nothing matches: retried
    ],
)
def test_decide(rules: list[dict[str, str]], exit_code: int | None, status_reason: str,
                expected: tuple[str, int | None]) -> None:
    assert decide(rules, exit_code, status_reason, None) == expected


def test_glob_is_exact_or_a_trailing_star_prefix() -> None:
    assert glob_matches("Host EC2*", RECLAIMED) and glob_matches("75", "75")
    assert not glob_matches("75", "750") and not glob_matches("*EC2*", RECLAIMED)


def test_parameters_environment_and_secrets(tmp_path: Path) -> None:
    secrets = {"arn:aws:secretsmanager:eu-west-1:123456789012:secret:tok": "s3cr3t"}
    result = run_plan(parameters_plan(""), secrets=secrets, env={"FROM_IMAGE": "yes"}, workdir=tmp_path)

    [echo] = result.attempts_of("echo")
    assert echo.output == "hello world Ref::missing x-Ref::who\n"
    assert (echo.env["KEEP"], echo.env["REPLACED"], echo.env["TOKEN"], echo.env["FROM_IMAGE"]) == ("1", "new", "s3cr3t", "yes")
    [override] = result.attempts_of("override")
    assert override.argv[-2:] == ["hi", "$TOKEN"]  # no shell: the command is passed as is
    assert result.jobs["no-secret"] == "FAILED"
    [missing] = result.attempts_of("no-secret")
    assert missing.exit_code is None and missing.status_reason.startswith("ResourceInitializationError")
    [no_binary] = result.attempts_of("no-binary")
    assert no_binary.exit_code is None and no_binary.status_reason.startswith("CannotStartContainerError")


def test_a_timed_out_attempt_is_terminated_and_not_retried(tmp_path: Path) -> None:
    result = run_plan(timeout_plan(""), workdir=tmp_path, time_scale=0.005, stop_grace_s=5)

    assert result.jobs == {"sleeper": "FAILED", "quick": "SUCCEEDED"}
    [attempt] = result.attempts_of("sleeper")
    assert (attempt.status_reason, attempt.action, attempt.exit_code) == (TIMED_OUT, "EXIT", 143)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["submissions"][1].update(dependsOn=[{"jobId": "a"}] * 21), "maximum of 20"),
        (lambda p: p["submissions"][0].update(arrayProperties={"size": 1}), "2..10,000"),
        (lambda p: p["submissions"][0].update(retryStrategy={"attempts": 11}), "1..10"),
        (lambda p: p["submissions"][0].update(timeout={"attemptDurationSeconds": 59}), "60 s"),
    ],
)
def test_requests_aws_refuses_are_refused(tmp_path: Path, change: Callable[[dict[str, Any]], None],
                                          message: str, request: pytest.FixtureRequest) -> None:
    plan = dependency_plan(str(tmp_path))
    change(plan)
    with pytest.raises(PlanError, match=message):
        run_plan(plan, workdir=tmp_path)
    if (request.config.rootpath.parent / "shared" / "conformance").is_dir():  # the validator agrees
        validator = request.getfixturevalue("batch_validate")
        assert [f for f in validator.validate_file("x.json", text=json.dumps(plan)) if f.level == "error"]


def test_plan_shapes_the_engine_cannot_resolve_are_refused(tmp_path: Path) -> None:
    unknown = dependency_plan("")
    unknown["submissions"][1]["dependsOn"] = [{"jobId": "later"}]
    mismatched = array_plan("")
    mismatched["submissions"][1]["arrayProperties"] = {"size": 2}
    for plan, message in ((unknown, "no earlier submission"), (mismatched, "equal size")):
        with pytest.raises(PlanError, match=message):
            run_plan(plan, workdir=tmp_path)
