"""The YAML front end: a spec file -> an (unvalidated) Workflow, every problem a located diagnostic.

The file is read with `yaml.compose` (libyaml's C composer when present), which gives a tree of
nodes with source marks and constructs no Python objects at all, so a `!!python/object` tag is a
diagnostic and never code. This module then walks the nodes itself with small typed getters
(packaging's pylock style): each getter either returns a value or reports why not, with the
node's span and a dotted path like `spec.tasks.train.retries`, and the walk carries on.

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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Mapping, Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .diagnostics import Diagnostics, Span, did_you_mean
from .expr import Expr, ExprSyntaxError, ListExpr, Literal, TemplatePiece, parse_expr, parse_template, refs, split_template
from .ir import (
    Backoff,
    Binding,
    CachePolicy,
    CheckpointPolicy,
    Container,
    InterruptPolicy,
    Output,
    Resources,
    RetryPolicy,
    Secret,
    Task,
    Workflow,
    WorkflowInput,
    WorkflowOutput,
)
from .quantities import QuantityError, parse_cpu, parse_duration, parse_memory
from .types import Type, TypeSyntaxError, accepts_value, parse_type
from .validate import ERROR_TYPE, INVALID, gc_paused

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
RETRY_KEYS = ("count", "backoff")
BACKOFF_KEYS = ("delay", "factor", "max_delay")
RESOURCE_KEYS = ("cpu", "memory", "gpu")
SECRET_KEYS = ("name", "key", "env")

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_CORE + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE, _TIMESTAMP = (_CORE + t for t in ("map", "seq", "merge", "timestamp"))
_ALLOWED_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _MAP, _SEQ, _MERGE, _TIMESTAMP})
_PYTHON_REF = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
_REF_TEXT = re.compile(r"[A-Za-z0-9_\-]+(?:\s*(?:\.\s*[A-Za-z0-9_\-]+|\[[^\]]*\]))*")
_VALUE_BUDGET = 1_000_000
"""Most YAML nodes one spec may expand to through aliases (a 'billion laughs' guard)."""

_MISSING = object()


@lru_cache(maxsize=1)
def _loader() -> type:
    """libyaml's C composer when it is installed (several times faster on big specs), with the
    base resolver: plain scalars stay untyped until `_tag` resolves the few this module reads."""
    return getattr(yaml, "CBaseLoader", yaml.BaseLoader)


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
    with gc_paused():
        return _Reader(text, filename, diags).workflow()


_MAIN_STACK_LEVELS = 10_000
"""Nesting libyaml's composer can take on the main thread. It recurses in C (about 500 bytes of
stack per level, measured), so a hostile file nested 50,000 deep would crash the interpreter."""
_STACK_PER_LEVEL = 1024
_MAX_STACK = 1 << 30
_LITERAL_DEPTH = 64
"""Deepest literal value (lists in lists...) a spec may hold; keeps every later walk recursion-safe."""


_OPENER_RUN = re.compile(r"[\[{](?:\s*[\[{]){255}")  # 256 openers; this spelling scans 4x faster


class _TooDeep(Exception):
    def __init__(self, depth: int):
        super().__init__(depth)
        self.depth = depth


def _compose(text: str) -> Node | None:
    """`yaml.compose` that cannot overflow the C stack, whatever the input.

    Every nesting level needs one of `[ { - : ?`, so their count bounds the depth. Ordinary
    specs are composed directly; bigger ones on a thread whose stack fits that bound; only if
    the bound exceeds 1 GiB of stack is the exact depth measured from the event stream first.
    """
    bound = sum(text.count(c) for c in "[{-:?") + 1
    if bound <= _MAIN_STACK_LEVELS:
        return yaml.compose(text, Loader=_loader())
    run = _OPENER_RUN.search(text)  # libyaml is quadratic in flow depth: refuse the cheap attack fast
    if run is not None:
        raise _TooDeep(run.group(0).count("[") + run.group(0).count("{"))
    if bound * _STACK_PER_LEVEL > _MAX_STACK:
        depth = _nesting_depth(text, _MAX_STACK // _STACK_PER_LEVEL)
        bound = depth
    return _on_big_stack(lambda: yaml.compose(text, Loader=_loader()), max(bound * _STACK_PER_LEVEL, 32 << 20))


def _nesting_depth(text: str, limit: int) -> int:
    """The deepest nesting of collections, from libyaml's event stream (no recursion)."""
    depth = deepest = 0
    for event in yaml.parse(text, Loader=_loader()):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                raise _TooDeep(deepest)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return deepest


def _on_big_stack(work: Callable[[], Node | None], stack_bytes: int) -> Node | None:
    """Run `work` on a thread with a stack of `stack_bytes` (virtual memory, touched lazily)."""
    import threading

    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the calling thread below
            outcome.append((False, exc))

    previous = threading.stack_size(min(-(-stack_bytes // 4096) * 4096, _MAX_STACK))
    try:
        worker = threading.Thread(target=run, name="tether-yaml-compose", daemon=True)
        worker.start()
    finally:
        threading.stack_size(previous)
    worker.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return,unused-ignore]


# ---------------------------------------------------------------------------- the reader


@dataclass(slots=True)
class _Entry:
    """One `key: value` of a mapping, with the dotted path used in messages.

    `merged` holds sub-entries when `defaults` and a task both give a mapping for this key.
    """

    key: Node
    value: Node
    path: str
    merged: dict[str, "_Entry"] | None = None


_Value = Union[str, int, float, bool, None, "list[Any]", "dict[str, Any]"]


class _Reader:
    def __init__(self, text: str, filename: str, diags: Diagnostics):
        self.text = text
        self.file = filename
        self.diags = diags
        self.lines = text.splitlines()
        self.bad_nodes: set[int] = set()  # ids of nodes already reported (bad tags)
        self.reported: set[tuple[str, str, Span | None]] = set()
        self.budget = _VALUE_BUDGET
        self.defaults_read: dict[str, tuple[Any, dict[str, Node]]] = {}
        """Task key -> (value, spans) of a `defaults` entry, read once for every task inheriting it."""

    # -------------------------------------------------------------- reporting

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        """Report once: a bad value in `defaults` reaches every task but is one mistake."""
        key = (code, message, span)
        if key not in self.reported:
            self.reported.add(key)
            self.diags.error(code, message, span, hint)

    def span(self, node: Node) -> Span:
        start, end = node.start_mark, node.end_mark
        if end.line > start.line and end.column == 0 and isinstance(node, (MappingNode, SequenceNode)):
            return Span(self.file, start.line + 1, start.column + 1, start.line + 1, 0)  # a block: its first line
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def point(self, node: Node, offset: int, length: int = 1) -> Span:
        """The span of characters [offset, offset+length) of a scalar's value, in the source."""
        start = self._column_of(node, offset)
        if start is None:
            return self.span(node)
        end = self._column_of(node, offset + length - 1)
        line = node.start_mark.line + 1
        return Span(self.file, line, start, line, (end if end is not None else start) + 1)

    def _column_of(self, node: Node, offset: int) -> int | None:
        """1-based source column of character `offset` of a one-line scalar's value, or None."""
        if not isinstance(node, ScalarNode) or node.start_mark.line != node.end_mark.line:
            return None
        start, end = node.start_mark.column, node.end_mark.column
        if node.style in (None, ""):
            return start + 1 + offset if offset <= len(node.value) else None
        if node.style not in ("'", '"') or node.start_mark.line >= len(self.lines):
            return None
        raw = self.lines[node.start_mark.line][start + 1 : end - 1]
        mapping = _quoted_offsets(raw, node.style)
        if len(mapping) != len(node.value) + 1 or offset >= len(mapping):
            return None
        return start + 2 + mapping[offset]

    # -------------------------------------------------------------- document

    def workflow(self) -> Workflow | None:
        root = self.compose()
        if root is None:
            return None
        self.scan_tags(root)
        if id(root) in self.bad_nodes:
            return None
        if not isinstance(root, MappingNode):
            self.error(
                "E105", f"the spec must be a mapping of keys, not {_describe(root)}", self.span(root),
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

    def compose(self) -> Node | None:
        try:
            root = _compose(self.text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            span = None
            if mark is not None:
                span = Span(self.file, mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2)
            problem = (exc.problem or exc.context or "invalid YAML").rstrip(".")
            hint = "a spec file holds one YAML document" if "single document" in problem else _syntax_hint(exc)
            self.error("E102", f"invalid YAML: {problem}", span, hint)
            return None
        except yaml.YAMLError as exc:  # reader errors: control characters, bad encodings
            position = getattr(exc, "position", None)
            span = _span_at_index(self.file, self.text, position) if isinstance(position, int) else None
            reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
            self.error("E102", f"invalid YAML: {reason}", span, "remove control characters from the file")
            return None
        except _TooDeep as exc:
            self.error(
                "E102", f"invalid YAML: the document is nested too deeply (at least {exc.depth:,} levels)",
                Span(self.file, 1, 1, 1, 2), "no spec needs more than a few dozen levels",
            )
            return None
        if root is None:
            self.error(
                "E104", "the spec is empty", Span(self.file, 1, 1, 1, 2),
                "a spec starts with 'apiVersion: tether/v1', 'kind: Workflow', 'metadata' and 'spec'",
            )
        return root

    def scan_tags(self, root: Node) -> None:
        """Every node with a tag other than the core schema's is reported and left unread.

        Tags need a '!' in the text, so a spec without one (nearly all) skips the walk.
        """
        if "!" not in self.text:
            return
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.tag not in _ALLOWED_TAGS and not _is_plain_custom(node):
                self.bad_nodes.add(id(node))
                self.error(
                    "E103", f"YAML tag '{_short_tag(node.tag)}' is not allowed", self.span(node),
                    "a spec is plain data: remove the tag (tether never constructs or runs tagged objects)",
                )
            elif isinstance(node, MappingNode):
                for key, value in node.value:
                    stack.append(key)
                    stack.append(value)
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)

    def duplicate(self, key: Node, first: Node) -> None:
        line = first.start_mark.line + 1
        self.error(
            "E106", f"duplicate key '{key.value}'", self.span(key),
            f"'{key.value}' is already defined on line {line}; keep one",
        )

    def check_header(self, top: dict[str, _Entry], anchor: Span) -> None:
        for key, expected, hint in (
            ("apiVersion", API_VERSION, f"this tether reads 'apiVersion: {API_VERSION}'"),
            ("kind", KIND, f"the only kind is '{KIND}'"),
        ):
            entry = top.get(key)
            if entry is None:
                self.error("E108", f"the spec has no '{key}'", anchor, f"add '{key}: {expected}'")
                continue
            value = self.scalar(entry)
            if value is _MISSING:
                continue
            if value != expected:
                self.error("E110", f"unsupported {key} '{value}'", self.span(entry.value), hint)

    # -------------------------------------------------------------- generic getters

    def entries(self, node: Node, path: str, allowed: Iterable[str] | None, where: str) -> dict[str, _Entry]:
        """The keys of a mapping node (first of duplicates wins; merge keys `<<` applied)."""
        result: dict[str, _Entry] = {}
        merged: list[tuple[Node, Node]] = []
        allowed_keys = tuple(allowed) if allowed is not None else None
        prefix = f"{path}." if path else ""
        bad = self.bad_nodes
        for key, value in node.value:
            if bad and id(key) in bad:
                continue
            name = key.value
            if name == "<<" and _tag(key) == _MERGE:  # _is_merge, inlined: this runs for every key
                merged.extend(self.merge_sources(value))
                continue
            if not isinstance(key, ScalarNode):
                self.error("E109", f"keys in {where} must be strings, not {_describe(key)}", self.span(key))
                continue
            if name in result:
                self.duplicate(key, result[name].key)
            elif allowed_keys is not None and name not in allowed_keys:
                self.unknown_key(key, name, allowed_keys, where)
            else:
                result[name] = _Entry(key, value, prefix + name)
        for key, value in merged:  # explicit keys win over merged ones, as in YAML 1.1
            if isinstance(key, ScalarNode) and key.value not in result:
                if allowed_keys is not None and key.value not in allowed_keys:
                    self.unknown_key(key, key.value, allowed_keys, where)
                    continue
                result[key.value] = _Entry(key, value, f"{path}.{key.value}" if path else key.value)
        return result

    def merge_sources(self, value: Node) -> list[tuple[Node, Node]]:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if isinstance(source, MappingNode) and id(source) not in self.bad_nodes:
                pairs.extend((k, v) for k, v in source.value if not _is_merge(k))
            else:
                self.error("E109", f"a YAML merge ('<<') needs a mapping, not {_describe(source)}", self.span(source))
        return pairs

    def unknown_key(self, key: Node, name: str, allowed: tuple[str, ...], where: str) -> None:
        guess = did_you_mean(name, allowed)
        hint = f"did you mean '{guess}'?" if guess else "allowed keys: " + ", ".join(allowed)
        self.error("E107", f"unknown key '{name}' in {where}", self.span(key), hint)

    def sub(self, entry: _Entry, allowed: Iterable[str] | None, where: str) -> dict[str, _Entry] | None:
        """The entries of a mapping-valued entry, or None (reported) when it is not a mapping."""
        if entry.merged is not None:
            return entry.merged
        if not self.expect(entry, MappingNode, "a mapping"):
            return None
        return self.entries(entry.value, entry.path, allowed, where)

    def expect(self, entry: _Entry, kind: type, what: str, hint: str | None = None) -> bool:
        if id(entry.value) in self.bad_nodes:
            return False
        if isinstance(entry.value, kind):
            return True
        self.error("E109", f"'{entry.path}' must be {what}, not {_describe(entry.value)}", self.span(entry.value), hint)
        return False

    def scalar(self, entry: _Entry) -> Any:
        """A scalar entry's value (str, int, float, bool or None), or _MISSING (reported)."""
        if id(entry.value) in self.bad_nodes:
            return _MISSING
        if not isinstance(entry.value, ScalarNode):
            self.error("E109", f"'{entry.path}' must be a single value, not {_describe(entry.value)}", self.span(entry.value))
            return _MISSING
        try:
            return _scalar_value(entry.value)
        except ValueError as exc:
            self.error("E109", f"'{entry.path}': {exc}", self.span(entry.value))
            return _MISSING

    def string(self, entry: _Entry, hint: str | None = None) -> Any:
        value = self.scalar(entry)
        if value is _MISSING:
            return _MISSING
        if not isinstance(value, str):
            self.error("E109", f"'{entry.path}' must be a string, not {_describe(entry.value)}", self.span(entry.value), hint)
            return _MISSING
        return value

    def boolean_or_mapping(self, entry: _Entry, what: str) -> bool | dict[str, _Entry] | None:
        """`true`/`false` or a mapping (for interruptible, checkpoint, cache); None = reported."""
        if entry.merged is not None:
            return entry.merged
        if isinstance(entry.value, ScalarNode) and _tag(entry.value) == _BOOL:
            return bool(_scalar_value(entry.value))
        if isinstance(entry.value, MappingNode) and id(entry.value) not in self.bad_nodes:
            return None  # the caller reads the mapping
        if id(entry.value) not in self.bad_nodes:
            self.error("E109", f"'{entry.path}' must be true, false or {what}, not {_describe(entry.value)}", self.span(entry.value))
        return False

    def count(self, entry: _Entry, minimum: int, default: int) -> int:
        """A whole number >= minimum; anything else is reported and `default` is used."""
        value = self.scalar(entry)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error("E109", f"'{entry.path}' must be a whole number, not {_describe(entry.value)}", self.span(entry.value))
            return default
        if value < minimum:
            need = "0 or more" if minimum == 0 else f"{minimum} or more"
            self.error("E113", f"'{entry.path}' must be {need}, not {value}", self.span(entry.value))
            return default
        return value

    def duration(self, entry: _Entry, positive: bool) -> int | None:
        value = self.scalar(entry)
        if value is _MISSING:
            return None
        try:
            seconds = parse_duration(value)
        except QuantityError as exc:
            self.error("E111", f"'{entry.path}': {exc}", self.span(entry.value), exc.hint)
            return None
        if positive and seconds == 0:
            self.error("E111", f"'{entry.path}' must be longer than 0s", self.span(entry.value), "leave it out for no limit")
            return None
        return seconds

    def plain(self, node: Node, path: str, active: frozenset[int] = frozenset()) -> Any:
        """A literal value (JSON-like) from any node; _MISSING when something in it was reported."""
        if id(node) in self.bad_nodes:
            return _MISSING
        if len(active) >= _LITERAL_DEPTH:
            self.error("E109", f"'{path}' is nested more than {_LITERAL_DEPTH} levels deep", self.span(node))
            return _MISSING
        self.budget -= 1
        if self.budget < 0:
            if self.budget == -1:
                self.error("E102", "invalid YAML: aliases expand to too many values", self.span(node), "avoid nesting aliases of aliases")
            return _MISSING
        if isinstance(node, ScalarNode):
            try:
                return _scalar_value(node)
            except ValueError as exc:
                self.error("E109", f"'{path}': {exc}", self.span(node))
                return _MISSING
        if id(node) in active:
            self.error("E109", f"'{path}' contains itself through a YAML alias", self.span(node))
            return _MISSING
        inner = active | {id(node)}
        if isinstance(node, SequenceNode):
            items = [self.plain(item, f"{path}[{i}]", inner) for i, item in enumerate(node.value)]
            return _MISSING if any(item is _MISSING for item in items) else items
        result: dict[str, Any] = {}
        keys: dict[str, Node] = {}
        broken = False
        explicit = [(k, v) for k, v in node.value if not _is_merge(k)]
        merged = [pair for k, v in node.value if _is_merge(k) for pair in self.merge_sources(v)]
        for k, v in explicit + merged:
            if not isinstance(k, ScalarNode) or id(k) in self.bad_nodes:
                if id(k) not in self.bad_nodes:
                    self.error("E109", f"keys in '{path}' must be strings, not {_describe(k)}", self.span(k))
                broken = True
                continue
            if k.value in keys:
                if (k, v) in explicit:  # a merged key that an explicit one overrides is fine
                    self.duplicate(k, keys[k.value])
                continue
            keys[k.value] = k
            item = self.plain(v, f"{path}.{k.value}", inner)
            broken = broken or item is _MISSING
            result[k.value] = item
        return _MISSING if broken else result

    # -------------------------------------------------------------- metadata and spec

    def workflow_name(self, metadata: dict[str, _Entry] | None, entry: _Entry | None) -> str:
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

    def labels(self, entry: _Entry) -> tuple[tuple[str, str], ...]:
        labels = self.sub(entry, None, "metadata.labels")
        if labels is None:
            return ()
        result = []
        for key, item in labels.items():
            value = self.scalar(item)
            if value is _MISSING:
                continue
            if value is None or not isinstance(value, (str, int, float)):
                self.error("E109", f"'{item.path}' must be a string, not {_describe(item.value)}", self.span(item.value))
                continue
            text = _label_text(value)
            for what, checked, node in (("key", key, item.key), ("value", text, item.value)):
                problem = _label_problem(checked, what)
                if problem:
                    self.error("E403", f"label {what} '{checked}' {problem}", self.span(node), _LABEL_HINT)
            result.append((key, text))
        return tuple(result)

    def schedule(self, entry: _Entry) -> str | None:
        value = self.string(entry, "write a cron schedule like \"0 3 * * *\" (quote it)")
        if value is _MISSING:
            return None
        problem = _cron_problem(value)
        if problem:
            self.error("E114", f"invalid schedule '{value}': {problem}", self.span(entry.value), _CRON_HINT)
            return None
        return " ".join(value.split())

    def workflow_inputs(self, entry: _Entry) -> tuple[WorkflowInput, ...]:
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
                if default is _MISSING:
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

    def workflow_outputs(self, entry: _Entry) -> tuple[WorkflowOutput, ...]:
        outputs = self.sub(entry, None, "spec.outputs")
        if outputs is None:
            return ()
        result = []
        for name, item in outputs.items():
            value, _ = self.value_expr(item, None, "")
            result.append(WorkflowOutput(name, value, None, self.span(item.value)))
        return tuple(result)

    def type_of(self, entry: _Entry) -> Type:
        text = self.string(entry, "write the type as a string, e.g. int or list[str]")
        if text is _MISSING:
            return ERROR_TYPE
        try:
            return parse_type(text)
        except TypeSyntaxError as exc:
            offset = exc.column - 1
            length = max(len(text.rstrip()) - offset, 1)
            self.error("E200", str(exc), self.point(entry.value, offset, length), exc.hint)
            return ERROR_TYPE

    # -------------------------------------------------------------- tasks

    def defaults(self, entry: _Entry) -> dict[str, _Entry]:
        if not self.expect(entry, MappingNode, "a mapping of task keys"):
            return {}
        result: dict[str, _Entry] = {}
        for key, value in entry.value.value:
            if not isinstance(key, ScalarNode) or id(key) in self.bad_nodes:
                continue
            if key.value in DEFAULTABLE_KEYS:
                result.setdefault(key.value, _Entry(key, value, f"spec.defaults.{key.value}"))
            elif key.value in TASK_KEYS:
                self.error(
                    "E107", f"'{key.value}' cannot be a default", self.span(key),
                    "defaults hold policies shared by every task: " + ", ".join(DEFAULTABLE_KEYS),
                )
            else:
                self.unknown_key(key, key.value, DEFAULTABLE_KEYS, "spec.defaults")
        return result

    def tasks(self, entry: _Entry | None, defaults: dict[str, _Entry], spec_entry: _Entry | None) -> tuple[Task, ...]:
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

    def task(self, name: str, entry: _Entry, defaults: dict[str, _Entry]) -> Task:
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
        for key, field_name, read in _TASK_FIELDS:
            item = keys.get(key)
            if item is not None:
                fields[field_name] = self.inherited(key, item, spans, read) if key in inherited else read(self, item, spans)
        return Task(name, span=span, spans=spans, **fields)

    def inherited(self, key: str, entry: _Entry, spans: _Spans, read: _FieldReader) -> Any:
        """A key a task takes unchanged from `defaults` is the same YAML node in every task: read
        it once, then hand each task the same (immutable) value and the spans it recorded."""
        cached = self.defaults_read.get(key)
        if cached is None:
            recorded = _Spans(self, {})
            cached = self.defaults_read[key] = (read(self, entry, recorded), recorded.nodes)
        value, nodes = cached
        spans.nodes.update(nodes)
        return value

    def image(self, entry: _Entry) -> str:
        image = self.string(entry)
        return image if isinstance(image, str) else INVALID_REF

    def merge_default(self, own: _Entry, default: _Entry) -> _Entry:
        """The task's value wins; two mappings merge per sub-key (e.g. resources.memory only)."""
        if (
            own.key.value in MERGED_KEYS
            and isinstance(own.value, MappingNode)
            and isinstance(default.value, MappingNode)
            and id(own.value) not in self.bad_nodes
            and id(default.value) not in self.bad_nodes
        ):
            allowed = _SUB_KEYS.get(own.key.value)
            where = f"'{own.path}'"
            merged = self.entries(default.value, default.path, allowed, f"'{default.path}'")
            merged.update(self.entries(own.value, own.path, allowed, where))
            return _Entry(own.key, own.value, own.path, merged)
        return own

    def python_ref(self, entry: _Entry) -> str:
        value = self.string(entry, "write module:function, e.g. steps:train")
        if value is _MISSING:
            return INVALID_REF
        if not _PYTHON_REF.fullmatch(value):
            hint = "write module:function, e.g. steps:train (the module is found next to the spec)"
            if ":" not in value and "." in value:
                module, _, func = value.rpartition(".")
                hint = f"separate the function with a colon: {module}:{func}"
            self.error("E116", f"invalid python task reference '{value}'", self.span(entry.value), hint)
        return value

    def container(self, entry: _Entry, spans: _Spans) -> Container:
        fields = self.sub(entry, CONTAINER_KEYS, f"'{entry.path}'")
        if fields is None:
            return Container(INVALID_REF)
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
                sub = _Entry(item.key, node, f"{item.path}[{i}]")
                value, _ = self.word_expr(sub, spans, f"container.{key}[{i}]")
                exprs.append(value)
            parts[key] = tuple(exprs)
        return Container(image, parts["command"], parts["args"])

    def word_expr(self, entry: _Entry, spans: _Spans, key: str) -> tuple[Expr, bool]:
        """A command-line word: a string (maybe with `${{ }}`) or a number/bool written bare."""
        spans.nodes[key] = entry.value
        value = self.scalar(entry)
        if value is _MISSING:
            return Literal(INVALID), False
        if isinstance(value, str):
            return self.template(entry.value, value, spans, key), True
        if value is None:
            self.error("E109", f"'{entry.path}' must be a string, not null", self.span(entry.value))
            return Literal(INVALID), False
        return Literal(_word(value)), True

    def task_inputs(self, entry: _Entry, spans: _Spans) -> tuple[Binding, ...]:
        inputs = self.sub(entry, None, f"'{entry.path}'")
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

    def task_outputs(self, entry: _Entry, spans: _Spans) -> tuple[Output, ...]:
        outputs = self.sub(entry, None, f"'{entry.path}'")
        if outputs is None:
            return ()
        result = []
        for name, item in outputs.items():
            spans.nodes[f"outputs.{name}"] = item.value
            result.append(Output(name, self.type_of(item), self.span(item.key)))
        return tuple(result)

    def after(self, entry: _Entry, spans: _Spans) -> tuple[str, ...]:
        nodes: list[Node]
        if isinstance(entry.value, ScalarNode) and _tag(entry.value) == _STR:
            nodes = [entry.value]  # `after: prep` reads as `after: [prep]`
        elif self.expect(entry, SequenceNode, "a list of task names", "after: [task-a, task-b]"):
            nodes = list(entry.value.value)
        else:
            return ()
        names = []
        for i, node in enumerate(nodes):
            sub = _Entry(entry.key, node, f"{entry.path}[{i}]")
            name = self.string(sub)
            if isinstance(name, str):
                spans.nodes[f"after[{i}]"] = node
                names.append(name)
        return tuple(dict.fromkeys(names))

    def retries(self, entry: _Entry, spans: _Spans) -> RetryPolicy:
        if isinstance(entry.value, ScalarNode) and entry.merged is None:
            return RetryPolicy(self.count(entry, 0, 0))
        fields = self.sub(entry, RETRY_KEYS, f"'{entry.path}'")
        if fields is None:
            return RetryPolicy()
        count = 0
        if "count" in fields:
            count = self.count(fields["count"], 0, 0)
            spans.nodes["retries.count"] = fields["count"].value
        else:  # `retries: {}` or only a backoff: no unambiguous number of retries
            self.error(
                "E108", f"'{entry.path}' has no 'count'", self.span(entry.key),
                "add 'count: N', the retries after the first attempt (or write 'retries: N')",
            )
        backoff = self.backoff(fields["backoff"]) if "backoff" in fields else None
        return RetryPolicy(count, backoff)

    def backoff(self, entry: _Entry) -> Backoff | None:
        fields = self.sub(entry, BACKOFF_KEYS, f"'{entry.path}'")
        if fields is None:
            return None
        if "delay" not in fields:
            self.error("E108", f"'{entry.path}' has no 'delay'", self.span(entry.key), "add 'delay: 30s'")
            return None
        delay = self.duration(fields["delay"], positive=False)
        factor = 2.0
        if "factor" in fields:
            value = self.scalar(fields["factor"])
            if value is not _MISSING:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    self.error("E109", f"'{fields['factor'].path}' must be a number, not {_describe(fields['factor'].value)}", self.span(fields["factor"].value))
                elif not 1 <= value < float("inf"):
                    self.error("E113", f"'{fields['factor'].path}' must be 1 or more, not {value}", self.span(fields["factor"].value), "1 keeps the delay constant; 2 doubles it")
                else:
                    factor = float(value)
        max_delay = self.duration(fields["max_delay"], positive=False) if "max_delay" in fields else None
        if delay is None:
            return None
        return Backoff(delay, factor, max_delay)

    def interruptible(self, entry: _Entry) -> InterruptPolicy | None:
        flag = self.boolean_or_mapping(entry, "{max_interruptions: N}")
        if flag is True:
            return InterruptPolicy()
        if flag is False:
            return None
        fields = flag if isinstance(flag, dict) else self.entries(entry.value, entry.path, ("max_interruptions",), f"'{entry.path}'")
        if "max_interruptions" not in fields:
            return InterruptPolicy()
        return InterruptPolicy(self.count(fields["max_interruptions"], 0, InterruptPolicy().max_interruptions))

    def checkpoint(self, entry: _Entry) -> CheckpointPolicy | None:
        flag = self.boolean_or_mapping(entry, "{keep: N}")
        if flag is True:
            return CheckpointPolicy()
        if flag is False:
            return None
        fields = flag if isinstance(flag, dict) else self.entries(entry.value, entry.path, ("keep",), f"'{entry.path}'")
        if "keep" not in fields:
            return CheckpointPolicy()
        return CheckpointPolicy(self.count(fields["keep"], 1, CheckpointPolicy().keep))

    def cache(self, entry: _Entry) -> CachePolicy | None:
        flag = self.boolean_or_mapping(entry, "{version: \"1\"}")
        if flag is True:
            return CachePolicy()
        if flag is False:
            return None
        fields = flag if isinstance(flag, dict) else self.entries(entry.value, entry.path, ("version",), f"'{entry.path}'")
        if "version" not in fields:
            return CachePolicy()
        version = self.scalar(fields["version"])
        if version is _MISSING or version is None or isinstance(version, bool):
            if version is not _MISSING:
                self.error("E109", f"'{fields['version'].path}' must be a string, not {_describe(fields['version'].value)}", self.span(fields["version"].value))
            return CachePolicy()
        return CachePolicy(_word(version))

    def resources(self, entry: _Entry, spans: _Spans) -> Resources:
        fields = self.sub(entry, RESOURCE_KEYS, f"'{entry.path}'")
        if fields is None:
            return Resources()
        values: dict[str, Any] = {}
        for key, parse, field_name in (("cpu", parse_cpu, "cpu_millicores"), ("memory", parse_memory, "memory_bytes")):
            if key not in fields:
                continue
            spans.nodes[f"resources.{key}"] = fields[key].value
            value = self.scalar(fields[key])
            if value is _MISSING:
                continue
            try:
                values[field_name] = parse(value)
            except QuantityError as exc:
                self.error("E112", f"'{fields[key].path}': {exc}", self.span(fields[key].value), exc.hint)
        if "gpu" in fields:
            spans.nodes["resources.gpu"] = fields["gpu"].value
            values["gpu"] = self.count(fields["gpu"], 0, 0)
        return Resources(**values)

    def env(self, entry: _Entry, spans: _Spans) -> tuple[tuple[str, str], ...]:
        fields = self.sub(entry, None, f"'{entry.path}'")
        if fields is None:
            return ()
        result = []
        for name, item in fields.items():
            spans.nodes[f"env.{name}"] = item.key
            value = self.scalar(item)
            if value is _MISSING:
                continue
            if value is None:
                self.error("E109", f"'{item.path}' must be a string, not null", self.span(item.value), 'write an empty string as ""')
                continue
            text = _word(value)
            if "${{" in text:
                self.error(
                    "E201", f"'{item.path}': expressions are not allowed in env values", self.span(item.value),
                    "pass data through the task's inputs; env holds constant settings",
                )
                continue
            result.append((name, text))
        return tuple(result)

    def secrets(self, entry: _Entry, spans: _Spans) -> tuple[Secret, ...]:
        if not self.expect(entry, SequenceNode, "a list of {name, key, env}"):
            return ()
        result = []
        for i, node in enumerate(entry.value.value):
            item = _Entry(entry.key, node, f"{entry.path}[{i}]")
            fields = self.sub(item, SECRET_KEYS, f"'{item.path}'")
            if fields is None:
                continue
            missing = [k for k in SECRET_KEYS if k not in fields]
            if missing:
                self.error(
                    "E108", f"'{item.path}' has no '{missing[0]}'", self.span(node),
                    "a secret is {name: STORE-NAME, key: KEY, env: ENV_VAR}",
                )
                continue
            values = [self.string(fields[k]) for k in SECRET_KEYS]
            for k, value in zip(SECRET_KEYS[:2], values):  # an empty `env` is E402, from validation
                if value == "":
                    self.error(
                        "E109", f"'{fields[k].path}' must not be empty", self.span(fields[k].value),
                        "a secret is {name: STORE-NAME, key: KEY, env: ENV_VAR}",
                    )
                    values[0] = _MISSING
            if all(isinstance(v, str) for v in values):
                spans.nodes[f"secrets[{len(result)}]"] = fields["env"].value  # Task.secrets' index
                result.append(Secret(*values))
        return tuple(result)

    # -------------------------------------------------------------- values and expressions

    def value_expr(self, entry: _Entry, spans: _Spans | None, key: str) -> tuple[Expr, bool]:
        """A binding value: a literal, a `${{ }}` string, or a list of either. (expr, ok)."""
        if spans is not None:
            spans.nodes[key] = entry.value
        node = entry.value
        if isinstance(node, ScalarNode) and id(node) not in self.bad_nodes:
            value = self.scalar(entry)
            if value is _MISSING:
                return Literal(INVALID), False
            if isinstance(value, str):
                return self.template(node, value, spans, key), True
            return Literal(value), True
        if isinstance(node, SequenceNode) and id(node) not in self.bad_nodes and _has_template(node):
            if key.count("[") >= _LITERAL_DEPTH:
                self.error("E109", f"'{entry.path}' is nested more than {_LITERAL_DEPTH} levels deep", self.span(node))
                return Literal(INVALID), False
            items = []
            for i, child in enumerate(node.value):
                sub = _Entry(entry.key, child, f"{entry.path}[{i}]")
                item, ok = self.value_expr(sub, spans, f"{key}[{i}]")
                if not ok:
                    return Literal(INVALID), False
                items.append(item)
            return ListExpr(tuple(items)), True
        value = self.plain(node, entry.path)
        if value is _MISSING:
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
        return expr

    def ref_spans(self, node: Node) -> list[Span]:
        """The span of each reference in a scalar's `${{ }}` pieces, in source order."""
        if not isinstance(node, ScalarNode) or "${{" not in node.value:
            return []
        text = node.value
        spans = []
        for piece in split_template(text):
            if not isinstance(piece, TemplatePiece):
                continue
            try:
                found = refs(parse_expr(piece.text))
            except ExprSyntaxError:
                return []
            for ref in found:
                offset = piece.offset + ref.column - 1
                match = _REF_TEXT.match(text, offset)
                spans.append(self.point(node, offset, len(match.group(0)) if match else 1))
        return spans


class _Spans(Mapping[str, Span]):
    """`Task.spans` of a YAML task, computed from the YAML nodes on first lookup.

    Diagnostics need a handful of spans; a 10,000-task spec has a hundred thousand keys. Keeping
    the nodes and building a Span only when asked keeps the clean path fast. Keys are value
    paths ('retries', 'inputs.n', ...) plus 'PATH@K' for the K-th reference inside PATH's value.
    A task key points at its `_anchor` unless a reader recorded a node for it in `nodes`.
    """

    def __init__(self, reader: _Reader, keys: Mapping[str, _Entry]):
        self.reader = reader
        self.keys = keys
        self.nodes: dict[str, Node] = {}

    def node(self, key: str) -> Node:
        node = self.nodes.get(key)
        return node if node is not None else _anchor(self.keys[key])

    def __getitem__(self, key: str) -> Span:
        base, at, index = key.partition("@")
        node = self.node(base)
        if not at:
            return self.reader.span(node)
        spans = self.reader.ref_spans(node)
        if not index.isdigit() or int(index) >= len(spans):
            raise KeyError(key)
        return spans[int(index)]

    def __iter__(self) -> Iterator[str]:
        for key in [*self.keys, *(k for k in self.nodes if k not in self.keys)]:
            yield key
            yield from (f"{key}@{i}" for i in range(len(self.reader.ref_spans(self.node(key)))))

    def __len__(self) -> int:
        return sum(1 for _ in self)


_FieldReader = Callable[[_Reader, _Entry, _Spans], Any]

_TASK_FIELDS: tuple[tuple[str, str, _FieldReader], ...] = (
    ("python", "python", lambda reader, entry, spans: reader.python_ref(entry)),
    ("container", "container", _Reader.container),
    ("image", "image", lambda reader, entry, spans: reader.image(entry)),
    ("when", "when", lambda reader, entry, spans: reader.value_expr(entry, spans, "when")[0]),
    ("foreach", "foreach", lambda reader, entry, spans: reader.value_expr(entry, spans, "foreach")[0]),
    ("inputs", "inputs", _Reader.task_inputs),
    ("outputs", "outputs", _Reader.task_outputs),
    ("after", "after", _Reader.after),
    ("retries", "retry", _Reader.retries),
    ("interruptible", "interruptible", lambda reader, entry, spans: reader.interruptible(entry)),
    ("checkpoint", "checkpoint", lambda reader, entry, spans: reader.checkpoint(entry)),
    ("resources", "resources", _Reader.resources),
    ("timeout", "timeout_s", lambda reader, entry, spans: reader.duration(entry, positive=True)),
    ("cache", "cache", lambda reader, entry, spans: reader.cache(entry)),
    ("env", "env", _Reader.env),
    ("secrets", "secrets", _Reader.secrets),
)
"""Task key -> Task field and its reader, in the order a task is read (diagnostics follow it)."""


# ---------------------------------------------------------------------------- helpers

INVALID_REF = "<invalid>"
"""Stands in for a python/image string that was already reported, so no 'missing' noise follows."""

_SUB_KEYS: dict[str, tuple[str, ...] | None] = {
    "resources": RESOURCE_KEYS,
    "env": None,
    "retries": RETRY_KEYS,
    "interruptible": ("max_interruptions",),
    "checkpoint": ("keep",),
    "cache": ("version",),
}


_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


def _anchor(entry: _Entry) -> Node:
    """What a diagnostic about an entry points at: the value, or the key when the value is a
    block (indented lines below the key), whose first line would be some inner key instead."""
    value = entry.value
    if isinstance(value, (MappingNode, SequenceNode)) and not value.flow_style and value.value:
        return entry.key
    return value


def _tag(node: Node) -> str:
    """A node's tag, with a plain scalar's implicit type (int, bool, null, merge...) resolved by
    YAML 1.1's rules (the tables of PyYAML's Resolver), the first time it is asked for."""
    tag = node.tag
    if tag != _STR or node.style not in (None, "") or not isinstance(node, ScalarNode):
        return tag
    resolved = _implicit_tag(node.value)
    if resolved != _STR:
        node.tag = resolved  # later calls return at the first test
    return resolved


@lru_cache(maxsize=65536)
def _implicit_tag(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar. A plain string stays tagged str, so without this
    cache every later look at it would run the resolver's regular expressions again."""
    for candidate, regexp in _IMPLICIT.get(value[:1] if value else "", []) + _IMPLICIT.get(None, []):
        if regexp.match(value):
            return candidate  # type: ignore[no-any-return]
    return _STR


def _is_merge(key: Node) -> bool:
    """A YAML merge key `<<` (the string compare first: this runs for every key of the spec)."""
    return key.value == "<<" and _tag(key) == _MERGE


def _scalar_value(node: ScalarNode) -> _Value:
    """A scalar's value by its resolved tag, with PyYAML's own safe scalar rules."""
    tag = _tag(node)
    if tag in (_STR, _TIMESTAMP) or not tag.startswith(_CORE):
        return node.value
    if tag == _NULL:
        return None
    constructor = _constructor()
    try:
        if tag == _BOOL:
            return bool(constructor.construct_yaml_bool(node))
        if tag == _INT:
            return int(constructor.construct_yaml_int(node))
        if tag == _FLOAT:
            value = float(constructor.construct_yaml_float(node))
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"{node.value!r} is not a finite number")
            return value
    except (ValueError, KeyError, TypeError, yaml.YAMLError):
        raise ValueError(f"{node.value!r} is not a valid {tag[len(_CORE):]}") from None
    return node.value


@lru_cache(maxsize=1)
def _constructor() -> yaml.constructor.SafeConstructor:
    return yaml.constructor.SafeConstructor()


def _is_plain_custom(node: Node) -> bool:
    """Scalars keep the non-specific tag '!' when quoted with an explicit `!`: plain strings."""
    return node.tag == "!" and isinstance(node, ScalarNode)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = _tag(node)
    if tag == _NULL:
        return "null"
    if tag == _BOOL:
        return f"a boolean ({node.value})"
    if tag == _INT:
        return f"a number ({node.value})"
    if tag == _FLOAT:
        return f"a number ({node.value})"
    return f"a string ('{node.value}')" if len(node.value) <= 40 else "a string"


def _show(value: object) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 40 else text[:37] + "..."


def _word(value: object) -> str:
    """A scalar as command-line / env text: YAML booleans as true/false, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
            if _tag(current) == _STR and "${{" in current.value:
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


def _quoted_offsets(raw: str, style: str) -> list[int]:
    """For each character of a quoted scalar's value, its offset in the raw text between quotes."""
    offsets = []
    i = 0
    while i < len(raw):
        offsets.append(i)
        if style == "'" and raw.startswith("''", i):
            i += 2
        elif style == '"' and raw[i] == "\\" and i + 1 < len(raw):
            i += {"x": 4, "u": 6, "U": 10}.get(raw[i + 1], 2)
        else:
            i += 1
    offsets.append(i)
    return offsets


def _span_at_index(filename: str, text: str, index: int) -> Span:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return Span(filename, line, col)


def _syntax_hint(exc: yaml.MarkedYAMLError) -> str | None:
    problem = exc.problem or ""
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted"
    if "found character '\\t'" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        return "inside {...} or [...], quote values that contain ': ' or ', '"
    if "could not find expected ':'" in problem:
        return "each entry of a mapping is 'key: value'"
    if "found undefined alias" in problem:
        return "define the anchor (&name) before using the alias (*name)"
    return None


def _reference_guess(message: str) -> str | None:
    match = re.match(r"unknown reference '([^']*)'", message)
    return did_you_mean(match.group(1), ("inputs", "tasks", "item")) if match else None


# ------------------------------------------------------------- labels and schedules

_LABEL_HINT = "Kubernetes labels: up to 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_LABEL_PREFIX = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")


def _label_text(value: object) -> str:
    return _word(value)


def _label_problem(text: str, what: str) -> str | None:
    if what == "key":
        prefix, slash, name = text.rpartition("/")
        if slash and not _LABEL_PREFIX.fullmatch(prefix):
            return "has an invalid prefix"
        return None if _LABEL_NAME.fullmatch(name) else "is not a valid label name"
    return None if text == "" or _LABEL_NAME.fullmatch(text) else "is not valid"


_CRON_HINT = "five fields 'minute hour day-of-month month day-of-week', e.g. \"0 3 * * *\", or @hourly, @daily, @weekly, @monthly, @yearly"
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    ("day-of-week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)


def _cron_problem(text: str) -> str | None:
    """Why a cron expression is malformed, or None. Checks shape and ranges, as Argo would."""
    stripped = text.strip()
    if stripped.startswith("@"):
        return None if stripped in _CRON_MACROS else f"unknown macro '{stripped}'"
    fields = stripped.split()
    if len(fields) != 5:
        return f"expected 5 fields, found {len(fields)}"
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        for part in value.split(","):
            problem = _cron_part_problem(part, low, high, names)
            if problem:
                return f"{name} field '{value}' {problem}"
    return None


def _cron_part_problem(part: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    base, slash, step = part.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return f"has an invalid step '/{step}'"
    if base in ("*", "?"):
        return None
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        return f"has an invalid range '{base}'"
    numbers = []
    for bound in bounds:
        if bound.upper() in names:
            numbers.append(names.index(bound.upper()) + low)
        elif bound.isdigit():
            numbers.append(int(bound))
        else:
            return f"has an invalid value '{bound}'"
    if any(not low <= n <= high for n in numbers):
        return f"is out of range {low}-{high}"
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        return f"has a backwards range '{base}'"
    return None


__all__ = ["API_VERSION", "KIND", "TASK_KEYS", "compile_yaml_file", "compile_yaml_text"]
