"""The YAML spec language: a spec file -> an (unvalidated) Workflow, every problem a located diagnostic.

Layers: `yaml_nodes` reads the text safely into nodes and gives typed getters; `yaml_policies`
reads the policy keys of a task; this module walks the language itself (header, metadata,
inputs, defaults, tasks and their data bindings, outputs) and builds the IR; `cron` checks
schedules.

Recovery rule: a bad value is reported once and replaced by its neutral default (no retries, no
timeout, ...), or by the `validate.ERROR_TYPE` / `validate.INVALID` placeholders where downstream
checks must stay quiet about something already reported. So one pass finds every independent
problem in a file, and graph checks still run on the rest of the spec.

Spans: `Task.span` is the task's name; `Task.spans` maps key paths ('retries', 'inputs.n',
'after[0]', 'container.args[1]', ...) to the spans of their values, and `KEY@K` to the K-th
reference (0-based, source order) inside that value's `${{ }}` expression, so validation can put
the caret under `tasks.prep.outputs.rows` itself.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Callable, Iterator, Mapping

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..cron import CRON_HINT, cron_problem
from ...core.diagnostics import Diagnostics, Span, did_you_mean
from ...core.expr import Expr, ExprSyntaxError, ListExpr, Literal, TemplatePiece, parse_expr, parse_template, refs, split_template
from ...core.expr.syntax import REFERENCE_TEXT
from ...core.k8s_names import LABEL_HINT, label_key_problem, label_value_problem
from ...core.ir import Binding, Container, Output, Task, Workflow, WorkflowInput, WorkflowOutput
from ...core.types import Type, TypeSyntaxError, accepts_value, parse_type
from ...core.placeholders import ERROR_TYPE, INVALID, evolve
from .nodes import LITERAL_DEPTH, MISSING, STR_TAG, Entry, _quoted_offsets, anchor, describe, resolved_tag, word
from .policies import BACKOFF_KEYS, POLICY_SUB_KEYS, RESOURCE_KEYS, RETRY_KEYS, SECRET_KEYS, PolicyReader

API_VERSION = "tether/v1"
KIND = "Workflow"

TOP_KEYS = ("apiVersion", "kind", "metadata", "spec")
METADATA_KEYS = ("name", "description", "labels")
SPEC_KEYS = ("schedule", "inputs", "defaults", "tasks", "outputs")
INPUT_KEYS = ("type", "default", "description")
TASK_KEYS = (
    "python", "container", "image", "inputs", "outputs", "retries", "interruptible", "checkpoint",
    "resources", "timeout", "after", "when", "foreach", "cache", "env", "secrets",
)
DEFAULTABLE_KEYS = ("image", "retries", "interruptible", "checkpoint", "resources", "timeout", "cache", "env", "secrets")
MERGED_KEYS = ("resources", "env", "retries", "interruptible", "checkpoint", "cache")
"""Mapping-valued keys merged per sub-key between `defaults` and a task (the task wins)."""
CONTAINER_KEYS = ("image", "command", "args")
_PYTHON_REF = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


# ---------------------------------------------------------------------------- entry points


def compile_yaml_file(path: str, diags: Diagnostics, sources: dict[str, str]) -> Workflow | None:
    """Read a spec file ('-' = stdin), remember its text for rendering, compile it."""
    filename = "<stdin>" if path == "-" else path
    try:
        data = _read_stdin() if path == "-" else _read_bytes(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        diags.error("E101", f"cannot read '{filename}': {reason.lower()}", None, _read_hint(exc))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diags.error("E101", f"'{filename}' is not UTF-8 text", Span(filename, line, col), "save the spec as UTF-8")
        return None
    sources[filename] = text
    return compile_yaml_text(text, filename, diags)


def _read_stdin() -> bytes:
    if sys.stdin is None:  # started with standard input closed
        raise OSError(9, "standard input is closed")
    return sys.stdin.buffer.read()


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _read_hint(exc: OSError) -> str | None:
    if isinstance(exc, FileNotFoundError):
        return "check the path; SPEC is a .yaml file, file.py:workflow or package.module:workflow"
    if isinstance(exc, IsADirectoryError):
        return "give the spec file inside the directory"
    return None


def compile_yaml_text(text: str, filename: str, diags: Diagnostics) -> Workflow | None:
    """Compile spec text; every problem goes to `diags`. None only when nothing usable remains."""
    return _Reader(text, filename, diags).workflow()


# ---------------------------------------------------------------------------- the language walk


class _Reader(PolicyReader):
    def __init__(self, text: str, filename: str, diags: Diagnostics):
        super().__init__(text, filename, diags)
        self.defaults_read: dict[str, tuple[Any, dict[str, Node]]] = {}
        """Task key -> (value, spans) of a `defaults` entry, read once for every task inheriting it."""
        self.expressions: dict[str, Expr] = {}
        """Template text -> its parsed (immutable) expression: fan-outs repeat one reference many times."""

    def workflow(self) -> Workflow | None:
        root = self.compose()
        if root is None:
            return None
        self.scan_tags(root)
        if id(root) in self.bad_nodes:
            return None
        if not isinstance(root, MappingNode):
            self.error(
                "E105", f"the spec must be a mapping of keys, not {describe(root)}", self.span(root),
                "a spec starts with 'apiVersion: tether/v1' and 'kind: Workflow'",
            )
            return None
        top = self.entries(root, "", TOP_KEYS, "the spec")
        anchor = Span(self.file, 1, 1)
        self.check_header(top, anchor)
        metadata = None
        if "metadata" in top:
            metadata = self.sub(top["metadata"], METADATA_KEYS, "metadata")
        else:
            self.error("E108", "the spec has no 'metadata'", anchor, "add 'metadata: {name: my-workflow}'")
        name = self.workflow_name(metadata, top.get("metadata"))
        spec_entries = self.sub(top["spec"], SPEC_KEYS, "spec") if "spec" in top else None
        if "spec" not in top:
            self.error("E108", "the spec has no 'spec'", anchor, "add 'spec:' with the workflow's tasks")
        spec = spec_entries if spec_entries is not None else {}
        description = self.string(metadata["description"]) if metadata and "description" in metadata else None
        labels = self.labels(metadata["labels"]) if metadata and "labels" in metadata else ()
        schedule = self.schedule(spec["schedule"]) if "schedule" in spec else None
        inputs = self.workflow_inputs(spec["inputs"]) if "inputs" in spec else ()
        defaults = self.defaults(spec["defaults"]) if "defaults" in spec else {}
        tasks = self.tasks(spec.get("tasks"), defaults, top["spec"] if spec_entries is not None else None)
        outputs = self.workflow_outputs(spec["outputs"]) if "outputs" in spec else ()
        return Workflow(
            name=name,
            tasks=tasks,
            inputs=inputs,
            outputs=outputs,
            description=description if isinstance(description, str) else "",
            labels=labels,
            schedule=schedule,
            span=self.span(metadata["name"].value) if metadata and "name" in metadata else anchor,
            source=self.text,
        )

    def check_header(self, top: dict[str, Entry], anchor: Span) -> None:
        for key, expected, hint in (
            ("apiVersion", API_VERSION, f"this tether reads 'apiVersion: {API_VERSION}'"),
            ("kind", KIND, f"the only kind is '{KIND}'"),
        ):
            entry = top.get(key)
            if entry is None:
                self.error("E108", f"the spec has no '{key}'", anchor, f"add '{key}: {expected}'")
                continue
            value = self.scalar(entry)
            if value is MISSING:
                continue
            if value != expected:
                self.error("E110", f"unsupported {key} '{value}'", self.span(entry.value), hint)

    def workflow_name(self, metadata: dict[str, Entry] | None, entry: Entry | None) -> str:
        if metadata is None:
            return ""
        if "name" not in metadata:
            span = self.span(entry.key) if entry is not None else None
            self.error("E108", "'metadata' has no 'name'", span, "add 'name: my-workflow' (lowercase letters, digits and '-')")
            return ""
        name = self.string(metadata["name"])
        if name == "":
            self.error(
                "E400", "the workflow name is empty", self.span(metadata["name"].value),
                "name it with lowercase letters, digits and '-': name: my-workflow",
            )
        return name if isinstance(name, str) else ""

    def labels(self, entry: Entry) -> tuple[tuple[str, str], ...]:
        labels = self.sub(entry, None, "metadata.labels")
        if labels is None:
            return ()
        result = []
        for key, item in labels.items():
            value = self.scalar(item)
            if value is MISSING:
                continue
            if value is None or not isinstance(value, (str, int, float)):
                self.error("E109", f"'{item.path}' must be a string, not {describe(item.value)}", self.span(item.value))
                continue
            text = _label_text(value)
            for what, checked, node in (("key", key, item.key), ("value", text, item.value)):
                problem = _label_problem(checked, what)
                if problem:
                    self.error("E403", f"label {what} '{checked}' {problem}", self.span(node), LABEL_HINT)
            result.append((key, text))
        return tuple(result)

    def schedule(self, entry: Entry) -> str | None:
        value = self.string(entry, "write a cron schedule like \"0 3 * * *\" (quote it)")
        if value is MISSING:
            return None
        problem = cron_problem(value)
        if problem:
            self.error("E114", f"invalid schedule '{value}': {problem}", self.span(entry.value), CRON_HINT)
            return None
        return " ".join(value.split())

    def workflow_inputs(self, entry: Entry) -> tuple[WorkflowInput, ...]:
        inputs = self.sub(entry, None, "spec.inputs")
        if inputs is None:
            return ()
        result = []
        for name, item in inputs.items():
            span = self.span(item.key)
            if isinstance(item.value, MappingNode):
                fields = self.entries(item.value, item.path, INPUT_KEYS, f"input '{name}'")
                if "type" not in fields:
                    self.error("E108", f"input '{name}' has no 'type'", span, "add 'type: int' (or str, float, bool, list[T], ...)")
                    continue
                type_ = self.type_of(fields["type"])
                description = self.string(fields["description"]) if "description" in fields else ""
                has_default = "default" in fields
                default = self.plain(fields["default"].value, fields["default"].path) if has_default else None
                if default is MISSING:
                    type_, default = ERROR_TYPE, None
                elif has_default and type_ is not ERROR_TYPE and not accepts_value(type_, default):
                    self.error(
                        "E208", f"default {_show(default)} of input '{name}' does not fit type {type_}",
                        self.span(fields["default"].value), "change the default or the type",
                    )
                    has_default, default = False, None  # reported here, where the caret is exact
                result.append(
                    WorkflowInput(
                        name, type_, has_default, default,
                        description if isinstance(description, str) else "", span,
                    )
                )
            else:
                result.append(WorkflowInput(name, self.type_of(item), span=span))
        return tuple(result)

    def workflow_outputs(self, entry: Entry) -> tuple[WorkflowOutput, ...]:
        outputs = self.sub(entry, None, "spec.outputs")
        if outputs is None:
            return ()
        result = []
        for name, item in outputs.items():
            declared: Type | None = None
            value_entry = item
            if _is_declaration(item.value):  # {type: T, value: V}: the output promises type T
                fields = self.entries(item.value, item.path, ("type", "value"), f"workflow output '{name}'")
                declared = self.type_of(fields["type"])
                if "value" not in fields:
                    self.error("E108", f"workflow output '{name}' declares a type but no 'value'", self.span(item.key), "add 'value: ...'")
                    continue
                value_entry = fields["value"]
            value, _ = self.value_expr(value_entry, None, "")
            result.append(WorkflowOutput(name, value, declared, self.span(value_entry.value)))
        return tuple(result)

    def type_of(self, entry: Entry) -> Type:
        text = self.string(entry, "write the type as a string, e.g. int or list[str]")
        if text is MISSING:
            return ERROR_TYPE
        try:
            return parse_type(text)
        except TypeSyntaxError as exc:
            offset = exc.column - 1
            length = max(len(text.rstrip()) - offset, 1)
            self.error("E200", str(exc), self.point(entry.value, offset, length), exc.hint)
            return ERROR_TYPE

    def defaults(self, entry: Entry) -> dict[str, Entry]:
        if not self.expect(entry, MappingNode, "a mapping of task keys"):
            return {}
        result: dict[str, Entry] = {}
        for key, value in entry.value.value:
            if not isinstance(key, ScalarNode) or id(key) in self.bad_nodes:
                continue
            if key.value in DEFAULTABLE_KEYS:
                result.setdefault(key.value, Entry(key, value, f"spec.defaults.{key.value}"))
            elif key.value in TASK_KEYS:
                self.error(
                    "E107", f"'{key.value}' cannot be a default", self.span(key),
                    "defaults hold policies shared by every task: " + ", ".join(DEFAULTABLE_KEYS),
                )
            else:
                self.unknown_key(key, key.value, DEFAULTABLE_KEYS, "spec.defaults")
        return result

    def tasks(self, entry: Entry | None, defaults: dict[str, Entry], spec_entry: Entry | None) -> tuple[Task, ...]:
        if entry is None:
            span = self.span(spec_entry.key) if spec_entry is not None else None
            if spec_entry is not None:
                self.error("E108", "'spec' has no 'tasks'", span, "add 'tasks:' with at least one task")
            return ()
        tasks_map = self.sub(entry, None, "spec.tasks")
        if tasks_map is None:
            return ()
        if not tasks_map:
            self.error("E117", "the workflow has no tasks", self.span(entry.key), "add at least one task under 'tasks'")
            return ()
        return tuple(self.task(name, item, defaults) for name, item in tasks_map.items())

    def task(self, name: str, entry: Entry, defaults: dict[str, Entry]) -> Task:
        span = self.span(entry.key)
        where = f"task '{name}'"
        own = self.sub(entry, TASK_KEYS, where)
        if own is None:
            return Task(name, python=INVALID_REF, span=span)
        keys = dict(own)
        inherited: set[str] = set()
        for key, default in defaults.items():
            mine = keys.get(key)
            if mine is None:
                keys[key] = default
                inherited.add(key)
            else:
                keys[key] = self.merge_default(mine, default)
        spans = _Spans(self, keys)
        fields: dict[str, Any] = {}
        # The keys this task has, in _TASK_FIELDS order (a task sets a few of the sixteen).
        for index in sorted([_TASK_FIELD_INDEX[key] for key in keys]):
            key, field_name, read = _TASK_FIELDS[index]
            item = keys[key]
            fields[field_name] = self.inherited(key, item, spans, read) if key in inherited else read(self, item, spans)
        if "container" in fields:  # one image per task: the container's wins over task/defaults
            fields["container"], image = fields["container"]
            if image is not None:
                fields["image"] = image
        return evolve(_BLANK_TASK, name=name, span=span, spans=spans, **fields)  # Task(...) costs 6x more

    def inherited(self, key: str, entry: Entry, spans: _Spans, read: _FieldReader) -> Any:
        """A key a task takes unchanged from `defaults` is the same YAML node in every task: read
        it once, then hand each task the same (immutable) value and the spans it recorded."""
        cached = self.defaults_read.get(key)
        if cached is None:
            recorded = _Spans(self, {})
            cached = self.defaults_read[key] = (read(self, entry, recorded), recorded.nodes)
        value, nodes = cached
        spans.nodes.update(nodes)
        return value

    def image(self, entry: Entry) -> str:
        image = self.string(entry)
        return image if isinstance(image, str) else INVALID_REF

    def merge_default(self, own: Entry, default: Entry) -> Entry:
        """The task's value wins; two mappings merge per sub-key (e.g. resources.memory only)."""
        if (
            own.key.value in MERGED_KEYS
            and isinstance(own.value, MappingNode)
            and isinstance(default.value, MappingNode)
            and id(own.value) not in self.bad_nodes
            and id(default.value) not in self.bad_nodes
        ):
            allowed = POLICY_SUB_KEYS.get(own.key.value)
            where = f"'{own.path}'"
            merged = self.entries(default.value, default.path, allowed, f"'{default.path}'")
            merged.update(self.entries(own.value, own.path, allowed, where))
            return Entry(own.key, own.value, own.path, merged)
        return own

    def python_ref(self, entry: Entry) -> str:
        value = self.string(entry, "write module:function, e.g. steps:train")
        if value is MISSING:
            return INVALID_REF
        if not _PYTHON_REF.fullmatch(value):
            hint = "write module:function, e.g. steps:train (the module is found next to the spec)"
            if ":" not in value and "." in value:
                module, _, func = value.rpartition(".")
                hint = f"separate the function with a colon: {module}:{func}"
            self.error("E116", f"invalid python task reference '{value}'", self.span(entry.value), hint)
        return value

    def container(self, entry: Entry, spans: _Spans) -> tuple[Container, str | None]:
        """The container and its own image (None when it names none); `task` resolves it."""
        fields = self.sub(entry, CONTAINER_KEYS)
        if fields is None:
            return Container(), INVALID_REF
        image: Any = None
        if "image" in fields:
            image = self.string(fields["image"])
            image = image if isinstance(image, str) else INVALID_REF
            spans.nodes["container.image"] = fields["image"].value
        parts: dict[str, tuple[Expr, ...]] = {"command": (), "args": ()}
        for key in parts:
            if key not in fields:
                continue
            item = fields[key]
            spans.nodes[f"container.{key}"] = item.value
            if not self.expect(item, SequenceNode, "a list of strings", f"split it into words: {key}: [python, main.py]"):
                continue
            exprs = []
            for i, node in enumerate(item.value.value):
                sub = Entry(item.key, node, f"{item.path}[{i}]")
                value, _ = self.word_expr(sub, spans, f"container.{key}[{i}]")
                exprs.append(value)
            parts[key] = tuple(exprs)
        return Container(parts["command"], parts["args"]), image

    def word_expr(self, entry: Entry, spans: _Spans, key: str) -> tuple[Expr, bool]:
        """A command-line word: a string (maybe with `${{ }}`) or a number/bool written bare."""
        spans.nodes[key] = entry.value
        value = self.scalar(entry)
        if value is MISSING:
            return Literal(INVALID), False
        if isinstance(value, str):
            return self.template(entry.value, value, spans, key), True
        if value is None:
            self.error("E109", f"'{entry.path}' must be a string, not null", self.span(entry.value))
            return Literal(INVALID), False
        return Literal(word(value)), True

    def task_inputs(self, entry: Entry, spans: _Spans) -> tuple[Binding, ...]:
        inputs = self.sub(entry, None)
        if inputs is None:
            return ()
        bindings = []
        for name, item in inputs.items():
            key = f"inputs.{name}"
            declared: Type | None = None
            value_entry = item
            if _is_declaration(item.value):
                fields = self.entries(item.value, item.path, ("type", "value"), f"input '{name}'")
                declared = self.type_of(fields["type"])
                if "value" not in fields:
                    self.error("E108", f"input '{name}' declares a type but no 'value'", self.span(item.key), "add 'value: ...'")
                    bindings.append(Binding(name, ERROR_TYPE, Literal(INVALID), self.span(item.key)))
                    continue
                value_entry = fields["value"]
            value, _ = self.value_expr(value_entry, spans, key)
            bindings.append(Binding(name, declared, value, self.span(value_entry.value)))
        return tuple(bindings)

    def task_outputs(self, entry: Entry, spans: _Spans) -> tuple[Output, ...]:
        outputs = self.sub(entry, None)
        if outputs is None:
            return ()
        result = []
        for name, item in outputs.items():
            spans.nodes[f"outputs.{name}"] = item.value
            result.append(Output(name, self.type_of(item), self.span(item.key)))
        return tuple(result)

    def after(self, entry: Entry, spans: _Spans) -> tuple[str, ...]:
        nodes: list[Node]
        if isinstance(entry.value, ScalarNode) and resolved_tag(entry.value) == STR_TAG:
            nodes = [entry.value]  # `after: prep` reads as `after: [prep]`
        elif self.expect(entry, SequenceNode, "a list of task names", "after: [task-a, task-b]"):
            nodes = list(entry.value.value)
        else:
            return ()
        names = []
        for i, node in enumerate(nodes):
            sub = Entry(entry.key, node, f"{entry.path}[{i}]")
            name = self.string(sub)
            if isinstance(name, str):
                spans.nodes[f"after[{i}]"] = node
                names.append(name)
        return tuple(dict.fromkeys(names))

    def value_expr(self, entry: Entry, spans: _Spans | None, key: str) -> tuple[Expr, bool]:
        """A binding value: a literal, a `${{ }}` string, or a list of either. (expr, ok)."""
        if spans is not None:
            spans.nodes[key] = entry.value
        node = entry.value
        if isinstance(node, ScalarNode) and id(node) not in self.bad_nodes:
            value = self.scalar(entry)
            if value is MISSING:
                return Literal(INVALID), False
            if isinstance(value, str):
                return self.template(node, value, spans, key), True
            return Literal(value), True
        if isinstance(node, SequenceNode) and id(node) not in self.bad_nodes and _has_template(node):
            if key.count("[") >= LITERAL_DEPTH:
                self.error("E109", f"'{entry.path}' is nested more than {LITERAL_DEPTH} levels deep", self.span(node))
                return Literal(INVALID), False
            items = []
            for i, child in enumerate(node.value):
                sub = Entry(entry.key, child, f"{entry.path}[{i}]")
                item, ok = self.value_expr(sub, spans, f"{key}[{i}]")
                if not ok:
                    return Literal(INVALID), False
                items.append(item)
            return ListExpr(tuple(items)), True
        value = self.plain(node, entry.path)
        if value is MISSING:
            return Literal(INVALID), False
        if _has_template(node):
            self.error(
                "E201", f"'{entry.path}': expressions are not allowed inside a mapping value", self.span(node),
                "bind each ${{ }} to its own input",
            )
            return Literal(INVALID), False
        return Literal(_freeze(value)), True

    def template(self, node: Node, text: str, spans: _Spans | None, key: str) -> Expr:
        """Parse a string that may hold `${{ }}`; syntax errors point inside the string."""
        if "${{" not in text:
            return Literal(text)
        parsed = self.expressions.get(text)
        if parsed is not None:
            return parsed
        try:
            if text.count("(") + text.count("[") > 256:
                raise RecursionError  # refused before lark spends seconds on it
            expr = parse_template(text)
        except RecursionError:
            self.error("E201", "invalid expression: nested too deeply", self.span(node), "split it into simpler steps")
            return Literal(INVALID)
        except ExprSyntaxError as exc:
            hint = exc.hint
            guess = _reference_guess(str(exc))
            if guess:
                hint = f"did you mean '{guess}'?"
            self.error("E201", f"invalid expression: {exc}", self.point(node, exc.column - 1), hint)
            return Literal(INVALID)
        self.expressions[text] = expr
        return expr

    def ref_spans(self, node: Node) -> list[Span]:
        """The span of each reference in a scalar's `${{ }}` pieces, in source order.

        Linear in the scalar's length: a quoted scalar's source columns are mapped once, not
        once per reference (200 repeats of a reference once took 25 s to report).
        """
        if not isinstance(node, ScalarNode) or "${{" not in node.value:
            return []
        text = node.value
        ranges: list[tuple[int, int]] = []
        for piece in split_template(text):
            if not isinstance(piece, TemplatePiece):
                continue
            try:
                found = refs(parse_expr(piece.text))
            except ExprSyntaxError:
                return []
            for ref in found:
                offset = piece.offset + ref.column - 1
                match = REFERENCE_TEXT.match(text, offset)
                ranges.append((offset, len(match.group(0)) if match else 1))
        columns = self._quoted_columns(node)
        if columns is None:  # plain or multi-line scalars: `point` is O(1) for them
            return [self.point(node, offset, length) for offset, length in ranges]
        line = node.start_mark.line + 1
        return [
            Span(self.file, line, columns[offset], line, columns[min(offset + length, len(columns)) - 1] + 1)
            if offset < len(columns) else self.span(node)
            for offset, length in ranges
        ]

    def _quoted_columns(self, node: ScalarNode) -> list[int] | None:
        """The source column of each character of a one-line quoted scalar (as `point` computes
        them one at a time), or None for other scalars."""
        start, end = node.start_mark, node.end_mark
        if node.style not in ("'", '"') or start.line != end.line or start.line >= len(self.lines):
            return None
        mapping = _quoted_offsets(self.lines[start.line][start.column + 1 : end.column - 1], node.style)
        if len(mapping) != len(node.value) + 1:
            return None
        return [start.column + 2 + m for m in mapping[:-1]]


class _Spans(Mapping[str, Span]):
    """`Task.spans` of a YAML task, computed from the YAML nodes on first lookup.

    Diagnostics need a handful of spans; a 10,000-task spec has a hundred thousand keys. Keeping
    the nodes and building a Span only when asked keeps the clean path fast. Keys are value
    paths ('retries', 'inputs.n', ...) plus 'PATH@K' for the K-th reference inside PATH's value.
    A task key points at the `anchor` of its entry in `task_keys`, unless a reader recorded a
    node for it in `nodes`.
    """

    def __init__(self, reader: _Reader, keys: Mapping[str, Entry]):
        self.reader = reader
        self.task_keys = keys
        self.nodes: dict[str, Node] = {}
        self.refs_at: dict[str, list[Span]] = {}  # key -> its references' spans, computed once

    def ref_spans(self, key: str) -> list[Span]:
        spans = self.refs_at.get(key)
        if spans is None:
            spans = self.refs_at[key] = self.reader.ref_spans(self.node(key))
        return spans

    def node(self, key: str) -> Node:
        node = self.nodes.get(key)
        return node if node is not None else anchor(self.task_keys[key])

    def __getitem__(self, key: str) -> Span:
        base, at, index = key.partition("@")
        node = self.node(base)
        if not at:
            return self.reader.span(node)
        spans = self.ref_spans(base)
        if not index.isdigit() or int(index) >= len(spans):
            raise KeyError(key)
        return spans[int(index)]

    def __iter__(self) -> Iterator[str]:
        for key in [*self.task_keys, *(k for k in self.nodes if k not in self.task_keys)]:
            yield key
            yield from (f"{key}@{i}" for i in range(len(self.ref_spans(key))))

    def __len__(self) -> int:
        return sum(1 for _ in self)


_FieldReader = Callable[[_Reader, Entry, _Spans], Any]

_TASK_FIELDS: tuple[tuple[str, str, _FieldReader], ...] = (
    ("python", "python", lambda reader, entry, spans: reader.python_ref(entry)),
    ("container", "container", _Reader.container),
    ("image", "image", lambda reader, entry, spans: reader.image(entry)),
    ("when", "when", lambda reader, entry, spans: reader.value_expr(entry, spans, "when")[0]),
    ("foreach", "foreach", lambda reader, entry, spans: reader.value_expr(entry, spans, "foreach")[0]),
    ("inputs", "inputs", _Reader.task_inputs),
    ("outputs", "outputs", _Reader.task_outputs),
    ("after", "after", _Reader.after),
    ("retries", "retry", lambda reader, entry, spans: reader.retries(entry, spans.nodes)),
    ("interruptible", "interruptible", lambda reader, entry, spans: reader.interruptible(entry)),
    ("checkpoint", "checkpoint", lambda reader, entry, spans: reader.checkpoint(entry)),
    ("resources", "resources", lambda reader, entry, spans: reader.resources(entry, spans.nodes)),
    ("timeout", "timeout_s", lambda reader, entry, spans: reader.duration(entry, positive=True)),
    ("cache", "cache", lambda reader, entry, spans: reader.cache(entry)),
    ("env", "env", lambda reader, entry, spans: reader.env(entry, spans.nodes)),
    ("secrets", "secrets", lambda reader, entry, spans: reader.secrets(entry, spans.nodes)),
)
"""Task key -> Task field and its reader, in the order a task is read (diagnostics follow it)."""
_TASK_FIELD_INDEX = {key: index for index, (key, _, _) in enumerate(_TASK_FIELDS)}
assert _TASK_FIELD_INDEX.keys() == set(TASK_KEYS)  # `task` reads every key a task may have


# ---------------------------------------------------------------------------- helpers

_BLANK_TASK = Task("")
"""Every key at its default: `task()` builds each task from it with the keys the spec sets."""

INVALID_REF = "<invalid>"
"""Stands in for a python/image string that was already reported, so no 'missing' noise follows."""


def _show(value: object) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 40 else text[:37] + "..."


def _freeze(value: Any) -> Any:
    """Lists become tuples (as ir.from_json does), so Literals are hashable and round-trip."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _has_template(node: Node) -> bool:
    stack = [node]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ScalarNode):
            if resolved_tag(current) == STR_TAG and "${{" in current.value:
                return True
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, MappingNode):
            stack.extend(v for _, v in current.value)
    return False


def _is_declaration(node: Node) -> bool:
    """`{type: T, value: V}` declares an input's type; any other mapping is a literal dict."""
    if not isinstance(node, MappingNode):
        return False
    keys = {k.value for k, _ in node.value if isinstance(k, ScalarNode)}
    return "type" in keys and keys <= {"type", "value"}


def _reference_guess(message: str) -> str | None:
    match = re.match(r"unknown reference '([^']*)'", message)
    return did_you_mean(match.group(1), ("inputs", "tasks", "item")) if match else None


# ------------------------------------------------------------------------------ labels

def _label_text(value: object) -> str:
    return word(value)


def _label_problem(text: str, what: str) -> str | None:
    return label_key_problem(text) if what == "key" else label_value_problem(text)


__all__ = [
    "API_VERSION", "BACKOFF_KEYS", "CONTAINER_KEYS", "DEFAULTABLE_KEYS", "INPUT_KEYS", "KIND", "METADATA_KEYS",
    "RESOURCE_KEYS", "RETRY_KEYS", "SECRET_KEYS", "SPEC_KEYS", "TASK_KEYS", "TOP_KEYS",
    "compile_yaml_file", "compile_yaml_text",
]
