"""The `argo` target: one Workflow (or WorkflowTemplate, or CronWorkflow) per spec, as plain data.

Shape: one DAG template (`main`) with one DAG task per tether task, and one container template
per distinct task definition, shared by every node that runs it (a 5,000-task chain of one
function has one container template). Every container runs `tether exec` with the task's
payload (`core.task_codec`: base64, so never a `{{`), the run id `{{workflow.uid}}`, its node id
and `{{retries}}`; its outputs come back as output parameters read from files.

Values reach a task in one of three ways, chosen per input binding, each escaped so that neither
Argo's second substitution pass nor the kubelet's `$(VAR)` expansion changes it (argo_escape):
- a workflow input read whole: an escaping `{{=...}}` tag right in the container arguments (a
  DAG-task argument instead when the task is memoized, so its key sees the value);
- a literal, an upstream output or the loop item read whole: a DAG-task argument (`--input`);
  exec writes outputs and decided items already escaped (`--outputs-escape kubernetes`), so an
  output's plain tag carries a run-time string safely;
- anything else (a path into a value, an interpolation): the payload keeps the expression and
  `tether exec` evaluates it over `--value` references (or the store).
`when` is rendered for govaluate where that is exact (argo_when); otherwise, and for a `foreach`
not known at compile time, a `<task>-decide` step runs `tether exec --decide` and the task reads
its `when` / `items` outputs. Loop items are `{"i": index, "v": item}` so each child knows its
node id `task[i]`; a loop over a literal list uses `withItems`, any other `withParam`. Argo
skips a `withParam` loop with no items, so its readers take its list from the run store; and
it decides a loop's `when` per child, so the loop's readers carry that `when` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..core.diagnostics import Diagnostics, Span
from ..core.expr import Expr, ListExpr, Literal, Ref, plain_value, refs, unparse_ref
from ..core.graph import data_upstream
from ..core.ir import Binding, Task, Workflow
from ..core.placeholders import evolve
from ..core.task_codec import encode_task, item_type
from ..core.types import Type, list_of
from ..core.values import encode_text
from . import Manifest, Profile, resolve_images, warn_without_store
from .argo_escape import LBRACE_ENTRY, OUTPUTS_ESCAPE, escape_literal, workflow_input
from .argo_profile import ArgoProfile, spot_scheduling
from .argo_retry import RETRY_EXPRESSION, retry_strategy
from .argo_templates import DECIDE_SUFFIX, Pending, base_name, content_hash, memoize_spec, resources, shape
from .argo_when import render_when

API_VERSION = "argoproj.io/v1alpha1"
OUTPUTS_DIR = "/tmp/tether/outputs"
ENTRYPOINT = "main"
# A looped child's node id `task[i]`: a name with '-', which no task input (an identifier, E401) has.
NODE_PARAM = "node-id"
ITEM_KEY_PARAM = "item-key"  # a memoized looped task's item, for its key only
MAX_NAME = 63  # maxCharsInObjectName, workflow/validate/validate.go (Kubernetes label values)
MAX_CRON_NAME = 52  # maxCharsInCronWorkflowName, same file: room for the `-<unix time>` suffix
MAX_MANIFEST_BYTES = 1 << 20  # etcd keeps each object whole; its request limit is 1.5 MiB
MAX_PARAMETER_BYTES = 256 << 10  # a literal beyond this travels in the (compressed) payload
DECIDE_RETRIES = 3  # a decide pod may be deleted or its node shut down like any other

_RAW_KINDS = frozenset({"str", "file", "dir"})  # engine text is the raw text (core.values)
_KINDS = {"workflow": "Workflow", "template": "WorkflowTemplate", "cron": "CronWorkflow"}


@dataclass(frozen=True)
class ArgoBackend:
    name: str = "argo"
    option_keys: tuple[str, ...] = ("kind",)  # -O keys it reads (`_Compiler._kind`)
    description: str = "Argo Workflows: Workflow / WorkflowTemplate / CronWorkflow YAML (v3.6+ and v4)"
    profile_type: type | None = ArgoProfile

    def compile(self, workflow: Workflow, profile: Profile, diagnostics: Diagnostics) -> list[Manifest]:
        workflow = resolve_images(workflow, profile, diagnostics)
        warn_without_store(workflow, profile, diagnostics, "pod")
        settings = profile.target if isinstance(profile.target, ArgoProfile) else ArgoProfile()
        return [_Compiler(workflow, profile, settings, diagnostics).manifest()]


backend = ArgoBackend()


class _Compiler:
    """One workflow's compilation; holds the per-workflow tables (no state outlives it)."""

    def __init__(self, workflow: Workflow, profile: Profile, settings: ArgoProfile, diagnostics: Diagnostics) -> None:
        self.wf = workflow
        self.profile = profile
        self.settings = settings
        self.diags = diagnostics
        self.tasks = {t.name: t for t in workflow.tasks}
        self.skippable: set[str] = set()
        self.names: set[str] = set(self.tasks)  # DAG task names in use
        self.template_names: set[str] = {ENTRYPOINT}
        self.templates: list[dict[str, Any]] = []
        self.shared: dict[Any, Pending] = {}  # template key -> the template, named once all are known
        self.uses: list[tuple[dict[str, Any], Pending]] = []  # DAG entries whose `template` it names
        self.decides: list[tuple[dict[str, Any], dict[str, Any], str]] = []  # template, entry, base: named last
        self.spot = spot_scheduling(settings)
        # Loops expanded by `withParam`: Argo makes one with no items a Skipped node, "Skipped,
        # empty params" (executeDAGTask, workflow/controller/dag.go), with no aggregate to read,
        # so their readers take the list from the run store. Not a memoized loop: a cache hit
        # writes nothing there (_keyable); its readers keep the aggregate (README: a limit).
        self.may_be_empty = {t.name for t in workflow.tasks
                             if t.foreach is not None and t.cache is None and self._literal_items(t) is None}
        self.guards: dict[str, str] = {}  # looped task with a `when` -> that `when` as Argo reads it
        self.store_readers = self._store_readers()

    # ------------------------------------------------------------------ the document

    def manifest(self) -> Manifest:
        kind = self._kind()
        dag_tasks: list[dict[str, Any]] = []
        for task in self.wf.tasks:
            dag_tasks.extend(self._dag_tasks(task))
        self._name_templates()
        main: dict[str, Any] = {"name": ENTRYPOINT}
        outputs = self._workflow_outputs()
        if outputs:
            main["outputs"] = {"parameters": outputs}
        main["dag"] = {"tasks": dag_tasks}
        spec: dict[str, Any] = {"entrypoint": ENTRYPOINT}
        arguments = self._arguments()
        if arguments:
            spec["arguments"] = {"parameters": arguments}
        if self.settings.service_account:
            spec["serviceAccountName"] = self.settings.service_account
        if self.settings.parallelism is not None:
            spec["parallelism"] = self.settings.parallelism
        spec["templates"] = [main, *sorted(self.templates, key=lambda t: t["name"])]
        metadata = self._metadata(kind)
        if kind == "CronWorkflow":
            cron: dict[str, Any] = {"schedules": [self.wf.schedule]}
            cron["timezone"] = self.settings.timezone or "UTC"
            cron["workflowSpec"] = spec
            spec = cron
        document = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
        self._check_size(document)
        return Manifest(f"{self.wf.name}.yaml", document)

    def _kind(self) -> str:
        chosen = self.profile.options.get("kind") or self.settings.kind
        if chosen is None:
            chosen = "cron" if self.wf.schedule else "workflow"
        if chosen not in _KINDS:
            self.diags.error("E412", f"unknown Argo kind '{chosen}'", self.profile.span_of("argo.kind"),
                             "kind is one of: " + ", ".join(_KINDS))
            chosen = "workflow"
        if chosen == "cron" and not self.wf.schedule:
            self.diags.error("E412", "a CronWorkflow needs `schedule:` in the spec", self.wf.span)
            chosen = "workflow"
        return _KINDS[chosen]

    def _metadata(self, kind: str) -> dict[str, Any]:
        limit = MAX_CRON_NAME if kind == "CronWorkflow" else MAX_NAME
        if len(self.wf.name) > limit:
            self.diags.error(
                "E401", f"the {kind} name '{self.wf.name}' is {len(self.wf.name)} characters; Argo allows {limit}",
                self.wf.span, "shorten metadata.name (Argo: workflow/validate/validate.go maxCharsInObjectName)",
            )
        metadata: dict[str, Any] = {"name": self.wf.name}
        if self.settings.namespace:
            metadata["namespace"] = self.settings.namespace
        if self.wf.labels:
            metadata["labels"] = dict(self.wf.labels)
        if self.wf.description:
            # The annotation Argo's UI shows as the description (docs/workflow-templates.md, "Adding labels/annotations").
            metadata["annotations"] = {"workflows.argoproj.io/description": self.wf.description}
        return metadata

    def _arguments(self) -> list[dict[str, Any]]:
        params: list[dict[str, Any]] = []
        for declared in self.wf.inputs:
            param: dict[str, Any] = {"name": declared.name}
            if declared.has_default:
                # Not escaped: Argo substitutes a parameter's value into a tag without reading it again.
                param["value"] = encode_text(declared.default, declared.type)
                if "{{" in param["value"]:
                    self._rewritten_default(declared.name, declared.span)
            if declared.description and "{{" in declared.description:
                self._dropped_description(declared.name, declared.span)
            elif declared.description:
                param["description"] = declared.description
            params.append(param)
        return params

    def _rewritten_default(self, name: str, span: Span | None) -> None:
        """A default holding `{{` cannot sit in `spec.arguments`: when a workflow starts, the
        controller substitutes the whole spec but its templates with the global variables,
        unresolved tags allowed (`substituteGlobalVariables`, workflow/controller/operator.go,
        v3.7.18 and v4.1.2). So `{{workflow.name}}` in the text is rewritten (in the stored spec,
        which later reconciles read the parameters from), and an unterminated `{{` stops the
        workflow before any node runs (`setExecWorkflow` fails on every reconcile)."""
        self.diags.unsupported(
            f"the default of workflow input '{name}' holds '{{{{', which Argo would substitute in "
            "spec.arguments when the workflow starts (or, unterminated, never start it)",
            span, "keep '{{' out of the default: read such text from a file input, or build it in a task",
            code="E413",
        )

    def _dropped_description(self, name: str, span: Span | None) -> None:
        """The controller substitutes descriptions in spec.arguments too (see _rewritten_default):
        a `{{` there could stop the workflow, and a description is only shown in the UI."""
        self.diags.warning(
            "E413", f"the description of workflow input '{name}' holds '{{{{', which Argo would substitute "
            "in spec.arguments when the workflow starts: it is left out of the manifest",
            span, "keep '{{' out of the description to see it in Argo's UI",
        )

    def _workflow_outputs(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for output in self.wf.outputs:
            ref = output.value
            if not (isinstance(ref, Ref) and ref.root == "tasks" and not ref.path and ref.task in self.tasks):
                continue  # not an Argo parameter; the run store has every output anyway
            # Argo shows the text exec wrote: a string holding `$` or `{` appears escaped
            # (`--outputs-escape`); the run store keeps the value itself (`tether outputs`).
            value_from: dict[str, Any] = {"parameter": f"{{{{tasks.{ref.task}.outputs.parameters.{ref.name}}}}}"}
            if ref.task in self.skippable:
                value_from["default"] = "null"
            elif ref.task in self.may_be_empty:  # a Skipped loop has no aggregate: its value is []
                value_from["default"] = "[]"
            out.append({"name": output.name, "valueFrom": value_from})
        return out

    def _check_size(self, document: Mapping[str, Any]) -> None:
        import json

        # The API server stores the object as JSON: its compact form is what counts against etcd.
        size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False, check_circular=False).encode("utf-8"))
        if size <= MAX_MANIFEST_BYTES:
            return
        biggest = max(self.templates, key=lambda t: len(json.dumps(t)), default=None)
        cause = f"; the largest template is '{biggest['name']}'" if biggest else ""
        # An error by default, as anything Argo may not take; `--unsupported=warn` lets a user
        # who knows the cluster's etcd limit (1.5 MiB by default, `--max-request-bytes`:
        # https://etcd.io/docs/latest/dev-guide/limit/) write it anyway.
        self.diags.unsupported(
            f"the manifest is {size:,} bytes (over 1 MiB): {len(self.wf.tasks):,} tasks, "
            f"{len(self.templates):,} templates{cause}",
            self.wf.span,
            "Kubernetes stores each Workflow in etcd (about 1.5 MiB per object); split the workflow, "
            "or make tasks share definitions so they share templates",
            code="E430",
        )

    # ------------------------------------------------------------------ one task

    def _dag_tasks(self, task: Task) -> list[dict[str, Any]]:
        data = data_upstream(task)
        depends = self._depends(task, data)
        known_items = self._literal_items(task)
        when_text: str | None = None
        need_decide = task.foreach is not None and known_items is None
        if task.when is not None:
            when_text = render_when(task.when, self._argo_ref, self._ref_type)
            need_decide = need_decide or when_text is None
        if task.when is not None or not self.skippable.isdisjoint(data):
            self.skippable.add(task.name)
        out: list[dict[str, Any]] = []
        entry: dict[str, Any] = {"name": task.name}
        guards = [self.guards[up] for up in sorted(data) if up in self.guards]
        if need_decide:
            decide = self._decide_task(task, depends)
            out.append(decide)
            depends = decide["name"]
            if guards:  # the decide step runs only where the task may: the task needs it Succeeded
                decide["when"] = _conjunction(guards)
                depends += ".Succeeded"
                guards = []
            if task.when is not None and when_text is None:
                when_text = f"{{{{tasks.{decide['name']}.outputs.parameters.when}}}} == true"
        if task.foreach is not None and when_text is not None:
            self.guards[task.name] = when_text
        if guards:
            when_text = _conjunction(guards + ([when_text] if when_text is not None else []))
        pending, params = self._task_template(task, task.foreach is not None, known_items is not None, not need_decide)
        decide_name = out[0]["name"] if need_decide else ""
        entry["template"] = ""  # named by _name_templates, once every template is known
        self.uses.append((entry, pending))
        if depends:
            entry["depends"] = depends
        if params:
            entry["arguments"] = {"parameters": params}
        if when_text is not None:
            entry["when"] = when_text
        if known_items is not None:
            entry["withItems"] = [{"i": i, "v": v} for i, v in enumerate(known_items)]
        elif task.foreach is not None:
            # The decide step's own DAG name: `<task>-decide` may be taken by a user task.
            entry["withParam"] = f"{{{{tasks.{decide_name}.outputs.parameters.items}}}}"
        out.append(entry)
        return out

    def _depends(self, task: Task, data: set[str]) -> str:
        """Argo `depends`: a bare name counts Succeeded, Skipped and Daemoned
        (`expandDependency` in workflow/common/ancestry.go); a task reading the outputs of one
        that may be skipped needs `.Succeeded`, so it is omitted too (core.graph.skipped_by);
        one that only comes `after` it runs once it is done either way."""
        parts: list[str] = []
        for up in sorted(data.union(task.after)):  # = task.upstream(), without walking the expressions again
            if up not in self.tasks or up == task.name:
                continue
            if up not in self.skippable:
                parts.append(up)  # a loop with no items too: Skipped, and its readers run (over [])
            elif up in data and up in self.may_be_empty:
                parts.append(f"({up}.Succeeded || {up}.Skipped)")
            elif up in data:
                parts.append(f"{up}.Succeeded")
            else:
                parts.append(f"({up}.Succeeded || {up}.Skipped || {up}.Omitted)")
        return " && ".join(parts)

    def _literal_items(self, task: Task) -> list[Any] | None:
        """A foreach over a literal list whose strings Argo can carry (no `{{`): withItems."""
        expr = task.foreach
        if isinstance(expr, Literal) and isinstance(expr.value, tuple):
            items = plain_value(expr.value)
        elif isinstance(expr, ListExpr) and all(isinstance(i, Literal) for i in expr.items):
            items = [plain_value(i.value) for i in expr.items if isinstance(i, Literal)]
        else:
            return None
        assert isinstance(items, list)
        if not items or any("{{" in s for s in _strings(items)):
            return None  # `withItems: []` is no loop to Argo (DAGTask.ShouldExpand): withParam then
        return items

    # ------------------------------------------------------------------ references

    def _ref_type(self, ref: Ref) -> Type | None:
        if ref.root == "inputs":
            declared = self.wf.input(ref.name or "")
            return declared.type if declared is not None else None
        if ref.root == "tasks":
            up = self.tasks.get(ref.task or "")
            output = up.output(ref.name or "") if up is not None else None
            if up is None or output is None:
                return None
            return list_of(output.type) if up.foreach is not None else output.type
        return None

    def _argo_ref(self, ref: Ref) -> str | None:
        """The Argo tag of a whole reference usable in a DAG task (None: Argo has none)."""
        if ref.path:
            return None
        if ref.root == "inputs":
            return f"{{{{workflow.parameters.{ref.name}}}}}"
        if ref.root == "tasks":
            return f"{{{{tasks.{ref.task}.outputs.parameters.{ref.name}}}}}"
        return None

    def _value_tag(self, ref: Ref) -> str | None:
        """A whole reference's value as it must be written where it lands in container args:
        escaped by Argo itself (argo_escape), so neither Argo nor the kubelet reads it again."""
        if ref.path:
            return None
        if ref.root == "inputs":
            return workflow_input(ref.name or "")
        if ref.root == "tasks":
            up = self.tasks.get(ref.task or "")
            output = up.output(ref.name or "") if up is not None and up.foreach is not None else None
            if output is not None and (output.type.kind in _RAW_KINDS or up.name in self.may_be_empty):
                # A fan-out's strings are read from the store: Argo's aggregate parses each
                # child's text as JSON and keeps lists and maps as such when all of them are
                # (`tryJSONUnmarshal`, workflow/controller/operator.go), so strings that all look
                # like `[...]` would come back as lists, their text lost.
                return None
            # The plain tag: exec wrote the output file escaped (`--outputs-escape kubernetes`,
            # argo_escape), which costs nothing per DAG task, where an escaping tag costs 130 bytes
            # against 55 (a chain's bytes per task is issue 8's size goal).
            return self._argo_ref(ref)
        return None

    def _memoized(self, name: str | None) -> bool:
        up = self.tasks.get(name or "")
        return up is not None and up.cache is not None

    def _item_tag(self, task: Task, item_safe: bool) -> str | None:
        """`{{item.v}}` when Argo substitutes the item as its engine text: any item from a literal
        list without strings that JSON escapes, a non-string item from `withParam` (Argo formats
        a map's member with `Item.String()`, JSON with a string's quotes stripped and its
        escapes kept: pkg/apis/workflow/v1alpha1/item.go, `processItem` in operator.go). The
        decide step writes the strings inside such an item escaped (`--outputs-escape`)."""
        type_ = item_type(task, self.wf)
        if item_safe:
            items = self._literal_items(task) or []
            if all(_json_plain(s) and "$" not in s and "{" not in s for s in _strings(items)):
                return "{{item.v}}"
            return None
        if type_ is not None and type_.kind in ("int", "float", "bool", "list", "dict"):
            return "{{item.v}}"
        return None

    # ------------------------------------------------------------------ templates

    def _task_template(self, task: Task, looped: bool, item_safe: bool,
                       argo_when: bool) -> tuple[Pending, list[dict[str, Any]]]:
        """The container template `task` runs (shared when an equal one exists) and its arguments."""
        # A looped child's node id `task[i]` comes as a parameter; any other node's id is its DAG
        # task's name, which Argo substitutes as `{{tasks.name}}` in the template it runs
        # (`executeTemplate` sets localParams["tasks.name"] = orgTmpl.GetName(), and the
        # validator accepts the tag: workflow/controller/operator.go and validate.go
        # `resolveAllVariables`, in v3.7.18 and v4.1.2). Saves a parameter per DAG task.
        params: list[dict[str, Any]] = []
        declared: list[str] = []
        if looped:
            params.append({"name": NODE_PARAM, "value": f"{task.name}[{{{{item.i}}}}]"})
            declared.append(NODE_PARAM)
        direct: list[str] = []  # `--input` / `--value` arguments written in the template itself
        simple = True
        plan: list[tuple[Binding, str, str | None]] = []  # binding, how, DAG value
        for binding in task.inputs:
            how, value = self._binding_route(task, binding, item_safe)
            if how == "complex":
                simple = False
            plan.append((binding, how, value))
        if simple:
            for binding, how, value in plan:
                if how == "direct":
                    direct += ["--input", f"{binding.name}={value}"]
                else:
                    declared.append(binding.name)
                    params.append({"name": binding.name, "value": value})
            with_bindings = False
            exprs: list[Expr] = []
        else:
            with_bindings = True
            exprs = [b.value for b in task.inputs]
        if task.container is not None:  # its arguments' references: exec evaluates them
            exprs += [*task.container.command, *task.container.args]
        if task.when is not None and argo_when:
            # With no decision recorded, exec decides a `when` Argo let through again: each value
            # it reads comes as --value: workflow inputs (the payload holds only their defaults)
            # and a memoized task's outputs, which the store lacks after a hit ran no pod
            # (`executeTemplate`, workflow/controller/operator.go). An output with no Argo tag
            # is read from the store: _store_readers counts this `when`, so its task gets E414.
            exprs += [r for r in refs(task.when) if r.root == "inputs" or self._memoized(r.task)]
        unkeyed = self._value_args(task, exprs, item_safe, declared, params, direct)
        memoize = task.cache is not None and self._keyable(task, unkeyed)
        if memoize and looped:
            # Key-only (exec is not given it: its name has '-'): the whole item, which Argo writes
            # as JSON for a map item (`processItem`, workflow/controller/operator.go), so the key
            # sees the item even where exec reads it from the store (strings inside are written
            # escaped by the decide step: no `{{`, and an injective form of the value).
            declared.append(ITEM_KEY_PARAM)
            params.append({"name": ITEM_KEY_PARAM, "value": "{{item}}"})
        key = (shape(task, with_bindings), tuple(direct), tuple(declared), memoize)
        pending = self.shared.get(key)
        if pending is None:
            pending = self.shared[key] = Pending(task, with_bindings, looped, tuple(declared), tuple(direct), memoize)
        else:
            pending.users += 1
            pending.first_user = min(pending.first_user, task.name)
        return pending, params

    def _value_args(self, task: Task, exprs: list[Expr], item_safe: bool, declared: list[str],
                    params: list[dict[str, Any]], direct: list[str]) -> list[str]:
        """`--value REF=...` for each reference exec evaluates itself: workflow inputs right in
        the template, outputs and items as DAG-task arguments; an item Argo cannot carry
        exactly is left to the store (exec reads the `--decide` record). Returns the outputs
        left to the store (no template input: a memoize key cannot see them)."""
        unkeyed: list[str] = []
        seen: set[str] = set()
        for expr in exprs:
            for ref in refs(expr):
                whole = Ref(ref.root, ref.name, ref.task)
                key = unparse_ref(whole)
                if key in seen:
                    continue
                seen.add(key)
                if ref.root == "inputs" and task.cache is None:
                    direct += ["--value", f"{key}={self._value_tag(whole)}"]
                    continue
                # A memoized task takes workflow inputs as template inputs too: its key hashes
                # `inputs.parameters`, which must hold every value the task reads.
                tag = self._value_tag(whole) if ref.root in ("tasks", "inputs") else self._item_tag(task, item_safe)
                if tag is None:
                    if ref.root == "tasks":
                        unkeyed.append(key)
                    continue
                pname = f"v-{len(declared)}"
                declared.append(pname)
                params.append({"name": pname, "value": tag})
                direct += ["--value", f"{key}={{{{inputs.parameters.{pname}}}}}"]
        return unkeyed

    def _keyable(self, task: Task, unkeyed: list[str]) -> bool:
        """Can Argo's `memoize` stand for `tether run`'s cache here? Its key hashes only
        `inputs.parameters`, and a hit records the cached outputs on the node but runs no pod,
        so nothing reaches the run store (`executeTemplate`, workflow/controller/operator.go:
        a memoized hit sets the node's outputs and phase Succeeded without creating a pod).
        Otherwise E414 at `cache` (under `--unsupported=warn`: no memoize, the task runs)."""
        if unkeyed:
            problem = f"reads {', '.join(unkeyed)}, which only the run store holds, not a template input"
        elif task.name in self.store_readers:
            problem = (f"has outputs that {self.store_readers[task.name]} reads from the run store, "
                       "where a cache hit writes nothing")
        else:
            return True
        self.diags.unsupported(
            f"task '{task.name}' cannot be memoized on Argo: it {problem}",
            task.span_of("cache"),
            "drop `cache` from this task, or pass the values as whole non-string outputs "
            "(a fan-out's string outputs travel through the run store)",
            code="E414",
        )
        return False

    def _store_readers(self) -> dict[str, str]:
        """Task -> the first reader that reads its outputs from the run store (a reference
        with no Argo tag: exec evaluates it from the store; a workflow output into a path)."""
        found: dict[str, str] = {}
        for reader in self.wf.tasks:
            exprs = [b.value for b in reader.inputs] + [e for e in (reader.when, reader.foreach) if e is not None]
            if reader.container is not None:
                exprs += [*reader.container.command, *reader.container.args]
            for expr in exprs:
                for ref in refs(expr):
                    if ref.root == "tasks" and self._value_tag(Ref(ref.root, ref.name, ref.task)) is None:
                        found.setdefault(ref.task or "", f"task '{reader.name}'")
        for output in self.wf.outputs:
            for ref in refs(output.value):
                if ref.root == "tasks" and (ref.path or self._value_tag(ref) is None):
                    found.setdefault(ref.task or "", f"workflow output '{output.name}'")
        return found

    def _binding_route(self, task: Task, binding: Binding, item_safe: bool) -> tuple[str, str | None]:
        """How one input reaches the task: ("direct", tag), ("param", value) or ("complex", None)."""
        value = binding.value
        if isinstance(value, Literal):
            text = encode_text(plain_value(value.value), binding.type)
            if len(text.encode("utf-8")) > MAX_PARAMETER_BYTES:
                return "complex", None
            return "param", escape_literal(text)  # no `{` left for Argo, `$` kept from the kubelet
        if isinstance(value, Ref) and not value.path:
            if value.root == "inputs":  # a memoized task's key must see it: a template input
                return ("param" if task.cache is not None else "direct"), self._value_tag(value)
            if value.root == "tasks":
                tag = self._value_tag(value)
                return ("param", tag) if tag is not None else ("complex", None)
            tag = self._item_tag(task, item_safe)
            return ("param", tag) if tag is not None else ("complex", None)
        return "complex", None

    def _name_templates(self) -> None:
        """Name each container template after its definition, so that adding, removing or
        reordering other tasks does not rename it (a GitOps diff shows only what changed): a
        Python task's function (`steps:train_model` -> `train-model`), a container task's first
        task by name. When several definitions would take one name (a function run with other
        retries by a few tasks), the one most tasks run keeps it (ties: the first task by name)
        and the others get a suffix hashed from their own content, so a variant added later
        leaves the existing template alone. Then the templates are built and the DAG entries
        pointed at them."""
        groups: dict[str, list[Pending]] = {}
        for pending in self.shared.values():
            base = base_name(pending)
            # Written with the template's name, not a node's: the same bytes whichever node comes
            # first; exec takes each node's name from --node (the payload says `shared`).
            pending.payload = encode_task(evolve(pending.task, name=base, after=()), self.wf,
                                          with_bindings=pending.with_bindings, shared=True)
            groups.setdefault(base, []).append(pending)
        for base, members in sorted(groups.items()):
            members.sort(key=lambda member: (-member.users, member.first_user))
            for rank, pending in enumerate(members):
                bare = rank == 0 and base not in self.template_names
                pending.name = self._template_name(base if bare else f"{base}-{content_hash(pending)}")
        for pending in self.shared.values():
            node = f"{{{{inputs.parameters.{NODE_PARAM}}}}}" if pending.looped else "{{tasks.name}}"
            self.templates.append(self._container_template(
                pending.task, pending.name, pending.payload, node, list(pending.declared), list(pending.direct),
                pending.memoize, pending.with_bindings))
        for entry, pending in self.uses:
            entry["template"] = pending.name
        # Decide templates last: a shared template keeps its base (a function `train_decide`)
        # whether or not a task `train` gains a decide step.
        for template, entry, base in self.decides:
            template["name"] = entry["template"] = self._template_name(base)

    def _template_name(self, base: str) -> str:
        name, n = base, 1
        while name in self.template_names:
            n += 1
            name = f"{base}-{n}"
        self.template_names.add(name)
        return name

    def _exec_args(self, node_param: str, payload: str, retries: bool) -> list[str]:
        args = ["exec"]
        if self.profile.store:
            args += ["--store", escape_literal(self.profile.store)]
        args += ["--run", "{{workflow.uid}}", "--node", node_param]
        if retries:
            args += ["--retries", "{{retries}}"]
        return args + ["--task", payload]

    def _container_template(self, task: Task, name: str, payload: str, node: str, declared: list[str],
                            direct: list[str], memoize: bool, with_bindings: bool) -> dict[str, Any]:
        strategy, problem = retry_strategy(task)
        if problem:
            self.diags.unsupported(problem, task.span_of("retries"))
        args = self._exec_args(node, payload, strategy is not None)
        for pname in declared:
            if "-" not in pname:  # node-id: the node; v-N: a --value reference (inputs are identifiers)
                args += ["--input", f"{pname}={{{{inputs.parameters.{pname}}}}}"]
        args += direct
        if task.outputs:
            args += ["--outputs-dir", OUTPUTS_DIR, *OUTPUTS_ESCAPE]
        template: dict[str, Any] = {"name": name}
        if declared:
            template["inputs"] = {"parameters": [{"name": p} for p in declared]}
        if task.outputs:
            template["outputs"] = {
                "parameters": [{"name": o.name, "valueFrom": {"path": f"{OUTPUTS_DIR}/{o.name}"}} for o in task.outputs]
            }
        if strategy is not None:
            template["retryStrategy"] = strategy
        if task.timeout_s is not None:
            template["activeDeadlineSeconds"] = task.timeout_s
        if memoize:
            template["memoize"] = memoize_spec(task, with_bindings, self.settings)
        if task.interruptible is not None:
            template.update(self.spot)
        template["container"] = self._container(task, args)
        return template

    def _container(self, task: Task, args: list[str]) -> dict[str, Any]:
        """The container; `TETHER_LBRACE` is defined first when its args take escaped values
        (argo_escape), so the kubelet, expanding args with the container's env, restores `{`."""
        container: dict[str, Any] = {"image": task.image or ""}
        if self.settings.image_pull_policy:
            container["imagePullPolicy"] = self.settings.image_pull_policy
        container["command"] = list(self.settings.tether)
        container["args"] = args
        env: list[dict[str, Any]] = [dict(LBRACE_ENTRY)] if _takes_escaped(args) else []
        for key, value in task.env:
            if "{{" not in value:  # exec sets every env value from the payload anyway
                env.append({"name": key, "value": value})
        for secret in task.secrets:
            env.append({"name": secret.env, "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}}})
        if env:
            container["env"] = env
        wanted = resources(task)
        if wanted:
            container["resources"] = wanted
        return container

    def _decide_task(self, task: Task, depends: str) -> dict[str, Any]:
        """A `<task>-decide` step: `tether exec --decide` writes `when` and `items` for Argo."""
        name = task.name + DECIDE_SUFFIX
        while name in self.names:
            name += "-x"
        self.names.add(name)
        declared: list[str] = []  # the template is this task's own: its node id is written in it
        params: list[dict[str, Any]] = []
        direct: list[str] = []
        exprs = [e for e in (task.when, task.foreach) if e is not None]
        seen: set[str] = set()
        for expr in exprs:
            for ref in refs(expr):
                whole = Ref(ref.root, ref.name, ref.task)
                key = unparse_ref(whole)
                if key in seen or ref.root == "item":
                    continue
                seen.add(key)
                tag = self._value_tag(whole)
                if tag is None:
                    continue  # exec reads it from the store
                if ref.root == "inputs":
                    direct += ["--value", f"{key}={tag}"]
                else:
                    pname = f"v-{len(declared)}"
                    declared.append(pname)
                    params.append({"name": pname, "value": tag})
                    direct += ["--value", f"{key}={{{{inputs.parameters.{pname}}}}}"]
        # With its bindings: this template is the task's own, and exec refuses a payload whose
        # inputs are left to the engine unless each comes as --input (a decide step passes none).
        payload = encode_task(evolve(task, after=()), self.wf, with_bindings=True)
        args = self._exec_args(task.name, payload, True) + direct
        args += ["--decide", "--outputs-dir", OUTPUTS_DIR, *OUTPUTS_ESCAPE]
        outputs = [{"name": o, "valueFrom": {"path": f"{OUTPUTS_DIR}/{o}"}} for o in ("when", "items")]
        template: dict[str, Any] = {"name": ""}  # named by _name_templates, after the shared ones
        if declared:
            template["inputs"] = {"parameters": [{"name": p} for p in declared]}
        template["outputs"] = {"parameters": outputs}
        template["retryStrategy"] = {"limit": DECIDE_RETRIES, "retryPolicy": "Always", "expression": RETRY_EXPRESSION}
        container: dict[str, Any] = {"image": task.image or "", "command": list(self.settings.tether), "args": args}
        if _takes_escaped(args):
            container["env"] = [dict(LBRACE_ENTRY)]
        template["container"] = container
        self.templates.append(template)
        entry: dict[str, Any] = {"name": name, "template": ""}
        self.decides.append((template, entry, task.name + DECIDE_SUFFIX))
        if depends:
            entry["depends"] = depends
        if params:
            entry["arguments"] = {"parameters": params}
        return entry


def _conjunction(whens: list[str]) -> str:
    """govaluate's `&&` of several `when` texts (one stays as written)."""
    return whens[0] if len(whens) == 1 else " && ".join(f"({w})" for w in whens)


def _takes_escaped(args: list[str]) -> bool:
    """Do these args hold text escaped by argo_escape (a template input, an escaping tag, `$(`)?"""
    return any("{{inputs." in a or "{{=" in a or "$(" in a for a in args)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)


def _json_plain(text: str) -> bool:
    """Would Go's JSON encoder write this string without any escape?"""
    return not any(c in '"\\<>&' or ord(c) < 0x20 or c in "\u2028\u2029" for c in text)


__all__ = ["ArgoBackend", "backend"]
