"""`tether check` and `tether compile --target ir` as a user runs them: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tether.core.ir import to_json
from tether.compiler.load import load

GOOD = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: small}
spec:
  inputs:
    n: {type: int, default: 10}
  tasks:
    prep:
      python: steps:prep
      inputs: {n: "${{ inputs.n }}"}
      outputs: {rows: int}
    train:
      python: steps:train
      inputs: {rows: "${{ tasks.prep.outputs.rows }}"}
      outputs: {result: float}
      retries: 3
      interruptible: true
      checkpoint: true
  outputs:
    result: "${{ tasks.train.outputs.result }}"
"""
STEPS = """\
def prep(n: int) -> int:
    return n


def train(rows: int) -> float:
    return rows / 2
"""
"""The specs' Python tasks, beside them: `tether check` verifies their references by reading this file."""
BAD = GOOD.replace("retries: 3", "retries: -3").replace("tasks.prep.outputs.rows", "tasks.prepp.outputs.rows")


@pytest.fixture
def specs(tmp_path: Path) -> dict[str, Path]:
    files = {"good": GOOD, "bad": BAD, "other": GOOD.replace("name: small", "name: other")}
    paths = {}
    (tmp_path / "steps.py").write_text(STEPS, encoding="utf-8")
    for name, text in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def tether(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether", *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
        timeout=120,
    )


def test_clean_spec(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    result = tether(["check", "good.yaml"], tether_env, specs["good"].parent)
    assert result.returncode == 0
    assert result.stdout == "good.yaml: ok (2 tasks)\nchecked 1 spec: 1 ok\n"
    assert result.stderr == ""


def test_broken_spec_reports_every_problem(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    result = tether(["check", "bad.yaml"], tether_env, specs["bad"].parent)
    assert result.returncode == 1
    assert result.stdout == "checked 1 spec: 0 ok, 1 with errors (2 errors)\n"
    assert result.stderr == (
        "bad.yaml:14:27: error[E301]: unknown task 'prepp'\n"
        "   |\n"
        '14 |       inputs: {rows: "${{ tasks.prepp.outputs.rows }}"}\n'
        "   |                           ^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "   = hint: did you mean 'prep'?\n"
        "\n"
        "bad.yaml:16:16: error[E113]: 'spec.tasks.train.retries' must be 0 or more, not -3\n"
        "   |\n"
        "16 |       retries: -3\n"
        "   |                ^^\n"
        "\n"
    )


def test_many_files_in_one_run(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    result = tether(["check", "good.yaml", "bad.yaml", "other.yaml", "missing.yaml"], tether_env, specs["good"].parent)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "good.yaml: ok (2 tasks)",
        "other.yaml: ok (2 tasks)",
        "checked 4 specs: 2 ok, 2 with errors (3 errors)",
    ]
    assert "error[E101]: cannot read 'missing.yaml': no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_quiet_prints_only_problems(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    result = tether(["check", "-q", "good.yaml", "other.yaml"], tether_env, specs["good"].parent)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_spec_from_stdin(tmp_path: Path, tether_env: dict[str, str]) -> None:
    (tmp_path / "steps.py").write_text(STEPS, encoding="utf-8")
    result = tether(["check", "-"], tether_env, tmp_path, stdin=BAD)
    assert result.returncode == 1
    assert result.stderr.startswith("<stdin>:14:27: error[E301]: unknown task 'prepp'\n")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "E104"),
        ("- a\n- b\n", "E105"),
        ("key: [unclosed\n", "E102"),
        ("!!python/object/apply:os.system ['touch pwned']\n", "E103"),
        ("\x00\x01binary", "E102"),
    ],
)
def test_hostile_or_empty_files_get_a_diagnostic(tmp_path: Path, tether_env: dict[str, str], text: str, code: str) -> None:
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    result = tether(["check", "x.yaml"], tether_env, tmp_path)
    assert result.returncode == 1
    assert f"error[{code}]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "pwned").exists()


def test_colour_only_on_a_terminal(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    env = {k: v for k, v in tether_env.items() if k not in ("NO_COLOR", "TERM")}
    plain = tether(["check", "bad.yaml"], env, specs["bad"].parent)
    assert "\x1b[" not in plain.stderr  # a pipe is not a terminal

    def on_tty(extra: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        try:
            subprocess.run(
                [sys.executable, "-m", "tether", "check", "bad.yaml"], env={**env, **extra}, cwd=specs["bad"].parent,
                stdout=subprocess.DEVNULL, stderr=follower, timeout=120,
            )
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the terminal's other end is closed
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode()
        finally:
            os.close(leader)

    assert "\x1b[1;31merror[E301]\x1b[0m" in on_tty({})
    assert "\x1b[" not in on_tty({"NO_COLOR": "1"})


def test_check_does_not_import_networkx_or_backends(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    """The start-up budget: a clean check never pays for networkx (~0.3 s) or any backend."""
    probe = (
        "import sys; from tether.cli import main; code = main(['check', '-q', 'good.yaml']); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] == 'networkx' or m.startswith('tether.backends')); "
        "print(code, heavy)"
    )
    result = subprocess.run([sys.executable, "-c", probe], env=tether_env, cwd=specs["good"].parent,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "0 []"


def test_a_cycle_is_named_with_networkx(tmp_path: Path, tether_env: dict[str, str]) -> None:
    text = GOOD.replace('inputs: {n: "${{ inputs.n }}"}', 'inputs: {n: "${{ tasks.train.outputs.result }}"}')
    (tmp_path / "cycle.yaml").write_text(text, encoding="utf-8")
    result = tether(["check", "cycle.yaml"], tether_env, tmp_path)
    assert result.returncode == 1
    assert "error[E300]: dependency cycle: prep -> train -> prep" in result.stderr


def test_internal_errors_are_a_diagnostic_with_a_bug_hint(capsys: pytest.CaptureFixture[str]) -> None:
    from tether.commands.check import print_internal_error

    print_internal_error("spec.yaml", KeyError("boom"), color=False)
    assert capsys.readouterr().err == (
        "error[E000]: internal error while compiling 'spec.yaml': KeyError: 'boom'\n"
        " = hint: this is a bug in tether, not in your spec: please report it with the spec that triggers it "
        "(set TETHER_DEBUG=1 to print the traceback)\n"
    )


def test_compile_ir_prints_the_canonical_json(specs: dict[str, Path], tether_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    result = tether(["compile", "good.yaml", "--target", "ir"], tether_env, specs["good"].parent)
    assert result.returncode == 0, result.stderr
    monkeypatch.chdir(specs["good"].parent)
    workflow = load("good.yaml").workflow
    assert workflow is not None
    assert result.stdout == to_json(workflow)
    data = json.loads(result.stdout)
    assert [t["name"] for t in data["workflow"]["tasks"]] == ["prep", "train"]
    assert data["workflow"]["tasks"][1]["inputs"]["rows"] == {"expr": "${{ tasks.prep.outputs.rows }}", "type": "int"}


def test_compile_is_byte_for_byte_deterministic(specs: dict[str, Path], tether_env: dict[str, str], tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "good.yaml").write_text(GOOD, encoding="utf-8")
    here = tether(["compile", "good.yaml"], tether_env, specs["good"].parent)
    there = tether(["compile", str(moved / "good.yaml")], {**tether_env, "PYTHONHASHSEED": "123"}, tmp_path)
    assert here.stdout == there.stdout


def test_compile_check_detects_stale_output(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    cwd = specs["good"].parent
    written = tether(["compile", "good.yaml", "-o", "out"], tether_env, cwd)
    assert written.returncode == 0 and written.stdout == ""
    fresh = tether(["compile", "good.yaml", "-o", "out", "--check"], tether_env, cwd)
    assert fresh.returncode == 0
    assert fresh.stderr == "out: up to date (1 file)\n"
    (cwd / "good.yaml").write_text(GOOD.replace("retries: 3", "retries: 4"), encoding="utf-8")
    stale = tether(["compile", "good.yaml", "-o", "out", "--check"], tether_env, cwd)
    assert stale.returncode == 1
    assert '-          "retries": 3\n+          "retries": 4\n' in stale.stdout
    assert stale.stderr == "out/small.json is stale\nrun 'tether compile good.yaml --target ir -o out' to update\n"
    assert (cwd / "out" / "small.json").read_text().count('"retries": 3') == 1  # --check never writes


def test_compile_refuses_a_broken_spec(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    result = tether(["compile", "bad.yaml", "--target", "ir"], tether_env, specs["bad"].parent)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "error[E301]" in result.stderr


def test_unknown_target_suggests_the_closest(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    result = tether(["compile", "good.yaml", "--target", "irr"], tether_env, specs["good"].parent)
    assert result.returncode == 2
    assert result.stderr.startswith("tether compile: unknown target 'irr', did you mean 'ir'?\n")


def test_a_directory_or_a_device_is_said_so_without_a_location(specs: dict[str, Path], tether_env: dict[str, str]) -> None:
    cwd = specs["good"].parent
    (cwd / "flows").mkdir()
    (cwd / "flows" / "a.yaml").write_text(GOOD, encoding="utf-8")
    result = tether(["check", "flows/", "/dev/null"], tether_env, cwd)
    assert result.returncode == 1
    assert result.stderr == (
        "error[E101]: cannot read 'flows/': it is a directory, not a spec\n"
        " = hint: give a spec file inside it, e.g. flows/a.yaml (or flows/*.yaml for all of them)\n\n"
        "error[E101]: cannot read '/dev/null': it is not a regular file\n"
        " = hint: give a YAML file (spec.yaml), a Python file and workflow (file.py:workflow) or a module (pkg.mod:workflow)\n\n"
    )
