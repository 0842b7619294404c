"""A local AWS Batch engine for tests: runs a submission plan the way AWS Batch would.

No AWS account is reachable from our machines, so the Batch backend is proven here: each job's
container command runs as a local process (the image is ignored) with the environment, parameter
substitution, dependencies, array children, retries, evaluateOnExit verdicts, timeouts and spot
reclaims that AWS Batch documents. Every rule cites the page it follows.

A plan is ``{"jobDefinitions": [RegisterJobDefinition requests], "submissions": [SubmitJob
requests]}``, submissions in topological order; ``dependsOn[].jobId`` names an earlier submission
by ``jobName`` (the real submitter swaps in job ids; this engine resolves them the same way).

Deliberate scalings, so tests stay fast: ``time_scale`` multiplies ``attemptDurationSeconds``
(AWS's 60 s minimum stays enforced on the request), and ``stop_grace_s`` replaces the 30 s
SIGTERM-to-SIGKILL grace of ECS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

__all__ = [
    "BatchResult",
    "DEPENDENCY_FAILED",
    "EXITED",
    "JobAttempt",
    "PlanError",
    "RECLAIMED",
    "Reclaim",
    "TIMED_OUT",
    "decide",
    "glob_matches",
    "run_plan",
]

# The statusReason of an attempt whose container exited on its own: ECS's stop code
# EssentialContainerExited, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
EXITED = "Essential container in task exited"
# A spot reclaim: the instance goes away ("Amazon EC2 instance failure or termination",
# https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html); AWS reports this statusReason
# and no exit code, which AWS's own retry example matches with onStatusReason "Host EC2*"
# (https://aws.amazon.com/blogs/compute/introducing-retry-strategies-for-aws-batch/). The instance
# id is a fixed placeholder so results are deterministic.
RECLAIMED = "Host EC2 (instance i-0123456789abcdef0) terminated."
# https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html: the attempt is terminated.
TIMED_OUT = "Job attempt duration exceeded timeout"
# https://docs.aws.amazon.com/batch/latest/userguide/job_dependencies.html: "If any of the job
# dependencies fail, the dependent job automatically transitions from PENDING to FAILED"; this is
# the statusReason DescribeJobs then shows.
DEPENDENCY_FAILED = "Dependent Job failed"
# A secret that cannot be fetched stops the task before its container starts, with no exit code: the
# ECS agent's ResourceInitializationError for a missing Secrets Manager secret
# (https://github.com/aws/amazon-ecs-agent/pull/4181; secrets in Batch jobs:
# https://docs.aws.amazon.com/batch/latest/userguide/troubleshooting-cant-specify-secrets.html).
SECRET_MISSING = ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                  "retrieval failed: unable to retrieve secret from asm: secret {arn} not found")

# A command the container cannot execute: ECS's CannotStartContainerError (stop codes as above).
CANNOT_START = "CannotStartContainerError"

COMPUTE_ENVIRONMENT = "tether-test-ce"
_HOST_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_IDS = uuid.UUID("6f1c2a0e-8d3b-5c4e-9a7f-0b1d2e3f4a5b")

UnitKey = tuple[str, Optional[int]]


class PlanError(ValueError):
    """A request AWS Batch would refuse (RegisterJobDefinition / SubmitJob raise ClientException)."""


@dataclass(frozen=True)
class Reclaim:
    """A spot reclaim of attempt ``attempt`` (1-based) of ``job_name`` (array child: ``index``).

    It strikes ``after_s`` seconds after the attempt started; an attempt that ended before is not reclaimed.
    """

    job_name: str
    attempt: int
    index: int | None = None
    after_s: float = 0.5


@dataclass
class JobAttempt:
    """One attempt as DescribeJobs' ``attempts[]`` would show it, plus what ran."""

    job_name: str
    index: int | None
    attempt: int
    argv: list[str]
    env: dict[str, str]
    exit_code: int | None
    status_reason: str
    reason: str | None
    action: str  # "SUCCEEDED"; "RETRY" when another attempt follows; "EXIT" otherwise
    rule: int | None = None  # index of the evaluateOnExit entry that matched, if one did
    output: str = ""  # the container's stdout and stderr


@dataclass
class BatchResult:
    jobs: dict[str, str]  # jobName -> SUCCEEDED | FAILED (array parents derived from children)
    attempts: list[JobAttempt]
    job_ids: dict[str, str]  # jobName -> the job id the engine gave it
    status_reasons: dict[str, str] = field(default_factory=dict)  # jobName or "jobName:index"

    def attempts_of(self, job_name: str, index: int | None = None) -> list[JobAttempt]:
        return [a for a in self.attempts if a.job_name == job_name and a.index == index]


@dataclass
class _Job:
    """One submission with its definition and overrides resolved."""

    name: str
    job_id: str
    order: int
    argv: list[str]
    env: dict[str, str]
    secrets: list[tuple[str, str]]  # (variable name, valueFrom)
    queue: str
    attempts: int
    rules: list[dict[str, str]]
    timeout_s: int | None
    array_size: int | None
    depends_on: list[dict[str, str]]

    def units(self) -> list[UnitKey]:
        if self.array_size is None:
            return [(self.name, None)]
        return [(self.name, i) for i in range(self.array_size)]


@dataclass(frozen=True)
class _Context:
    base_env: Mapping[str, str]
    secrets: Mapping[str, str]
    reclaims: Mapping[tuple[str, int | None, int], Reclaim]
    workdir: Path
    time_scale: float
    stop_grace_s: float


@dataclass(frozen=True)
class _Outcome:
    exit_code: int | None
    status_reason: str
    output: str


# --------------------------------------------------------------------------- evaluateOnExit

def glob_matches(pattern: str, value: str | None) -> bool:
    """AWS's glob: exact, or a prefix when the pattern ends with its only ``*``.

    https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html: patterns "can
    end with an asterisk (*) so that only the start of the string needs to be an exact match";
    nothing documents case folding for patterns (only ``action`` is case-insensitive), so matching
    is case-sensitive.
    """
    if value is None:
        return False
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def _rule_matches(rule: Mapping[str, str], exit_code: int | None, status_reason: str, reason: str | None) -> bool:
    # API_EvaluateOnExit: the action applies "if all of the specified conditions (onStatusReason,
    # onReason, and onExitCode) are met". onExitCode matches "the decimal representation of the
    # ExitCode": an attempt with no exit code (a reclaim) matches no onExitCode. A missing reason
    # is the empty string, so job_retries.html's catch-all `{"action": "EXIT", "onReason": "*"}`
    # ("a final entry that exits for any reason") matches it.
    if "onExitCode" in rule and (exit_code is None or not glob_matches(rule["onExitCode"], str(exit_code))):
        return False
    if "onStatusReason" in rule and not glob_matches(rule["onStatusReason"], status_reason):
        return False
    if "onReason" in rule and not glob_matches(rule["onReason"], reason or ""):
        return False
    return True


def decide(rules: Sequence[Mapping[str, str]], exit_code: int | None, status_reason: str,
           reason: str | None) -> tuple[str, int | None]:
    """The verdict on a failed attempt: ("RETRY" | "EXIT", index of the first matching rule).

    The first matching entry wins; its action is case-insensitive; when none matches the job is
    retried (https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html, "If
    none of the EvaluateOnExit conditions in a RetryStrategy match, then the job is retried").
    Without evaluateOnExit every failure is retried while attempts remain
    (https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html).
    """
    for i, rule in enumerate(rules):
        if _rule_matches(rule, exit_code, status_reason, reason):
            return rule["action"].upper(), i
    return "RETRY", None


# --------------------------------------------------------------------------- plan -> jobs

def _definitions(plan: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Registered definitions by name, one entry per revision (the first registration is revision 1).

    https://docs.aws.amazon.com/batch/latest/userguide/job_definition_parameters.html (jobDefinitionName).
    """
    defs: dict[str, list[dict[str, Any]]] = {}
    for d in plan.get("jobDefinitions", []):
        if d.get("type", "container") != "container" or "containerProperties" not in d:
            raise PlanError(f"job definition {d.get('jobDefinitionName')!r}: only container jobs run here")
        defs.setdefault(d["jobDefinitionName"], []).append(d)
    return defs


def _definition(defs: Mapping[str, list[dict[str, Any]]], ref: str) -> dict[str, Any]:
    # API_SubmitJob jobDefinition: "name:revision", an ARN, or a bare name (latest active revision).
    # https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
    short = ref.split("job-definition/", 1)[1] if ref.startswith("arn:") else ref
    name, _, rev = short.partition(":")
    revisions = defs.get(name)
    if not revisions:
        raise PlanError(f"job definition {ref!r} is not registered")
    if not rev:
        return revisions[-1]
    if not rev.isdigit() or not 1 <= int(rev) <= len(revisions):
        raise PlanError(f"job definition {ref!r}: no such revision")
    return revisions[int(rev) - 1]


def _substitute(argv: Sequence[str], params: Mapping[str, str]) -> list[str]:
    """Replace ``Ref::name`` arguments by parameter values; unknown placeholders stay literal.

    https://docs.aws.amazon.com/batch/latest/userguide/example-use-parameters.html: ``Ref::``
    declarations in ``command`` are placeholders, defaults come from the definition's
    ``parameters``, and SubmitJob ``parameters`` override them. AWS documents placeholders as whole
    command elements, so only a whole element is replaced.
    """
    return [params.get(a[len("Ref::"):], a) if a.startswith("Ref::") else a for a in argv]


def _environment(pairs: Sequence[Mapping[str, str]], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in pairs:
        # https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html: "AWS_BATCH_ ... is a
        # protected environment variable prefix. You can't use this prefix for your own variables".
        if kv["name"].startswith("AWS_BATCH"):
            raise PlanError(f"{where}: environment variable {kv['name']!r} uses the reserved AWS_BATCH prefix")
        out[kv["name"]] = kv["value"]
    return out


def _retry(strategy: Mapping[str, Any] | None, where: str) -> tuple[int, list[dict[str, str]]]:
    # https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html: "between 1 and
    # 10 attempts"; evaluateOnExit is an "Array of up to 5 objects"; by default each job has one
    # attempt (https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html).
    strategy = strategy or {}
    attempts = strategy.get("attempts", 1)
    rules = list(strategy.get("evaluateOnExit", []))
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
        raise PlanError(f"{where}: retryStrategy.attempts={attempts!r} is outside 1..10")
    if len(rules) > 5:
        raise PlanError(f"{where}: evaluateOnExit has {len(rules)} entries; at most 5")
    for rule in rules:
        # API_EvaluateOnExit: action RETRY | EXIT, "The values aren't case sensitive".
        if str(rule.get("action", "")).upper() not in ("RETRY", "EXIT"):
            raise PlanError(f"{where}: evaluateOnExit action {rule.get('action')!r} is not RETRY or EXIT")
    return attempts, rules


def _job(order: int, sub: Mapping[str, Any], defs: Mapping[str, list[dict[str, Any]]]) -> _Job:
    name = sub["jobName"]
    where = f"submission {name!r}"
    definition = _definition(defs, sub["jobDefinition"])
    props = definition["containerProperties"]
    overrides = sub.get("containerOverrides", {})
    # API_SubmitJob: containerOverrides.command "overrides the default command"; environment
    # overrides add or replace variables; parameters override the definition's defaults;
    # retryStrategy and timeout given at submission override the definition's.
    command = overrides.get("command") or props.get("command")
    if not command:
        raise PlanError(f"{where}: no command (the image's CMD cannot run here)")
    params = {**definition.get("parameters", {}), **sub.get("parameters", {})}
    env = _environment(props.get("environment", []), where)
    env.update(_environment(overrides.get("environment", []), where))
    attempts, rules = _retry(sub.get("retryStrategy", definition.get("retryStrategy")), where)
    timeout = sub.get("timeout", definition.get("timeout")) or {}
    timeout_s = timeout.get("attemptDurationSeconds")
    # https://docs.aws.amazon.com/batch/latest/APIReference/API_JobTimeout.html: "The minimum
    # value for the timeout is 60 seconds."
    if timeout_s is not None and timeout_s < 60:
        raise PlanError(f"{where}: timeout {timeout_s}s is below the 60 s minimum")
    size = sub.get("arrayProperties", {}).get("size")
    # https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html: "an array size (between 2 and 10,000)".
    if size is not None and not 2 <= size <= 10_000:
        raise PlanError(f"{where}: arrayProperties.size={size} is outside 2..10,000")
    deps = list(sub.get("dependsOn", []))
    # API_SubmitJob dependsOn: "A job can depend upon a maximum of 20 jobs."
    if len(deps) > 20:
        raise PlanError(f"{where}: {len(deps)} dependencies; a job can depend upon a maximum of 20 jobs")
    queue = sub["jobQueue"].split("job-queue/", 1)[-1]
    return _Job(name=name, job_id=str(uuid.uuid5(_IDS, f"{order}:{name}")), order=order,
                argv=_substitute(command, params), env=env,
                secrets=[(s["name"], s["valueFrom"]) for s in props.get("secrets", [])],
                queue=queue, attempts=attempts, rules=rules, timeout_s=timeout_s, array_size=size,
                depends_on=deps)


def _unit_dependencies(job: _Job, earlier: Mapping[str, _Job]) -> dict[UnitKey, list[UnitKey]]:
    """What each of the job's units (the job, or each array child) waits for.

    https://docs.aws.amazon.com/batch/latest/userguide/job_dependencies.html and
    https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html: a plain dependency waits
    for the whole job (an array job: every child); N_TO_N between array jobs: child i waits for
    child i of the dependency; SEQUENTIAL without a job id: child i waits for child i-1.
    """
    deps: dict[UnitKey, list[UnitKey]] = {u: [] for u in job.units()}
    for d in job.depends_on:
        kind, dep_name = d.get("type"), d.get("jobId")
        if dep_name is None:
            if kind != "SEQUENTIAL" or job.array_size is None:
                raise PlanError(f"submission {job.name!r}: a dependency without jobId must be SEQUENTIAL on an array job")
            for i in range(1, job.array_size):
                deps[(job.name, i)].append((job.name, i - 1))
            continue
        dep = earlier.get(dep_name)
        if dep is None:
            raise PlanError(f"submission {job.name!r}: dependency {dep_name!r} is no earlier submission")
        if kind == "SEQUENTIAL":
            raise PlanError(f"submission {job.name!r}: SEQUENTIAL orders an array job's own children; give no jobId")
        if kind == "N_TO_N":
            if job.array_size is None or dep.array_size != job.array_size:
                raise PlanError(f"submission {job.name!r}: N_TO_N needs two array jobs of equal size "
                                f"({job.array_size} vs {dep.array_size})")
            for i in range(job.array_size):
                deps[(job.name, i)].append((dep.name, i))
            continue
        for unit in deps:
            deps[unit].extend(dep.units())
    return deps


# --------------------------------------------------------------------------- running attempts

def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    # https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html: the container "receives a
    # SIGTERM signal ... If the container is still running after 30 seconds, a SIGKILL signal is
    # sent" (ECS stops a reclaimed container the same way); the grace is scaled to `grace_s`.
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()


def _attempt_env(job: _Job, index: int | None, attempt: int, ctx: _Context) -> dict[str, str]:
    env = {k: os.environ[k] for k in _HOST_KEYS if k in os.environ}
    env.update(ctx.base_env)
    env.update(job.env)
    env.update({name: ctx.secrets[arn] for name, arn in job.secrets if arn in ctx.secrets})
    # https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html; an array child's job id
    # is "<parent id>:<index>" (https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html).
    env["AWS_BATCH_JOB_ID"] = job.job_id if index is None else f"{job.job_id}:{index}"
    env["AWS_BATCH_JOB_ATTEMPT"] = str(attempt)
    env["AWS_BATCH_JQ_NAME"] = job.queue
    env["AWS_BATCH_CE_NAME"] = COMPUTE_ENVIRONMENT
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
        env["AWS_BATCH_JOB_ARRAY_SIZE"] = str(job.array_size)
    return env


def _execute(job: _Job, index: int | None, attempt: int, env: dict[str, str], ctx: _Context) -> _Outcome:
    missing = [arn for _, arn in job.secrets if arn not in ctx.secrets]
    if missing:
        return _Outcome(None, SECRET_MISSING.format(arn=missing[0]), "")
    cwd = ctx.workdir / job.name / ("" if index is None else str(index)) / f"attempt-{attempt}"
    cwd.mkdir(parents=True, exist_ok=True)
    log = cwd / "output.log"
    deadlines: list[tuple[float, str]] = []
    with log.open("wb") as out:
        try:
            proc = subprocess.Popen(job.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:  # Docker cannot start the container: no exit code, like a missing secret
            return _Outcome(None, f"{CANNOT_START}: {exc.strerror}: {job.argv[0]}", "")
        started = time.monotonic()
        if job.timeout_s is not None:
            deadlines.append((started + job.timeout_s * ctx.time_scale, TIMED_OUT))
        reclaim = ctx.reclaims.get((job.name, index, attempt))
        if reclaim is not None:
            deadlines.append((started + reclaim.after_s, RECLAIMED))
        stopped_by = None
        for when, why in sorted(deadlines):
            try:
                proc.wait(timeout=max(0.0, when - time.monotonic()))
            except subprocess.TimeoutExpired:
                stopped_by = why
                _stop(proc, ctx.stop_grace_s)
            break
        proc.wait()
        _kill_group(proc.pid, signal.SIGKILL)  # a container's other processes end with it
    output = log.read_text(errors="replace")
    if stopped_by == RECLAIMED:
        return _Outcome(None, RECLAIMED, output)
    # Docker reports a container killed by signal N as exit code 128 + N.
    code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    return _Outcome(code, stopped_by or EXITED, output)


def _run_unit(job: _Job, index: int | None, ctx: _Context) -> tuple[str, str, list[JobAttempt]]:
    """Run one job or array child through its attempts; (status, statusReason, attempts)."""
    attempts: list[JobAttempt] = []
    for n in range(1, job.attempts + 1):
        env = _attempt_env(job, index, n, ctx)
        outcome = _execute(job, index, n, env, ctx)
        rule = None
        if outcome.exit_code == 0 and outcome.status_reason == EXITED:
            action = "SUCCEEDED"
        elif outcome.status_reason == TIMED_OUT:
            # https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html and API_SubmitJob
            # timeout: "If a job is terminated due to a timeout, it isn't retried."
            action = "EXIT"
        else:
            verdict, rule = decide(job.rules, outcome.exit_code, outcome.status_reason, None)
            action = "RETRY" if verdict == "RETRY" and n < job.attempts else "EXIT"
        attempts.append(JobAttempt(job_name=job.name, index=index, attempt=n, argv=list(job.argv), env=env,
                                   exit_code=outcome.exit_code, status_reason=outcome.status_reason,
                                   reason=None, action=action, rule=rule, output=outcome.output))
        if action != "RETRY":
            return ("SUCCEEDED" if action == "SUCCEEDED" else "FAILED"), outcome.status_reason, attempts
    raise AssertionError("unreachable: the last attempt never retries")


# --------------------------------------------------------------------------- the scheduler

def run_plan(plan: Mapping[str, Any], *, env: Mapping[str, str] = {}, secrets: Mapping[str, str] = {},
             reclaims: Sequence[Reclaim] = (), workdir: Path, max_parallel: int = 4,
             time_scale: float = 1.0, stop_grace_s: float = 5.0) -> BatchResult:
    """Run every submission of ``plan`` as AWS Batch would; jobs run in parallel where dependencies allow.

    ``env`` is the image's environment (each process also inherits PATH, HOME, LANG, LC_ALL and
    TMPDIR from this machine); ``secrets`` maps a secret's ARN (``valueFrom``) to its value;
    ``reclaims`` injects spot reclaims. Each attempt runs in a fresh directory under ``workdir``.
    """
    defs = _definitions(plan)
    jobs: dict[str, _Job] = {}
    deps: dict[UnitKey, list[UnitKey]] = {}
    for order, sub in enumerate(plan.get("submissions", [])):
        job = _job(order, sub, defs)
        if job.name in jobs:
            raise PlanError(f"jobName {job.name!r} is submitted twice; dependsOn could not tell them apart")
        deps.update(_unit_dependencies(job, jobs))
        jobs[job.name] = job
    planned: dict[tuple[str, int | None, int], Reclaim] = {}
    for r in reclaims:
        if (r.job_name, r.index) not in deps:
            raise ValueError(f"reclaim of {r.job_name!r} index {r.index}: no such job or array child")
        planned[(r.job_name, r.index, r.attempt)] = r
    ctx = _Context(base_env=dict(env), secrets=dict(secrets), reclaims=planned, workdir=Path(workdir),
                   time_scale=time_scale, stop_grace_s=stop_grace_s)

    status: dict[UnitKey, str] = {}
    reasons: dict[UnitKey, str] = {}
    runs: dict[UnitKey, list[JobAttempt]] = {}
    pending = list(deps)  # plan order, children by index
    with ThreadPoolExecutor(max_workers=max_parallel) as pool:
        running: dict[Future[tuple[str, str, list[JobAttempt]]], UnitKey] = {}
        while pending or running:
            progressed = True
            while progressed:
                progressed = False
                for unit in list(pending):
                    states = [status.get(d) for d in deps[unit]]
                    if "FAILED" in states:
                        status[unit], reasons[unit] = "FAILED", DEPENDENCY_FAILED
                    elif all(s == "SUCCEEDED" for s in states):
                        running[pool.submit(_run_unit, jobs[unit[0]], unit[1], ctx)] = unit
                    else:
                        continue
                    pending.remove(unit)
                    progressed = True
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                unit = running.pop(fut)
                status[unit], reasons[unit], runs[unit] = fut.result()

    results: dict[str, str] = {}
    status_reasons: dict[str, str] = {}
    for job in jobs.values():
        # array_jobs.html: the parent ends SUCCEEDED when every child succeeded, FAILED otherwise.
        results[job.name] = "SUCCEEDED" if all(status[u] == "SUCCEEDED" for u in job.units()) else "FAILED"
        for name, index in job.units():
            status_reasons[name if index is None else f"{name}:{index}"] = reasons[(name, index)]
    attempts = [a for unit in deps for a in runs.get(unit, [])]
    return BatchResult(jobs=results, attempts=attempts, job_ids={j.name: j.job_id for j in jobs.values()},
                       status_reasons=status_reasons)
