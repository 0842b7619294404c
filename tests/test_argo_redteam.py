"""Regressions of the Argo red-team findings: each spec is compiled to Argo, run by the test Argo
engine (tests/engines/argo.py) and by `tether run`, and the node outputs compared, over a local
run store. Memoization runs the same manifest twice against one engine cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from engines.argo import EngineResult, run_manifest
from tether.backends import Profile
from tether.backends.argo import backend
from tether.backends.argo_profile import ArgoProfile
from tether.compiler.load import load
from tether.core.diagnostics import Diagnostic, Diagnostics, Severity
from tether.runtime.store import RunStore

TETHER = [sys.executable, "-m", "tether"]
ROOT = Path(__file__).resolve().parent.parent

MODULE = '''
def fetch(id: str) -> str:
    return "row-" + id

def Train_Model(x: int) -> int:
    return x * 100

def train_decide(x: int) -> int:
    return x * 2

def make(n: int) -> list:
    return list(range(n))

def sq(x: int) -> int:
    return x * x

def total(xs: list[int]) -> int:
    return sum(xs)

def up(s: str) -> str:
    return s.upper() + "!"

def size(s: str) -> int:
    return len(s)

def join(xs: list[str]) -> str:
    return "|".join(xs)
'''


def _spec(tmp_path: Path, name: str, body: str) -> Path:
    (tmp_path / "rt_mod.py").write_text(MODULE, encoding="utf-8")
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"apiVersion: tether/v1\nkind: Workflow\nmetadata: {{name: {name}}}\nspec:\n{body}", encoding="utf-8")
    return path


def _compile(spec: Path, store: str, warn: bool = False) -> tuple[dict[str, Any], list[Diagnostic]]:
    result = load(str(spec))
    assert result.workflow is not None
    diags = Diagnostics(unsupported_level=Severity.WARNING if warn else Severity.ERROR)
    profile = Profile(store=store, image="python:3.12-slim", target=ArgoProfile(tether=TETHER))
    (manifest,) = backend.compile(result.workflow, profile, diags)
    return manifest.document, list(diags)  # type: ignore[return-value]


def _env(spec: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(spec.parent)]), "PATH": os.environ.get("PATH", ""),
            "NO_COLOR": "1"}


def _engine(doc: dict[str, Any], spec: Path, uid: str, **kw: Any) -> EngineResult:
    result = run_manifest(doc, env=_env(spec), workdir=spec.parent / uid, uid=uid, max_parallel=2, **kw)
    assert result.phase == "Succeeded", [result.message, *[(p.node, p.phase, p.message, p.stderr[-400:]) for p in result.pods]]
    return result


def _local(spec: Path, store: str, uid: str, params: dict[str, str]) -> None:
    done = subprocess.run([*TETHER, "run", str(spec), "--store", store, "--run-id", uid, *(f"-p{k}={v}" for k, v in params.items())],
                          env={**os.environ, **_env(spec)}, cwd=spec.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _outputs(store: str, uid: str) -> dict[str, Any]:
    s = RunStore(store)
    found = {n: s.read_outputs(uid, n) for n in sorted(s.list_nodes(uid))}
    return {n: o for n, o in found.items() if o is not None}


def _parity(tmp_path: Path, name: str, body: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    spec = _spec(tmp_path, name, body)
    store = str(tmp_path / "store")
    doc, diags = _compile(spec, store)
    assert not [d for d in diags if d.is_error], diags
    _engine(doc, spec, "on-argo", parameters=params or {})
    _local(spec, store, "local", params or {})
    on_argo = _outputs(store, "on-argo")
    assert on_argo and on_argo == _outputs(store, "local")
    return doc


def test_an_input_named_id_reaches_plain_and_looped_tasks(tmp_path: Path) -> None:
    doc = _parity(tmp_path, "ids", """  tasks:
    one: {python: "rt_mod:fetch", inputs: {id: "42"}, outputs: {out: str}}
    many: {python: "rt_mod:fetch", foreach: ["1", "2"], inputs: {id: "${{ item }}"}, outputs: {out: str}}
""")
    assert "node-id" in str(doc)


def test_template_names_are_lowercase_for_pod_names(tmp_path: Path) -> None:
    doc = _parity(tmp_path, "upper", """  tasks:
    train: {python: "rt_mod:Train_Model", inputs: {x: 3}, outputs: {out: int}}
""")
    names = [t["name"] for t in doc["spec"]["templates"]]
    assert "train-model" in names and all(n == n.lower() for n in names)


def test_a_task_named_like_a_decide_step_keeps_the_loop(tmp_path: Path) -> None:
    doc = _parity(tmp_path, "clash", """  inputs: {n: {type: int, default: 3}}
  tasks:
    make: {python: "rt_mod:make", inputs: {n: "${{ inputs.n }}"}, outputs: {out: "list[int]"}}
    proc: {python: "rt_mod:sq", foreach: "${{ tasks.make.outputs.out }}", inputs: {x: "${{ item }}"}, outputs: {out: int}}
    proc-decide: {python: "rt_mod:total", inputs: {xs: "${{ tasks.proc.outputs.out }}"}, outputs: {out: int}}
""")
    (proc,) = [t for t in doc["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == "proc"]
    assert proc["withParam"] == "{{tasks.proc-decide-x.outputs.parameters.items}}"


def test_a_decide_step_does_not_rename_a_shared_template(tmp_path: Path) -> None:
    tasks = """  tasks:
    first: {python: "rt_mod:train_decide", inputs: {x: 1}, outputs: {out: int}}
    train: {python: "rt_mod:sq", inputs: {x: "${{ tasks.first.outputs.out }}"}, outputs: {out: int}%s}
"""
    names = []
    for when in ("", ', when: "${{ tasks.first.outputs.out % 2 == 0 }}"'):
        doc, _ = _compile(_spec(tmp_path, "named", tasks % when), str(tmp_path / "store"))
        names.append({t["name"] for t in doc["spec"]["templates"]})
    assert "train-decide" in names[0] and "train-decide" in names[1]
    assert names[1] - names[0] == {"train-decide-2"}


def test_a_timed_out_attempt_is_retried_as_by_tether_run(tmp_path: Path) -> None:
    _parity(tmp_path, "slow", """  tasks:
    slow:
      container:
        image: busybox
        command: [sh, -c]
        args: ['if [ "$TETHER_ATTEMPT" = 1 ]; then sleep 30; fi; echo 5 > "$TETHER_OUTPUTS/x"']
      outputs: {x: int}
      retries: 1
      timeout: 2s
""")


FAN_IN = """  inputs: {names: {type: "list[str]", default: ["ann", "bob"]}}
  tasks:
    dyn: {python: "rt_mod:up", foreach: "${{ inputs.names }}", inputs: {s: "${{ item }}"}, outputs: {out: str}%s}
    joined: {python: "rt_mod:join", inputs: {xs: "${{ tasks.dyn.outputs.out }}"}, outputs: {out: str}%s}
"""


def test_memoize_is_refused_where_the_store_carries_the_values(tmp_path: Path) -> None:
    """A fan-in of strings travels through the run store: neither side can be memoized."""
    for name, spec_text, task, line in (("producer", FAN_IN % (", cache: true", ""), "dyn", 7),
                                        ("reader", FAN_IN % ("", ", cache: true"), "joined", 8)):
        spec = _spec(tmp_path, name, spec_text)
        doc, diags = _compile(spec, str(tmp_path / "store"))
        (diag,) = [d for d in diags if d.code == "E414"]
        assert diag.is_error and f"'{task}'" in diag.message and diag.span is not None
        assert spec.read_text().splitlines()[line - 1][diag.span.col - 1:].startswith("true")  # at `cache: true`
        doc, diags = _compile(spec, str(tmp_path / f"store-{name}"), warn=True)
        assert not any(d.is_error for d in diags) and not any("memoize" in t for t in doc["spec"]["templates"])
        cache: dict[Any, Any] = {}
        for uid, names in (("r1", '["ann", "bob"]'), ("r2", '["cy", "dee"]')):
            result = _engine(doc, spec, f"{name}-{uid}", parameters={"names": names}, cache=cache)
            assert result.outputs["joined"]["out"] == "|".join(n.upper() + "!" for n in eval(names))


def test_a_memoized_loop_keys_each_item(tmp_path: Path) -> None:
    """String items from a decide step reach the key through a key-only `{{item}}` parameter."""
    spec = _spec(tmp_path, "sizes", """  inputs: {names: {type: "list[str]", default: ["ann", "bob"]}}
  tasks:
    dyn: {python: "rt_mod:size", foreach: "${{ inputs.names }}", inputs: {s: "${{ item }}"}, outputs: {out: int}, cache: true}
    tot: {python: "rt_mod:total", inputs: {xs: "${{ tasks.dyn.outputs.out }}"}, outputs: {out: int}}
""")
    store = str(tmp_path / "store")
    doc, diags = _compile(spec, store)
    (looped,) = [t for t in doc["spec"]["templates"] if t["name"] == "size"]
    assert not diags and "memoize" in looped and {"name": "item-key"} in looped["inputs"]["parameters"]
    cache: dict[Any, Any] = {}
    runs = (("r1", '["a$b", "bob"]', 0), ("r2", '["a{b}", "bobby"]', 0), ("r3", '["a$b", "bob"]', 2))
    for uid, names, hits in runs:
        result = _engine(doc, spec, uid, parameters={"names": names}, cache=cache)
        assert len(result.cache_hits) == hits, result.cache_hits
        _local(spec, store, f"local-{uid}", {"names": names})
        assert result.outputs["tot"]["out"] == str(sum(len(n) for n in eval(names)))
        assert _outputs(store, f"local-{uid}")["tot"] == {"out": sum(len(n) for n in eval(names))}


def _same_outputs(tmp_path: Path, name: str, body: str, runs: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Engine and `tether run` per parameter set; returns the (equal) node outputs of each."""
    spec = _spec(tmp_path, name, body)
    store = str(tmp_path / "store")
    doc, diags = _compile(spec, store)
    assert not [d for d in diags if d.is_error], diags
    found = []
    for n, params in enumerate(runs):
        _engine(doc, spec, f"argo-{n}", parameters=params)
        _local(spec, store, f"local-{n}", params)
        on_argo = _outputs(store, f"argo-{n}")
        assert on_argo == _outputs(store, f"local-{n}"), params
        found.append(on_argo)
    return found


def test_a_loop_over_an_empty_run_time_list_gives_its_readers_the_empty_list(tmp_path: Path) -> None:
    """Argo skips a withParam loop with no items ("Skipped, empty params", dag.go executeDAGTask):
    its readers still run, and take [] from the run store."""
    (empty, full) = _same_outputs(tmp_path, "empty", """  inputs:
    xs: {type: "list[int]", default: []}
    ss: {type: "list[str]", default: []}
  tasks:
    big: {python: "rt_mod:sq", foreach: "${{ inputs.xs }}", inputs: {x: "${{ item }}"}, outputs: {out: int}}
    sum: {python: "rt_mod:total", inputs: {xs: "${{ tasks.big.outputs.out }}"}, outputs: {out: int}}
    shout: {python: "rt_mod:up", foreach: "${{ inputs.ss }}", inputs: {s: "${{ item }}"}, outputs: {out: str}}
    joined: {python: "rt_mod:join", inputs: {xs: "${{ tasks.shout.outputs.out }}"}, outputs: {out: str}}
""", [{}, {"xs": "[2, 3]", "ss": '["a"]'}])
    assert empty == {"sum": {"out": 0}, "joined": {"out": ""}}
    assert full["sum"] == {"out": 13} and full["joined"] == {"out": "A!"}


def test_a_loop_whose_when_is_false_skips_its_readers(tmp_path: Path) -> None:
    """Argo skips each child of a literal loop whose `when` is false and marks the group
    Succeeded (completableTaskGroupPhase, dag.go): its readers carry the loop's `when`."""
    (off, on) = _same_outputs(tmp_path, "loopwhen", """  inputs: {k: {type: int, default: 1}}
  tasks:
    other: {python: "rt_mod:sq", inputs: {x: 4}, outputs: {out: int}}
    big: {python: "rt_mod:sq", foreach: [1, 2], when: "${{ inputs.k > 2 }}", inputs: {x: "${{ item }}"}, outputs: {out: int}}
    sum: {python: "rt_mod:total", inputs: {xs: "${{ tasks.big.outputs.out }}"}, outputs: {out: int}}
    shout: {python: "rt_mod:up", foreach: ["a", "b"], when: "${{ inputs.k > 2 }}", inputs: {s: "${{ item }}"}, outputs: {out: str}}
    joined: {python: "rt_mod:join", inputs: {xs: "${{ tasks.shout.outputs.out }}"}, outputs: {out: str}}
    after: {python: "rt_mod:sq", inputs: {x: "${{ tasks.sum.outputs.out }}"}, outputs: {out: int}}
""", [{}, {"k": "3"}])
    assert off == {"other": {"out": 16}}
    assert on["after"] == {"out": 25} and on["joined"] == {"out": "A!|B!"}


def test_a_run_time_loop_with_a_when_tells_false_from_empty(tmp_path: Path) -> None:
    """Both are one Skipped node on Argo; the loop's `when` on its readers (here a reader's own
    decide step) tells them apart: skipped when false, [] when the list is empty."""
    runs = _same_outputs(tmp_path, "rtwhen", """  inputs:
    xs: {type: "list[int]", default: []}
    on: {type: bool, default: true}
  tasks:
    big: {python: "rt_mod:sq", foreach: "${{ inputs.xs }}", when: "${{ inputs.on }}", inputs: {x: "${{ item }}"}, outputs: {out: int}}
    sum: {python: "rt_mod:total", inputs: {xs: "${{ tasks.big.outputs.out }}"}, outputs: {out: int}}
    again: {python: "rt_mod:sq", foreach: "${{ tasks.big.outputs.out }}", inputs: {x: "${{ item }}"}, outputs: {out: int}}
    tot: {python: "rt_mod:total", inputs: {xs: "${{ tasks.again.outputs.out }}"}, outputs: {out: int}}
""", [{}, {"on": "false", "xs": "[1]"}, {"xs": "[1, 2]"}])
    assert runs[0] == {"sum": {"out": 0}, "tot": {"out": 0}} and runs[1] == {}
    assert runs[2]["tot"] == {"out": 17}


def test_a_memoized_task_read_by_an_argo_when_serves_the_next_run(tmp_path: Path) -> None:
    """A memoized hit runs no pod, so the store lacks its outputs: a reader whose `when` Argo
    decides gets them as --value arguments, for exec deciding that `when` again."""
    spec = _spec(tmp_path, "memowhen", """  inputs: {n: {type: int, default: 3}}
  tasks:
    a: {python: "rt_mod:sq", inputs: {x: "${{ inputs.n }}"}, outputs: {out: int}, cache: true}
    b: {python: "rt_mod:Train_Model", when: "${{ tasks.a.outputs.out > 1 }}", inputs: {x: 5}, outputs: {out: int}}
    fan: {python: "rt_mod:sq", foreach: [1, 2], when: "${{ tasks.a.outputs.out > 1 }}", inputs: {x: "${{ item }}"}, outputs: {out: int}}
    tot: {python: "rt_mod:total", inputs: {xs: "${{ tasks.fan.outputs.out }}"}, outputs: {out: int}}
""")
    doc, diags = _compile(spec, str(tmp_path / "store"))
    assert not diags
    (b,) = [t for t in doc["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == "b"]
    assert "when" in b and {"name": "v-1", "value": "{{tasks.a.outputs.parameters.out}}"} in b["arguments"]["parameters"]
    cache: dict[Any, Any] = {}
    for uid, hits in (("r1", 0), ("r2", 1)):
        result = _engine(doc, spec, uid, cache=cache)
        assert len(result.cache_hits) == hits, result.cache_hits
        assert result.outputs["b"]["out"] == "500" and result.outputs["tot"]["out"] == "5"


def test_a_when_reading_a_store_only_output_refuses_memoize_upstream(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "storewhen", """  tasks:
    dyn: {python: "rt_mod:up", foreach: ["a", "b"], inputs: {s: "${{ item }}"}, outputs: {out: str}, cache: true}
    n: {python: "rt_mod:sq", when: "${{ len(tasks.dyn.outputs.out) > 1 }}", inputs: {x: 2}, outputs: {out: int}}
""")
    _, diags = _compile(spec, str(tmp_path / "store"))
    (diag,) = [d for d in diags if d.code == "E414"]
    assert diag.is_error and "'dyn'" in diag.message and "task 'n'" in diag.message


def test_a_description_with_braces_is_left_out_of_the_arguments(tmp_path: Path) -> None:
    """The controller substitutes all of spec.arguments, descriptions too
    (substituteGlobalVariables, workflow/controller/operator.go): an unterminated `{{` there
    would keep the workflow from starting."""
    spec = _spec(tmp_path, "descr", """  inputs:
    n: {type: int, default: 2, description: "count; write {{ n }} or {{ like this"}
    m: {type: int, default: 1, description: "plain"}
  tasks:
    a: {python: "rt_mod:sq", inputs: {x: "${{ inputs.n }}"}, outputs: {out: int}}
""")
    doc, diags = _compile(spec, str(tmp_path / "store"))
    (diag,) = diags
    assert diag.code == "E413" and not diag.is_error and "'n'" in diag.message
    assert diag.span is not None and diag.span.line == 6
    assert doc["spec"]["arguments"]["parameters"] == [{"name": "m", "value": "1", "description": "plain"},
                                                      {"name": "n", "value": "2"}]
    assert _engine(doc, spec, "run").outputs["a"]["out"] == "4"
