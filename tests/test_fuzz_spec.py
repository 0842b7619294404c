"""Mutated specs never crash the compiler: they compile cleanly, or they get located diagnostics.

Hypothesis starts from valid specs (the examples in specs/examples plus two embedded here, so
the test stands alone) and deletes keys, swaps in values of the wrong type, garbles scalars,
breaks `${{ }}` expressions and splices random bytes into the text. For every mutant, the whole
`tether check` pipeline (YAML -> IR -> validate -> canonical) must return normally; an error-free
result must survive the IR's JSON round trip; every diagnostic must carry a known code and a
span inside the file.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.core.diagnostics import Diagnostics
from tether.core.ir import canonical, from_json, to_json
from tether.compiler.validate import CODES, validate
from tether.compiler.yaml.spec import compile_yaml_text

EMBEDDED = [
    """
apiVersion: tether/v1
kind: Workflow
metadata: {name: fuzz-base, labels: {team: ml}}
spec:
  schedule: "0 3 * * *"
  inputs:
    shards: {type: int, default: 4}
    mode: str
  defaults: {image: "ghcr.io/acme/trainer:1.4", retries: 1, resources: {cpu: 500m, memory: 1Gi}}
  tasks:
    split:
      python: steps:split
      inputs: {n: "${{ inputs.shards }}"}
      outputs: {shards: "list[str]"}
    prep:
      python: steps:prep
      foreach: "${{ tasks.split.outputs.shards }}"
      inputs: {shard: "${{ item }}", tag: "run-${{ inputs.mode }}"}
      outputs: {rows: int}
    train:
      python: steps:train
      inputs:
        rows: "${{ tasks.prep.outputs.rows }}"
        lr: {type: float, value: 0.01}
      outputs: {score: float}
      retries: {count: 3, backoff: {delay: 30s, factor: 2, max_delay: 10m}}
      interruptible: {max_interruptions: 5}
      checkpoint: {keep: 2}
      resources: {memory: 8Gi, gpu: 1}
      timeout: 6h
    publish:
      container: {image: "alpine:3", command: [sh, -c, "echo ${{ tasks.train.outputs.score }}"]}
      when: "${{ tasks.train.outputs.score > 0.9 and inputs.mode == 'full' }}"
      after: [prep]
      env: {LEVEL: "3"}
      secrets: [{name: registry, key: token, env: REG_TOKEN}]
      cache: {version: "2"}
  outputs:
    score: "${{ tasks.train.outputs.score }}"
""",
    """
apiVersion: tether/v1
kind: Workflow
metadata: {name: diamond}
spec:
  tasks:
    a: {python: "m:a", outputs: {x: int}}
    b: {python: "m:b", inputs: {x: "${{ tasks.a.outputs.x }}"}, outputs: {y: int}}
    c: {python: "m:c", inputs: {x: "${{ tasks.a.outputs.x }}"}, outputs: {y: int}}
    d: {python: "m:d", inputs: {l: "${{ tasks.b.outputs.y }}", r: "${{ tasks.c.outputs.y }}"}}
""",
]
EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "specs" / "examples").glob("*.yaml"))
BASES = [text.lstrip() for text in EMBEDDED] + [p.read_text(encoding="utf-8") for p in EXAMPLES]
GARBAGE: list[Any] = [
    None, -1, 0, 1.5, True, "", "x", "-3", "1.5h", "500m", "lots", "${{", "${{ }}", "${{ tasks.nope.outputs.y }}",
    "${{ item }}", "${{ inputs.missing > 1 }}", "list[", "dict[int, str]", [1, "a"], [], {}, {"a": 1},
    {"type": "int"}, "!!python/object:os.system", "Ünïcødé", "a" * 100, 10**20,
]


def check_text(text: str) -> tuple[Any, Diagnostics]:
    """What `tether check` runs for one YAML text (load() minus the file read)."""
    diags = Diagnostics()
    workflow = compile_yaml_text(text, "fuzz.yaml", diags)
    if workflow is not None:
        workflow = validate(workflow, diags)
    if diags.has_errors:
        return None, diags
    assert workflow is not None
    return canonical(workflow), diags


def assert_well_formed(text: str) -> None:
    workflow, diags = check_text(text)
    line_count = max(len(text.splitlines()), 1)
    for d in diags:
        assert d.code in CODES, d
        assert d.message and "Traceback" not in d.message
        if d.span is not None:
            assert d.span.file == "fuzz.yaml"
            assert 1 <= d.span.line <= line_count + 1, d
            assert d.span.col >= 1, d
    if workflow is None:
        assert diags.has_errors, "no workflow, yet no error explains why"
    else:
        assert from_json(to_json(workflow)) == workflow


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (container path, key) position in a plain YAML tree."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append(prefix + (key,))
            found.extend(_paths(value, prefix + (key,)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append(prefix + (index,))
            found.extend(_paths(value, prefix + (index,)))
    return found


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


def _break_expression(text: str, data: st.DataObject) -> str:
    start = text.index("${{") + 3
    end = text.find("}}", start)
    end = len(text) if end < 0 else end
    inner = text[start:end]
    edit = data.draw(st.sampled_from(["drop", "insert", "truncate", "close"]))
    if edit == "drop" and inner:
        i = data.draw(st.integers(0, len(inner) - 1))
        inner = inner[:i] + inner[i + 1 :]
    elif edit == "insert":
        i = data.draw(st.integers(0, len(inner)))
        token = data.draw(st.sampled_from(["(", ")", "==", "and", ".", "[", "]", "'", '"', "not", "1.2.3", "$", "{{"]))
        inner = inner[:i] + token + inner[i:]
    elif edit == "truncate":
        return text[:start] + inner[: len(inner) // 2]
    else:
        return text[:start] + inner + "}} ${{"
    return text[:start] + inner + text[end:]


def mutate(tree: Any, data: st.DataObject) -> Any:
    tree = copy.deepcopy(tree)
    paths = _paths(tree)
    for _ in range(data.draw(st.integers(1, 3))):
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        try:
            parent = _parent(tree, path)
            key = path[-1]
            current = parent[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this place
        if not isinstance(parent, (dict, list)):
            continue  # ...or replaced its container with a scalar
        kind = data.draw(st.sampled_from(["delete", "garbage", "expression", "rename", "text"]))
        if kind == "delete":
            del parent[key]
        elif kind == "garbage":
            parent[key] = data.draw(st.sampled_from(GARBAGE))
        elif kind == "expression" and isinstance(current, str) and "${{" in current:
            parent[key] = _break_expression(current, data)
        elif kind == "rename" and isinstance(parent, dict) and isinstance(key, str) and key:
            i = data.draw(st.integers(0, len(key) - 1))
            parent[key[:i] + key[i + 1 :] + "x"] = parent.pop(key)
        else:
            parent[key] = data.draw(st.text(max_size=12))
    return tree


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("base", range(len(BASES)), ids=lambda i: f"base{i}")
def test_every_base_spec_is_clean(base: int) -> None:
    workflow, diags = check_text(BASES[base])
    assert workflow is not None, [d.message for d in diags]


@FUZZ
@given(st.data())
def test_structural_mutations_never_crash(data: st.DataObject) -> None:
    tree = yaml.safe_load(data.draw(st.sampled_from(BASES)))
    text = yaml.safe_dump(mutate(tree, data), sort_keys=False, allow_unicode=True)
    assert_well_formed(text)


@FUZZ
@given(st.data())
def test_text_mutations_never_crash(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(BASES))
    for _ in range(data.draw(st.integers(1, 3))):
        edit = data.draw(st.sampled_from(["splice", "delete_line", "truncate", "duplicate_line", "indent"]))
        lines = text.splitlines(keepends=True)
        if edit == "splice":
            i = data.draw(st.integers(0, len(text)))
            junk = data.draw(st.binary(max_size=12)).decode("utf-8", errors="replace")
            text = text[:i] + junk + text[i:]
        elif edit == "delete_line" and lines:
            del lines[data.draw(st.integers(0, len(lines) - 1))]
            text = "".join(lines)
        elif edit == "truncate":
            text = text[: data.draw(st.integers(0, len(text)))]
        elif edit == "duplicate_line" and lines:
            i = data.draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "".join(lines)
        elif lines:
            i = data.draw(st.integers(0, len(lines) - 1))
            lines[i] = data.draw(st.sampled_from(["\t", " ", "   "])) + lines[i]
            text = "".join(lines)
    assert_well_formed(text)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    assert_well_formed(text)
