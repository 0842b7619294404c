"""Cache keys: one definition of "the same task with the same inputs" for every backend.

A task with `cache` reuses an earlier result when two keys match:

- the definition key, a constant per task: what runs (`python:` ref, or the container's command
  and args as written), its interface (input and output names and types), its resolved image and
  `cache.version`. Retries, resources, timeouts and the task's name are not part of it: they
  change how a task runs, not what it computes, so renaming a task or giving it more memory
  keeps its cache.
- the inputs key, per node: the values the node's inputs resolved to (a foreach item's values,
  so each item is cached on its own), and a container's command line where it reads values
  itself. A `file` or `dir` input is its path, not its content.

Each is the sha256 of canonical JSON (sorted keys, no whitespace, UTF-8), so the same task gives
the same key in every process and on every machine. The local runtime keeps its entries under
`cache/<definition key>/<inputs key>.json` in the run store; the Argo backend uses the
definition key as the constant part of its `memoize` key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from .expr import to_template
from .ir import Task

KEY_FORMAT = "tether-cache/1"
"""Part of every definition key: a change of what goes into keys invalidates every entry."""


def canonical_json(value: Any) -> bytes:
    """`value` as canonical JSON bytes; ValueError for what JSON cannot hold (NaN, objects)."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except TypeError as exc:
        raise ValueError(f"not a JSON value: {exc}") from None
    return text.encode("utf-8")


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def definition(task: Task) -> dict[str, Any]:
    """The fields of `task` that its cache entries depend on, as JSON data."""
    if task.container is not None:
        runs: dict[str, Any] = {
            "command": [to_template(e) for e in task.container.command],
            "args": [to_template(e) for e in task.container.args],
        }
    else:
        runs = {"python": task.python}
    return {
        "format": KEY_FORMAT,
        **runs,
        "inputs": [[b.name, None if b.type is None else str(b.type)] for b in sorted(task.inputs, key=lambda b: b.name)],
        "outputs": [[o.name, str(o.type)] for o in sorted(task.outputs, key=lambda o: o.name)],
        "image": task.image,
        "version": task.cache.version if task.cache is not None else None,
    }


def definition_key(task: Task) -> str:
    """64 hex digits naming the task's definition (see the module docstring)."""
    return _digest(definition(task))


def inputs_key(values: Mapping[str, Any], command: list[str] | None = None) -> str:
    """64 hex digits naming one node's resolved input values (ValueError if not JSON).

    `command`: a container task's command line as resolved for this node, when it reads values
    of its own (`${{ item }}`, `${{ inputs.x }}` in its args), which its bindings do not show."""
    value: dict[str, Any] = {"inputs": dict(values)}
    if command is not None:
        value["command"] = list(command)
    return _digest(value)


__all__ = ["KEY_FORMAT", "canonical_json", "definition", "definition_key", "inputs_key"]
