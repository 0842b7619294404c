"""Validation of a Workflow from any front end: names, references, types on every edge, cycles.

`validate` reports into a Diagnostics collector and returns the workflow with every inferred
type filled in (`Binding.type` where the spec declared none, `WorkflowOutput.type`). It runs the
same checks on YAML and Python specs; the YAML front end leaves the placeholders `ERROR_TYPE`
and `INVALID` where it already reported a problem, and validation stays quiet about those, so
one mistake gives one diagnostic.

Speed: lookups are plain dicts and each expression is typed once, so 5,000 tasks validate in
milliseconds. Cycles are found with Kahn's algorithm first; networkx (~0.3-0.5 s to import) is
loaded only when a cycle exists, to name each cycle's tasks in order. A clean `tether check`
therefore never pays for the import, which keeps it inside its 0.3 s start-up budget.

Error codes (stable; every code has a golden test under tests/diagnostics/):
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from ..core.diagnostics import Diagnostics, Span, did_you_mean
from ..core.ir import Binding, Task, Workflow, WorkflowInput, WorkflowOutput
from ..core.k8s_names import DNS_LABEL, dns_label_problem
from ..core.expr import BinOp, Call, Expr, Generator, Interp, ListExpr, Literal, Not, Ref, plain_value, refs, unparse, unparse_ref
from ..core.placeholders import ERROR_TYPE, INVALID, evolve
from ..core.types import BOOL, FLOAT, INT, STR, Type, accepts_value, is_assignable, list_of, type_of_literal
from .skips import skippable, spelling

MAX_COUNT = 10_000
"""Most retries, interruptions, checkpoints kept or GPUs a task may ask for: far past any real use,
and inside the 32-bit integers Argo (retryStrategy.limit, an IntOrString) and AWS Batch
(retryStrategy.attempts, resourceRequirements) take."""
MAX_SECONDS = 2**31 - 1
"""Longest timeout or backoff: AWS Batch's attemptDurationSeconds is an Integer (API_JobTimeout)."""

CODES: dict[str, str] = {
    "E000": "internal error in tether (a bug: please report it)",
    "E100": "SPEC is not a YAML file, file.py:workflow or package.module:workflow",
    "E101": "the spec file cannot be read (missing, a directory, not UTF-8)",
    "E102": "invalid YAML syntax",
    "E103": "a YAML tag (!!python/object, !custom...) is not allowed",
    "E104": "the spec is empty",
    "E105": "the top level of the spec is not a mapping",
    "E106": "a key or name is defined twice",
    "E107": "unknown key (or a key not allowed in this place)",
    "E108": "a required key is missing",
    "E109": "a value has the wrong shape (a list where a mapping belongs, a string for a count...)",
    "E110": "unsupported apiVersion or kind",
    "E111": "invalid duration",
    "E112": "invalid resource quantity (cpu, memory)",
    "E113": "a count or factor is out of range (negative retries, keep < 1...)",
    "E114": "invalid cron schedule",
    "E115": "a task needs exactly one of python / container",
    "E116": "invalid python task reference (expected module:function)",
    "E117": "the workflow has no tasks",
    "E120": "a Python spec cannot be imported (a syntax error, or an exception while importing it)",
    "E121": "the Python module has no @tether.workflow of that name",
    "E122": "a @tether.workflow body raised an exception while being built",
    "E123": "a task was called with positional arguments (task calls take keywords only)",
    "E124": "a task call passes an input the task's function does not take",
    "E125": "a task call leaves out a required input",
    "E126": "a task is defined where the runtime cannot import it (inside a function or class)",
    "E127": "a workflow returns several values without names (a plain tuple or list)",
    "E128": "tether.foreach / tether.when / .after() misused (nested foreach, a condition that is not a promise)",
    "E129": "a promise used as a Python value while building (`if promise:`, iterating one)",
    "E130": "a profile file cannot be read or is not valid YAML",
    "E131": "a profile has a section for a target that takes none",
    "E132": "a profile value has the wrong type, a YAML tag, or a value the platform refuses",
    "E133": "unknown key in a profile",
    "E140": "a YAML python task's module is not on the search path (a warning; an error with --strict-refs)",
    "E141": "a YAML python task's module does not parse or cannot be read (a warning; an error with --strict-refs)",
    "E142": "a YAML python task's module has no function of that name",
    "E143": "a YAML python task binds an input its function does not take",
    "E144": "a YAML python task leaves a parameter of its function without a default unbound",
    "E145": "a YAML python task's outputs do not match its function's return annotation (names or count)",
    "E200": "invalid type",
    "E201": "invalid ${{ }} expression",
    "E202": "type mismatch on a data edge",
    "E203": "a `when` condition is not bool",
    "E204": "a `foreach` value is not a list",
    "E205": "`item` used outside a foreach task's inputs",
    "E206": "an operator is applied to values of the wrong type",
    "E207": "`.key` or `[index]` applied to a value that has no such element",
    "E208": "a literal value does not fit its declared type",
    "E209": "the type of a value cannot be inferred (null, [], mixed lists)",
    "E210": "a Python task or workflow parameter, or a task's return, has no type annotation",
    "E211": "a Python annotation has no tether type (set, tuple, Any, a union other than Optional)",
    "E213": "a Python value that cannot be passed to a task (not JSON, a dict holding promises)",
    "E214": "a task with no output, or several, is used as a single value",
    "E230": "a YAML python task's input type does not fit its function's parameter annotation",
    "E231": "a YAML python task's output type does not fit its function's return annotation",
    "E300": "dependency cycle",
    "E301": "reference to an unknown task",
    "E302": "reference to an unknown workflow input",
    "E303": "reference to a task output that the task does not declare",
    "E304": "a task depends on itself",
    "E400": "a task or workflow name is not a lowercase DNS-1123 label of at most 63 characters",
    "E401": "an input or output name is not an identifier",
    "E402": "an environment variable name is invalid or uses a reserved prefix",
    "E403": "a label key or value is not valid for Kubernetes",
    "E404": "an input or output name is longer than 255 characters",
    "E405": "a task's image is empty",
}
__doc__ = (__doc__ or "") + "\n".join(f"    {code}  {meaning}" for code, meaning in CODES.items()) + "\n"



_WORKFLOW_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_TASK_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_ENV_PREFIXES = ("TETHER_", "AWS_BATCH_")
MAX_IO_NAME = 255
"""An output's name is a file name (a container writes `$TETHER_OUTPUTS/<name>`, `tether exec
--outputs-dir` writes one file per output), and Linux and macOS allow 255 bytes in one:
NAME_MAX, https://pubs.opengroup.org/onlinepubs/9799919799/basedefs/limits.h.html . Inputs
share the rule, so a name can move from an output to an input."""
_LENGTH_HINT = f"input and output names become file names, which hold at most {MAX_IO_NAME} characters"
_NUMERIC = ("int", "float")
_ARITHMETIC = frozenset({"+", "-", "*", "/", "//", "%"})


def validate(workflow: Workflow, diags: Diagnostics) -> Workflow:
    """Check a workflow, report every problem, and return it with inferred types filled in."""
    return _Validator(workflow, diags).run()


class _Validator:
    def __init__(self, workflow: Workflow, diags: Diagnostics):
        self.wf = workflow
        self.diags = diags
        self.tasks: dict[str, Task] = {}  # name -> Task (first of duplicates)
        for task in workflow.tasks:
            self.tasks.setdefault(task.name, task)
        self.inputs: dict[str, WorkflowInput] = {}
        for wi in workflow.inputs:
            self.inputs.setdefault(wi.name, wi)
        self.outputs = {name: {o.name: o.type for o in t.outputs} for name, t in self.tasks.items()}
        self.fans_out = {name for name, t in self.tasks.items() if t.foreach is not None}
        self.edges: dict[tuple[str, str], _At | None] = {}  # (upstream, downstream) -> where
        self.reported_refs: set[tuple[str, str, str | None]] = set()
        self.skippable: dict[str, str] | None = None  # task -> why it may be skipped; computed on use

    # ------------------------------------------------------------------ driver

    def run(self) -> Workflow:
        wf = self.wf
        self.check_names()
        tasks = tuple(self.check_task(task) for task in wf.tasks)
        outputs = tuple(self.check_workflow_output(o) for o in wf.outputs)
        self.check_cycles()
        return evolve(wf, tasks=tasks, outputs=outputs)

    # ------------------------------------------------------------------ names

    def check_names(self) -> None:
        wf = self.wf
        if wf.name:
            problem = dns_label_problem(wf.name)
            if problem:
                self.error("E400", f"workflow name '{wf.name}' {problem}", wf.span, _dns_hint(wf.name))
        seen: dict[str, object] = {}
        for task in wf.tasks:
            if task.name in seen:
                self.error("E106", f"task '{task.name}' is defined twice", task.span, "task names must be unique")
                continue
            seen[task.name] = task
            problem = dns_label_problem(task.name)
            if problem:
                self.error("E400", f"task name '{task.name}' {problem}", task.span, _dns_hint(task.name))
        for kind, items in (("input", wf.inputs), ("output", wf.outputs)):
            names: set[str] = set()
            for item in items:
                if item.name in names:
                    self.error("E106", f"workflow {kind} '{item.name}' is defined twice", item.span)
                    continue
                names.add(item.name)
                if len(item.name) > MAX_IO_NAME:
                    self.error(
                        "E404", f"workflow {kind} name '{item.name[:20]}...' is {len(item.name)} characters long "
                        f"(at most {MAX_IO_NAME})", item.span, _LENGTH_HINT,
                    )
                elif not _WORKFLOW_IDENTIFIER.fullmatch(item.name):
                    self.error(
                        "E401", f"workflow {kind} name '{item.name}' is not an identifier", item.span,
                        _identifier_hint(item.name, lowercase=True),
                    )
        for wi in wf.inputs:
            if wi.has_default and wi.type != ERROR_TYPE and not accepts_value(wi.type, wi.default):
                self.error(
                    "E208", f"default {_show(wi.default)} of input '{wi.name}' does not fit type {wi.type}",
                    wi.span, "change the default or the type",
                )

    # ------------------------------------------------------------------ tasks

    def check_task(self, task: Task) -> Task:
        self.check_kind(task)
        self.check_io_names(task)
        self.check_policies(task)
        self.check_env(task)
        self.check_after(task)
        item_type = self.check_foreach(task)
        if task.when is not None:
            when_type = self.infer(task.when, task, "when", None)
            if when_type is not None and when_type.as_required() != BOOL:
                self.error(
                    "E203", f"'when' of task '{task.name}' must be bool, not {when_type}", task.span_of("when"),
                    "compare something: \"${{ inputs.mode == 'full' }}\"",
                )
            elif when_type is not None and when_type.optional:
                self.error(
                    "E203", f"'when' of task '{task.name}' must be bool, not {when_type}", task.span_of("when"),
                    "an optional value may be null; compare it: \"${{ x != null }}\"",
                )
        bindings = tuple([self.check_binding(task, b, item_type) for b in task.inputs])
        if task.container is not None:
            for key in ("command", "args"):
                for i, expr in enumerate(getattr(task.container, key)):
                    self.infer(expr, task, f"container.{key}[{i}]", item_type)
        if all(new is old for new, old in zip(bindings, task.inputs)):
            return task
        return evolve(task, inputs=bindings)

    def check_kind(self, task: Task) -> None:
        if task.python is None and task.container is None:
            self.error(
                "E115", f"task '{task.name}' has neither 'python' nor 'container'", task.span,
                "add 'python: module:function' or 'container: {image, command}'",
            )
        elif task.python is not None and task.container is not None:
            self.error(
                "E115", f"task '{task.name}' has both 'python' and 'container'", task.span_of("container"),
                "a task runs either a Python function or a container command; split it in two",
            )

    def check_io_names(self, task: Task) -> None:
        for kind, items in (("input", task.inputs), ("output", task.outputs)):
            names: set[str] = set()
            for item in items:
                if item.name in names:
                    span = _At(task, f"outputs.{item.name}", item.span) if kind == "output" else item.span
                    self.error("E106", f"{kind} '{item.name}' of task '{task.name}' is defined twice", span)
                    continue
                names.add(item.name)
                if len(item.name) > MAX_IO_NAME:
                    self.error(
                        "E404", f"{kind} name '{item.name[:20]}...' of task '{task.name}' is {len(item.name)} "
                        f"characters long (at most {MAX_IO_NAME})", item.span, _LENGTH_HINT,
                    )
                elif not _TASK_IDENTIFIER.fullmatch(item.name):
                    self.error(
                        "E401", f"{kind} name '{item.name}' of task '{task.name}' is not an identifier", item.span,
                        _identifier_hint(item.name, lowercase=False),
                    )

    def check_policies(self, task: Task) -> None:
        """Counts and durations in range: the YAML front end checks the minima already (this is
        for specs built in Python); the maxima keep every value inside what the platforms take."""
        retries, interruptions = task.retry.retries, task.interruptible.max_interruptions if task.interruptible else 0
        keep, timeout = task.checkpoint.keep if task.checkpoint else 1, 1 if task.timeout_s is None else task.timeout_s
        gpu = task.resources.gpu
        if 0 <= retries <= MAX_COUNT and 0 <= interruptions <= MAX_COUNT and 1 <= keep <= MAX_COUNT \
                and 0 <= gpu <= MAX_COUNT and 1 <= timeout <= MAX_SECONDS:
            checks: tuple[tuple[str, int, int, int], ...] = ()  # the usual case, decided without building anything
        else:
            checks = (
                ("retries", retries, 0, MAX_COUNT), ("interruptible", interruptions, 0, MAX_COUNT),
                ("checkpoint", keep, 1, MAX_COUNT), ("resources", gpu, 0, MAX_COUNT), ("timeout", timeout, 1, MAX_SECONDS),
            )
        for key, value, minimum, maximum in checks:
            if value < minimum:
                self.error("E113", f"{key} of task '{task.name}' must be {minimum} or more, not {value}", task.span_of(key))
            elif value > maximum:
                unit = " seconds (about 68 years)" if key == "timeout" else ""
                self.error("E113", f"{key} of task '{task.name}' must be at most {maximum:,}{unit}, not {value:,}",
                           task.span_of(key), "no platform takes more: Argo and AWS Batch keep these in 32 bits")
        backoff = task.retry.backoff
        if backoff is not None and (backoff.delay_s < 0 or backoff.factor < 1):
            self.error("E113", f"retry backoff of task '{task.name}' needs delay >= 0 and factor >= 1", task.span_of("retries"))
        elif backoff is not None and max(backoff.delay_s, backoff.max_delay_s or 0) > MAX_SECONDS:
            self.error("E113", f"retry backoff of task '{task.name}' waits longer than {MAX_SECONDS:,} seconds",
                       task.span_of("retries"))
        for key, quantity in (("cpu", task.resources.cpu_millicores), ("memory", task.resources.memory_bytes)):
            if quantity is not None and quantity < 0:
                self.error("E113", f"{key} of task '{task.name}' is negative", task.span_of(f"resources.{key}"))
        if task.image is not None and not task.image.strip():
            key = "container.image" if "container.image" in task.spans else "image"
            self.error("E405", f"task '{task.name}' has an empty image", task.span_of(key),
                       "name an image (registry/name:tag), or leave `image` out to take the profile's")

    def check_env(self, task: Task) -> None:
        if not task.env and not task.secrets:
            return
        seen: dict[str, str] = {}
        entries = [(name, f"env.{name}", "env") for name, _ in task.env]
        entries += [(s.env, f"secrets[{i}]", f"secret '{s.name}'") for i, s in enumerate(task.secrets)]
        for name, key, origin in entries:
            span = _At(task, key)
            if name in seen:
                self.error(
                    "E106", f"environment variable '{name}' of task '{task.name}' is set twice", span,
                    f"it is already set by {seen[name]}",
                )
                continue
            seen[name] = origin
            if not _ENV_NAME.fullmatch(name):
                self.error(
                    "E402", f"environment variable name '{name}' is invalid", span,
                    "use letters, digits and '_', not starting with a digit",
                )
            elif name.upper().startswith(RESERVED_ENV_PREFIXES):
                prefix = next(p for p in RESERVED_ENV_PREFIXES if name.upper().startswith(p))
                self.error(
                    "E402", f"environment variable '{name}' uses the reserved prefix '{prefix}'", span,
                    "tether and AWS Batch set these themselves; choose another name",
                )

    def check_after(self, task: Task) -> None:
        for i, name in enumerate(task.after):
            span = _At(task, f"after[{i}]")
            if name == task.name:
                self.error("E304", f"task '{task.name}' lists itself in 'after'", span, "remove it")
            elif name not in self.tasks:
                self.unknown_task(name, span)
            else:
                self.edges.setdefault((name, task.name), span)

    def check_foreach(self, task: Task) -> Type | None:
        """Type-check `foreach`; returns the type `item` has inside this task (None = unknown)."""
        if task.foreach is None:
            return None
        foreach_type = self.infer(task.foreach, task, "foreach", None)
        if foreach_type is None:
            return None
        if foreach_type.kind != "list" or foreach_type.optional:
            span = task.span_of("foreach")
            in_python = span is not None and span.file.endswith(".py")
            hint = (  # each front end's own spelling
                "fan out over a list: `with tether.foreach(split(data).shards) as shard: ...`"
                if in_python
                else "fan out over a list: \"${{ tasks.split.outputs.shards }}\""
            )
            self.error("E204", f"'foreach' of task '{task.name}' must be a list, not {foreach_type}", span, hint)
            return None
        element = foreach_type.args[0]
        if element.kind == "null":
            self.error(
                "E209", f"'foreach' of task '{task.name}' is an empty list, so 'item' has no type",
                _At(task, "foreach"), "fan out over a list that can hold items",
            )
            return None
        return element

    def check_binding(self, task: Task, binding: Binding, item_type: Type | None) -> Binding:
        key = f"inputs.{binding.name}"
        value = binding.value
        if isinstance(value, Literal) and value.value is INVALID:
            return binding if binding.type is not None else evolve(binding, type=ERROR_TYPE)
        declared = binding.type
        span = _At(task, key, binding.span)
        if isinstance(value, Literal):
            plain = plain_value(value.value)
            if declared is not None:
                if declared != ERROR_TYPE and not accepts_value(declared, plain):
                    self.error(
                        "E208", f"value {_show(plain)} of input '{binding.name}' of task '{task.name}' does not fit type {declared}",
                        span, "change the value or the declared type",
                    )
                return binding
            inferred = type_of_literal(plain)
            if inferred is None or _has_null(inferred):
                self.error(
                    "E209", f"cannot infer the type of input '{binding.name}' of task '{task.name}' from {_show(plain)}",
                    span, "declare it: {type: T, value: ...}",
                )
                return evolve(binding, type=ERROR_TYPE)
            return evolve(binding, type=inferred)
        inferred = self.infer(value, task, key, item_type)
        if declared is not None:
            if inferred is not None and declared != ERROR_TYPE and not is_assignable(inferred, declared):
                self.error(
                    "E202", f"input '{binding.name}' of task '{task.name}' expects {declared}, "
                    f"but {_describe_expr(value)} is {inferred}",
                    span, _mismatch_hint(inferred, declared),
                )
            return binding
        if inferred is not None and (inferred.kind == "null" or inferred.args) and _has_null(inferred):
            self.error(
                "E209", f"cannot infer the type of input '{binding.name}' of task '{task.name}' ({inferred})",
                span, "declare it: {type: T, value: ...}",
            )
            inferred = None
        return evolve(binding, type=inferred if inferred is not None else ERROR_TYPE)

    def check_workflow_output(self, output: WorkflowOutput) -> WorkflowOutput:
        """Infer the output's type: T? when it reads a task that may be skipped, since the
        executor then gives the whole output null. A declared type (a Python workflow's return
        annotation) must accept it, and stays the output's type."""
        declared = output.type
        if isinstance(output.value, Literal) and output.value.value is INVALID:
            return evolve(output, type=declared or ERROR_TYPE)
        inferred = self.infer(output.value, None, "", None, output.span)
        if inferred is not None and _has_null(inferred):
            self.error("E209", f"cannot infer the type of workflow output '{output.name}' ({inferred})", output.span)
            inferred = None
        skipped = self.skipped_by(output.value)
        if inferred is not None and skipped is not None:
            inferred = inferred.as_optional()
        if declared is None or declared == ERROR_TYPE:
            return evolve(output, type=inferred if inferred is not None else ERROR_TYPE)
        if inferred is not None and not is_assignable(inferred, declared):
            python = output.span is not None and output.span.file.endswith(".py")
            where = "annotate the workflow ->" if python else "declare the output"
            if skipped is not None and is_assignable(inferred.as_required(), declared):
                task, why = skipped
                self.error(
                    "E202", f"workflow output '{output.name}' is declared {declared}, but it is null when "
                    f"task '{task}' is skipped ({why})", output.span,
                    f"{where} {spelling(declared.as_optional(), python)}, "
                    f"or {'return' if python else 'use'} an output of a task that always runs",
                )
            else:
                self.error(
                    "E202", f"workflow output '{output.name}' is declared {declared}, "
                    f"but {_describe_expr(output.value)} is {inferred}", output.span,
                    f"convert the value, or {where} {spelling(inferred, python)}",
                )
        return output

    def skipped_by(self, expr: Expr) -> tuple[str, str] | None:
        """(task, why) for the first task `expr` reads that may be skipped, else None."""
        if self.skippable is None:
            self.skippable = skippable(self.tasks.values())
        for ref in refs(expr):
            if ref.root == "tasks" and ref.task in self.skippable:
                return ref.task, self.skippable[ref.task]
        return None

    # ------------------------------------------------------------------ expressions

    def infer(self, expr: Expr, task: Task | None, key: str, item_type: Type | None, span: Span | None = None) -> Type | None:
        """The type of an expression; None when unknown (an error was reported, or already was)."""
        if isinstance(expr, Ref):  # the common case, kept free of the walk's set-up
            return self.ref_type(expr, task, key, item_type, _At(task, key, span, 0))
        return _TypeInference(self, task, key, item_type, span).visit(expr)

    def binop_type(self, e: BinOp, left: Type | None, right: Type | None, where: _At) -> Type:
        if e.op in ("and", "or"):
            for side in (left, right):
                if side is not None and side != BOOL:
                    self.error("E206", f"'{e.op}' needs bool on both sides, not {side}", where, f"in {_quote(e)}")
            return BOOL
        if e.op in _ARITHMETIC:
            return self.arithmetic_type(e, left, right, where)
        if left is None or right is None:
            return BOOL
        if e.op in ("in", "not in"):
            self.membership_check(e, left, right, where)
            return BOOL
        if e.op in ("==", "!="):
            if not _comparable(left, right):
                self.error("E206", f"cannot compare {left} with {right}", where, f"in {_quote(e)}: the two sides never match")
            return BOOL
        ordered = _both_numeric(left, right) or (left.as_required() == STR and right.as_required() == STR)
        if not ordered or left.optional or right.optional:
            self.error(
                "E206", f"'{e.op}' needs two numbers or two strings, not {left} and {right}", where, f"in {_quote(e)}"
            )
        return BOOL

    def arithmetic_type(self, e: BinOp, left: Type | None, right: Type | None, where: _At) -> Type | None:
        """Numbers only: int with int is int (`/` always gives float), with a float it is float."""
        if left is None or right is None:
            return None
        if not _both_numeric(left, right) or left.optional or right.optional:
            strings = left.as_required() == STR and right.as_required() == STR
            hint = "join strings in an interpolated string: \"${{ a }}${{ b }}\"" if strings and e.op == "+" else f"in {_quote(e)}"
            self.error("E206", f"'{e.op}' needs two numbers, not {left} and {right}", where, hint)
            return None
        return FLOAT if e.op == "/" or FLOAT in (left, right) else INT

    def membership_check(self, e: BinOp, left: Type, right: Type, where: _At) -> None:
        """`x in list[T]` (x comparable with T), `str in dict[str, T]` (a key), `str in str` (a substring)."""
        if right.optional or right.kind not in ("list", "dict", "str"):
            hint = "the value may be null; compare it with null first" if right.optional else f"in {_quote(e)}"
            self.error("E206", f"'{e.op}' needs a list, a dict or a str on its right, not {right}", where, hint)
        elif right.kind == "list" and not (right.args[0].kind == "null" or _comparable(left, right.args[0])):
            self.error("E206", f"cannot look for {left} in {right}", where, f"in {_quote(e)}: the two sides never match")
        elif right.kind == "dict" and left.as_required() != STR:
            self.error("E206", f"the keys of {right} are str, not {left}", where, f"in {_quote(e)}")
        elif right.kind == "str" and left != STR:
            self.error("E206", f"'{e.op}' on a str looks for a str, not {left}", where, f"in {_quote(e)}")

    def ref_type(self, ref: Ref, task: Task | None, key: str, item_type: Type | None, span: _At) -> Type | None:
        base: Type | None
        if ref.root == "item":
            if task is None or task.foreach is None or key in ("foreach", "when"):
                where = "a workflow output" if task is None else f"'{key}' of task '{task.name}'"
                hint = (
                    "item is the current element inside a foreach task's inputs"
                    if task is None or task.foreach is None
                    else "foreach and when are evaluated once, before the fan-out"
                )
                why = ("which is decided once for the whole task, before its items" if task is not None and task.foreach is not None
                       else "which is not inside a foreach")
                self.error("E205", f"'item' is used in {where}, {why}", span, hint)
                return None
            base = item_type
        elif ref.root == "inputs":
            wi = self.inputs.get(ref.name or "")
            if wi is None:
                guess = did_you_mean(ref.name or "", self.inputs)
                hint = f"did you mean 'inputs.{guess}'?" if guess else _declared("workflow inputs", self.inputs)
                hint = _subtraction_hint(f"inputs.{ref.name}", ref.name or "", self.inputs) or hint
                self.error("E302", f"unknown workflow input '{ref.name}'", span, hint)
                return None
            base = wi.type
        else:
            if ref.task not in self.tasks:
                self.unknown_task(ref.task or "", span)
                return None
            if task is not None:
                if ref.task == task.name:
                    self.error(
                        "E304", f"task '{task.name}' reads its own output '{ref.name}'", span,
                        "a task's inputs come from tasks before it",
                    )
                    return None
                self.edges.setdefault((ref.task, task.name), span)
            declared = self.outputs[ref.task]
            if ref.name not in declared:
                guess = did_you_mean(ref.name or "", declared)
                hint = f"did you mean '{guess}'?" if guess else f"declare it in task '{ref.task}': outputs: {{{ref.name}: TYPE}}"
                hint = _subtraction_hint(f"tasks.{ref.task}.outputs.{ref.name}", ref.name or "", declared) or hint
                marker = (ref.task, ref.name or "", None)
                self.error("E303", f"task '{ref.task}' has no output '{ref.name}'", span, hint)
                self.reported_refs.add(marker)
                return None
            base = declared[ref.name]
            if base is not None and base != ERROR_TYPE and ref.task in self.fans_out:
                base = list_of(base)  # a fan-out's output, seen downstream, is the list of all items'
        if base is None or base == ERROR_TYPE:
            return None
        return self.access(base, ref, span)

    def access(self, base: Type, ref: Ref, span: _At) -> Type | None:
        if not ref.path:
            return base
        current = base
        for i, step in enumerate(ref.path):
            prefix = unparse_ref(evolve(ref, path=ref.path[:i]))
            if isinstance(step, int) and current.kind == "list":
                current = Type(current.args[0].kind, current.args[0].args, current.args[0].optional or current.optional)
            elif isinstance(step, str) and current.kind == "dict":
                current = Type(current.args[1].kind, current.args[1].args, current.args[1].optional or current.optional)
            else:
                what = f"[{step}]" if isinstance(step, int) else f".{step}"
                need = "a list" if isinstance(step, int) else "a dict"
                self.error(
                    "E207", f"cannot use '{what}' on {prefix}, which is {current}", span,
                    f"'{what}' needs {need}",
                )
                return None
        return current

    # ------------------------------------------------------------------ graph

    def unknown_task(self, name: str, span: Span | _At | None) -> None:
        guess = did_you_mean(name, self.tasks)
        hint = f"did you mean '{guess}'?" if guess else _declared("tasks", self.tasks)
        self.error("E301", f"unknown task '{name}'", span, hint)

    def check_cycles(self) -> None:
        """Kahn's algorithm finds whether any task is on a cycle (no import needed); only then
        does networkx name each cycle, one diagnostic per strongly connected component."""
        indegree = dict.fromkeys(self.tasks, 0)
        children: dict[str, list[str]] = {name: [] for name in self.tasks}
        for up, down in self.edges:
            children[up].append(down)
            indegree[down] += 1
        ready = [name for name, degree in indegree.items() if degree == 0]
        while ready:
            name = ready.pop()
            for child in children[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        stuck = {name for name, degree in indegree.items() if degree > 0}
        if not stuck:
            return
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_edges_from((up, down) for up, down in self.edges if up in stuck and down in stuck)
        components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
        for component in sorted(components, key=min):
            cycle = _rotate([up for up, _ in nx.find_cycle(graph.subgraph(component), source=min(component))])
            chain = " -> ".join(cycle + [cycle[0]])
            span = self.edges.get((cycle[-1], cycle[0]))
            self.error(
                "E300", f"dependency cycle: {chain}", span,
                "the arrows point downstream; remove one of these dependencies",
            )

    # ------------------------------------------------------------------ reporting

    def error(self, code: str, message: str, span: Span | _At | None, hint: str | None = None) -> None:
        self.diags.error(code, message, span.resolve() if isinstance(span, _At) else span, hint)


# ---------------------------------------------------------------------------- helpers


class _At:
    """Where a diagnostic about `task`'s value at `key` points, resolved only when one is reported.

    Looking spans up eagerly would cost more than the checks themselves on large specs. With
    `ref` = 1 the span is that of key 'inputs.x@1' (the second reference in the value), falling
    back to 'inputs.x', then to `fallback`, then to the task's own span.
    """

    __slots__ = ("task", "key", "fallback", "ref")

    def __init__(self, task: Task | None, key: str, fallback: Span | None = None, ref: int | None = None):
        self.task = task
        self.key = key
        self.fallback = fallback
        self.ref = ref  # which reference inside the value, when the problem is about one

    def resolve(self) -> Span | None:
        if self.task is None:
            return self.fallback
        spans = self.task.spans
        found = None
        if self.key:
            found = (spans.get(f"{self.key}@{self.ref}") if self.ref is not None else None) or spans.get(self.key)
        return found or self.fallback or self.task.span


class _TypeInference(Generator[Optional[Type]]):
    """The type of each node (None: unknown, already reported). References are numbered in the
    order they are visited, which is source order (as `refs` gives them), so each occurrence of
    a repeated reference gets its own span: 'inputs.x@0', 'inputs.x@1', ..."""

    def __init__(self, validator: _Validator, task: Task | None, key: str, item_type: Type | None, span: Span | None):
        super().__init__()
        self.validator, self.task, self.key, self.item_type, self.span = validator, task, key, item_type, span
        self.where = _At(task, key, span)
        self.next_ref = 0

    def literal(self, node: Literal) -> Type | None:
        if node.value is INVALID:
            return None
        value = plain_value(node.value)
        literal_type = type_of_literal(value)
        if literal_type is None:
            self.validator.error("E209", f"cannot infer the type of {_show(value)}", self.where, "lists must hold one type")
        return literal_type

    def ref(self, node: Ref) -> Type | None:
        index, self.next_ref = self.next_ref, self.next_ref + 1
        span = _At(self.task, self.key, self.span, index)
        return self.validator.ref_type(node, self.task, self.key, self.item_type, span)

    def not_(self, node: Not) -> Type | None:
        operand = self.visit(node.operand)
        if operand is not None and operand != BOOL:
            self.validator.error("E206", f"'not' needs a bool, not {operand}", self.where, f"in {_quote(node)}")
        return BOOL

    def binop(self, node: BinOp) -> Type | None:
        left = self.visit(node.left)
        return self.validator.binop_type(node, left, self.visit(node.right), self.where)

    def call(self, node: Call) -> Type | None:
        argument = self.visit(node.args[0])  # len, the only function
        if argument is not None and (argument.optional or argument.kind not in ("list", "dict", "str")):
            hint = (
                "the value may be null; compare it with null first" if argument.optional
                else "len(x) counts a list's items, a dict's keys or a str's characters"
            )
            self.validator.error("E206", f"len() needs a list, a dict or a str, not {argument}", self.where, hint)
        return INT

    def list_expr(self, node: ListExpr) -> Type | None:
        element_types = [self.visit(item) for item in node.items]
        if any(t is None for t in element_types):
            return None
        return _join_list(element_types, self.where, self.validator, node)  # type: ignore[arg-type]

    def interp(self, node: Interp) -> Type | None:
        for part in node.parts:
            if not isinstance(part, str):
                self.visit(part)
        return STR


def _rotate(cycle: list[str]) -> list[str]:
    """Start a cycle at its smallest name, so the message is the same on every run."""
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def _dns_hint(name: str) -> str:
    if len(name) > 63:
        return "Kubernetes and AWS Batch names are limited to 63 characters"
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if fixed and fixed != name and DNS_LABEL.fullmatch(fixed):
        return f"use lowercase letters, digits and '-': '{fixed}'"
    return "use lowercase letters, digits and '-', starting and ending with a letter or digit"


def _identifier_hint(name: str, lowercase: bool) -> str:
    fixed = re.sub(r"\W+", "_", name.lower() if lowercase else name).strip("_") or "name"
    if fixed[0].isdigit():
        fixed = "_" + fixed
    letters = "lowercase letters" if lowercase else "letters"
    return f"use {letters}, digits and '_', not starting with a digit: '{fixed}'"


def _declared(what: str, names: Iterable[str]) -> str:
    listed = sorted(names)
    if not listed:
        return f"there are no {what}"
    shown = ", ".join(listed[:8]) + (", ..." if len(listed) > 8 else "")
    return f"{what}: {shown}"


def _show(value: object) -> str:
    import json

    try:
        text = json.dumps(plain_value(value), sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _quote(expr: Expr) -> str:
    return "'" + unparse(expr) + "'"


def _describe_expr(expr: Expr) -> str:
    if isinstance(expr, Ref):
        return unparse_ref(expr)
    if isinstance(expr, Interp):
        return "the interpolated string"
    return f"'{unparse(expr)}'"


def _mismatch_hint(source: Type, target: Type) -> str:
    if source.optional and source.as_required() == target.as_required():
        return f"the value may be null; declare the input as {target.as_optional()}"
    if source.kind == "list" and target.kind != "list":
        return "the value is a list: a fan-out task's output is the list of every item's output"
    return f"convert the value, or declare the input as {source}"


def _has_null(t: Type) -> bool:
    return t.kind == "null" or any(_has_null(a) for a in t.args)


def _both_numeric(a: Type, b: Type) -> bool:
    return a.kind in _NUMERIC and b.kind in _NUMERIC


def _subtraction_hint(text: str, name: str, known: Iterable[str]) -> str | None:
    """`inputs.n-1` reads an input named 'n-1' ('-' may be part of a name): say how to subtract."""
    head, dash, tail = name.partition("-")
    if not dash or head not in known:
        return None
    return f"to subtract, put spaces around '-': {text[: len(text) - len(name)]}{head} - {tail}"


def _comparable(a: Type, b: Type) -> bool:
    """Can `a == b` ever be true? The element type of `[]` and `{}` (null) matches any element."""
    if is_assignable(a, b) or is_assignable(b, a) or _both_numeric(a, b):
        return True
    if a.kind == b.kind and a.kind in ("list", "dict"):
        return all(x.kind == "null" or y.kind == "null" or _comparable(x, y) for x, y in zip(a.args, b.args))
    return False


def _join_list(types: list[Type], where: _At, validator: _Validator, expr: ListExpr) -> Type | None:
    from ..core.types import join_types  # the literal rules: int+float -> float, x+null -> x?

    if not types:
        return list_of(Type("null", (), True))
    joined = join_types(types)
    if joined is None:
        validator.error("E209", f"the items of {_quote(expr)} have different types", where, "lists must hold one type")
        return None
    return list_of(joined)


__all__ = ["CODES", "RESERVED_ENV_PREFIXES", "validate"]
