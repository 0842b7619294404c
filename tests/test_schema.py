"""specs/schema/workflow.schema.json: the editor's view of the spec language must match tether's.

Every example is accepted; specs with a shape error are rejected by the schema AND by the
compiler (so an editor never underlines what tether accepts, nor blesses what it rejects);
every key an editor can complete carries a description.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from tether.compiler.load import LoadResult, load

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "specs" / "schema" / "workflow.schema.json"
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../schema/workflow.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: Any, document: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]


def test_schema_is_draft7(schema: dict[str, Any]) -> None:
    # yaml-language-server validates with draft-07; a newer $schema would be checked against the
    # wrong meta-schema in editors.
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid(validator: Any, path: Path) -> None:
    assert _errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def _walk_properties(node: object, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, subschema) that names an object key an editor offers for completion."""
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield f"{where}/properties/{key}", value
        for key, value in node.items():
            yield from _walk_properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_properties(value, f"{where}/{index}")


def test_every_key_has_a_description(schema: dict[str, Any]) -> None:
    definitions = schema["definitions"]

    def described(sub: dict[str, Any]) -> bool:
        if sub.get("description"):
            return True
        ref = sub.get("$ref")
        return isinstance(ref, str) and bool(definitions[ref.rsplit("/", 1)[1]].get("description"))

    missing = [where for where, sub in _walk_properties(schema) if not described(sub)]
    assert missing == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_point_editors_at_the_schema(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE


# ---------------------------------------------------------------------------- broken specs

BASE = """\
apiVersion: tether/v1
kind: Workflow
metadata: {name: broken}
spec:
  inputs:
    n: {type: int, default: 3}
  tasks:
    prepare:
      python: steps:prepare
      inputs: {n: "${{ inputs.n }}"}
      outputs: {rows: int}
      retries: {count: 2, backoff: {delay: 30s}}
      timeout: 15m
      resources: {cpu: 500m, memory: 1Gi}
    train:
      python: steps:train
      inputs: {rows: "${{ tasks.prepare.outputs.rows }}"}
      outputs: {model: str}
"""


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


# Each mutation is a shape error that both the schema and the compiler must reject.
BROKEN: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown task key": _set("spec.tasks.train.retry", 3),
    "unknown top-level key": _set("specs", {}),
    "wrong apiVersion": _set("apiVersion", "tether/v2"),
    "missing metadata": _delete("metadata"),
    "uppercase task name": lambda d: d["spec"]["tasks"].__setitem__("Train_Model", d["spec"]["tasks"].pop("train")),
    "task name too long": lambda d: d["spec"]["tasks"].__setitem__("t" * 64, d["spec"]["tasks"].pop("train")),
    "negative retries": _set("spec.tasks.train.retries", -1),
    "retries as a string": _set("spec.tasks.train.retries", "three"),
    "backoff without delay": _set("spec.tasks.prepare.retries", {"count": 2, "backoff": {"factor": 2}}),
    "fractional duration": _set("spec.tasks.prepare.timeout", "1.5h"),
    "duration with a wrong unit": _set("spec.tasks.prepare.timeout", "15min"),
    "memory in milli-bytes": _set("spec.tasks.prepare.resources.memory", "500m"),
    "unknown cpu suffix": _set("spec.tasks.prepare.resources.cpu", "2Gi"),
    "negative gpu": _set("spec.tasks.prepare.resources.gpu", -1),
    "interruptible as a string": _set("spec.tasks.train.interruptible", "yes"),
    "checkpoint keep zero": _set("spec.tasks.train.checkpoint", {"keep": 0}),
    "python and container": _set("spec.tasks.train.container", {"image": "busybox", "command": ["true"]}),
    "neither python nor container": _delete("spec.tasks.train.python"),
    "python ref without a function": _set("spec.tasks.train.python", "steps"),
    "unknown key in a container": _set("spec.tasks.train", {"container": {"image": "x", "entrypoint": ["sh"]}}),
    "secret without env": _set("spec.tasks.train.secrets", [{"name": "db", "key": "password"}]),
    "typed input without a value": _set("spec.tasks.train.inputs.rows", {"type": "int"}),
    "workflow input of an unknown type": _set("spec.inputs.n", "integer"),
    "workflow input with an unknown key": _set("spec.inputs.n", {"type": "int", "required": True}),
    "when without ${{ }}": _set("spec.tasks.train.when", "tasks.prepare.outputs.rows > 0"),
    "after with a number": _set("spec.tasks.train.after", [1]),
    "bad schedule": _set("spec.schedule", "every day"),
    "env value null": _set("spec.tasks.train.env", {"MODE": None}),
    "no tasks": _set("spec.tasks", {}),
    "unknown default key": _set("spec.defaults", {"python": "steps:x"}),
}


@pytest.fixture(scope="module")
def base_document() -> dict[str, Any]:
    return yaml.safe_load(BASE)


def _mutated(
    base_document: dict[str, Any], mutation: Callable[[dict[str, Any]], None], spec: Path
) -> tuple[dict[str, Any], LoadResult]:
    """The base spec with `mutation` applied, and what tether makes of it written out as `spec`."""
    document = copy.deepcopy(base_document)
    mutation(document)
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return document, load(str(spec))


def test_base_spec_is_valid(validator: Any, base_document: dict[str, Any], tmp_path: Path) -> None:
    assert _errors(validator, base_document) == []
    spec = tmp_path / "base.yaml"
    spec.write_text(BASE, encoding="utf-8")
    result = load(str(spec))
    assert result.ok, [d.message for d in result.diagnostics]


@pytest.mark.parametrize("mutation", BROKEN.values(), ids=BROKEN.keys())
def test_schema_and_compiler_reject_broken_specs(
    validator: Any, base_document: dict[str, Any], mutation: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    document, result = _mutated(base_document, mutation, tmp_path / "broken.yaml")
    assert _errors(validator, document), "the schema accepted a broken spec"
    assert not result.ok and any(d.is_error for d in result.diagnostics), "tether accepted what the schema rejects"


# Each mutation is a form the compiler accepts, so an editor must not underline it.
ACCEPTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "after as one name": _set("spec.tasks.train.after", "prepare"),
    "env values that are not strings": _set("spec.tasks.train.env", {"WORKERS": 4, "DEBUG": False, "MODE": "fast"}),
    "cache version as a number": _set("spec.tasks.train.cache", {"version": 2}),
    "cache: true": _set("spec.tasks.train.cache", True),
    "interruptible: false": _set("spec.tasks.train.interruptible", False),
    "interruptible with a budget": _set("spec.tasks.train.interruptible", {"max_interruptions": 0}),
    "checkpoint with keep": _set("spec.tasks.train.checkpoint", {"keep": 1}),
    "timeout in plain seconds": _set("spec.tasks.train.timeout", 5400),
    "timeout in days and hours": _set("spec.tasks.train.timeout", "1d12h"),
    "cpu as a fraction of a core": _set("spec.tasks.train.resources", {"cpu": 0.5, "memory": "1.5G", "gpu": 1}),
    "memory in plain bytes": _set("spec.tasks.train.resources", {"memory": 1048576}),
    "a literal dict with a 'type' key among others": _set(
        "spec.tasks.train.inputs.meta", {"type": "linear", "value": "1", "owner": "ml"}
    ),
    "typed input holding an expression": _set(
        "spec.tasks.train.inputs.rows", {"type": "float", "value": "${{ tasks.prepare.outputs.rows }}"}
    ),
    "list and optional types": _set("spec.inputs.tags", {"type": "list[str]?", "default": None}),
    "schedule macro": _set("spec.schedule", "@daily"),
    "numeric label value": _set("metadata.labels", {"team": "ml", "tier": 2, "gpu": True, "example.com/owner": "data"}),
    "container with bare numbers in args": lambda d: d["spec"]["tasks"].__setitem__(
        "notify",
        {"container": {"image": "busybox:1.36", "command": ["sleep"], "args": [5]}, "after": ["train"]},
    ),
    "retries with constant backoff": _set(
        "spec.tasks.train.retries", {"count": 3, "backoff": {"delay": "1m", "factor": 1, "max_delay": "5m"}}
    ),
    "constant when": _set("spec.tasks.train.when", True),
    "foreach over a literal list": lambda d: d["spec"]["tasks"]["train"].update(
        {"foreach": [1, 2], "inputs": {"rows": "${{ item }}"}}
    ),
    "workflow output interpolating a string": _set(
        "spec.outputs", {"summary": "trained on ${{ tasks.prepare.outputs.rows }} rows"}
    ),
}


@pytest.mark.parametrize("mutation", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_schema_accepts_what_the_compiler_accepts(
    validator: Any, base_document: dict[str, Any], mutation: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    document, result = _mutated(base_document, mutation, tmp_path / "variant.yaml")
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    assert _errors(validator, document) == []


def _object_keys(schema: dict[str, Any], node: dict[str, Any]) -> set[str]:
    """The property names of an object subschema, following $ref, allOf and oneOf branches."""
    definitions = schema["definitions"]
    if "$ref" in node:
        return _object_keys(schema, definitions[node["$ref"].rsplit("/", 1)[1]])
    keys = set(node.get("properties", {}))
    for branch in node.get("allOf", []) + node.get("oneOf", []):
        keys |= _object_keys(schema, branch)
    return keys


def test_schema_keys_are_the_front_ends_keys(schema: dict[str, Any]) -> None:
    """A key added to the language must reach the schema (or editors flag valid specs)."""
    from tether.compiler.yaml import spec as yaml_spec

    definitions = schema["definitions"]
    retries_long = next(b for b in definitions["retries"]["oneOf"] if b.get("type") == "object")
    workflow_input_long = next(b for b in definitions["workflowInput"]["oneOf"] if b.get("type") == "object")
    expected = {
        "top": (set(schema["properties"]), yaml_spec.TOP_KEYS),
        "metadata": (_object_keys(schema, definitions["metadata"]), yaml_spec.METADATA_KEYS),
        "spec": (_object_keys(schema, definitions["spec"]), yaml_spec.SPEC_KEYS),
        "workflow input": (_object_keys(schema, workflow_input_long), yaml_spec.INPUT_KEYS),
        "task": (_object_keys(schema, definitions["task"]), yaml_spec.TASK_KEYS),
        "defaults": (_object_keys(schema, definitions["defaults"]), yaml_spec.DEFAULTABLE_KEYS),
        "container": (_object_keys(schema, definitions["container"]), yaml_spec.CONTAINER_KEYS),
        "retries": (_object_keys(schema, retries_long), yaml_spec.RETRY_KEYS),
        "backoff": (_object_keys(schema, definitions["backoff"]), yaml_spec.BACKOFF_KEYS),
        "resources": (_object_keys(schema, definitions["resources"]), yaml_spec.RESOURCE_KEYS),
        "secret": (_object_keys(schema, definitions["secret"]), yaml_spec.SECRET_KEYS),
    }
    assert {where: sorted(keys) for where, (keys, _) in expected.items()} == {
        where: sorted(front_end) for where, (_, front_end) in expected.items()
    }
    assert schema["properties"]["apiVersion"]["enum"] == [yaml_spec.API_VERSION]
    assert schema["properties"]["kind"]["enum"] == [yaml_spec.KIND]
