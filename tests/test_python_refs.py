"""`tether check` verifies a YAML spec's `python:` references by reading the modules with `ast`.

Real files in a temporary directory, the real loader and CLI; the modules under test would fail
loudly if they were ever imported (they write a marker file or raise at import).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tether.compiler.load import load
from tether.compiler.python_refs import fits, locate
from tether.core.diagnostics import render_plain
from tether.core.types import parse_type

MLPIPE = '''\
"""Importing this module is a bug in the checker: it leaves a marker and raises."""
from __future__ import annotations

import pathlib
from typing import NamedTuple, Optional

import tether
from tether import File

pathlib.Path("IMPORTED").write_text("user code ran")
raise RuntimeError("the checker imported user code")

Row = list[float]


class Metrics(NamedTuple):
    accuracy: float
    loss: float


@tether.task(retries=2)
def train(rows: list[Row], epochs: int, learning_rate: float = 0.1) -> list[float]:
    return []


def evaluate(weights: "list[float]", holdout: list[Row]) -> Metrics:
    return Metrics(1.0, 0.0)


def publish(weights: list[float], note: Optional[str] = None, *, report: File | None = None) -> None:
    pass


def report(path: str) -> tether.File:
    return tether.File(path)


def flexible(**inputs: int) -> dict[str, float]:
    return {}
'''

HEADER = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: refs}
spec:
  tasks:
"""


def write(tmp_path: Path, tasks: str, modules: dict[str, str] | None = None) -> Path:
    for name, text in (modules if modules is not None else {"mlpipe.py": MLPIPE}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + textwrap.indent(textwrap.dedent(tasks), "    "), encoding="utf-8")
    return spec


def findings(spec: Path, strict: bool = False) -> list[str]:
    result = load(spec.name, strict_refs=strict)
    return [render_plain(d) for d in result.diagnostics]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)


TRAIN = """\
train:
  python: mlpipe:train
  inputs: {rows: [[1.0, 2.0]], epochs: 3}
  outputs: {result: "list[float]"}
"""


def test_matching_references_are_clean_and_never_imported(tmp_path: Path) -> None:
    spec = write(tmp_path, TRAIN + """\
evaluate:
  python: mlpipe:evaluate
  inputs: {weights: "${{ tasks.train.outputs.result }}", holdout: [[1.0]]}
  outputs: {accuracy: float, loss: float}
publish:
  python: mlpipe:publish
  inputs: {weights: "${{ tasks.train.outputs.result }}", report: "${{ tasks.report.outputs.result }}"}
report:
  python: mlpipe:report
  inputs: {path: out.txt}
  outputs: {result: file}
flexible:
  python: mlpipe:flexible
  inputs: {a: 1, b: 2}
  outputs: {x: float, y: float}
""")
    assert findings(spec) == []
    assert not (tmp_path / "IMPORTED").exists()


def test_the_issues_four_mistakes_are_located_with_did_you_mean(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
evaluate:
  python: mlpip:evaluate
train:
  python: mlpipe:trian
missing:
  python: mlpipe:train
  inputs: {rows: [[1.0]]}
extra:
  python: mlpipe:train
  inputs: {rows: [[1.0]], epochs: 3, seed: 7}
""")
    assert findings(spec) == [
        "spec.yaml:7:15: warning[E140]: cannot find module 'mlpip' (used by task 'evaluate') on the search path",
        "spec.yaml:9:22: error[E142]: module 'mlpipe' (mlpipe.py) has no function 'trian'",
        "spec.yaml:11:22: error[E144]: task 'missing' does not bind parameter 'epochs' of mlpipe:train",
        "spec.yaml:15:48: error[E143]: mlpipe:train takes no parameter 'seed'",
    ]
    hints = [d.hint for d in load(spec.name).diagnostics]
    assert hints == [
        "did you mean 'mlpipe'?",
        "did you mean 'mlpipe:train'?",
        "bind it under the task's inputs: epochs: ...",
        "mlpipe:train takes rows, epochs, learning_rate",
    ]


def test_a_misspelt_binding_suggests_the_parameter(tmp_path: Path) -> None:
    spec = write(tmp_path, TRAIN.replace("epochs: 3", "epoch: 3"))
    result = load(spec.name)
    assert [(render_plain(d), d.hint) for d in result.diagnostics] == [
        ("spec.yaml:7:22: error[E144]: task 'train' does not bind parameter 'epochs' of mlpipe:train",
         "the input 'epoch' may be meant for it"),
        ("spec.yaml:8:43: error[E143]: mlpipe:train takes no parameter 'epoch'", "did you mean 'epochs'?"),
    ]


def test_types_where_annotated(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
train:
  python: mlpipe:train
  inputs: {rows: [[1.0]], epochs: "ten", learning_rate: 1}
  outputs: {result: "list[int]"}
evaluate:
  python: mlpipe:evaluate
  inputs: {weights: [1.0], holdout: [[1.0]]}
  outputs: {accuracy: float, los: float}
publish:
  python: mlpipe:publish
  inputs: {weights: [1.0]}
  outputs: {done: bool}
""")
    assert findings(spec) == [
        "spec.yaml:8:39: error[E230]: input 'epochs' of task 'train' is str, but mlpipe:train takes epochs: int",
        "spec.yaml:9:17: error[E231]: output 'result' of task 'train' is declared list[int], but mlpipe:train returns list[float]",
        "spec.yaml:13:34: error[E145]: output 'los' of task 'evaluate' is not a field of Metrics, which mlpipe:evaluate returns",
        "spec.yaml:17:16: error[E145]: task 'publish' declares outputs done, but mlpipe:publish returns None",
    ]


def test_a_single_value_for_several_outputs(tmp_path: Path) -> None:
    spec = write(tmp_path, TRAIN.replace('{result: "list[float]"}', "{a: float, b: float}"))
    assert findings(spec) == [
        "spec.yaml:9:16: error[E145]: task 'train' declares outputs a, b, but mlpipe:train returns one list[float]",
    ]


def test_an_unfound_module_is_an_error_with_strict_refs(tmp_path: Path) -> None:
    spec = write(tmp_path, "image-only:\n  python: inimage.tasks:run\n", modules={})
    assert findings(spec) == [
        "spec.yaml:7:15: warning[E140]: cannot find module 'inimage.tasks' (used by task 'image-only') on the search path",
    ]
    assert load(spec.name).ok
    assert findings(spec, strict=True) == [
        "spec.yaml:7:15: error[E140]: cannot find module 'inimage.tasks' (used by task 'image-only') on the search path",
    ]
    assert not load(spec.name, strict_refs=True).ok


def test_a_module_that_does_not_parse_is_a_warning_at_its_line(tmp_path: Path) -> None:
    broken = "import os\n\ndef train(rows: list[list[float]]) -> list[float]\n    return rows[0]\n"
    spec = write(tmp_path, TRAIN, modules={"mlpipe.py": broken})
    assert findings(spec) == ["mlpipe.py:3:50: warning[E141]: module 'mlpipe' does not parse: expected ':'"]
    assert findings(spec, strict=True) == ["mlpipe.py:3:50: error[E141]: module 'mlpipe' does not parse: expected ':'"]
    assert "mlpipe.py" in load(spec.name).sources  # so the caret renders under the module's line


def test_search_path_packages_and_pythonpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "lib"
    modules = {
        "pkg/__init__.py": "",
        "pkg/steps.py": "def go(n: int) -> int:\n    return n\n",
        "nspkg/inner/mod.py": "def go(n: int) -> int:\n    return n\n",
        "lib/shared_steps.py": "def go(n: int) -> int:\n    return n\n",
    }
    spec = write(tmp_path / "specs", """\
a: {python: "pkg.steps:go", inputs: {n: 1}, outputs: {r: int}}
b: {python: "nspkg.inner.mod:go", inputs: {n: 1}, outputs: {r: int}}
c: {python: "shared_steps:go", inputs: {x: 1}, outputs: {r: int}}
""", modules={f"../{name}": text for name, text in modules.items()})
    monkeypatch.chdir(spec.parent)
    assert [d.code for d in load(spec.name).diagnostics] == ["E140", "E140", "E140"]
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{__import__('os').pathsep}{lib}")
    assert findings(spec) == [
        "spec.yaml:8:31: error[E144]: task 'c' does not bind parameter 'n' of shared_steps:go",
        "spec.yaml:8:48: error[E143]: shared_steps:go takes no parameter 'x'",
    ]


def test_the_specs_directory_wins_over_pythonpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "mlpipe.py").write_text("def other() -> None:\n    pass\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    spec = write(tmp_path, TRAIN)
    assert findings(spec) == []
    assert locate("mlpipe", [str(tmp_path), str(tmp_path / "elsewhere")]) is not None


def test_unknowable_names_are_not_reported(tmp_path: Path) -> None:
    module = '''\
import functools
from helpers import imported
from everything import *


def cached(f):
    return f


@cached
def decorated(n: int) -> int:
    return n


assigned = functools.partial(imported, 1)
'''
    spec = write(tmp_path, """\
a: {python: "steps:decorated", inputs: {anything: 1}}
b: {python: "steps:imported", inputs: {anything: 1}}
c: {python: "steps:assigned", inputs: {anything: 1}}
d: {python: "steps:from_the_star_import", inputs: {anything: 1}}
e: {python: "dynamic:made_at_import", inputs: {anything: 1}}
""", modules={"steps.py": module, "dynamic.py": "for name in ('made_at_import',):\n    globals()[name] = print\n"})
    assert findings(spec) == []


def test_stdlib_and_installed_modules_are_found(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
a: {python: "json:dumps", inputs: {obj: 1}, outputs: {r: str}}
b: {python: "json.decoder:nope"}
""", modules={})
    assert findings(spec) == ["spec.yaml:7:31: error[E142]: module 'json.decoder' (" + str(
        Path(sys.modules["json.decoder"].__file__ or "").resolve()) + ") has no function 'nope'"]


def test_file_and_dir_are_their_path_strings_to_python() -> None:
    assert fits(parse_type("file"), parse_type("str"))
    assert fits(parse_type("str"), parse_type("file"))
    assert fits(parse_type("list[dir]"), parse_type("list[str]"))
    assert fits(parse_type("int"), parse_type("float"))
    assert not fits(parse_type("float"), parse_type("int"))
    assert not fits(parse_type("int?"), parse_type("int"))


def test_a_spec_without_python_tasks_does_no_extra_work(tmp_path: Path) -> None:
    spec = write(tmp_path, "c: {container: {image: 'alpine:3', command: [echo, hi]}}\n", modules={})
    code = (
        "import sys\nfrom tether.compiler.load import load\n"
        f"assert load({str(spec)!r}).ok\nprint('tether.compiler.python_refs' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, "False\n"), result.stderr


def test_cli_flag_on_check_compile_and_run(tmp_path: Path, tether_env: dict[str, str]) -> None:
    spec = write(tmp_path, "image-only:\n  python: inimage:run\n", modules={})

    def tether(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tether", *args], env=tether_env, cwd=tmp_path, capture_output=True,
            text=True, timeout=120,
        )

    relaxed = tether("check", "spec.yaml")
    assert relaxed.returncode == 0
    assert relaxed.stdout == "spec.yaml: ok (1 task)\nchecked 1 spec: 1 ok (1 warning)\n"
    assert relaxed.stderr.startswith("spec.yaml:7:15: warning[E140]: cannot find module 'inimage'")
    for command in (["check"], ["compile"], ["run", "--dry-run"]):
        strict = tether(*command, "spec.yaml", "--strict-refs")
        assert strict.returncode == 1, command
        assert strict.stderr.startswith("spec.yaml:7:15: error[E140]: cannot find module 'inimage'"), command
    assert tether("compile", "spec.yaml").returncode == 0
