"""A task's retry policy as an Argo `retryStrategy`: one limit, the interruption signals, backoff.

Argo sees one budget (`limit` = user retries + interruption budget); `tether exec` keeps the
two apart from the run's journal (a recoverable failure with the user budget spent exits 1, not
75), so the expression below only has to recognise what is worth another attempt.

The `lastRetry.*` values, all strings, are set by the controller for the previous attempt in
`buildRetryStrategyLocalScope`
(https://github.com/argoproj/argo-workflows/blob/main/workflow/controller/operator.go):
`lastRetry.exitCode` is the attempt's exit code, or "-1" when the pod left none (a deleted pod);
`lastRetry.status` is the node phase; `lastRetry.message` the node message. Those come from:
- a pod that vanished (deleted, or drained through the eviction API): `podReconciliation` marks
  the node `Error` with `argoerrors.New("", "pod deleted")` (same file);
- a pod that failed with a pod-level message: `inferFailedReason` uses `pod.Status.Message` and
  phase `Failed` (same file). Kubernetes writes "Pod was terminated in response to imminent node
  shutdown." on a graceful node shutdown
  (https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#graceful-node-shutdown ;
  pkg/kubelet/nodeshutdown/nodeshutdown_manager_linux.go), "The node was low on resource: ..."
  on a node-pressure eviction (https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/ ;
  pkg/kubelet/eviction/helpers.go), and "Preempted in order to admit critical pod" when the
  kubelet preempts a pod (pkg/kubelet/preemption/preemption.go), all in github.com/kubernetes/kubernetes.
A timed-out attempt: a template's `activeDeadlineSeconds` becomes its pod's (`podBuilder.build`,
workflow/controller/workflowpod.go), so each attempt's pod gets its own deadline; the kubelet
fails the pod past it with reason DeadlineExceeded and message "Pod was active on the node longer
than the specified deadline" (pkg/kubelet/active_deadline.go in github.com/kubernetes/kubernetes),
which `inferFailedReason` makes a `Failed` node with that message (exit code: exec's 143, or 137
if the grace period ran out). `processNodeRetries` refuses no failure kind by itself (`CanRetry`
is `FailedOrError`, pkg/apis/workflow/v1alpha1/workflow_types.go), so the expression retries it:
tether charges a timeout to the user's retries (exec journals it and refuses an overdrawn
attempt), as `tether run` does.
Exit 74 (`EXIT_STORE_FAILURE`, tether.runtime.entry) is a run-store outage, not the task's
failure: exec charges no budget for it and the attempt can be run again as it was, so Argo
retries it as it retries 75. Argo cannot count it apart, so it spends one of `limit`'s attempts:
a task whose store keeps failing ends after `limit` retries rather than forever, and one with no
retries at all (no retryStrategy) fails on the first outage. The Batch backend's
`evaluateOnExit` retries 74 by the same rule.
An OOM kill (`main: OOMKilled (exit code 137)`) and any other failure match none of these, so
they are never retried. The expression is expr-lang (`asInt` from util/expr/env/env.go).
"""

from __future__ import annotations

from typing import Any

from ..core.ir import Task

EXIT_RECOVERABLE = 75
EXIT_STORE_FAILURE = 74  # tether.runtime.entry.EXIT_STORE_FAILURE (EX_IOERR); backends do not import the runtime
POD_DELETED = "pod deleted"
NODE_SHUTDOWN = "Pod was terminated in response to imminent node shutdown."
NODE_PRESSURE_PREFIX = "The node was low on resource"
PREEMPTED = "Preempted in order to admit critical pod"
DEADLINE = "Pod was active on the node longer than the specified deadline"

RETRY_EXPRESSION = (
    f"asInt(lastRetry.exitCode) == {EXIT_RECOVERABLE} || asInt(lastRetry.exitCode) == {EXIT_STORE_FAILURE}"
    f' || lastRetry.status == "Error" && lastRetry.message == "{POD_DELETED}"'
    f' || lastRetry.status == "Failed" && (lastRetry.message == "{NODE_SHUTDOWN}"'
    f' || lastRetry.message startsWith "{NODE_PRESSURE_PREFIX}"'
    f' || lastRetry.message == "{PREEMPTED}" || lastRetry.message == "{DEADLINE}")'
)


def retry_limit(task: Task) -> int:
    """Retries Argo may make: user retries plus the interruption budget of an interruptible task."""
    interruptions = task.interruptible.max_interruptions if task.interruptible is not None else 0
    return task.retry.retries + interruptions


def go_duration(seconds: int) -> str:
    """Seconds as a Go duration (`90` -> "1m30s"), which `wfv1.ParseStringToDuration` reads."""
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)


def retry_strategy(task: Task) -> tuple[dict[str, Any] | None, str | None]:
    """The retryStrategy (None when no retry is possible), and a problem Argo cannot express.

    Backoff: Argo waits `duration * factor**(n-1)`, capped by `cap`, before retry n, with an
    integer factor (`intstr.Int32(retryStrategy.Backoff.Factor)` in `processNodeRetries`,
    operator.go above). `maxDuration` bounds the total time spent retrying, which is not
    `max_delay`, so it is never set.
    """
    limit = retry_limit(task)
    if limit == 0:
        return None, None
    strategy: dict[str, Any] = {"limit": limit, "retryPolicy": "Always", "expression": RETRY_EXPRESSION}
    backoff = task.retry.backoff
    problem = None
    if backoff is not None:
        spec: dict[str, Any] = {"duration": go_duration(backoff.delay_s)}
        factor = backoff.factor
        if float(factor).is_integer():
            if factor != 1:
                spec["factor"] = int(factor)
        else:
            problem = f"Argo's backoff factor is an integer; {factor:g} is rounded down to {int(factor)}"
            spec["factor"] = max(int(factor), 1)
        if backoff.max_delay_s is not None:
            spec["cap"] = go_duration(backoff.max_delay_s)
        strategy["backoff"] = spec
    return strategy, problem


__all__ = ["EXIT_RECOVERABLE", "EXIT_STORE_FAILURE", "NODE_SHUTDOWN", "POD_DELETED", "RETRY_EXPRESSION", "go_duration", "retry_limit", "retry_strategy"]
