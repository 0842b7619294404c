"""The Argo test engine on small hand-written manifests whose containers are sh / python3 commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engines.argo import Injection, run_manifest
from engines.exprlang import evaluate_bool
from engines.govaluate import WhenError, evaluate_when
from tether.backends.argo_retry import RETRY_EXPRESSION

CONFORMANCE = Path("/work/shared/conformance/argo/examples")


def wf(templates: str, entry: str = "main", params: str = "") -> dict[str, Any]:
    text = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: t}}
spec:
  entrypoint: {entry}
  arguments: {{parameters: [{params}]}}
  templates:
{templates}
"""
    return yaml.safe_load(text)


SH = """
  - name: sh
    inputs: {parameters: [{name: cmd}]}
    outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out/v, default: none}}]}
    container: {image: alpine, command: [sh, -c], args: ["mkdir -p /tmp/out; {{inputs.parameters.cmd}}"]}
"""


def test_diamond_passes_outputs(tmp_path: Path) -> None:
    m = wf("""
  - name: main
    dag:
      tasks:
      - {name: a, template: sh, arguments: {parameters: [{name: cmd, value: "echo {{workflow.parameters.n}} > /tmp/out/v"}]}}
      - {name: b, template: sh, dependencies: [a], arguments: {parameters: [{name: cmd, value: "echo $(( {{tasks.a.outputs.parameters.out}} + 1 )) > /tmp/out/v"}]}}
      - {name: c, template: sh, dependencies: [a], arguments: {parameters: [{name: cmd, value: "echo $(( {{tasks.a.outputs.parameters.out}} * 10 )) > /tmp/out/v"}]}}
      - {name: d, template: sh, depends: b && c, arguments: {parameters: [{name: cmd, value: "echo {{tasks.b.outputs.parameters.out}}-{{tasks.c.outputs.parameters.out}} > /tmp/out/v"}]}}
""" + SH, params="{name: n, value: 4}")
    r = run_manifest(m, workdir=tmp_path, parameters={"n": "5"})
    assert r.phase == "Succeeded", r.message
    assert r.outputs["d"] == {"out": "6-50"}
    assert [p.task for p in r.pods][0] == "a" and r.pods[-1].task == "d"


def test_when_false_skips_and_depends_propagates(tmp_path: Path) -> None:
    m = wf("""
  - name: main
    dag:
      tasks:
      - {name: flip, template: sh, arguments: {parameters: [{name: cmd, value: "echo tails > /tmp/out/v"}]}}
      - {name: heads, template: sh, depends: flip, when: "{{tasks.flip.outputs.parameters.out}} == heads", arguments: {parameters: [{name: cmd, value: "true"}]}}
      - {name: tails, template: sh, depends: flip, when: "'{{tasks.flip.outputs.parameters.out}}' =~ '^t'", arguments: {parameters: [{name: cmd, value: "true"}]}}
      - {name: after-heads, template: sh, depends: heads, arguments: {parameters: [{name: cmd, value: "echo {{tasks.heads.outputs.parameters.out}} > /tmp/out/v"}]}}
      - {name: only-if-ran, template: sh, depends: heads.Succeeded, arguments: {parameters: [{name: cmd, value: "true"}]}}
      - {name: on-skip, template: sh, depends: heads.Skipped && !tails.Skipped, arguments: {parameters: [{name: cmd, value: "true"}]}}
""" + SH)
    r = run_manifest(m, workdir=tmp_path)
    assert r.phase == "Succeeded", r.message
    assert r.nodes == {"flip": "Succeeded", "heads": "Skipped", "tails": "Succeeded", "after-heads": "Succeeded",
                       "only-if-ran": "Omitted", "on-skip": "Succeeded"}
    # a skipped producer's output falls back to its valueFrom.default
    assert r.outputs["after-heads"] == {"out": "none"}


def test_with_param_fan_out_and_aggregated_outputs(tmp_path: Path) -> None:
    m = wf("""
  - name: main
    dag:
      tasks:
      - {name: gen, template: sh, arguments: {parameters: [{name: cmd, value: "echo '[1, \\"b\\", {\\"k\\": 2}]' > /tmp/out/v"}]}}
      - name: each
        template: sh
        depends: gen
        withParam: "{{tasks.gen.outputs.parameters.out}}"
        arguments: {parameters: [{name: cmd, value: "printf '%s' '{{item}}' > /tmp/out/v"}]}
      - {name: sum, template: sh, depends: each, arguments: {parameters: [{name: cmd, value: "echo '{{tasks.each.outputs.parameters.out}}' > /tmp/out/v"}]}}
      - {name: none, template: sh, withParam: "[]", arguments: {parameters: [{name: cmd, value: "true"}]}}
""" + SH)
    r = run_manifest(m, workdir=tmp_path)
    assert r.phase == "Succeeded", r.message
    assert sorted(p.node for p in r.attempts("each", 0) + r.attempts("each", 1) + r.attempts("each", 2)) == [
        "each(0:1)", "each(1:b)", "each(2:k:2)"]
    # aggregatedJSONValueList: not all values are JSON lists/maps, so a JSON list of strings
    assert r.outputs["each"] == {"out": '["1","b","{\\"k\\":2}"]'}
    assert r.outputs["sum"] == {"out": '["1","b","{\\"k\\":2}"]'}
    assert r.nodes["none"] == "Skipped"  # "Skipped, empty params"


RETRY = """
  - name: main
    dag:
      tasks:
      - {name: t, template: flaky}
  - name: flaky
    retryStrategy: {limit: "%(limit)s", retryPolicy: Always, expression: '%(expr)s',
                    backoff: {duration: "1s", factor: 2, cap: "3s"}}
    container:
      image: python
      command: [python3, -c, "%(code)s", "{{retries}}", "{{lastRetry.exitCode}}", "{{lastRetry.status}}"]
"""


def retry_wf(code: str, expr: str = "asInt(lastRetry.exitCode) == 75", limit: int = 5) -> dict[str, Any]:
    return wf(RETRY % {"code": code, "expr": expr, "limit": limit})


@pytest.mark.parametrize("codes,attempts,phase", [
    ([75, 75, 0], 3, "Succeeded"),  # 75 is retried
    ([75, 1], 2, "Failed"),  # 1 is not
    ([137], 1, "Failed"),  # nor 137
])
def test_retry_expression_retries_exit_75_only(tmp_path: Path, codes: list[int], attempts: int, phase: str) -> None:
    code = f"import sys; sys.exit({codes}[int(sys.argv[1])])"
    r = run_manifest(retry_wf(code), workdir=tmp_path)
    tries = r.attempts("t")
    assert (r.phase, len(tries)) == (phase, attempts)
    assert [p.exit_code for p in tries] == codes[:attempts]
    assert [p.backoff_s for p in tries] == [0.0, 1.0, 2.0][:attempts]
    assert tries[0].argv[-3:] == ["0", "0", ""] and (attempts == 1 or tries[1].argv[-3:] == ["1", "75", "Failed"])
    if phase == "Failed":
        assert r.nodes["t"] == "Failed" and tries[-1].message == f"main: Error (exit code {codes[attempts - 1]})"


def test_limit_is_honoured_exactly(tmp_path: Path) -> None:
    r = run_manifest(retry_wf("import sys; sys.exit(75)", limit=2), workdir=tmp_path)
    assert len(r.attempts("t")) == 3 and r.phase == "Failed"
    assert [p.backoff_s for p in r.attempts("t")] == [0.0, 1.0, 2.0]


def test_pod_deleted_and_node_shutdown_seen_through_last_retry(tmp_path: Path) -> None:
    # The child says it is ready (its SIGTERM handler installed) by writing a file; each strike
    # waits for that file, never for a time, so a loaded machine cannot strike too early.
    ready = tmp_path / "ready"
    code = ("import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(143)); "
            f"pathlib.Path({str(ready)!r} + sys.argv[1]).touch(); "
            "time.sleep(60) if int(sys.argv[1]) < 2 else None")
    expr = ('lastRetry.status == "Error" && lastRetry.message == "pod deleted" && lastRetry.exitCode == "-1" || '
            'lastRetry.message contains "node shutdown" && asInt(lastRetry.exitCode) == 143')
    inj = [Injection("t", 1, "pod-deleted", after_file=f"{ready}0"),
           Injection("t", 2, "node-shutdown", after_file=f"{ready}1")]
    r = run_manifest(retry_wf(code, expr), workdir=tmp_path / "w", injections=inj)
    tries = r.attempts("t")
    assert r.phase == "Succeeded", r.message
    assert [(p.phase, p.exit_code, p.message) for p in tries] == [
        ("Error", None, "pod deleted"),
        ("Failed", 143, "Pod was terminated in response to imminent node shutdown."),
        ("Succeeded", 0, ""),
    ]
    assert tries[1].argv[-3:] == ["1", "0", "Error"]  # the pod's own {{lastRetry.exitCode}} defaults to 0


def test_the_retry_expression_retries_a_store_failure(tmp_path: Path) -> None:
    """Exit 74 (a run-store outage, no budget charged by exec) is retried; 1 after it is not."""
    r = run_manifest(retry_wf("import sys; sys.exit([74, 74, 0][int(sys.argv[1])])", RETRY_EXPRESSION),
                     workdir=tmp_path / "ok")
    assert (r.phase, [p.exit_code for p in r.attempts("t")]) == ("Succeeded", [74, 74, 0])
    r = run_manifest(retry_wf("import sys; sys.exit([74, 1, 0][int(sys.argv[1])])", RETRY_EXPRESSION),
                     workdir=tmp_path / "fail")
    assert (r.phase, [p.exit_code for p in r.attempts("t")]) == ("Failed", [74, 1])


def test_oom_and_eviction_are_failed_137(tmp_path: Path) -> None:
    inj = [Injection("t", 1, "oom", after_s=0.2), Injection("t", 2, "evicted", after_s=0.2)]
    r = run_manifest(retry_wf("import time; time.sleep(30)", expr="true", limit=1), workdir=tmp_path, injections=inj)
    tries = r.attempts("t")
    assert [(p.phase, p.exit_code) for p in tries] == [("Failed", 137), ("Failed", 137)]
    assert tries[0].message == "main: OOMKilled (exit code 137)"
    assert tries[1].message.startswith("The node was low on resource: memory.")
    assert r.phase == "Failed"


def test_active_deadline_seconds_kills_the_pod(tmp_path: Path) -> None:
    m = wf("""
  - name: main
    dag: {tasks: [{name: slow, template: slow}]}
  - name: slow
    activeDeadlineSeconds: 1
    container: {image: alpine, command: [sleep, "30"]}
""")
    r = run_manifest(m, workdir=tmp_path)
    [pod] = r.attempts("slow")
    assert (pod.phase, pod.message) == ("Failed", "Pod was active on the node longer than the specified deadline")
    assert r.phase == "Failed"


def test_unresolvable_tag_is_an_error(tmp_path: Path) -> None:
    m = wf("""
  - name: main
    dag: {tasks: [{name: a, template: echo}]}
  - name: echo
    container: {image: alpine, command: [echo, "{{inputs.parameters.nope}}"]}
""")
    r = run_manifest(m, workdir=tmp_path)
    assert r.phase == "Error" and r.nodes == {"a": "Error"}
    assert r.message == "failed to resolve {{inputs.parameters.nope}}"
    assert r.pods == []


def test_missing_secret_fails_without_retry(tmp_path: Path) -> None:
    m = wf("""
  - name: main
    dag: {tasks: [{name: a, template: env}]}
  - name: env
    retryStrategy: {limit: 3}
    container:
      image: alpine
      command: [sh, -c, 'test "$TOKEN" = s3cret']
      env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}]
""")
    ok = run_manifest(m, workdir=tmp_path / "ok", secrets={"creds": {"token": "s3cret"}})
    assert ok.phase == "Succeeded", ok.message
    bad = run_manifest(m, workdir=tmp_path / "bad")
    assert [p.message for p in bad.attempts("a")] == ['CreateContainerConfigError: secret "creds" not found']
    assert bad.phase == "Error"


def test_expression_languages() -> None:
    assert evaluate_when("hello == hello") and not evaluate_when("'a b' == 'a c'")
    assert evaluate_when("3 in (1, 2, 3)") and evaluate_when("!(1 > 2) && 2 >= 2")
    with pytest.raises(WhenError):
        evaluate_when("my-value == my-value")  # govaluate: '-' is subtraction of two strings
    scope = {"lastRetry": {"exitCode": "75", "status": "Failed"}}
    assert evaluate_bool('asInt(lastRetry.exitCode) in [75, 143] and lastRetry.status != "Error"', scope)
    assert not evaluate_bool("lastRetry.exitCode == 75", scope)  # string vs int: never equal


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="/work/shared conformance examples are absent")
@pytest.mark.parametrize("name,nodes", [
    ("dag-diamond.yaml", {"A": "Succeeded", "B": "Succeeded", "C": "Succeeded", "D": "Succeeded"}),
    ("dag-enhanced-depends.yaml", {"A": "Succeeded", "B": "Succeeded", "C": "Failed", "should-execute-1": "Succeeded",
                                   "should-execute-2": "Succeeded", "should-not-execute": "Omitted",
                                   "should-execute-3": "Succeeded"}),
])
def test_argo_examples(tmp_path: Path, name: str, nodes: dict[str, str]) -> None:
    """Argo's own examples whose busybox commands (echo, sh -c) also exist on this machine."""
    r = run_manifest(yaml.safe_load((CONFORMANCE / name).read_text()), workdir=tmp_path)
    assert (r.phase, r.nodes) == ("Succeeded", nodes), r.message
