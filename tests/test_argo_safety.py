"""User strings reach the task unchanged through an Argo manifest (issue 8, "Safety").

Each generated string is used three ways: a literal task input, a container env value and a
workflow input's default. The compiled manifest must read back (`yaml.safe_load` of the emitted
text) as exactly the manifest data, and, run by the test Argo engine (tests/engines/argo.py, which
substitutes `{{...}}` as Argo does and expands `$(VAR)` as Kubernetes does), the task must see the
string it was given. Argo substitutes every `{{...}}` tag in a template
(https://github.com/argoproj/argo-workflows/blob/main/util/template/replace.go) and Kubernetes
expands `$(VAR)` and `$$` in command, args and env values
(https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/),
so both are hazards the backend must neutralise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from engines.argo import run_manifest
from tether.backends import Profile
from tether.backends.argo import backend
from tether.backends.argo_profile import ArgoProfile
from tether.backends.yaml_emit import dump
from tether.compiler.load import load
from tether.core.diagnostics import Diagnostics, Severity
from tether.runtime.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
TETHER = [os.sys.executable, "-m", "tether"]

# Pieces that mean something to YAML, Argo, Kubernetes or a shell, glued into user strings.
FRAGMENTS = [
    "{{", "}}", "{{workflow.name}}", "{{inputs.parameters.id}}", "{{=1+1}}", "{{ item }}", "{{retries}}",
    ": ", " #", "# ", "'", '"', "\\", "\\n", "\n", "\t", "$", "$$", "$(SAFETY_VALUE)", "$(HOME)", "${HOME}",
    "yes", "no", "null", "~", "true", "Off", "010", "1e3", "0x1F", ".inf", "-", "- ", "? ", "&a", "*a", "!!str",
    "|", ">", "%", "@", "`", ",", "[", "]", "{", "}", "ü", "日本", "🎉", "\u2028", "\ufeff", " ", "",
]
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85"), max_size=4)


def _is_user_literal(text: str) -> bool:
    # `${{ ... }}` is tether's own expression syntax, so it is not a literal; NUL cannot be in argv.
    return "${{" not in text and "\x00" not in text


user_strings = st.lists(st.sampled_from(FRAGMENTS) | _TEXT, max_size=6).map("".join).filter(_is_user_literal)
NASTY = ["{{workflow.name}}", "}}{{", "yes", "null", "a: b # c", "line\nline\n", "$(SAFETY_VALUE)", "$$", "\\",
         "'\"", "pre-$(SAFETY_VALUE)", "ü 🎉 日本", "{{=sprig.sha256sum('x')}}", "", " padded ", "~", "010", "\ttab"]


ROUTES = ("literal", "env", "given")  # a literal task input, a container env value, a workflow input default


def _spec(values: list[str], routes: tuple[str, ...] = ROUTES) -> dict[str, Any]:
    inputs = {f"s{i}": {"type": "str", "default": v} for i, v in enumerate(values)} if "given" in routes else {}
    tasks = {}
    for i, v in enumerate(values):
        task: dict[str, Any] = {"python": "argo_safety_steps:echo", "image": "python:3.12-slim",
                                "outputs": {"literal": "str", "given": "str", "env": "str"}, "inputs": {}}
        if "literal" in routes:
            task["inputs"]["literal"] = {"type": "str", "value": v}
        if "given" in routes:
            task["inputs"]["given"] = f"${{{{ inputs.s{i} }}}}"
        if "env" in routes:
            task["env"] = {"SAFETY_VALUE": v}
        tasks[f"echo-{i}"] = task
    spec: dict[str, Any] = {"tasks": tasks}
    if inputs:
        spec["inputs"] = inputs
    return {"apiVersion": "tether/v1", "kind": "Workflow", "metadata": {"name": "safety"}, "spec": spec}


def _compile(values: list[str], folder: Path, store: str, routes: tuple[str, ...] = ROUTES, warn: bool = False) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "safety.yaml"
    path.write_text(yaml.safe_dump(_spec(values, routes), allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = load(str(path))
    assert result.workflow is not None, [str(d) for d in result.diagnostics]
    diags = Diagnostics(unsupported_level=Severity.WARNING if warn else Severity.ERROR)
    profile = Profile(store=store, image="python:3.12-slim", target=ArgoProfile(tether=TETHER))
    (manifest,) = backend.compile(result.workflow, profile, diags)
    assert not diags.has_errors, [str(d) for d in diags]
    return manifest.document


_FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_SLOW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FAST
@given(value=user_strings)
@example(value="{{workflow.name}}")
@example(value="a: b # c\nyes\n")
def test_the_emitted_manifest_reads_back_as_its_data(value: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("spec")
    document = _compile([value], folder, str(folder / "store"), warn=True)  # a default may hold `{{` (E413)
    assert yaml.safe_load(dump(document)) == document


def _run(values: list[str], tmp_path: Path, routes: tuple[str, ...], submit: bool = False) -> dict[str, Any]:
    """Run the compiled manifest; with `submit`, the defaults are "plain" and the values are
    submitted as workflow parameters (`argo submit -p s0=...`)."""
    store = tmp_path / "store"
    manifest = _compile(["plain"] * len(values) if submit else values, tmp_path / "spec", str(store), routes)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
           "PATH": os.environ.get("PATH", ""), "NO_COLOR": "1"}
    parameters = {f"s{i}": v for i, v in enumerate(values)} if submit else {}
    result = run_manifest(manifest, parameters=parameters, env=env, workdir=tmp_path / "argo", uid="safety",
                          max_parallel=2)
    why = [result.message, *[(p.node, p.exit_code, p.message, p.argv, p.stderr[-400:]) for p in result.pods]]
    assert result.phase == "Succeeded", why
    run_store = RunStore(str(store), {})
    seen = {f"echo-{i}": run_store.read_outputs("safety", f"echo-{i}") for i in range(len(values))}
    return {task: {r: out[r] for r in routes} for task, out in seen.items()}


def _wanted(values: list[str], routes: tuple[str, ...]) -> dict[str, Any]:
    return {f"echo-{i}": {r: v for r in routes} for i, v in enumerate(values)}


# The hazards the backend neutralises (tether.backends.argo_escape): Argo substitutes a template
# twice (workflow/common/util.go SubstituteParams: the global pass, then the inputs pass over its
# result), so a value placed by a tag is scanned again; Kubernetes turns `$$` into `$` and
# `$(VAR)` into VAR's value in container args. Each case is a route a user string takes.
# A workflow input's value (default or submitted) sits in `spec.arguments`, which the controller
# substitutes itself before anything runs (operator.go `substituteGlobalVariables`): no escaping
# survives that, so those routes carry any string without `{{` (a default with one is E413, below).
CASES = {"literal+env": (("literal", "env"), False), "default": (("given",), False),
         "submitted": (("given",), True)}


def _carried(values: list[str], routes: tuple[str, ...]) -> list[str]:
    return [v for v in values if "{{" not in v] if "given" in routes else values


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_nasty_strings_reach_the_task_unchanged(case: str, tmp_path: Path) -> None:
    routes, submit = CASES[case]
    values = _carried(NASTY, routes)
    assert _run(values, tmp_path, routes, submit) == _wanted(values, routes)


@pytest.mark.parametrize("case", sorted(CASES))
@_SLOW
@given(values=st.lists(user_strings, min_size=1, max_size=4))
def test_any_user_string_reaches_the_task_unchanged(case: str, values: list[str],
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    routes, submit = CASES[case]
    values = _carried(values, routes)
    if values:
        assert _run(values, tmp_path_factory.mktemp("run"), routes, submit) == _wanted(values, routes)


def test_a_default_holding_a_tag_is_reported_where_it_is_written(tmp_path: Path) -> None:
    spec = tmp_path / "tags.yaml"
    spec.write_text(
        "apiVersion: tether/v1\nkind: Workflow\nmetadata: {name: tags}\nspec:\n"
        "  inputs:\n    sql: {type: str, default: 'SELECT * FROM {{ table }}'}\n"
        "  tasks:\n    q: {python: 'm:f', image: i, inputs: {s: '${{ inputs.sql }}'}}\n", encoding="utf-8")
    result = load(str(spec))
    assert result.workflow is not None
    diags = Diagnostics()
    backend.compile(result.workflow, Profile(store="s3://b/r"), diags)
    (d,) = [d for d in diags if d.code == "E413"]
    assert diags.has_errors and d.span is not None and (d.span.line, d.span.col) == (6, 5), d


@pytest.mark.parametrize("value, submit", [("x {{workflow.name}} y", False), ("x {{workflow.name}} y", True),
                                           ("open {{ only", False), ("open {{ only", True)])
def test_argo_substitutes_the_workflow_arguments_before_anything_runs(value: str, submit: bool, tmp_path: Path) -> None:
    """Why E413 exists, and the README's limit for submitted values: a tag in a workflow input's
    value is replaced by the controller, and an unterminated one keeps the workflow from starting."""
    manifest = _compile(["plain" if submit else value], tmp_path / "spec", str(tmp_path / "store"), ("given",), warn=True)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]), "PATH": os.environ.get("PATH", "")}
    result = run_manifest(manifest, parameters={"s0": value} if submit else {}, env=env, workdir=tmp_path / "argo",
                          uid="tags", max_parallel=2)
    if "}}" not in value:
        assert result.phase == "Error" and "Unable to set ExecWorkflow" in result.message and not result.pods
    else:
        assert result.phase == "Succeeded", result.message
        seen = RunStore(str(tmp_path / "store"), {}).read_outputs("tags", "echo-0")["given"]
        assert seen == "x safety y"  # `{{workflow.name}}`, replaced: the task never sees the text


# Strings made at run time (issue 8 item 4): a task returns them whole, in a map and in lists;
# a downstream task reads each output whole (Argo substitutes the output parameter's text), a
# foreach runs over them (string items and map items, `{{item.v}}`), and a fan-in reads the
# fan-outs' aggregated outputs. `tether exec --outputs-escape kubernetes` writes the output
# files escaped (core.values.encode_for_kubernetes), so neither Argo nor the kubelet alters them.
def _runtime_spec(values: list[str]) -> dict[str, Any]:
    step = "argo_safety_steps:"
    up = "${{ tasks.make.outputs.%s }}"
    tasks: dict[str, Any] = {
        "make": {"python": step + "make", "inputs": {"values": {"type": "list[str]", "value": values}},
                 "outputs": {"text": "str", "record": "dict[str, list[str]]", "texts": "list[str]",
                             "records": "list[dict[str, str]]"}},
        "take": {"python": step + "take", "inputs": {"text": up % "text", "record": up % "record", "texts": up % "texts"},
                 "outputs": {"text": "str", "record": "dict[str, list[str]]", "texts": "list[str]"}},
        "each": {"python": step + "one_text", "foreach": up % "texts", "inputs": {"s": "${{ item }}"},
                 "outputs": {"out": "str"}},
        "each-rec": {"python": step + "one_record", "foreach": up % "records", "inputs": {"r": "${{ item }}"},
                     "outputs": {"out": "dict[str, str]"}},
        "gather": {"python": step + "gather",
                   "inputs": {"texts": "${{ tasks.each.outputs.out }}", "records": "${{ tasks.each-rec.outputs.out }}"},
                   "outputs": {"texts": "list[str]", "records": "list[dict[str, str]]"}},
    }
    for task in tasks.values():
        task["image"] = "python:3.12-slim"
    return {"apiVersion": "tether/v1", "kind": "Workflow", "metadata": {"name": "runtime"}, "spec": {"tasks": tasks}}


def _run_runtime(values: list[str], tmp_path: Path) -> dict[str, Any]:
    folder, store = tmp_path / "spec", tmp_path / "store"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "runtime.yaml"
    path.write_text(yaml.safe_dump(_runtime_spec(values), allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = load(str(path))
    assert result.workflow is not None, [str(d) for d in result.diagnostics]
    diags = Diagnostics()
    profile = Profile(store=str(store), image="python:3.12-slim", target=ArgoProfile(tether=TETHER))
    (manifest,) = backend.compile(result.workflow, profile, diags)
    assert not diags.has_errors, [str(d) for d in diags]
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
           "PATH": os.environ.get("PATH", ""), "NO_COLOR": "1"}
    run = run_manifest(manifest.document, env=env, workdir=tmp_path / "argo", uid="runtime", max_parallel=2)
    why = [run.message, *[(p.node, p.exit_code, p.message, p.stderr[-400:]) for p in run.pods]]
    assert run.phase == "Succeeded", why
    got = RunStore(str(store), {})
    nodes = ["take", "gather", *(f"each[{i}]" for i in range(len(values))), *(f"each-rec[{i}]" for i in range(len(values)))]
    return {node: got.read_outputs("runtime", node) for node in nodes}


def _runtime_wanted(values: list[str]) -> dict[str, Any]:
    made = {"text": "|".join(values), "record": {v: [v] for v in values}, "texts": list(values)}
    wanted: dict[str, Any] = {"take": made, "gather": {"texts": list(values), "records": [{"v": v} for v in values]}}
    wanted.update({f"each[{i}]": {"out": v} for i, v in enumerate(values)})
    wanted.update({f"each-rec[{i}]": {"out": {"v": v}} for i, v in enumerate(values)})
    return wanted


def test_nasty_strings_made_at_run_time_reach_downstream_tasks_unchanged(tmp_path: Path) -> None:
    values = [*NASTY, "[1]", "${HOME}$", "{\"a\": 1}"]
    assert _run_runtime(values, tmp_path) == _runtime_wanted(values)


def test_a_string_output_ending_in_a_newline_keeps_it(tmp_path: Path) -> None:
    """Argo's executor trims one trailing newline from an output parameter file (executor.go
    SaveParameters): exec writes one more, so `take` gets the text whole."""
    values = ["line\n", "\n"]  # `text` is "line\n|\n": it ends with the newline
    assert _run_runtime(values, tmp_path) == _runtime_wanted(values)


@_SLOW
@given(values=st.lists(user_strings, min_size=1, max_size=3, unique=True))
def test_any_string_made_at_run_time_reaches_downstream_tasks_unchanged(values: list[str],
                                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    assert _run_runtime(values, tmp_path_factory.mktemp("run")) == _runtime_wanted(values)
