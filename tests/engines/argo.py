"""A small Argo Workflows engine for tests: runs a manifest as Argo's controller would, pods as processes.

Each rule cites the Argo source it models (paths relative to
https://github.com/argoproj/argo-workflows/blob/main/). In short:

- Substitution is fasttemplate `{{...}}` over each string, tags trimmed of whitespace
  (util/template/simple_template.go `simpleReplaceStrict`); `{{=expr}}` tags are evaluated with
  expr-lang (util/template/expression_template.go). A tag with one of Argo's variable prefixes
  (`item. steps. inputs. outputs. pod. workflow. tasks.`) left unresolved when a pod is built is
  an error, as submission-time validation reports it (workflow/validate/validate.go
  `resolveAllVariables`: "failed to resolve {{...}}"); here it ends the workflow with phase Error.
- DAG scheduling, `depends`, `when`, loops and the DAG phase follow workflow/controller/dag.go
  (`executeDAGTask`, `evaluateDependsLogic`, `resolveDependencyReferences`, `expandTask`,
  `assessDAGPhase`) and workflow/common/ancestry.go (`GetTaskDependencies`, `expandDependency`).
- Retries follow workflow/controller/operator.go `processNodeRetries` and
  `buildRetryStrategyLocalScope`; pod outcomes follow `inferFailedReason` and `podReconciliation`.

Emulation of the pod sandbox: a container's image is ignored and its command runs as a local
process in its own session. Pods share the host filesystem, so each pod gets a private
directory under `workdir/pods/<pod name>/`: for every output parameter path P, the directory of P
is rewritten to `<pod dir>/fs/<dir of P>` in the command, args, script source and env values
(the whole of P when its directory is `/`), and P is read back from there after the container
exits 0. A process killed by a signal reports exit code 137, as Argo's emissary does
(cmd/argoexec/commands/emissary.go `exitCodeFromErr`); one that handles SIGTERM and exits 143
reports 143. Grace periods before SIGKILL are 5 s (Kubernetes: terminationGracePeriodSeconds).
Memoization follows operator.go `executeTemplate` (a `memoize` template's key is looked up in the
ConfigMap cache before the node is created; a hit makes a Succeeded node with the cached outputs and
no pod) and dag.go `executeDAGTask` (a Succeeded memoized node saves its outputs under its key); keys
must match workflow/controller/cache/cache.go `cacheKeyRegex`, and `maxAge` expires entries
(cache/configmap_cache.go `GetOutputsWithMaxAge`). The cache is a dict the caller may share between
runs (`run_manifest(cache=...)`), standing in for the ConfigMaps.
Not modelled: steps templates, templateRef, artifacts, exit handlers, synchronization.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import signal
import subprocess
import threading
import time
import uuid
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .exprlang import ExprError, evaluate as expr_evaluate, evaluate_bool
from .gojson import Item, RawJSON, go_float, go_json, items_from_json, items_from_values
from .govaluate import WhenError, evaluate_when
from .sprig import SPRIG

__all__ = ["EngineError", "EngineResult", "Injection", "PodAttempt", "run_manifest"]

GRACE_S = 5.0
# workflow/common/common.go GlobalVarValidWorkflowVariablePrefix
_CHECKED_PREFIXES = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")
# kubelet messages: pkg/kubelet/nodeshutdown/nodeshutdown_manager_linux.go (reason Terminated),
# pkg/kubelet/eviction/helpers.go (reason Evicted, nodeLowMessageFmt + thresholdMetMessageFmt),
# pkg/kubelet/active_deadline.go (reason DeadlineExceeded) in github.com/kubernetes/kubernetes.
NODE_SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown."
EVICTED_MESSAGE = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. "
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
ABSENT = object()  # a skipped/omitted task's output with no default (scope.go addSkippedNodeOutputsToScope)


class EngineError(Exception):
    """An Argo error: the node (or, before any node, the workflow) ends with phase Error."""


@dataclass(frozen=True)
class Injection:
    """Strike attempt `attempt` (1-based) of DAG task `task` (item `index` of a loop) `after_s` after start,
    or, with `after_file`, as soon as that file exists (the pod says it is ready: no race with its start)."""

    task: str
    attempt: int
    kind: str  # "pod-deleted" | "node-shutdown" | "evicted" | "oom"
    after_s: float = 0.5
    index: int | None = None
    after_file: str | None = None


@dataclass
class PodAttempt:
    """One pod: one attempt of one node."""

    node: str
    task: str
    index: int | None
    attempt: int
    argv: list[str]
    env: dict[str, str]
    phase: str
    exit_code: int | None
    message: str
    outputs: dict[str, str]
    pod_name: str = ""
    backoff_s: float = 0.0  # the delay Argo waits before this attempt (0 for the first)
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0


@dataclass
class EngineResult:
    phase: str
    nodes: dict[str, str]
    pods: list[PodAttempt]
    outputs: dict[str, dict[str, str]]
    message: str = ""
    cache_hits: list[str] = field(default_factory=list)  # node names memoization served without a pod

    def attempts(self, task: str, index: int | None = None) -> list[PodAttempt]:
        return [p for p in self.pods if p.task == task and p.index == index]


# ---------------------------------------------------------------------------------------------
# values and substitution


def any_string(value: Any) -> str | None:
    """wfv1.AnyString from a YAML scalar: numbers keep their JSON text, bools are true/false."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return go_float(value)
    return go_json(value, html=False)


def _fnv32a(text: str) -> int:
    h = 0x811C9DC5
    for b in text.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pod_name(workflow: str, node_name: str, template: str) -> str:
    """workflow/util/pod_name.go GeneratePodName (v2 names)."""
    if workflow == node_name:
        return workflow
    prefix = f"{workflow}-{template}" if template else workflow
    return f"{prefix[:242]}-{_fnv32a(node_name)}"


# strconv.Quote escapes that are not valid JSON: the result of Replace would not unmarshal
# (util/template/replace.go "cannot finish template replacement because the result was invalid JSON").
_BAD_FOR_JSON = re.compile("[\x00-\x07\x0b\x0e-\x1f\x7f]")


def _expand_env(scope: Mapping[str, Any]) -> dict[str, Any]:
    """util/expand.Expand: dotted keys become nested maps for expr-lang."""
    out: dict[str, Any] = {}
    for key, value in scope.items():
        if value is ABSENT:
            value = None
        out[key] = value
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = value
    return out


def _env_funcs(scope: Mapping[str, Any]) -> dict[str, Any]:
    """util/expr/env/env.go GetFuncMap: the expanded scope plus `toJson` (json.Marshal) and `sprig`."""
    env = _expand_env(scope)
    env["toJson"] = lambda v: go_json(v)
    # sprig `replace old new src` = strings.Replace(src, old, new, -1)
    # (https://github.com/Masterminds/sprig/blob/master/functions.go, "replace").
    env["sprig"] = {**SPRIG, "replace": lambda old, new, src: str(src).replace(str(old), str(new))}
    return env


def substitute(text: str, scope: Mapping[str, Any], strict: Callable[[str], bool] | None) -> str:
    """template.Replace on one string: `strict(tag)` says whether an unresolved tag is an error."""
    if "{{" not in text:
        return text
    out: list[str] = []
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            out.append(text[i:])
            return "".join(out)
        end = text.find("}}", start + 2)
        if end < 0:
            raise EngineError(f"Cannot find end tag='}}}}' in the template={text!r} starting from {text[start:]!r}")
        out.append(text[i:start])
        tag = text[start + 2 : end]
        out.append(_replace_tag(tag, scope, strict))
        i = end + 2


def _replace_tag(tag: str, scope: Mapping[str, Any], strict: Callable[[str], bool] | None) -> str:
    if tag.startswith("="):  # util/template/kind.go parseTag: only a leading '=' makes an expression
        expression = tag[1:]
        try:
            result = expr_evaluate(expression, _env_funcs(scope))
        except ExprError as e:
            missing = str(e).startswith("unknown name") or "from nil" in str(e)
            if missing and (strict is None or not strict(str(e).split()[-1])):
                return "{{" + tag + "}}"
            raise EngineError(f"failed to evaluate expression: {e}") from None
        if result is None:
            if strict is None:
                return "{{" + tag + "}}"
            raise EngineError(f"failed to evaluate expression {expression!r}")
        # expressionReplaceCore writes a string result JSON-escaped, without its quotes, into the
        # template's JSON text, which is then unmarshalled: the field holds the string itself;
        # any other result holds its JSON text (util/template/expression_template.go).
        return result if isinstance(result, str) else go_json(result)
    key = tag.strip()
    if key not in scope:
        nested = tag.rfind("{{")
        if nested > 0 and tag[nested + 2 :] in scope and isinstance(scope[tag[nested + 2 :]], str):
            return "{{" + tag[:nested] + scope[tag[nested + 2 :]]
        if strict is not None and strict(key):
            raise EngineError(f"failed to resolve {{{{{tag}}}}}")
        return "{{" + tag + "}}"
    value = scope[key]
    if value is ABSENT:
        raise EngineError(
            f"unable to substitute {{{{{tag}}}}}: output is an absent optional (skipped/omitted node with no default)"
        )
    if not isinstance(value, str):
        raise EngineError(f"failed to resolve {{{{{tag}}}}} to string")
    if _BAD_FOR_JSON.search(value):
        raise EngineError("cannot finish template replacement because the result was invalid JSON")
    return value


def substitute_obj(obj: Any, scope: Mapping[str, Any], strict: Callable[[str], bool] | None) -> Any:
    """Replace over a whole template (Argo marshals it to JSON and substitutes the text)."""
    if isinstance(obj, str):
        return substitute(obj, scope, strict)
    if isinstance(obj, list):
        return [substitute_obj(v, scope, strict) for v in obj]
    if isinstance(obj, dict):
        return {k: substitute_obj(v, scope, strict) for k, v in obj.items()}
    return obj


def strict_prefixes(*prefixes: str) -> Callable[[str], bool]:
    """template.ReplaceStrictAny: tags under these dot-segments must resolve."""
    return lambda tag: any(tag == p or tag.startswith(p + ".") for p in prefixes)


def STRICT_ALL(tag: str) -> bool:  # noqa: N802 - template.Replace(..., allowUnresolved=false)
    return True


def _unresolved_tags(obj: Any) -> list[str]:
    found: list[str] = []
    if isinstance(obj, str):
        for m in re.finditer(r"\{\{(.*?)\}\}", obj):
            tag = m.group(1)
            if not tag.startswith("=") and tag.strip().startswith(_CHECKED_PREFIXES):
                found.append(tag)
    elif isinstance(obj, list):
        for v in obj:
            found += _unresolved_tags(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            found += _unresolved_tags(v)
    return found


# ---------------------------------------------------------------------------------------------
# durations and retry strategy


def parse_duration(value: Any) -> float:
    """wfv1.ParseStringToDuration: a bare number is seconds, else a Go duration ("1m30s")."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return float(text)
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text.lstrip("+"):
        raise EngineError(f"invalid duration {value!r}")
    return sum(float(a) * units[b] for a, b in parts)


def _int_or_string(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise EngineError(f"invalid int-or-string {value!r}") from None


# util/errors/errors.go isTransientErr: only the message-based checks can apply to a node message.
_TRANSIENT_SNIPPETS = (
    "exceeded quota", "etcdserver: leader changed", "etcdserver: request timed out",
    "etcdserver: too many requests", "client rate limiter Wait returned an error",
    "unexpected error when reading response body", "stream error when reading response body",
    "Connection closed by foreign host", "net/http: TLS handshake timeout", "i/o timeout",
    "connection timed out", "connection reset by peer", "http2: client connection lost",
    "http2: server sent GOAWAY and closed the connection", "request did not complete within requested timeout",
    "connect: connection refused", "invalid connection",
)


def _is_transient(message: str) -> bool:
    pattern = os.environ.get("TRANSIENT_ERROR_PATTERN", "")
    return any(s in message for s in _TRANSIENT_SNIPPETS) or bool(pattern and re.search(pattern, message))


# ---------------------------------------------------------------------------------------------
# node state


@dataclass
class _Node:
    """A finished node as the scope sees it (a retry node shows its last child)."""

    phase: str
    message: str = ""
    outputs: dict[str, str] | None = None
    result: str | None = None
    exit_code: str | None = None
    started: float = 0.0
    finished: float = 0.0
    node_id: str = ""
    name: str = ""


@dataclass
class _TaskState:
    phase: str | None = None  # None until the task node exists; Running while it runs
    node: _Node | None = None
    children: list[_Node | None] = field(default_factory=list)  # loop children, in item order
    group: bool = False
    template: dict[str, Any] | None = None


_FULFILLED = {"Succeeded", "Failed", "Error", "Skipped", "Omitted"}


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class _Workflow:
    """Everything one run shares: spec, global scope, pods, the pod semaphore."""

    def __init__(self, manifest: Mapping[str, Any], parameters: Mapping[str, str], env: Mapping[str, str],
                 secrets: Mapping[str, Mapping[str, str]], injections: Sequence[Injection], workdir: Path,
                 max_parallel: int, uid: str | None, time_scale: float,
                 cache: dict[tuple[str, str], tuple[float, _Node]]) -> None:
        kind = manifest.get("kind", "Workflow")
        meta = manifest.get("metadata") or {}
        if kind == "CronWorkflow":
            spec = (manifest.get("spec") or {}).get("workflowSpec") or {}
        elif kind in ("Workflow", "WorkflowTemplate"):
            spec = manifest.get("spec") or {}
        else:
            raise EngineError(f"unsupported kind {kind!r}")
        self.spec: dict[str, Any] = json.loads(json.dumps(spec))
        name = meta.get("name") if kind == "Workflow" else None
        self.uid = uid or str(uuid.uuid5(uuid.NAMESPACE_URL, "tether-argo-engine/" + str(meta.get("name") or meta.get("generateName"))))
        if not name:
            base = meta.get("generateName") or (str(meta.get("name", "workflow")) + "-")
            alphabet = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
            digest = hashlib.sha256(self.uid.encode()).digest()
            name = base + "".join(alphabet[b % len(alphabet)] for b in digest[:5])
        self.name: str = name
        self.namespace: str = meta.get("namespace") or "argo"
        self.env = dict(env)
        self.secrets = secrets
        self.injections = list(injections)
        self.workdir = Path(workdir)
        self.time_scale = time_scale
        self.sem = threading.Semaphore(max(1, max_parallel))
        self.lock = threading.Lock()
        self.pods: list[PodAttempt] = []
        self.cache = cache
        self.cache_hits: list[str] = []
        self.templates = {t["name"]: t for t in self.spec.get("templates") or []}
        self.created = time.time()
        self.arguments = self._arguments(parameters)
        self.global_scope = self._global_scope(meta)
        self._substitute_global_variables(meta)

    def _arguments(self, overrides: Mapping[str, str]) -> list[dict[str, Any]]:
        params = [dict(p) for p in (self.spec.get("arguments") or {}).get("parameters") or []]
        known = {p["name"] for p in params}
        for name in overrides:
            if name not in known:
                raise EngineError(f"parameter {name} is not declared in spec.arguments.parameters")  # argo submit -p
        for p in params:
            if p["name"] in overrides:
                p["value"] = overrides[p["name"]]
            elif "value" not in p and "default" in p:
                p["value"] = p["default"]
            if "value" in p:
                p["value"] = any_string(p["value"])
        return params

    def _global_scope(self, meta: Mapping[str, Any]) -> dict[str, Any]:
        """operator.go setGlobalParameters."""
        scope: dict[str, Any] = {
            "workflow.name": self.name,
            "workflow.namespace": self.namespace,
            "workflow.mainEntrypoint": self.spec.get("entrypoint", ""),
            "workflow.serviceAccountName": self.spec.get("serviceAccountName", ""),
            "workflow.uid": self.uid,
            "workflow.creationTimestamp": _rfc3339(self.created),
            "workflow.creationTimestamp.RFC3339": _rfc3339(self.created),
            "workflow.creationTimestamp.unix": str(int(self.created)),
        }
        if "priority" in self.spec:
            scope["workflow.priority"] = str(self.spec["priority"])
        scope["workflow.parameters"] = scope["workflow.parameters.json"] = _params_json(self.arguments)
        for p in self.arguments:
            if p.get("value") is None:
                raise EngineError(f"either value or valueFrom must be specified in order to set global parameter {p['name']}")
            scope[f"workflow.parameters.{p['name']}"] = p["value"]
        for kind in ("labels", "annotations"):
            values = {str(k): str(v) for k, v in (meta.get(kind) or {}).items()}
            values.update({str(k): str(v) for k, v in ((self.spec.get("workflowMetadata") or {}).get(kind) or {}).items()})
            scope[f"workflow.{kind}"] = scope[f"workflow.{kind}.json"] = go_json(values)
            for k, v in values.items():
                scope[f"workflow.{kind}.{k}"] = v
        return scope

    def _substitute_global_variables(self, meta: Mapping[str, Any]) -> None:
        """operator.go `setExecWorkflow`: after `setGlobalParameters`, `substituteGlobalVariables`
        replaces the global variables in the spec without its templates (unresolved tags kept).
        An error there (an unterminated `{{`) fails `setExecWorkflow` on every reconcile, so no
        node ever runs. For a Workflow `execWf` is the workflow itself (`newWorkflowOperationCtx`),
        so the substituted arguments are what later reconciles set the parameters from: the
        engine runs every node with them."""
        rest = {key: value for key, value in self.spec.items() if key != "templates"}
        rest["arguments"] = {**(rest.get("arguments") or {}), "parameters": self.arguments}
        try:
            substituted = substitute_obj(rest, self.global_scope, None)
        except EngineError as e:
            raise EngineError(f"Unable to set ExecWorkflow: {e}") from None
        if substituted["arguments"]["parameters"] != self.arguments:
            self.arguments = substituted["arguments"]["parameters"]
            self.global_scope = self._global_scope(meta)

    def template(self, name: str | None) -> dict[str, Any]:
        """ResolveTemplate + mergedTemplateDefaultsInto (template fields win over templateDefaults)."""
        if not name or name not in self.templates:
            raise EngineError(f"template {name!r} not found")
        defaults = self.spec.get("templateDefaults")
        tmpl = json.loads(json.dumps(self.templates[name]))
        return _merge(defaults, tmpl) if defaults else tmpl

    def injection(self, task: str, index: int | None, attempt: int) -> Injection | None:
        for inj in self.injections:
            if inj.task == task and inj.index == index and inj.attempt == attempt:
                return inj
        return None


def _params_json(params: Sequence[Mapping[str, Any]]) -> str:
    """json.Marshal of []wfv1.Parameter: struct field order, empty fields omitted."""
    objs = []
    for p in params:
        fields = []
        for k in ("name", "default", "value", "valueFrom", "globalName", "enum", "description"):
            if p.get(k) is not None and p.get(k) is not ABSENT:
                v = any_string(p[k]) if k in ("default", "value") else p[k]
                fields.append(f"{go_json(k)}:{go_json(v)}")
        objs.append("{" + ",".join(fields) + "}")
    return "[" + ",".join(objs) + "]"


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return over


# ---------------------------------------------------------------------------------------------
# processing a template with its arguments (workflow/common/util.go ProcessArgs, SubstituteParams)


def process_args(tmpl: dict[str, Any], args: Mapping[str, str | None], global_scope: Mapping[str, Any],
                 local: Mapping[str, str]) -> dict[str, Any]:
    tmpl = json.loads(json.dumps(tmpl))
    inputs = (tmpl.get("inputs") or {}).get("parameters") or []
    for p in inputs:
        if "value" not in p and "default" in p:  # overwriteWithDefaultParams
            p["value"] = p["default"]
        if p["name"] in args:
            arg = args[p["name"]]
            if arg is ABSENT:
                if p.get("value") is None:
                    raise EngineError(f"inputs.parameters.{p['name']}: argument references an absent optional "
                                      "(skipped/omitted node output with no default)")
            elif arg is not None:
                p["value"] = arg
        if "value" in p:
            p["value"] = any_string(p["value"])
    return substitute_params(tmpl, global_scope, local)


def substitute_params(tmpl: dict[str, Any], global_scope: Mapping[str, Any], local: Mapping[str, str]) -> dict[str, Any]:
    scope = {**global_scope, **local}
    tmpl = substitute_obj(tmpl, scope, None)
    for p in (tmpl.get("inputs") or {}).get("parameters") or []:
        if p.get("value") is None:
            raise EngineError(f"inputs.parameters.{p['name']} was not supplied")
        scope[f"inputs.parameters.{p['name']}"] = p["value"]
    scope["inputs.parameters"] = _params_json((tmpl.get("inputs") or {}).get("parameters") or [])
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        path = (p.get("valueFrom") or {}).get("path")
        if path:
            scope[f"outputs.parameters.{p['name']}.path"] = path
    return substitute_obj(tmpl, scope, None)


# ---------------------------------------------------------------------------------------------
# DAGs


_TASK_NAME = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)")


def _continues(task: Mapping[str, Any], phase: str) -> bool:
    """DAGTask.ContinuesOn."""
    c = task.get("continueOn") or {}
    return (phase == "Failed" and bool(c.get("failed"))) or (phase == "Error" and bool(c.get("error")))


class _Dag:
    """One DAG node: schedules its tasks like executeDAG/executeDAGTask until none can progress."""

    def __init__(self, wf: _Workflow, tmpl: dict[str, Any], boundary: str, top: bool) -> None:
        self.wf = wf
        self.tmpl = tmpl
        self.boundary = boundary
        self.top = top
        dag = tmpl.get("dag") or {}
        self.tasks: dict[str, dict[str, Any]] = {t["name"]: t for t in dag.get("tasks") or []}
        self.deps: dict[str, list[str]] = {}
        self.logic: dict[str, str] = {}
        for name in self.tasks:
            self.deps[name], self.logic[name] = self._dependencies(self.tasks[name])
        self.states: dict[str, _TaskState] = {name: _TaskState() for name in self.tasks}
        self.cv = threading.Condition()
        self.threads: list[threading.Thread] = []
        self.json = json.dumps(tmpl)

    # -- depends (workflow/common/ancestry.go)
    def _dependencies(self, task: Mapping[str, Any]) -> tuple[list[str], str]:
        depends = task.get("depends") or ""
        if not depends:
            parts = []
            for dep in task.get("dependencies") or []:
                if dep not in self.tasks:
                    raise EngineError(f"task {task['name']!r} depends on unknown task {dep!r}")
                parts.append(self._expand(dep))
            depends = " && ".join(parts)
        deps: dict[str, None] = {}
        pieces: list[str] = []
        last = 0
        for m in _TASK_NAME.finditer(depends):
            if m.group(1):
                deps.setdefault(m.group(1).split(".")[0], None)
            else:
                name = m.group(2)
                if name not in self.tasks:
                    raise EngineError(f"task {task['name']!r} depends on unknown task {name!r}")
                deps.setdefault(name, None)
                pieces.append(depends[last : m.start()] + self._expand(name))
                last = m.end()
        pieces.append(depends[last:])
        for dep in deps:
            if dep not in self.tasks:
                raise EngineError(f"task {task['name']!r} depends on unknown task {dep!r}")
        return list(deps), "".join(pieces)

    def _expand(self, dep: str) -> str:
        """expandDependency: a plain name means Succeeded || Skipped || Daemoned (+ continueOn)."""
        parts = [f"{dep}.Succeeded", f"{dep}.Skipped", f"{dep}.Daemoned"]
        c = self.tasks[dep].get("continueOn") or {}
        if c.get("error"):
            parts.append(f"{dep}.Errored")
        if c.get("failed"):
            parts.append(f"{dep}.Failed")
        return "(" + " || ".join(parts) + ")"

    def _ancestors(self, name: str) -> list[str]:
        seen: list[str] = []

        def visit(n: str) -> None:
            for d in self.deps[n]:
                if d not in seen:
                    visit(d)
                    seen.append(d)

        visit(name)
        return seen

    # -- scope (dag.go buildLocalScopeFromTask, operator.go buildLocalScope, processAggregateNodeOutputs)
    def scope_for(self, names: Sequence[str]) -> dict[str, Any]:
        scope: dict[str, Any] = dict(self.wf.global_scope)
        for name in names:
            st = self.states[name]
            prefix = f"tasks.{name}"
            if st.group:
                self._aggregate(scope, prefix, [c for c in st.children if c is not None])
            node = st.node
            if node is None:
                continue
            if node.node_id:
                scope[f"{prefix}.id"] = node.node_id
            if node.started:
                scope[f"{prefix}.startedAt"] = _rfc3339(node.started)
            if node.finished:
                scope[f"{prefix}.finishedAt"] = _rfc3339(node.finished)
            scope[f"{prefix}.status"] = node.phase
            if node.result is not None:
                scope[f"{prefix}.outputs.result"] = node.result
            if node.exit_code is not None:
                scope[f"{prefix}.exitCode"] = node.exit_code
            for k, v in (node.outputs or {}).items():
                scope[f"{prefix}.outputs.parameters.{k}"] = v
            if node.outputs is None and node.phase in ("Skipped", "Omitted") and st.template is not None:
                for p in (st.template.get("outputs") or {}).get("parameters") or []:
                    default = (p.get("valueFrom") or {}).get("default")
                    scope[f"{prefix}.outputs.parameters.{p['name']}"] = ABSENT if default is None else any_string(default)
                if (st.template.get("outputs") or {}).get("result") is not None:
                    scope[f"{prefix}.outputs.result"] = ABSENT
        return scope

    @staticmethod
    def _aggregate(scope: dict[str, Any], prefix: str, children: list[_Node]) -> None:
        if not children:
            return
        params: list[dict[str, str]] = []
        lists: dict[str, list[str]] = {}
        results: list[Any] = []
        for child in children:
            if child.outputs is None or child.phase != "Succeeded":
                continue
            if child.outputs:
                params.append(dict(child.outputs))
                for k, v in child.outputs.items():
                    lists.setdefault(k, []).append(v)
            if child.result is not None:
                try:
                    json.loads(child.result)
                except ValueError as e:
                    raise EngineError(f"{e}") from None
                results.append(RawJSON(child.result))
        scope[f"{prefix}.outputs.result"] = go_json(results)
        scope[f"{prefix}.outputs.parameters"] = go_json(params)
        for k, values in lists.items():
            scope[f"{prefix}.outputs.parameters.{k}"] = _aggregated_list(values)

    # -- scheduling
    def run(self) -> tuple[str, str]:
        dag = self.tmpl.get("dag") or {}
        targets = str(dag["target"]).split(" ") if dag.get("target") else sorted(
            n for n in self.tasks if not any(n in self.deps[m] for m in self.tasks))
        wanted: list[str] = []
        for t in targets:
            if t not in self.tasks:
                raise EngineError(f"target {t!r} does not exist")
            for n in self._ancestors(t) + [t]:
                if n not in wanted:
                    wanted.append(n)
        with self.cv:
            while True:
                progressed = False
                for name in [n for n in self.tasks if n in wanted]:
                    if self.states[name].phase is None and self._ready(name):
                        self._start(name)
                        progressed = True
                if all(self.states[n].phase in _FULFILLED for n in wanted):
                    break
                if not progressed:
                    self.cv.wait()
        for t in self.threads:
            t.join()
        return self._phase(targets)

    def _ready(self, name: str) -> bool:
        return all(self.states[d].phase in _FULFILLED for d in self.deps[name])

    def _set(self, name: str, phase: str, message: str = "") -> None:
        st = self.states[name]
        st.phase = phase
        if st.node is None:
            st.node = _Node(phase=phase, message=message, name=f"{self.boundary}.{name}")
        else:
            st.node.phase, st.node.message = phase, message or st.node.message

    def _start(self, name: str) -> None:
        """executeDAGTask for a task whose dependencies are fulfilled (called with self.cv held)."""
        task = self.tasks[name]
        st = self.states[name]
        try:
            st.template = self.wf.template(task.get("template")) if task.get("template") else None
        except EngineError:
            st.template = None
        if self.logic[name]:
            env: dict[str, Any] = {}
            for dep in self.deps[name]:
                ds = self.states[dep]
                kids = [c.phase for c in ds.children if c is not None] if ds.group else []
                env[dep.replace("-", "_")] = {
                    "Succeeded": ds.phase == "Succeeded", "Failed": ds.phase == "Failed",
                    "Errored": ds.phase == "Error", "Skipped": ds.phase == "Skipped",
                    "Omitted": ds.phase == "Omitted", "Daemoned": False,
                    "AnySucceeded": any(p == "Succeeded" for p in kids),
                    "AllFailed": bool(kids) and all(p == "Failed" for p in kids),
                }
            logic = self.logic[name].replace("-", "_")
            try:
                execute = evaluate_bool(logic, env)
            except ExprError as e:
                self._set(name, "Error", f"unable to evaluate expression '{logic}': {e}")
                return
            if not execute:
                self._set(name, "Omitted", "omitted: depends condition not met")
                return
        try:
            new_task, skip_when = self._resolve_references(name, task)
            scope = self.scope_for(self._ancestors(name))
            expanded = self._expand_task(new_task, scope, skip_when)
        except (EngineError, WhenError) as e:
            self._set(name, "Error", str(e))
            return
        expands = bool(task.get("withItems") or task.get("withParam") or task.get("withSequence"))
        if expands and not expanded:
            self._set(name, "Skipped", "Skipped, empty params")
            return
        st.phase = "Running"
        st.group = expands
        st.children = [None] * len(expanded) if expands else []
        for i, (node_name, t) in enumerate(expanded):
            index = i if expands else None
            try:
                proceed = evaluate_when(t.get("when") or "")
            except WhenError as e:
                self._finish(name, index, _Node("Error", str(e), name=node_name))
                continue
            if not proceed:
                self._finish(name, index, _Node("Skipped", f"when '{t.get('when')}' evaluated false", name=node_name))
                continue
            th = threading.Thread(target=self._run_node, args=(name, index, node_name, t), daemon=True)
            self.threads.append(th)
            th.start()

    def _resolve_references(self, name: str, task: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """dag.go resolveDependencyReferences: `when` first, then the rest, tasks.* strictly."""
        scope = self.scope_for(self._ancestors(name))
        strict = strict_prefixes("tasks", "steps")
        task = json.loads(json.dumps(task))
        expands = bool(task.get("withItems") or task.get("withParam") or task.get("withSequence"))
        if task.get("when"):
            when = substitute(str(task["when"]), scope, strict)
            try:
                proceed = evaluate_when(when)
            except WhenError:
                if not expands:
                    raise
            else:
                if not proceed:
                    task["when"] = when
                    return task, True
        for p in (task.get("arguments") or {}).get("parameters") or []:  # scope.go markAbsentOptionalArgs
            v = p.get("value")
            if isinstance(v, str) and v.startswith("{{") and v.endswith("}}"):
                key = v[2:-2].strip()
                if "{{" not in key and "}}" not in key and scope.get(key, None) is ABSENT:
                    p["value"] = "\x00absent"
        task = substitute_obj(task, scope, strict)
        for p in (task.get("arguments") or {}).get("parameters") or []:
            if p.get("value") == "\x00absent":
                p["value"] = ABSENT
        return task, False

    def _expand_task(self, task: dict[str, Any], scope: Mapping[str, Any], skip_when: bool) -> list[tuple[str, dict[str, Any]]]:
        """dag.go expandTask + operator.go processItem."""
        node_base = f"{self.boundary}.{task['name']}"
        if task.get("withItems"):
            items = items_from_values(list(task["withItems"]))
        elif task.get("withParam"):
            try:
                items = items_from_json(str(task["withParam"]))
            except ValueError as e:
                try:
                    must = evaluate_when(task.get("when") or "")
                except WhenError:
                    must = True
                if must:
                    raise EngineError(f"withParam value could not be parsed as a JSON list: "
                                      f"{str(task['withParam']).strip()}: {e}") from None
                items = []
        elif task.get("withSequence"):
            items = _sequence(task["withSequence"])
        else:
            return [(node_base, task)]
        body = {k: v for k, v in task.items() if k not in ("withItems", "withParam", "withSequence")}
        try:
            static_false = not evaluate_when(task.get("when") or "")
        except WhenError:
            static_false = False
        out = []
        for i, item in enumerate(items):
            local = dict(scope)
            kind = item.type
            if kind in ("number", "bool"):
                local["item"] = str(item)
                desc = str(item)
            elif kind == "string":
                local["item"] = item.str_val()
                desc = str(item)
            elif kind == "map":
                vals = []
                entries = item.map_items()
                for k, v in entries.items():
                    local[f"item.{k}"] = str(v)
                    vals.append(f"{k}:{v}")
                local["item"] = go_json({k: RawJSON(v.raw) for k, v in entries.items()})
                desc = ",".join(sorted(vals))
            else:
                local["item"] = go_json([RawJSON(v.raw) for v in item.list_items()])
                desc = str(item)
            if static_false:
                local = {k: v for k, v in local.items() if v is not ABSENT}
            new = substitute_obj(body, local, None if static_false else STRICT_ALL)
            new["name"] = f"{task['name']}({i}:{desc.replace('(', '').replace(')', '')})"
            out.append((f"{self.boundary}.{new['name']}", new))
        return out

    def _finish(self, name: str, index: int | None, node: _Node) -> None:
        """Record a finished node; a loop's TaskGroup completes when all its children have."""
        st = self.states[name]
        if index is None:
            st.node = node
            st.phase = node.phase
        else:
            st.children[index] = node
            if all(c is not None for c in st.children):
                phase = "Succeeded"
                for c in st.children:
                    if c.phase in ("Failed", "Error"):
                        phase = c.phase
                st.node = _Node(phase=phase, name=f"{self.boundary}.{name}")
                st.phase = phase
        self.cv.notify_all()

    def _run_node(self, name: str, index: int | None, node_name: str, task: dict[str, Any]) -> None:
        try:
            node = _NodeRun(self.wf, self, name, index, node_name, task).run()
        except EngineError as e:
            node = _Node("Error", str(e), name=node_name)
        with self.cv:
            self._finish(name, index, node)

    # -- phase (dag.go assessDAGPhase)
    def _phase(self, targets: list[str]) -> tuple[str, str]:
        branch: dict[str, str] = {}
        message: dict[str, str] = {}

        def bp(n: str) -> str:
            if n in branch:
                return branch[n]
            st = self.states[n]
            if st.phase in ("Succeeded", "Failed", "Error"):
                branch[n], message[n] = st.phase, (st.node.message if st.node else "")
            else:
                inherited, msg = "Succeeded", ""
                for d in self.deps[n]:
                    p = bp(d)
                    if p in ("Failed", "Error") and inherited == "Succeeded":
                        inherited, msg = p, message.get(d, "")
                branch[n], message[n] = inherited, msg
            return branch[n]

        fail_fast = (self.tmpl.get("dag") or {}).get("failFast", True) is not False
        result, msg = "Succeeded", ""
        for t in targets:
            p = bp(t)
            if p in ("Failed", "Error") and not _continues(self.tasks[t], p):
                result, msg = p, message.get(t, "")
                if fail_fast:
                    break
        return result, msg

    def outputs(self) -> dict[str, str]:
        """getTemplateOutputsFromScope for a DAG template's outputs.parameters (valueFrom.parameter)."""
        scope = self.scope_for([n for n in self.tasks if self.states[n].phase is not None])
        out: dict[str, str] = {}
        for p in (self.tmpl.get("outputs") or {}).get("parameters") or []:
            vf = p.get("valueFrom") or {}
            ref = vf.get("parameter")
            if ref:
                key = ref.strip()
                key = key[2:-2].strip() if key.startswith("{{") and key.endswith("}}") else key
                value = scope.get(key, None)
                if value is None or value is ABSENT:
                    if vf.get("default") is None:
                        raise EngineError(f"Unable to resolve: {key!r}")
                    value = any_string(vf["default"])
                out[p["name"]] = value
            elif "value" in p:
                out[p["name"]] = any_string(p["value"])
        return out


def _aggregated_list(values: list[str]) -> str:
    """operator.go aggregatedJSONValueList / tryJSONUnmarshal."""
    parsed: list[Any] = []
    for v in values:
        try:
            x = json.loads(v, parse_int=float, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError:
            return go_json(values)
        if not isinstance(x, (list, dict)):
            return go_json(values)
        parsed.append(x)
    return go_json(parsed)


def _sequence(seq: Mapping[str, Any]) -> list[Item]:
    """operator.go expandSequence."""
    start = int(str(seq.get("start", 0)))
    if "end" in seq and "count" in seq:
        raise EngineError("only one of count or end can be defined in withSequence")
    if "count" in seq:
        count = int(str(seq["count"]))
        if count == 0:
            return []
        end = start + count - 1
    else:
        end = int(str(seq.get("end", 0)))
    fmt = seq.get("format") or "%d"
    step = 1 if end >= start else -1
    values = []
    for i in range(start, end + step, step):
        try:
            values.append(fmt % i)
        except (TypeError, ValueError):
            values.append(str(i))
    return items_from_values(values)


# ---------------------------------------------------------------------------------------------
# one node: executeTemplate with its retry node and pods


class _NodeRun:
    def __init__(self, wf: _Workflow, dag: _Dag, task_name: str, index: int | None, node_name: str,
                 task: dict[str, Any]) -> None:
        self.wf = wf
        self.dag = dag
        self.task_name = task_name
        self.index = index
        self.node_name = node_name
        self.task = task
        self.display = node_name.split(".", 1)[1] if "." in node_name else node_name

    def _args(self) -> dict[str, Any]:
        return {p["name"]: p.get("value") for p in (self.task.get("arguments") or {}).get("parameters") or []}

    def run(self) -> _Node:
        tmpl = self.wf.template(self.task.get("template"))
        if self.task.get("templateRef") or self.task.get("inline"):
            raise EngineError("templateRef / inline templates are not supported by the test engine")
        local = {"tasks.name": self.task["name"], "node.name": self.node_name}
        is_pod = "container" in tmpl or "script" in tmpl
        if is_pod and not tmpl.get("retryStrategy"):
            local["pod.name"] = pod_name(self.wf.name, self.node_name, tmpl["name"])
        processed = process_args(tmpl, self._args(), self.wf.global_scope, local)
        if "dag" in processed:
            started = time.time()
            sub = _Dag(self.wf, processed, self.node_name, top=False)
            phase, message = sub.run()
            outputs = sub.outputs() if phase == "Succeeded" else None
            return _Node(phase, message, outputs=outputs, started=started, finished=time.time(), name=self.node_name)
        if not is_pod:
            raise EngineError(f"Template '{tmpl['name']}' type is not supported by the test engine")
        memo = processed.get("memoize")
        if not memo:
            return self._retry_loop(processed)
        slot = self._cache_slot(memo)
        with self.wf.lock:
            entry = self.wf.cache.get(slot)
        max_age = parse_duration(memo["maxAge"]) if memo.get("maxAge") else None
        if entry is not None and (max_age is None or time.time() - entry[0] <= max_age):
            with self.wf.lock:
                self.wf.cache_hits.append(self.node_name)
            cached = entry[1]
            return _Node("Succeeded", "", outputs=dict(cached.outputs or {}), result=cached.result, name=self.node_name)
        node = self._retry_loop(processed)
        if node.phase == "Succeeded":
            with self.wf.lock:
                self.wf.cache[slot] = (time.time(), node)
        return node

    def _cache_slot(self, memo: Mapping[str, Any]) -> tuple[str, str]:
        key = str(memo.get("key", ""))
        if not re.fullmatch(r"[a-zA-Z0-9][-a-zA-Z0-9]*", key):  # cache/cache.go cacheKeyRegex
            raise EngineError(f"invalid cache key: {key}")
        config_map = ((memo.get("cache") or {}).get("configMap") or {}).get("name")
        if not config_map:
            raise EngineError("memoize.cache.configMap.name is required")
        return (str(config_map), key)

    def _retry_loop(self, tmpl: dict[str, Any]) -> _Node:
        """operator.go executeTemplate + processNodeRetries."""
        strategy = tmpl.get("retryStrategy")
        if not strategy:
            pod = self._pod(tmpl, self.node_name, attempt=1, backoff=0.0)
            return self._node_of(pod, self.node_name)
        limit = _int_or_string(strategy.get("limit"))
        policy = strategy.get("retryPolicy") or ("OnFailure" if not strategy.get("expression") else "Always")
        if policy not in ("Always", "OnFailure", "OnError", "OnTransientError"):
            raise EngineError(f"{policy} is not a valid RetryPolicy")
        backoff = strategy.get("backoff")
        attempts: list[tuple[PodAttempt, _Node]] = []
        clock = 0.0  # virtual seconds added by backoff waits we did not really sleep
        wait_before = 0.0
        while True:
            n = len(attempts)
            if n:
                last = attempts[-1][1]
                if last.phase == "Succeeded":
                    return self._retry_node(last, "")
                now = time.time() + clock
                if backoff:
                    max_deadline = None
                    if backoff.get("maxDuration"):
                        max_deadline = attempts[0][1].started + parse_duration(backoff["maxDuration"])
                        if now > max_deadline:
                            return self._retry_node(last, "Max duration limit exceeded")
                    if not backoff.get("duration"):
                        raise EngineError("no base duration specified for retryStrategy")
                    wait = parse_duration(backoff["duration"])
                    factor = _int_or_string(backoff.get("factor"))
                    if factor is not None and factor > 0:
                        wait = wait * float(factor ** (n - 1))
                    if backoff.get("cap"):
                        wait = min(wait, parse_duration(backoff["cap"]))
                    deadline = last.finished + clock + wait
                    if max_deadline is not None and deadline > max_deadline:
                        return self._retry_node(last, "Backoff would exceed max duration limit")
                    if now < deadline and limit is not None and n <= limit:
                        remaining = deadline - now
                        if self.wf.time_scale > 0:
                            time.sleep(remaining * self.wf.time_scale)
                        clock += remaining * (1 - self.wf.time_scale)
                        wait_before = wait  # the timeToWait Argo reports ("Backoff for ...")
                retry_failed = policy in ("Always", "OnFailure")
                retry_error = policy in ("Always", "OnError")
                if policy == "OnTransientError" and _is_transient(last.message):
                    retry_failed = retry_error = True
                if (last.phase == "Failed" and not retry_failed) or (last.phase == "Error" and not retry_error):
                    return self._retry_node(last, last.message)
                if last.message.startswith("CreateContainerConfigError"):
                    return self._retry_node(last, last.message)  # engine: a pod Argo would leave Pending
                if limit is not None and n > limit:
                    return self._retry_node(last, "No more retries left")
                if strategy.get("expression"):
                    scope = {
                        "retries": str(n - 1),
                        "lastRetry.exitCode": last.exit_code if last.exit_code is not None else "-1",
                        "lastRetry.status": last.phase,
                        "lastRetry.duration": _go_seconds(last.finished - last.started),
                        "lastRetry.message": last.message,
                    }
                    try:
                        go_on = evaluate_bool(strategy["expression"], _env_funcs(scope))
                    except ExprError as e:
                        raise EngineError(f"unable to evaluate expression '{strategy['expression']}': {e}") from None
                    if not go_on:
                        return self._retry_node(last, "retryStrategy.expression evaluated to false")
                if n >= 100:
                    raise EngineError("the test engine stops a retry loop at 100 attempts")
            child = f"{self.node_name}({n})"
            last_node = attempts[-1][1] if attempts else None
            local = {
                "pod.name": pod_name(self.wf.name, child, tmpl["name"]),
                "retries": str(n),
                "lastRetry.exitCode": (last_node.exit_code or "0") if last_node else "0",
                "lastRetry.duration": _go_seconds(last_node.finished - last_node.started) if last_node else "0",
                "lastRetry.status": last_node.phase if last_node else "",
                "lastRetry.message": last_node.message if last_node else "",
            }
            attempt_tmpl = substitute_params(tmpl, self.wf.global_scope, local)
            pod = self._pod(attempt_tmpl, child, attempt=n + 1, backoff=wait_before)
            wait_before = 0.0
            attempts.append((pod, self._node_of(pod, child)))

    def _retry_node(self, last: _Node, message: str) -> _Node:
        return _Node(last.phase, message, outputs=last.outputs, result=last.result, exit_code=last.exit_code,
                     started=last.started, finished=last.finished, node_id=last.node_id, name=self.node_name)

    def _node_of(self, pod: PodAttempt, name: str) -> _Node:
        started = getattr(pod, "_started", time.time())
        return _Node(pod.phase, pod.message,
                     outputs=pod.outputs if pod.phase == "Succeeded" else None,
                     result=getattr(pod, "_result", None),
                     exit_code=None if pod.exit_code is None else str(pod.exit_code),
                     started=started, finished=started + pod.duration_s,
                     node_id=f"{self.wf.name}-{_fnv32a(name)}", name=name)

    # -- the pod
    def _pod(self, tmpl: dict[str, Any], node_name: str, attempt: int, backoff: float) -> PodAttempt:
        name = pod_name(self.wf.name, node_name, tmpl["name"])
        pod_dir = self.wf.workdir / "pods" / name
        record = PodAttempt(node=self.display, task=self.task_name, index=self.index, attempt=attempt, argv=[],
                            env={}, phase="Error", exit_code=None, message="", outputs={}, pod_name=name,
                            backoff_s=backoff)
        record._started = time.time()  # type: ignore[attr-defined]
        try:
            self._build(tmpl, pod_dir, record)
        except _PodPending as e:
            record.message = str(e)
            with self.wf.lock:
                self.wf.pods.append(record)
            return record
        # Argo's tags are checked in the pod spec Argo writes, before the kubelet expands $(VAR)
        # in it: a value that only becomes `{{...}}` in the container is not Argo's business.
        leftovers = _unresolved_tags([getattr(record, "_template_argv", record.argv), list(record.env.values()),
                                      getattr(record, "_source", "")])
        if leftovers:
            raise EngineError(f"failed to resolve {{{{{leftovers[0]}}}}}")
        with self.wf.lock:
            self.wf.pods.append(record)
        with self.wf.sem:
            self._execute(tmpl, record, pod_dir)
        return record

    def _build(self, tmpl: dict[str, Any], pod_dir: Path, record: PodAttempt) -> None:
        container = tmpl.get("container") or tmpl.get("script") or {}
        argv = [str(a) for a in (container.get("command") or [])] + [str(a) for a in (container.get("args") or [])]
        container_env: dict[str, str] = {}
        for e in container.get("env") or []:
            if "value" in e:
                container_env[e["name"]] = _k8s_expand(any_string(e["value"]) or "", container_env)
                continue
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                container_env[e["name"]] = ""
                continue
            secret = self.wf.secrets.get(ref.get("name", ""))
            if secret is None or ref.get("key") not in secret:
                if ref.get("optional"):
                    continue
                # kubelet: the container waits in CreateContainerConfigError (getPendingReason shows it)
                why = (f'secret "{ref.get("name")}" not found' if secret is None
                       else f"couldn't find key {ref.get('key')} in Secret {self.wf.namespace}/{ref.get('name')}")
                raise _PodPending(f"CreateContainerConfigError: {why}")
            container_env[e["name"]] = secret[ref["key"]]
        record._template_argv = list(argv)  # type: ignore[attr-defined]  # what Argo wrote in the pod spec
        argv = [_k8s_expand(a, container_env) for a in argv]
        source = tmpl["script"].get("source", "") if "script" in tmpl else None
        rewrites: list[tuple[str, str]] = []
        outputs: list[tuple[str, str, Any]] = []
        fs = pod_dir / "fs"
        for p in (tmpl.get("outputs") or {}).get("parameters") or []:
            vf = p.get("valueFrom") or {}
            path = vf.get("path")
            if not path:
                continue
            directory = posixpath.dirname(path)
            if directory in ("", "/"):
                local = fs / path.lstrip("/")
                rewrites.append((path, str(local)))
            else:
                local = fs / path.lstrip("/")
                rewrites.append((directory, str(fs / directory.lstrip("/"))))
            local.parent.mkdir(parents=True, exist_ok=True)
            outputs.append((p["name"], str(local), vf.get("default")))
        table = dict(sorted(rewrites, key=lambda r: -len(r[0])))
        pattern = re.compile("(" + "|".join(re.escape(k) for k in table) + r")(?=/|$|[^A-Za-z0-9_.-])") if table else None

        def rewrite(s: str) -> str:  # one pass, longest directory first, so replacements are not rescanned
            return pattern.sub(lambda m: table[m.group(1)], s) if pattern else s

        pod_dir.mkdir(parents=True, exist_ok=True)
        if source is not None:
            script = pod_dir / "script"
            script.write_text(rewrite(source))
            record._source = source  # type: ignore[attr-defined]
            argv = argv + [str(script)]
        record.argv = [rewrite(a) for a in argv]
        record.env = {k: rewrite(v) for k, v in container_env.items()}
        record._outputs = outputs  # type: ignore[attr-defined]
        record._cwd = container.get("workingDir")  # type: ignore[attr-defined]

    def _execute(self, tmpl: dict[str, Any], record: PodAttempt, pod_dir: Path) -> None:
        env = {**os.environ, **self.wf.env, **record.env}
        cwd = record._cwd if record._cwd and os.path.isdir(record._cwd) else str(pod_dir)  # type: ignore[attr-defined]
        deadline = _int_or_string(tmpl.get("activeDeadlineSeconds"))
        inj = self.wf.injection(self.task_name, self.index, record.attempt)
        started = time.time()
        record._started = started  # type: ignore[attr-defined]
        proc = subprocess.Popen(record.argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        out_chunks: list[bytes] = []
        err_chunks: list[bytes] = []
        readers = [threading.Thread(target=lambda s=s, c=c: c.append(s.read()), daemon=True)
                   for s, c in ((proc.stdout, out_chunks), (proc.stderr, err_chunks))]
        for r in readers:
            r.start()
        events: list[tuple[float, str]] = []
        if inj is not None and inj.after_file is not None:
            while proc.poll() is None and not os.path.exists(inj.after_file):
                try:
                    proc.wait(timeout=0.02)
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                events.append((time.time(), inj.kind))
        elif inj is not None:
            events.append((started + inj.after_s, inj.kind))
        if deadline is not None:
            events.append((started + deadline, "deadline"))
        events.sort()
        struck: str | None = None
        while proc.poll() is None and events and struck is None:
            at, kind = events[0]
            try:
                proc.wait(timeout=max(0.0, at - time.time()))
            except subprocess.TimeoutExpired:
                struck = kind
                events.pop(0)
        if struck in ("oom", "evicted"):
            _killpg(proc, signal.SIGKILL)
        elif struck is not None:
            _killpg(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                _killpg(proc, signal.SIGKILL)
        rc = proc.wait()
        for r in readers:
            r.join()
        record.duration_s = time.time() - started
        record.stdout = b"".join(out_chunks).decode(errors="replace")
        record.stderr = b"".join(err_chunks).decode(errors="replace")
        code = rc if rc >= 0 else 137  # emissary exitCodeFromErr: a signalled child is 137
        self._assess(record, struck, code)

    def _assess(self, record: PodAttempt, struck: str | None, code: int) -> None:
        """operator.go assessNodeStatus / inferFailedReason / podReconciliation for each way a pod ends."""
        if struck == "pod-deleted":
            # podReconciliation: the pod vanished; no exit code was ever recorded on the node.
            record.phase, record.message, record.exit_code = "Error", "pod deleted", None
            return
        record.exit_code = code
        if struck == "node-shutdown":
            record.phase, record.message = "Failed", NODE_SHUTDOWN_MESSAGE  # pod.Status.Message wins
            return
        if struck == "evicted":
            record.phase, record.message, record.exit_code = "Failed", EVICTED_MESSAGE, 137
            return
        if struck == "deadline":
            record.phase, record.message = "Failed", DEADLINE_MESSAGE
            return
        if struck == "oom":
            record.phase, record.message, record.exit_code = "Failed", "main: OOMKilled (exit code 137)", 137
            return
        if code != 0:
            record.phase, record.message = "Failed", f"main: Error (exit code {code})"
            return
        for name, path, default in record._outputs:  # type: ignore[attr-defined]
            try:
                with open(path, encoding="utf-8", errors="replace", newline="") as f:
                    value = f.read()
            except OSError:
                if default is None:
                    record.phase = "Error"
                    record.message = f"wait: Error (exit code 1): open {path}: no such file or directory"
                    record.outputs = {}
                    return
                value = any_string(default) or ""
            record.outputs[name] = value.removesuffix("\n")  # executor.go SaveParameters
        if re.search(rf"tasks\.{self.task_name}\.outputs\.result", self.dag.json) or re.search(
            rf"tasks\[['\"]{self.task_name}['\"]\]\.outputs.result", self.dag.json
        ):  # operator.go hasOutputResultRef; executor.go CaptureScriptResult trims one newline
            out = record.stdout[:-1] if record.stdout.endswith("\n") else record.stdout
            record._result = out[-256 * 1024 :]  # type: ignore[attr-defined]
        record.phase, record.message = "Succeeded", ""


class _PodPending(Exception):
    """A pod whose container can never start."""


def _killpg(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _k8s_expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes $(VAR) expansion of command, args and env values, byte for byte as
    third_party/forked/golang/expansion/expand.go `Expand` / `tryReadVariableName` in
    github.com/kubernetes/kubernetes: `$$` is one `$`; `$(NAME)` (NAME: anything up to the first
    `)`) is NAME's value, or stays as written when NAME is not defined; a `$(` with no `)` and a
    `$` before any other character stay; a `$` at the very end stays. One pass: an expanded value
    is never read again (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#entrypoint,
    `args`: "Double $$ are reduced to a single $, which allows for escaping the $(VAR_NAME) syntax")."""
    if "$" not in text:
        return text
    # Go strings are bytes: `string(input[0])` in the default case makes a rune of one byte, so a
    # `$` before a non-ASCII character mangles it, as the kubelet does (surrogateescape keeps the bytes).
    data = text.encode("utf-8", "surrogateescape")
    out: list[bytes] = []
    checkpoint = cursor = 0
    while cursor < len(data):
        if data[cursor] == 0x24 and cursor + 1 < len(data):  # "$"
            out.append(data[checkpoint:cursor])
            rest = data[cursor + 1 :]
            advance = 1
            if rest[0] == 0x24:
                out.append(b"$")
            elif rest[0] == 0x28:  # "("
                close = rest.find(b")", 1)
                if close < 0:
                    out.append(b"$(")
                else:
                    name = rest[1:close].decode("utf-8", "surrogateescape")
                    value = env.get(name)
                    out.append(value.encode("utf-8", "surrogateescape") if value is not None else b"$(" + rest[1:close] + b")")
                    advance = close + 1
            else:
                out.append(b"$" + chr(rest[0]).encode("utf-8"))
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return (b"".join(out) + data[checkpoint:]).decode("utf-8", "surrogateescape")


def _go_seconds(seconds: float) -> str:
    """fmt.Sprint of a float64 number of seconds."""
    seconds = round(max(0.0, seconds), 6)
    return str(int(seconds)) if seconds.is_integer() else repr(seconds)


# ---------------------------------------------------------------------------------------------


def run_manifest(manifest: Mapping[str, Any], *, parameters: Mapping[str, str] = {},
                 env: Mapping[str, str] = {}, secrets: Mapping[str, Mapping[str, str]] = {},
                 injections: Sequence[Injection] = (), workdir: Path, max_parallel: int = 4,
                 uid: str | None = None, time_scale: float = 0.0,
                 cache: dict[tuple[str, str], Any] | None = None) -> EngineResult:
    """Run `manifest` (Workflow, WorkflowTemplate or CronWorkflow) to completion.

    `cache` holds memoized outputs by (ConfigMap name, key); pass the same dict to several runs to
    share the cache as Argo's ConfigMaps are shared."""
    try:
        wf = _Workflow(manifest, parameters, env, secrets, injections, workdir, max_parallel, uid, time_scale,
                       {} if cache is None else cache)
        entry = wf.spec.get("entrypoint")
        tmpl = wf.template(entry)
        args = {p["name"]: p.get("value") for p in wf.arguments}
        processed = process_args(tmpl, args, wf.global_scope, {"node.name": wf.name})
    except EngineError as e:
        return EngineResult("Error", {}, [], {}, str(e))
    if "dag" not in processed:
        task = {"name": wf.name, "template": entry, "arguments": {"parameters": [
            {"name": k, "value": v} for k, v in args.items()]}}
        dag = _Dag(wf, {"name": "", "dag": {"tasks": []}}, wf.name, top=True)
        node = _NodeRun(wf, dag, entry or "", None, wf.name, task)
        try:
            result = node.run()
        except EngineError as e:
            result = _Node("Error", str(e))
        outputs = {entry or "": result.outputs} if result.outputs else {}
        return EngineResult(result.phase, {entry or "": result.phase}, list(wf.pods), outputs, result.message, list(wf.cache_hits))
    try:
        dag = _Dag(wf, processed, wf.name, top=True)
        phase, message = dag.run()
    except EngineError as e:
        return EngineResult("Error", {}, list(wf.pods), {}, str(e))
    nodes = {n: st.phase for n, st in dag.states.items() if st.phase is not None}
    outputs: dict[str, dict[str, str]] = {}
    for n, st in dag.states.items():
        if st.group:
            scope: dict[str, Any] = {}
            _Dag._aggregate(scope, "p", [c for c in st.children if c is not None])
            agg = {k[len("p.outputs.parameters."):]: v for k, v in scope.items() if k.startswith("p.outputs.parameters.")}
            if agg:
                outputs[n] = agg
        elif st.node is not None and st.node.outputs:
            outputs[n] = dict(st.node.outputs)
    return EngineResult(phase, nodes, list(wf.pods), outputs, message, list(wf.cache_hits))
