"""The Argo backend: golden manifests for every example, byte-stable output, and the rules each
part of a manifest follows (retry expression, spot scheduling, limits as diagnostics, safety of
user strings).

Regenerate the goldens with `TETHER_REGEN_GOLDEN=1 pytest tests/test_argo_backend.py` (refused
when CI is set).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.backends import Profile, get_backend
from tether.backends.argo import backend
from tether.backends.argo_profile import ArgoProfile
from tether.backends.argo_escape import escape_literal, workflow_input
from tether.backends.argo_retry import NODE_SHUTDOWN, RETRY_EXPRESSION
from tether.backends.yaml_emit import dump
from tether.compiler.load import load
from tether.core.diagnostics import Diagnostics
from tether.core.task_codec import decode_task

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "argo"
SPECS = {
    **{p.stem: str(p) for p in sorted(EXAMPLES.glob("*.yaml"))},
    "checkpointing.py": f"{EXAMPLES / 'checkpointing.py'}:checkpointing_example",
    "ml_training.py": f"{EXAMPLES / 'ml_training.py'}:ml_training",
}
PROFILE = Profile(store="s3://tether-runs/runs", image="ghcr.io/acme/tether:1.0")


def compile_text(spec: str, profile: Profile = PROFILE) -> tuple[str, Diagnostics]:
    result = load(spec)
    assert result.workflow is not None
    diags = Diagnostics()
    (manifest,) = backend.compile(result.workflow, profile, diags)
    return dump(manifest.document), diags


def compile_doc(spec: str, profile: Profile = PROFILE) -> tuple[dict[str, Any], Diagnostics]:
    result = load(spec)
    assert result.workflow is not None
    diags = Diagnostics()
    (manifest,) = backend.compile(result.workflow, profile, diags)
    return manifest.document, diags


def write_spec(tmp_path: Path, body: str, name: str = "w") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"apiVersion: tether/v1\nkind: Workflow\nmetadata: {{name: {name}}}\nspec:\n{body}", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_golden(name: str) -> None:
    text, diags = compile_text(SPECS[name])
    assert not diags.has_errors, [str(d) for d in diags]
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("TETHER_REGEN_GOLDEN"):
        if os.environ.get("CI"):
            pytest.fail("TETHER_REGEN_GOLDEN is refused when CI is set: goldens are reviewed, not regenerated, in CI")
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.read_text(encoding="utf-8") == text


def test_output_is_the_same_bytes_under_any_hash_seed() -> None:
    spec = SPECS["etl_conditional"]
    code = (
        "import sys; from tether.compiler.load import load; from tether.backends import Profile;"
        "from tether.backends.argo import backend; from tether.backends.yaml_emit import dump;"
        "from tether.core.diagnostics import Diagnostics;"
        f"w = load({spec!r}).workflow; (m,) = backend.compile(w, Profile(store='s3://b/r'), Diagnostics());"
        "sys.stdout.write(dump(m.document))"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                       capture_output=True, text=True, check=True).stdout
        for seed in ("0", "1", "4242")
    }
    assert len(outs) == 1


def test_registered_as_the_argo_target() -> None:
    assert get_backend("argo") is backend


def _templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = doc["spec"].get("workflowSpec", doc["spec"])
    return {t["name"]: t for t in spec["templates"]}


def _template_of(doc: dict[str, Any], task: str) -> dict[str, Any]:
    """The template the DAG task `task` runs (named after its definition: function or task)."""
    spec = doc["spec"].get("workflowSpec", doc["spec"])
    (entry,) = [t for t in spec["templates"][0]["dag"]["tasks"] if t["name"] == task]
    return _templates(doc)[entry["template"]]


def test_seed_retry_strategy_and_exec_arguments() -> None:
    doc, _ = compile_doc(SPECS["checkpointing"])
    tmpl = _template_of(doc, "use-checkpoint")
    assert tmpl["retryStrategy"] == {"limit": 3, "retryPolicy": "Always", "expression": RETRY_EXPRESSION}
    args = tmpl["container"]["args"]
    assert args[:9] == ["exec", "--store", "s3://tether-runs/runs", "--run", "{{workflow.uid}}", "--node",
                        "{{tasks.name}}", "--retries", "{{retries}}"]
    payload = decode_task(args[args.index("--task") + 1])
    assert payload.task.python == "checkpointing:use_checkpoint"
    assert "n_iterations=" + workflow_input("n_iterations") in args
    assert tmpl["outputs"]["parameters"] == [{"name": "result", "valueFrom": {"path": "/tmp/tether/outputs/result"}}]


def test_retry_expression_names_the_exact_signals() -> None:
    assert "asInt(lastRetry.exitCode) == 75" in RETRY_EXPRESSION
    assert "asInt(lastRetry.exitCode) == 74" in RETRY_EXPRESSION  # a store outage: exec charges no budget
    assert 'lastRetry.status == "Error" && lastRetry.message == "pod deleted"' in RETRY_EXPRESSION
    assert NODE_SHUTDOWN == "Pod was terminated in response to imminent node shutdown."
    assert "137" not in RETRY_EXPRESSION


def test_interruptible_budget_backoff_spot_and_resources(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
  tasks:
    train:
      image: img:1
      python: m:f
      outputs: {y: int}
      retries: {count: 2, backoff: {delay: 30s, factor: 2, max_delay: 10m}}
      interruptible: {max_interruptions: 4}
      resources: {cpu: 2, memory: 4Gi, gpu: 1}
      timeout: 2h
      env: {A: b}
      secrets: [{name: s, key: k, env: TOKEN}]
""")
    for preset, selector in [("eks", {"eks.amazonaws.com/capacityType": "SPOT"}),
                             ("karpenter", {"karpenter.sh/capacity-type": "spot"}),
                             ("gke", {"cloud.google.com/gke-spot": "true"})]:
        doc, _ = compile_doc(spec, Profile(store="s3://b/r", target=ArgoProfile(spot=preset)))
        tmpl = _template_of(doc, "train")
        assert tmpl["nodeSelector"] == selector
    assert tmpl["tolerations"][0]["key"] == "cloud.google.com/gke-spot"
    assert tmpl["retryStrategy"]["limit"] == 6
    assert tmpl["retryStrategy"]["backoff"] == {"duration": "30s", "factor": 2, "cap": "10m"}
    assert tmpl["activeDeadlineSeconds"] == 7200
    c = tmpl["container"]
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert c["env"] == [{"name": "A", "value": "b"},
                        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]


def test_one_template_is_shared_by_every_task_of_a_chain(tmp_path: Path) -> None:
    lines = []
    for i in range(20):
        value = "1" if i == 0 else '"${{ tasks.t%d.outputs.y }}"' % (i - 1)
        lines.append(f"    t{i}:\n      python: m:f\n      inputs: {{x: {value}}}\n      outputs: {{y: int}}\n")
    tasks = "".join(lines)
    doc, _ = compile_doc(write_spec(tmp_path, "  defaults: {image: img:1}\n  tasks:\n" + tasks))
    assert sorted(_templates(doc)) == ["f", "main"]  # named after the function, m:f
    dag = doc["spec"]["templates"][0]["dag"]["tasks"]
    # The node id is the DAG task's own name (`{{tasks.name}}` in the template): no parameter for it.
    assert dag[5] == {"name": "t5", "template": "f", "depends": "t4", "arguments": {"parameters": [
        {"name": "x", "value": "{{tasks.t4.outputs.parameters.y}}"}]}}
    assert "{{tasks.name}}" in _templates(doc)["f"]["container"]["args"]


def _chain_of(functions: list[tuple[str, str]]) -> str:
    """tasks (name, module:function) in order, each reading the previous one's output."""
    lines = []
    for i, (name, function) in enumerate(functions):
        value = "1" if i == 0 else '"${{ tasks.%s.outputs.y }}"' % functions[i - 1][0]
        lines.append(f"    {name}:\n      python: {function}\n      inputs: {{x: {value}}}\n      outputs: {{y: int}}\n")
    return "  defaults: {image: img:1}\n  tasks:\n" + "".join(lines)


def test_inserting_a_task_renames_no_template_and_rewrites_no_other_line(tmp_path: Path) -> None:
    """GitOps: a new task in front of the others adds its lines and changes only the DAG entry
    that now reads from it; no template is renamed, moved or rewritten."""
    before_spec = [("load", "m:load_rows"), ("clean", "m:clean"), ("fit", "m:fit")]
    after_spec = [("fetch", "m:fetch"), *before_spec]
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    before, _ = compile_doc(write_spec(tmp_path / "a", _chain_of(before_spec)))
    after, _ = compile_doc(write_spec(tmp_path / "b", _chain_of(after_spec)))
    assert sorted(_templates(before)) == ["clean", "fit", "load-rows", "main"]
    assert sorted(_templates(after)) == ["clean", "fetch", "fit", "load-rows", "main"]
    for name in ("clean", "fit"):
        assert _templates(after)[name] == _templates(before)[name]
    old = dump(before).splitlines()
    new = dump(after).splitlines()
    removed = [line for line in old if line not in new]
    assert removed == ["        value: '1'"] or not removed, removed  # `load` now reads fetch's output


def test_the_definition_most_tasks_run_keeps_the_name_and_variants_get_hashes(tmp_path: Path) -> None:
    spec = _chain_of([("a", "m:f"), ("b", "m:f"), ("c", "m:f")]).replace("    c:\n", "    c:\n      retries: 2\n")
    doc, _ = compile_doc(write_spec(tmp_path, spec))
    names = sorted(_templates(doc))
    assert names[:2] == ["f", "f-" + names[1][2:]] and re.fullmatch(r"f-[0-9a-f]{6}", names[1]), names
    assert _template_of(doc, "a") is _templates(doc)["f"] and _template_of(doc, "c")["name"] == names[1]


def _spec_of(tasks: list[tuple[str, str, int]]) -> str:
    """Independent tasks (name, function, retries): each binds a literal, so inserting one
    changes no other task's bindings."""
    lines = [f"    {name}: {{python: 'm:{function}', retries: {retries}, inputs: {{x: 1}}, outputs: {{y: int}}}}\n"
             for name, function, retries in tasks]
    return "  defaults: {image: img:1}\n  tasks:\n" + "".join(lines)


_TASK_LISTS = st.lists(
    st.tuples(st.sampled_from(["f", "g", "h_i"]), st.integers(0, 2)), min_size=1, max_size=8,
).map(lambda defs: [(f"t{i}", function, retries) for i, (function, retries) in enumerate(defs)])


@settings(max_examples=25, deadline=None)
@given(tasks=_TASK_LISTS, position=st.integers(0, 8), new_function=st.booleans())
def test_adding_a_new_definition_leaves_every_template_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory, tasks: list[tuple[str, str, int]], position: int, new_function: bool,
) -> None:
    """Wherever a task with a definition of its own is inserted (a new function, or a known one
    with retries no task had), every template the manifest had is still there, unchanged."""
    added = ("zz", "fresh", 0) if new_function else ("zz", tasks[0][1], 7)
    grown = tasks[:position] + [added] + tasks[position:]
    work = tmp_path_factory.mktemp("insert")
    before, _ = compile_doc(write_spec(work, _spec_of(tasks), name="w"))
    (work / "after").mkdir()
    after, _ = compile_doc(write_spec(work / "after", _spec_of(grown), name="w"))
    old, new = _templates(before), _templates(after)
    for name, template in old.items():
        if name != "main":
            assert new.get(name) == template, name
    assert len(new) == len(old) + 1


def test_tasks_with_equal_computed_inputs_share_a_template_that_runs_as_each(tmp_path: Path) -> None:
    """Two tasks binding the same expression share one template that keeps the bindings; the
    payload says `shared`, so `tether exec` takes each node's name from --node."""
    spec = write_spec(tmp_path, """  inputs: {a: {type: int, default: 1}}
  defaults: {image: img:1}
  tasks:
    one: {python: m:inc, inputs: {x: "${{ inputs.a + 1 }}"}, outputs: {y: int}}
    two: {python: m:inc, inputs: {x: "${{ inputs.a + 1 }}"}, outputs: {y: int}}
""")
    doc, _ = compile_doc(spec)
    (template,) = [t for name, t in _templates(doc).items() if name != "main"]
    args = template["container"]["args"]
    payload = decode_task(args[args.index("--task") + 1])
    assert template["name"] == "inc" and payload.shared and not payload.unbound


def test_cron_and_template_kinds(tmp_path: Path) -> None:
    doc, _ = compile_doc(SPECS["etl_conditional"], Profile(store="s3://b/r", target=ArgoProfile(timezone="Europe/Paris")))
    assert doc["kind"] == "CronWorkflow"
    assert doc["spec"]["schedules"] == ["15 2 * * *"] and doc["spec"]["timezone"] == "Europe/Paris"
    doc, _ = compile_doc(SPECS["diamond"], Profile(store="s3://b/r", options={"kind": "template"}))
    assert doc["kind"] == "WorkflowTemplate"


def test_when_is_rendered_for_govaluate_or_decided_by_exec() -> None:
    doc, _ = compile_doc(SPECS["etl_conditional"])
    dag = {t["name"]: t for t in doc["spec"]["workflowSpec"]["templates"][0]["dag"]["tasks"]}
    assert dag["transform"]["when"] == "{{tasks.validate.outputs.parameters.row_count}} > 0"
    assert dag["load"]["depends"] == "transform.Succeeded && validate"
    doc, _ = compile_doc(SPECS["fanout_sweep"])
    dag = {t["name"]: t for t in doc["spec"]["templates"][0]["dag"]["tasks"]}
    assert dag["trial"]["withParam"] == "{{tasks.trial-decide.outputs.parameters.items}}"
    assert dag["trial"]["arguments"]["parameters"][0] == {"name": "node-id", "value": "trial[{{item.i}}]"}


def test_a_literal_with_braces_never_reaches_argo_as_a_tag(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
  inputs:
    greeting: {type: str, default: "{{workflow.name}}"}
  tasks:
    a:
      image: img:1
      python: m:f
      inputs: {s: "{{ not a tag }}", g: "${{ inputs.greeting }}"}
      outputs: {y: str}
""")
    doc, _ = compile_doc(spec)
    dag_task = doc["spec"]["templates"][0]["dag"]["tasks"][0]
    assert "{{ not a tag }}" not in dump(dag_task)
    # escaped for the kubelet, which restores `{` from TETHER_LBRACE: no `{` is left for Argo
    assert dag_task["arguments"]["parameters"] == [{"name": "s", "value": escape_literal("{{ not a tag }}")}]
    container = _template_of(doc, "a")["container"]
    assert container["env"][0] == {"name": "TETHER_LBRACE", "value": "{"}
    assert "g=" + workflow_input("greeting") in container["args"]


def test_long_names_and_huge_manifests_are_located_diagnostics(tmp_path: Path) -> None:
    name = "w" * 60
    spec = write_spec(tmp_path, "  schedule: '0 1 * * *'\n  tasks:\n    a: {image: i, python: m:f}\n", name)
    _, diags = compile_doc(spec)
    (d,) = [d for d in diags if d.code == "E401"]
    assert "52" in d.message and d.span is not None


@pytest.mark.parametrize("text", ["plain", "it's", 'say "hi"', "a: b", "# no", "yes", "null", "{{x}}", "ünï\ncode", "010"])
def test_any_user_string_round_trips_through_the_yaml(tmp_path: Path, text: str) -> None:
    quoted = yaml.safe_dump(text, default_style='"').strip()
    spec = write_spec(tmp_path, f"  inputs:\n    s: {{type: str, default: {quoted}}}\n"
                      "  tasks:\n    a: {image: i, python: m:f, inputs: {s: '${{ inputs.s }}'}}\n")
    doc, _ = compile_doc(spec)
    back = yaml.safe_load(dump(doc))
    assert back == doc
    assert back["spec"]["arguments"]["parameters"][0]["value"] == text


def test_a_manifest_over_1_mib_names_its_cause_and_can_be_let_through(tmp_path: Path) -> None:
    import hashlib

    big = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(20_000))  # 1.28 MB, incompressible
    spec = write_spec(tmp_path, f"  tasks:\n    a: {{image: i, python: m:f, env: {{BIG: {big}}}}}\n")
    workflow = load(spec).workflow
    assert workflow is not None
    diags = Diagnostics()
    backend.compile(workflow, PROFILE, diags)
    (d,) = [d for d in diags if d.code == "E430"]
    assert "over 1 MiB" in d.message and "'f'" in d.message and d.span is not None and diags.has_errors
    from tether.core.diagnostics import Severity

    lenient = Diagnostics(unsupported_level=Severity.WARNING)  # --unsupported=warn
    backend.compile(workflow, PROFILE, lenient)
    assert [d.code for d in lenient] == ["E430"] and not lenient.has_errors


def test_without_a_store_compile_works_warns_and_the_pods_refuse_to_guess(tmp_path: Path) -> None:
    """No profile store: the manifest still compiles (every target works with no profile), with
    a warning, and passes no --store, so each pod must get TETHER_STORE from its environment;
    `tether exec` refuses a cluster attempt that has neither, rather than keep its checkpoints
    on a disk that dies with the pod."""
    doc, diags = compile_doc(str(EXAMPLES / "checkpointing.yaml"), Profile(image="ghcr.io/acme/tether:1.0"))
    assert [(d.code, d.severity.name) for d in diags.items] == [("E420", "WARNING")]
    (template,) = [t for t in doc["spec"]["templates"] if "container" in t]
    args = template["container"]["args"]
    assert "--store" not in args
    payload = args[args.index("--task") + 1]
    env = {k: v for k, v in os.environ.items() if k != "TETHER_STORE"}
    done = subprocess.run(
        [sys.executable, "-m", "tether", "exec", "--run", "r1", "--node", "use-checkpoint", "--attempt", "1",
         "--task", payload, "--input", "n_iterations=3"],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert done.returncode == 2
    assert "a cluster attempt needs its run store: pass --store URI or set TETHER_STORE" in done.stderr
    assert not (tmp_path / ".tether").exists()
