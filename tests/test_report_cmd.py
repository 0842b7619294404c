"""`tether report` and `tether run --report`: from real runs on a local store and on S3 (moto's
server), the page and its JSON tell attempts, outcomes, exit codes and checkpoints apart, and
never show a secret's value."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

from cli_helpers import tether
from tether.commands.report import render
from tether.runtime.store import RunRecord, RunStore

RUN_SPECS = Path(__file__).resolve().parent / "run_specs"


def _workdir(tmp_path: Path, *specs: str) -> Path:
    for name in ("steps.py", *specs):
        shutil.copy(RUN_SPECS / name, tmp_path / name)
    return tmp_path


def test_interrupted_run_report_shows_resume_points(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    work = _workdir(tmp_path, "resumable.yaml")
    page = work / "report.html"
    done = tether(
        tether_cmd, tether_env, "run", "resumable.yaml", "--store", "st", "--run-id", "r1",
        "--interrupt", "train@1", "--interrupt", "train@2", "-p", "steps=6", "--report", str(page), cwd=work,
    )
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    data = json.loads(tether(tether_cmd, tether_env, "report", "r1", "--store", "st", "--json", cwd=work).stdout)
    train = next(n for n in data["nodes"] if n["id"] == "train")
    outcomes = [a["outcome"] for a in train["attempts"]]
    assert outcomes == ["interrupted", "interrupted", "success"]
    first, second, third = train["attempts"]
    assert first["resumed_from"] is None and second["resumed_from"] == first["wrote"]["last"]
    assert third["resumed_from"] == second["wrote"]["last"] and third["wrote"]["last"] == 6
    assert [c["seq"] for c in third["commits"]] == train["checkpoints_kept"][-len(third["commits"]):]
    assert all(c["size"] > 0 and c["time"] for c in third["commits"])
    assert f"resumed from checkpoint {third['resumed_from']}" in html
    assert html.count('data-outcome="interrupted"') == 2 and "exit 143" in html
    assert {t["task"]: t["status"] for t in data["tasks"]} == {"prepare": "done", "train": "done"}
    assert data["status"] == "succeeded" and data["outputs"]["result"] == 6
    assert json.loads(html.split('id="tether-report">', 1)[1].split("</script>", 1)[0]) == data


def test_every_outcome_is_told_apart(tmp_path: Path) -> None:
    """A journal written with the store's own API: each outcome gets its colour class and label."""
    from tether.compiler.load import load

    work = _workdir(tmp_path, "flaky.yaml")
    workflow = load(str(work / "flaky.yaml")).workflow
    assert workflow is not None
    store = RunStore(str(tmp_path / "st"))
    store.create_run("r", RunRecord(workflow, {}, "flaky.yaml"))
    codes = {"recoverable": 75, "interrupted": 143, "timeout": None, "cancelled": 143, "fatal": 1}
    for number, (outcome, code) in enumerate(codes.items(), start=1):
        store.record_start("r", "flaky", number, {})
        store.record_end("r", "flaky", number, outcome, code, {"duration_s": 0.5, "message": f"it was {outcome}"})
    html = render(store, "r")
    for outcome in codes:
        assert f'class="bar outcome-{outcome}"' in html
    for label in ("retried failure", "interrupted", "timeout", "cancelled", "fatal", "exit 75"):
        assert label in html
    data = json.loads(render(store, "r", as_json=True))
    assert data["tasks"][0]["status"] == "failed" and data["status"] == "failed"


SECRET_SPEC = textwrap.dedent(
    """\
    apiVersion: tether/v1
    kind: Workflow
    metadata: {name: secretive}
    spec:
      tasks:
        use:
          python: secret_steps:length
          inputs: {word: hello}
          outputs: {result: int}
          secrets: [{name: vault, key: token, env: VAULT_TOKEN}]
    """
)


def test_secret_values_never_shown_and_s3_store(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path, s3_bucket: tuple[str, dict[str, Any]]
) -> None:
    bucket, options = s3_bucket
    (tmp_path / "secretive.yaml").write_text(SECRET_SPEC)
    (tmp_path / "secret_steps.py").write_text(
        "import os\n\ndef length(word: str) -> int:\n    print(os.environ['VAULT_TOKEN'])\n"
        "    return len(word) + len(os.environ['VAULT_TOKEN'])\n"
    )
    secret = "s3cr3t-value-9431"
    env = {**tether_env, "VAULT_TOKEN": secret, "TETHER_STORE_OPTIONS": json.dumps(options)}
    store = f"{bucket}/runs-here"
    done = tether(tether_cmd, env, "run", "secretive.yaml", "--store", store, "--run-id", "s1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "s.html"
    done = tether(tether_cmd, env, "report", "s1", "--store", store, "-o", str(page), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    data = tether(tether_cmd, env, "report", "s1", "--store", store, "--json", cwd=tmp_path).stdout
    assert secret not in html and secret not in data
    assert "vault/token -&gt; VAULT_TOKEN" in html
    parsed = json.loads(data)
    assert parsed["store"] == store and parsed["nodes"][0]["inputs"]["values"] == {"word": "hello"}
    assert parsed["nodes"][0]["outputs"] == {"result": 5 + len(secret)}


def test_unknown_run_is_a_clear_error(tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path) -> None:
    done = tether(tether_cmd, tether_env, "report", "nope", "--store", str(tmp_path / "st"))
    assert done.returncode == 1 and "no run 'nope'" in done.stderr
