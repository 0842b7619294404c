"""`tether graph`: every example in all three formats, Graphviz accepts the DOT, goldens for
ml_training, and what a node and an edge must say (kind, policy badges, foreach, when, after)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from cli_helpers import tether
from tether.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "graph"
SPECS = [str(p) for p in sorted(EXAMPLES.glob("*.yaml"))] + [
    f"{EXAMPLES / 'checkpointing.py'}:checkpointing_example",
    f"{EXAMPLES / 'ml_training.py'}:ml_training",
]


def _graph(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["graph", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("spec", SPECS, ids=[Path(s.split(":")[0]).name for s in SPECS])
def test_every_example_renders_in_every_format(spec: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mermaid = _graph(capsys, spec)
    assert mermaid.startswith("flowchart")
    dot = _graph(capsys, spec, "--format", "dot")
    assert dot.startswith("digraph ")
    page = _graph(capsys, spec, "--format", "html")
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed: the DOT output was not checked by Graphviz")
    (tmp_path / "g.dot").write_text(dot)
    done = subprocess.run(["dot", "-Tsvg", str(tmp_path / "g.dot")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "<svg" in done.stdout


@pytest.mark.parametrize("fmt,suffix", [("mermaid", "mmd"), ("dot", "dot")])
def test_golden(fmt: str, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Regenerate with TETHER_REGEN_GOLDEN=1 (refused under CI)."""
    text = _graph(capsys, str(EXAMPLES / "ml_training.yaml"), "--format", fmt)
    golden = GOLDEN / f"ml_training.{suffix}"
    if os.environ.get("TETHER_REGEN_GOLDEN") and not os.environ.get("CI"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_python_and_yaml_twins_draw_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    yaml_dot = _graph(capsys, str(EXAMPLES / "ml_training.yaml"), "--format", "dot")
    python_dot = _graph(capsys, f"{EXAMPLES / 'ml_training.py'}:ml_training", "--format", "dot")
    assert yaml_dot == python_dot


SPEC = textwrap.dedent(
    """\
    apiVersion: tether/v1
    kind: Workflow
    metadata: {name: shapes}
    spec:
      inputs:
        xs: {type: "list[int]", default: [1, 2, 3]}
      tasks:
        end:
          python: steps:count_to
          inputs: {n: 3}
          outputs: {result: "list[int]"}
        square:
          python: steps:square
          foreach: ${{ inputs.xs }}
          inputs: {x: "${{ item }}"}
          outputs: {result: int}
          retries: 2
          interruptible: true
          checkpoint: {keep: 4}
          cache: {version: "7"}
          timeout: 1h30m
        box:
          container: {image: "busybox:1.36", command: [sh, -c, "echo 1 > $TETHER_OUTPUTS/n"]}
          outputs: {n: int}
          after: [end]
        gate:
          python: steps:total
          when: ${{ tasks.box.outputs.n > 0 }}
          inputs: {values: "${{ tasks.square.outputs.result }}"}
          outputs: {result: int}
    """
)


def test_nodes_and_edges_say_what_they_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "shapes.yaml"
    spec.write_text(SPEC)
    mermaid = _graph(capsys, str(spec))
    assert 't_end["end<br/>python: steps:count_to"]' in mermaid  # a reserved Mermaid word is safe as a task
    assert "retries 2 · spot ≤3 · checkpoint keep 4 · cache v7 · timeout 1h30m" in mermaid
    assert 't_square[["square' in mermaid and "foreach ×3: inputs.xs" in mermaid
    assert "container: busybox:1.36 sh" in mermaid
    assert "when: tasks.box.outputs.n #62; 0" in mermaid
    assert 't_end -.->|"after"| t_box' in mermaid
    assert 't_square -->|"result"| t_gate' in mermaid and 't_box -->|"n"| t_gate' in mermaid
    dot = _graph(capsys, str(spec), "--format", "dot")
    assert '"end" -> "box" [label="after", style=dashed];' in dot
    assert '"square" -> "gate" [label="result"];' in dot
    assert "peripheries=2" in dot and 'style="rounded,filled,dashed"' in dot
    page = _graph(capsys, str(spec), "--format", "html")
    for key in ("retries", "interruptible", "checkpoint", "cache", "timeout"):
        assert f"badge badge-{key}" in page
    assert 'class="node kind-python foreach"' in page and 'class="node kind-container"' in page
    assert 'class="node kind-python conditional"' in page and "edge edge-after" in page


def test_cli_writes_files_by_extension_and_reports_spec_errors(
    tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "dag.html"
    done = tether(tether_cmd, tether_env, "graph", str(EXAMPLES / "diamond.yaml"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<!doctype html>")
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: tether/v1\nkind: Workflow\nmetadata: {name: b}\nspec:\n  tasks:\n    a: {python: m:f, after: [zz]}\n")
    done = tether(tether_cmd, tether_env, "graph", str(broken))
    assert done.returncode == 1 and "error[" in done.stderr and done.stdout == ""


def test_layout_reduces_crossings() -> None:
    from tether.graphics.layout import layered

    # Spec order puts the children in the wrong order for their parents: sweeps must fix it.
    nodes = ["a", "b", "x", "y"]
    layout = layered(nodes, [("a", "y"), ("b", "x")], lambda _: (100.0, 40.0))
    assert layout.crossings == 0
    assert (layout.boxes["a"].y < layout.boxes["b"].y) == (layout.boxes["y"].y < layout.boxes["x"].y)


def test_an_extension_that_names_no_format_is_refused(tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path) -> None:
    spec = str(EXAMPLES / "diamond.yaml")
    done = tether(tether_cmd, tether_env, "graph", spec, "-o", "dag.svg", cwd=tmp_path)
    assert done.returncode == 2 and not (tmp_path / "dag.svg").exists()
    assert done.stderr.startswith("tether graph: cannot tell which format to write to 'dag.svg' from '.svg'\n")
    assert "tether graph SPEC --format dot | dot -Tsvg > dag.svg" in done.stderr
    forced = tether(tether_cmd, tether_env, "graph", spec, "-o", "dag.txt", "--format", "dot", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / "dag.txt").read_text().startswith("digraph ")
    plain = tether(tether_cmd, tether_env, "graph", spec, "-o", "dag", cwd=tmp_path)
    assert plain.returncode == 0 and (tmp_path / "dag").read_text().startswith("flowchart")


def test_an_unwritable_output_is_one_line(tether_cmd: list[str], tether_env: dict[str, str], tmp_path: Path) -> None:
    spec = str(EXAMPLES / "diamond.yaml")
    missing = tether(tether_cmd, tether_env, "graph", spec, "-o", "nodir/dag.html", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (1, "tether graph: cannot write nodir/dag.html: the directory nodir does not exist\n")
    (tmp_path / "dag.html").mkdir()
    folder = tether(tether_cmd, tether_env, "graph", spec, "-o", "dag.html", cwd=tmp_path)
    assert (folder.returncode, folder.stderr) == (1, "tether graph: cannot write dag.html: Is a directory\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dag.html"]
