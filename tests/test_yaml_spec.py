"""The YAML front end: what each key compiles to, defaults, spans, and hostile input."""

from __future__ import annotations

from pathlib import Path

from tether.core.diagnostics import Diagnostics, Span
from tether.core.expr import Interp, ListExpr, Literal, Ref
from tether.core.ir import Backoff, CachePolicy, CheckpointPolicy, InterruptPolicy, Resources, RetryPolicy, Secret
from tether.core.types import parse_type
from tether.compiler.validate import validate
from tether.compiler.yaml.spec import compile_yaml_file, compile_yaml_text

HEADER = "apiVersion: tether/v1\nkind: Workflow\nmetadata: {name: wf}\nspec:\n"


def compile_ok(body: str):  # type: ignore[no-untyped-def]
    diags = Diagnostics()
    workflow = compile_yaml_text(HEADER + body, "spec.yaml", diags)
    assert workflow is not None
    workflow = validate(workflow, diags)
    assert not diags.has_errors, [f"{d.span}: {d.message}" for d in diags]
    return workflow


def messages(text: str) -> list[tuple[str, str]]:
    diags = Diagnostics()
    workflow = compile_yaml_text(text, "spec.yaml", diags)
    if workflow is not None:
        validate(workflow, diags)
    return [(d.code, d.message) for d in diags.sorted()]


def test_every_task_key_compiles_to_canonical_units() -> None:
    wf = compile_ok(
        """
  tasks:
    train:
      python: steps:train
      image: ghcr.io/acme/trainer:1.4
      outputs: {model: file}
      retries: {count: 3, backoff: {delay: 30s, factor: 3, max_delay: 10m}}
      interruptible: {max_interruptions: 5}
      checkpoint: {keep: 2}
      resources: {cpu: 1500m, memory: 4Gi, gpu: 1}
      timeout: 1h30m
      cache: {version: 7}
      env: {LEVEL: 3, DEBUG: true}
      secrets: [{name: registry, key: token, env: REG_TOKEN}]
"""
    )
    task = wf.tasks[0]
    assert task.python == "steps:train" and task.image == "ghcr.io/acme/trainer:1.4"
    assert task.retry == RetryPolicy(3, Backoff(30, 3.0, 600))
    assert task.interruptible == InterruptPolicy(5)
    assert task.checkpoint == CheckpointPolicy(2)
    assert task.resources == Resources(1500, 4 * 2**30, 1)
    assert task.timeout_s == 5400
    assert task.cache == CachePolicy("7")
    assert dict(task.env) == {"LEVEL": "3", "DEBUG": "true"}
    assert task.secrets == (Secret("registry", "token", "REG_TOKEN"),)


def test_short_forms() -> None:
    wf = compile_ok(
        """
  tasks:
    a: {python: "m:a", retries: 2, interruptible: true, checkpoint: true, cache: true}
    b: {python: "m:b", interruptible: false, checkpoint: false, after: a}
"""
    )
    a, b = wf.tasks
    assert (a.retry, a.interruptible, a.checkpoint, a.cache) == (RetryPolicy(2), InterruptPolicy(), CheckpointPolicy(), CachePolicy())
    assert (b.interruptible, b.checkpoint, b.after) == (None, None, ("a",))


def test_defaults_apply_to_every_task_and_merge_per_key() -> None:
    wf = compile_ok(
        """
  defaults:
    image: base:1
    retries: 1
    resources: {cpu: 1, memory: 1Gi}
    env: {REGION: eu, LEVEL: info}
  tasks:
    a: {python: "m:a"}
    b:
      python: m:b
      image: special:2
      retries: 0
      resources: {memory: 8Gi}
      env: {LEVEL: debug}
"""
    )
    a, b = wf.tasks
    assert (a.image, a.retry.retries, a.resources, dict(a.env)) == ("base:1", 1, Resources(1000, 2**30), {"REGION": "eu", "LEVEL": "info"})
    assert (b.image, b.retry.retries, b.resources, dict(b.env)) == ("special:2", 0, Resources(1000, 8 * 2**30), {"REGION": "eu", "LEVEL": "debug"})


def test_input_values_literals_expressions_interpolation_and_declared_types() -> None:
    wf = compile_ok(
        """
  inputs:
    n: {type: int, default: 3, description: how many}
    tag: str
  tasks:
    a:
      python: m:a
      inputs:
        count: "${{ inputs.n }}"
        label: "run-${{ inputs.tag }}"
        ratio: 0.5
        names: [x, y]
        paths: ["${{ inputs.tag }}", fixed]
        rate: {type: float, value: 1}
        config: {depth: 2}
"""
    )
    wi = {i.name: i for i in wf.inputs}
    assert (wi["n"].type, wi["n"].has_default, wi["n"].default, wi["n"].description) == (parse_type("int"), True, 3, "how many")
    assert wi["tag"].has_default is False
    bindings = {b.name: b for b in wf.tasks[0].inputs}
    assert bindings["count"].value == Ref("inputs", "n") and str(bindings["count"].type) == "int"
    assert isinstance(bindings["label"].value, Interp) and str(bindings["label"].type) == "str"
    assert bindings["ratio"].value == Literal(0.5) and str(bindings["ratio"].type) == "float"
    assert bindings["names"].value == Literal(("x", "y")) and str(bindings["names"].type) == "list[str]"
    assert bindings["paths"].value == ListExpr((Ref("inputs", "tag"), Literal("fixed")))
    assert bindings["rate"].value == Literal(1) and str(bindings["rate"].type) == "float"
    assert str(bindings["config"].type) == "dict[str, int]"


def test_container_task_with_expressions_in_its_words() -> None:
    wf = compile_ok(
        """
  inputs: {name: str}
  tasks:
    hello:
      container:
        image: alpine:3
        command: [echo, "hi ${{ inputs.name }}", 3]
"""
    )
    container = wf.tasks[0].container
    assert container is not None and wf.tasks[0].image == "alpine:3"
    assert container.command[0] == Literal("echo") and container.command[2] == Literal("3")
    assert isinstance(container.command[1], Interp)


def test_yaml_anchors_and_merge_keys() -> None:
    wf = compile_ok(
        """
  tasks:
    a: &base {python: "m:a", retries: 2, timeout: 10m}
    b:
      <<: *base
      python: m:b
"""
    )
    b = wf.tasks[1]
    assert (b.python, b.retry.retries, b.timeout_s) == ("m:b", 2, 600)


def test_spans_point_at_keys_values_and_references() -> None:
    text = HEADER + '  tasks:\n    a: {python: "m:a", outputs: {x: int}}\n    b:\n      python: m:b\n      inputs: {v: "w ${{ tasks.a.outputs.x }}"}\n      after: [a]\n'
    diags = Diagnostics()
    wf = compile_yaml_text(text, "spec.yaml", diags)
    assert wf is not None and not diags.items
    b = wf.tasks[1]
    assert b.span == Span("spec.yaml", 7, 5, 7, 6)
    assert b.spans["python"] == Span("spec.yaml", 8, 15, 8, 18)
    assert b.spans["inputs.v@0"] == Span("spec.yaml", 9, 26, 9, 43)  # under tasks.a.outputs.x
    assert b.spans["after[0]"] == Span("spec.yaml", 10, 15, 10, 16)
    assert "inputs.v@0" in set(b.spans)


def test_a_python_tag_is_reported_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = HEADER + f"  tasks:\n    a:\n      python: m:a\n      inputs: {{x: !!python/object/apply:os.system ['touch {marker}']}}\n"
    assert messages(text) == [("E103", "YAML tag '!!python/object/apply:os.system' is not allowed")]
    assert not marker.exists()


def test_alias_bombs_are_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)
    ]
    text = HEADER + "  tasks:\n    a:\n      python: m:a\n      inputs:\n" + "".join(f"        {line}\n" for line in lines)
    codes = {code for code, _ in messages(text)}
    assert "E102" in codes  # "aliases expand to too many values", instead of 387 million of them


def test_deep_nesting_is_a_diagnostic_not_a_crash() -> None:
    text = HEADER + "  tasks:\n    a:\n      python: m:a\n      inputs: {x: " + "[" * 50_000 + "]" * 50_000 + "}\n"
    assert messages(text)[0][0] == "E102"


def test_file_reading(tmp_path: Path) -> None:
    sources: dict[str, str] = {}
    diags = Diagnostics()
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "  tasks:\n    a: {python: 'm:a'}\n").encode())
    assert compile_yaml_file(str(path), diags, sources) is not None
    assert sources[str(path)].startswith("apiVersion")  # the BOM is not part of the text
    assert compile_yaml_file(str(tmp_path / "nope.yaml"), diags, sources) is None
    assert diags.items[-1].code == "E101"


def test_all_problems_of_a_task_in_one_pass() -> None:
    text = HEADER + "  tasks:\n    a:\n      python: m:a\n      timeout: soon\n      retries: many\n      gpu: 1\n"
    assert messages(text) == [
        ("E111", "'spec.tasks.a.timeout': invalid duration 'soon'"),
        ("E109", "'spec.tasks.a.retries' must be a whole number, not a string ('many')"),
        ("E107", "unknown key 'gpu' in task 'a'"),
    ]
