"""Examples compiled to Argo and run by the test Argo engine (tests/engines/argo.py) give the same
node outputs as `tether run`, with the run store on a real S3 server (moto); and Argo's retry
strategy, as compiled, retries exactly what the local runtime retries.

Each pod's command is the compiled `tether exec` (this interpreter, through the profile's
`tether` command), with PYTHONPATH standing in for the image's code.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engines.argo import NODE_SHUTDOWN_MESSAGE, STRICT_ALL, EngineResult, Injection, run_manifest, substitute
from tether.backends import Profile
from tether.backends.argo import backend
from tether.backends.argo_escape import escape_literal, workflow_input
from tether.backends.argo_profile import ArgoProfile
from tether.compiler.load import load
from tether.core.diagnostics import Diagnostics
from tether.runtime.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
TETHER = [sys.executable, "-m", "tether"]
# case -> (example, -p values, inputs of type dir given a fresh absolute directory per run). A pod
# runs in its own directory, so a relative `dir` default would name a different place in each pod
# (on a cluster, in each container): the parity runs pass absolute ones, distinct for the two runs,
# and compare what the runs wrote there.
CASES: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "checkpointing": ("checkpointing", {"n_iterations": "10"}, ()),
    "diamond": ("diamond", {}, ()),
    "fanout_sweep": ("fanout_sweep", {}, ()),
    "containers": ("containers", {}, ()),
    # a weekday has orders: transform + load run and report-empty is skipped
    "etl_conditional-weekday": ("etl_conditional", {"day": "2024-06-03"}, ("staging_dir", "warehouse_dir")),
    # the example's comment: `-p day=2024-06-02` (a Sunday) has none: only report-empty runs
    "etl_conditional-weekend": ("etl_conditional", {"day": "2024-06-02"}, ("staging_dir", "warehouse_dir")),
    "ml_training": ("ml_training", {}, ("registry_dir",)),
}
# The secrets etl_conditional names: the engine serves them through secretKeyRef, `tether run` reads
# them from the environment variables the spec maps them to (runtime/task_env.py).
SECRETS: dict[str, dict[str, str]] = {"order-service": {"api-token": "t0ken"}, "warehouse": {"user": "u", "password": "p w"}}
SECRET_ENV = {"ORDER_SERVICE_TOKEN": "t0ken", "WAREHOUSE_USER": "u", "WAREHOUSE_PASSWORD": "p w"}


@pytest.fixture
def s3_store(s3_bucket: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
    bucket, options = s3_bucket
    env = {
        "TETHER_STORE_OPTIONS": json.dumps(options),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(EXAMPLES)]),
        "PATH": os.environ.get("PATH", ""),
        "NO_COLOR": "1",
    }
    return f"{bucket}/runs", env


def compile_manifest(spec: str | Path, store: str) -> dict[str, Any]:
    result = load(str(spec))
    assert result.workflow is not None
    diags = Diagnostics()
    profile = Profile(store=store, image="python:3.12-slim", target=ArgoProfile(tether=TETHER))
    (manifest,) = backend.compile(result.workflow, profile, diags)
    assert not diags.has_errors, [str(d) for d in diags]
    return manifest.document  # type: ignore[no-any-return]


def _store(uri: str, env: dict[str, str]) -> RunStore:
    return RunStore(uri, json.loads(env["TETHER_STORE_OPTIONS"]))


def _outputs(store: RunStore, run_id: str) -> dict[str, Any]:
    """Node outputs; a foreach task's own entry (its `--decide` verdict, no outputs) is not one."""
    found = {node: store.read_outputs(run_id, node) for node in sorted(store.list_nodes(run_id))}
    return {node: out for node, out in found.items() if out is not None}


def _run(manifest: dict[str, Any], uid: str, env: dict[str, str], workdir: Path, **kw: Any) -> EngineResult:
    return run_manifest(manifest, env=env, workdir=workdir, uid=uid, max_parallel=2, **kw)


def _why(result: EngineResult) -> list[Any]:
    return [result.message, *[(p.node, p.attempt, p.phase, p.exit_code, p.message, p.stderr[-600:]) for p in result.pods]]


def _with_files(value: Any, root: Path) -> Any:
    """A path under `root` becomes (relative path, contents): the two runs write to different roots."""
    if isinstance(value, str) and value.startswith(str(root) + os.sep):
        path = Path(value)
        return ("<path>", path.relative_to(root).as_posix(), path.read_text(encoding="utf-8") if path.is_file() else None)
    if isinstance(value, list):
        return [_with_files(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _with_files(v, root) for k, v in value.items()}
    return value


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_example_on_argo_matches_tether_run(case: str, s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    stem, values, dirs = CASES[case]
    roots = {run: tmp_path / f"{run}-data" for run in ("on-argo", "local")}
    params = {run: {**values, **{d: str(roots[run] / d) for d in dirs}} for run in roots}
    manifest = compile_manifest(EXAMPLES / f"{stem}.yaml", uri)
    result = _run(manifest, "on-argo", env, tmp_path / "argo", parameters=params["on-argo"], secrets=SECRETS)
    assert result.phase == "Succeeded", _why(result)
    local = subprocess.run(
        [*TETHER, "run", str(EXAMPLES / f"{stem}.yaml"), "--store", uri, "--run-id", "local",
         *(f"-p{k}={v}" for k, v in params["local"].items())],
        env={**os.environ, **env, **SECRET_ENV}, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert local.returncode == 0, local.stderr
    store = _store(uri, env)
    on_argo = _with_files(_outputs(store, "on-argo"), roots["on-argo"])
    assert on_argo and on_argo == _with_files(_outputs(store, "local"), roots["local"])
    assert _tree(roots["on-argo"]) == _tree(roots["local"])


def test_etl_branches_follow_the_day(s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """The two `when` branches of etl_conditional, as the engine ran them (govaluate on Argo's side)."""
    uri, env = s3_store
    manifest = compile_manifest(EXAMPLES / "etl_conditional.yaml", uri)
    ran = {}
    for day in ("2024-06-03", "2024-06-02"):
        dirs = {d: str(tmp_path / day / d) for d in ("staging_dir", "warehouse_dir")}
        result = _run(manifest, f"etl-{day}", env, tmp_path / f"w-{day}", parameters={"day": day, **dirs}, secrets=SECRETS)
        assert result.phase == "Succeeded", _why(result)
        ran[day] = {n: p for n, p in result.nodes.items() if p != "Succeeded"}
    assert ran["2024-06-03"] == {"report-empty": "Skipped"}
    # load reads transform's output: Argo omits it (its `depends` cannot be met) or skips it on its `when`
    assert ran["2024-06-02"]["transform"] == "Skipped" and ran["2024-06-02"]["load"] in ("Skipped", "Omitted")
    assert set(ran["2024-06-02"]) == {"transform", "load"}


def test_a_missing_secret_keeps_the_pod_from_starting(s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    manifest = compile_manifest(EXAMPLES / "etl_conditional.yaml", uri)
    dirs = {d: str(tmp_path / d) for d in ("staging_dir", "warehouse_dir")}
    result = _run(manifest, "no-secret", env, tmp_path / "w", parameters=dirs, secrets={})
    (extract,) = result.attempts("extract")
    # the engine ends a pod whose container can never start with phase Error (Argo leaves it Pending)
    assert result.phase == "Error" and extract.message.startswith("CreateContainerConfigError"), _why(result)


def test_an_expression_template_calls_sprig_over_the_expanded_inputs() -> None:
    """util/expr/env/env.go GetFuncMap + util/expand.Expand: `inputs.parameters` is the map of the
    template's inputs (the flat JSON `inputs.parameters` key yields to its children), `toJson` is
    json.Marshal (sorted keys, HTML-escaped) and `sprig.sha256sum` a hex digest."""
    scope = {"inputs.parameters.b": "<2>", "inputs.parameters.a": "1", "inputs.parameters": "[...]"}
    got = substitute("k-{{=sprig.sha256sum(toJson(inputs.parameters))}}", scope, STRICT_ALL)
    assert got == "k-" + hashlib.sha256(b'{"a":"1","b":"\\u003c2\\u003e"}').hexdigest()
    # before the inputs are known (the global pass), the tag stays for the template pass
    assert substitute("{{=sprig.sha256sum(toJson(inputs.parameters))}}", {}, None) == "{{=sprig.sha256sum(toJson(inputs.parameters))}}"


def _memoized(manifest: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """diamond's one memoized template: its key's literal prefix and its DAG task's arguments."""
    (tmpl,) = [t for t in manifest["spec"]["templates"] if "memoize" in t]
    dag = next(t for t in manifest["spec"]["templates"] if "dag" in t)
    (task,) = [t for t in dag["dag"]["tasks"] if t["template"] == tmpl["name"]]
    arguments = (task.get("arguments") or {}).get("parameters") or []
    return tmpl["memoize"]["key"].split("{{")[0], {p["name"]: p["value"] for p in arguments}


def test_memoize_serves_a_second_run_from_the_cache(s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """diamond's `cache: true` task: a second run with the same inputs reuses the outputs, no pod."""
    uri, env = s3_store
    manifest = compile_manifest(EXAMPLES / "diamond.yaml", uri)
    cache: dict[Any, Any] = {}
    first = _run(manifest, "memo-1", env, tmp_path / "1", cache=cache)
    second = _run(manifest, "memo-2", env, tmp_path / "2", cache=cache)
    assert first.phase == second.phase == "Succeeded", (_why(first), _why(second))
    assert first.cache_hits == [] and [n.split(".", 1)[1] for n in second.cache_hits] == ["make-dataset"]
    assert second.attempts("make-dataset") == [] and second.outputs == first.outputs
    # Argo's key: sha256 hex of json.Marshal of the expanded `inputs.parameters` map (keys sorted)
    prefix, arguments = _memoized(manifest)
    # the DAG task's arguments as Argo substitutes them: a workflow input's escaping tag
    # (tether.backends.argo_escape) gives its value, escaped for the kubelet
    given = {p["name"]: str(p["value"]) for p in manifest["spec"]["arguments"]["parameters"]}
    arguments = {k: next((escape_literal(given[n]) for n in given if v == workflow_input(n)), v)
                 for k, v in arguments.items()}
    # (with no inputs the flat `inputs.parameters` JSON text "[]" stays, and toJson quotes it)
    body = json.dumps(arguments or "[]", sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert list(cache) == [("tether-cache", prefix + hashlib.sha256(body.encode()).hexdigest())]


def test_memoize_misses_when_a_workflow_input_changes(s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    manifest = compile_manifest(EXAMPLES / "diamond.yaml", uri)
    cache: dict[Any, Any] = {}
    first = _run(manifest, "memo-a", env, tmp_path / "a", cache=cache)
    other = _run(manifest, "memo-b", env, tmp_path / "b", cache=cache, parameters={"seed": "8"})
    assert first.phase == other.phase == "Succeeded", _why(other)
    assert other.cache_hits == []


def test_the_seed_returns_9_after_4_attempts(s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    manifest = compile_manifest(EXAMPLES / "checkpointing.yaml", uri)
    result = _run(manifest, "seed", env, tmp_path, parameters={"n_iterations": "10"})
    assert result.phase == "Succeeded", _why(result)
    attempts = result.attempts("use-checkpoint")
    assert [a.exit_code for a in attempts] == [75, 75, 75, 0]
    assert result.outputs["use-checkpoint"] == {"result": "9"}
    assert _store(uri, env).read_outputs("seed", "use-checkpoint") == {"result": 9}


def _spot_spec(tmp_path: Path, interruptible: str, retries: int, script: str) -> Path:
    spec = tmp_path / "spot.yaml"
    spec.write_text(
        "apiVersion: tether/v1\nkind: Workflow\nmetadata: {name: spot}\nspec:\n  tasks:\n    work:\n"
        "      image: busybox:1.36\n"
        f"      container: {{command: [sh, -c], args: [{json.dumps(script)}]}}\n"
        f"      outputs: {{x: int}}\n      retries: {retries}\n{interruptible}",
        encoding="utf-8",
    )
    return spec


# The first attempt outlives the strike; a later one finishes at once.
_SLOW_FIRST = 'if [ "$TETHER_ATTEMPT" = 1 ]; then sleep 60; fi; echo 7 > "$TETHER_OUTPUTS/x"'


@pytest.mark.parametrize("kind", ["pod-deleted", "node-shutdown"])
def test_an_interruption_of_an_interruptible_task_uses_no_user_retry(
    kind: str, s3_store: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    uri, env = s3_store
    spec = _spot_spec(tmp_path, "      interruptible: {max_interruptions: 2}\n", 0, _SLOW_FIRST)
    manifest = compile_manifest(spec, uri)
    result = _run(manifest, "spot", env, tmp_path / "w", injections=[Injection("work", 1, kind, after_s=2.0)])
    first, second = result.attempts("work")
    assert first.message == ("pod deleted" if kind == "pod-deleted" else NODE_SHUTDOWN_MESSAGE)
    assert second.exit_code == 0 and result.phase == "Succeeded", _why(result)
    assert _store(uri, env).read_outputs("spot", "work") == {"x": 7}


@pytest.mark.parametrize("retries, retried", [(0, False), (1, True)])
def test_an_interruption_of_another_task_uses_a_user_retry(
    retries: int, retried: bool, s3_store: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    uri, env = s3_store
    spec = _spot_spec(tmp_path, "", retries, _SLOW_FIRST)
    manifest = compile_manifest(spec, uri)
    result = _run(manifest, "plain", env, tmp_path / "w", injections=[Injection("work", 1, "node-shutdown", after_s=2.0)])
    attempts = result.attempts("work")
    assert len(attempts) == (2 if retried else 1), _why(result)
    assert result.phase == ("Succeeded" if retried else "Failed"), _why(result)


@pytest.mark.parametrize("how", ["oom", "exit-1"])
def test_an_oom_kill_or_a_plain_failure_is_never_retried(how: str, s3_store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, env = s3_store
    script = "sleep 60" if how == "oom" else "exit 1"
    spec = _spot_spec(tmp_path, "      interruptible: {max_interruptions: 2}\n", 3, script)
    manifest = compile_manifest(spec, uri)
    injections = [Injection("work", 1, "oom", after_s=2.0)] if how == "oom" else []
    result = _run(manifest, "fails", env, tmp_path / "w", injections=injections)
    (only,) = result.attempts("work")
    assert only.exit_code in (137, 1) and result.phase == "Failed", _why(result)
