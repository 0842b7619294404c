"""Argo container templates' naming, sharing and memoization: what makes two DAG tasks share
one template, the readable name each template gets, its `memoize` key, its resources."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from ..core.expr import to_template
from ..core.ir import Task
from .argo_profile import ArgoProfile

DECIDE_SUFFIX = "-decide"
MAX_FIELD_NAME = 128  # workflowFieldMaxLength, workflow/validate/validate.go: DAG task and template names


@dataclass(eq=False)
class Pending:
    """A container template met in the DAG pass, built once every template is known (to name it)."""

    task: Task  # the first node that runs it: every field but the name is the same for all
    with_bindings: bool
    looped: bool
    declared: tuple[str, ...]
    direct: tuple[str, ...]
    memoize: bool
    first_user: str = ""  # the first of its tasks by name
    users: int = 1  # how many DAG tasks run it
    name: str = ""
    payload: str = ""

    def __post_init__(self) -> None:
        self.first_user = self.task.name


_NAME_BREAK = re.compile(r"[^A-Za-z0-9]+")
_BASE_LENGTH = MAX_FIELD_NAME - len(DECIDE_SUFFIX) - 8  # room for `-<hash>` (and a decide step's suffix)


def base_name(pending: Pending) -> str:
    """A template's readable name: its Python function, kebab-cased, or its first user's name.
    Argo takes `^[a-zA-Z0-9][-a-zA-Z0-9]*$` up to 128 characters (validate.go
    `isValidWorkflowFieldName`, `workflowFieldNameFmt`, in v3.7.18 and v4.1.2), but the name
    also goes into each pod's name, `<workflow>-<template>-<fnv hash>` (`GeneratePodName`,
    workflow/util/pod_name.go), which Kubernetes requires to be a lowercase RFC 1123 subdomain:
    so it is lowercased (`Train_Model` -> `train-model`)."""
    task = pending.task
    text = task.python.rpartition(":")[2] if task.python else pending.first_user
    base = _NAME_BREAK.sub("-", text.lower()).strip("-")[:_BASE_LENGTH].rstrip("-")
    return base or "task"


def content_hash(pending: Pending) -> str:
    """Six hex digits of the template's definition: stable, and distinct between definitions."""
    import hashlib

    text = "\0".join((pending.payload, *pending.declared, *pending.direct, str(pending.looped)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


_SHAPE_FIELDS = tuple(f.name for f in fields(Task) if f.compare and f.name not in ("name", "after", "inputs"))
"""The Task fields two tasks sharing a template have equal (every compared field, so a field
added to the IR splits templates by default), besides the inputs handled in `shape`."""


def shape(task: Task, with_bindings: bool) -> Any:
    """What makes two tasks share a template: everything but the name and `after` (and, when
    the inputs arrive as arguments, their expressions). A tuple, not an evolved Task: built and
    hashed once per DAG task, it is most of the backend's per-task cost."""
    values = task.__dict__
    inputs = task.inputs if with_bindings else tuple((b.name, b.type) for b in task.inputs)
    return (inputs, with_bindings, *(values[f] for f in _SHAPE_FIELDS))


def resources(task: Task) -> dict[str, Any]:
    """Requests and equal limits; GPUs as `nvidia.com/gpu`, which Kubernetes takes in limits
    (https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/)."""
    r = task.resources
    wanted: dict[str, Any] = {}
    if r.cpu_millicores is not None:
        wanted["cpu"] = str(r.cpu_millicores // 1000) if r.cpu_millicores % 1000 == 0 else f"{r.cpu_millicores}m"
    if r.memory_bytes is not None:
        wanted["memory"] = _quantity(r.memory_bytes)
    if r.gpu:
        wanted["nvidia.com/gpu"] = str(r.gpu)
    if not wanted:
        return {}
    return {"requests": dict(wanted), "limits": dict(wanted)}


def _quantity(n: int) -> str:
    for suffix, size in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def memoize_spec(task: Task, with_bindings: bool, settings: ArgoProfile) -> dict[str, Any]:
    """Argo memoization keyed as `tether run` keys its cache: the task's definition key
    (tether.core.cache_key, a constant per template), then `sha256(inputs.parameters as
    JSON)`, so any input text makes a valid key (expression tags, docs/variables.md
    "Expression"; `sprig.sha256sum`, `toJson` from util/expr/env/env.go)."""
    # The controller refuses a key outside ^[a-zA-Z0-9][-a-zA-Z0-9]*$ (cacheKeyRegex,
    # https://github.com/argoproj/argo-workflows/blob/main/workflow/controller/cache/cache.go)
    # and stores it as a ConfigMap data key (configMapCache.save, cache/configmap_cache.go),
    # which Kubernetes caps at 253 characters (IsConfigMapKey,
    # https://github.com/kubernetes/apimachinery/blob/master/pkg/util/validation/validation.go):
    # 64 hex digits, '-', 64 hex digits is 129.
    from ..core.cache_key import definition_key  # memoized tasks only: spares others hashlib's start-up

    digest = definition_key(task)
    if with_bindings:  # the bindings' expressions are in the payload, not in a parameter
        import hashlib

        text = "\0".join((digest, *(f"{b.name}={to_template(b.value)}" for b in task.inputs)))
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # v4 names the ConfigMap only (LocalObjectReference); v3 requires a key (ConfigMapKeySelector):
    # pkg/apis/workflow/v1alpha1/workflow_types.go `Cache` in each release.
    config_map = {"name": settings.cache_config_map}
    if settings.argo_version == "3":
        config_map["key"] = "tether"
    return {
        "key": f"{digest}-{{{{=sprig.sha256sum(toJson(inputs.parameters))}}}}",
        "maxAge": settings.cache_max_age,
        "cache": {"configMap": config_map},
    }


__all__ = ["DECIDE_SUFFIX", "MAX_FIELD_NAME", "Pending", "base_name", "content_hash", "memoize_spec", "resources", "shape"]
