"""Reading YAML safely: text -> a node tree with source marks, and typed getters over it.

The file is read with `yaml.compose` (libyaml's C composer when present), which gives a tree of
nodes with source marks and constructs no Python objects at all, so a `!!python/object` tag is a
diagnostic and never code. Nesting is bounded before libyaml recurses in C, aliases are bounded
while values are read ('billion laughs'), and duplicate keys are reported, not silently merged.

`NodeReader` holds the small typed getters every part of the front end uses (packaging's pylock
style): each either returns a value or reports why not, with the node's span and a dotted path
like `spec.tasks.train.retries`, and the walk carries on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ...core.diagnostics import Diagnostics, Span, did_you_mean

_CORE = "tag:yaml.org,2002:"
STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG, NULL_TAG = (_CORE + t for t in ("str", "int", "float", "bool", "null"))
MAP_TAG, SEQ_TAG, MERGE_TAG, TIMESTAMP_TAG = (_CORE + t for t in ("map", "seq", "merge", "timestamp"))
_ALLOWED_TAGS = frozenset({STR_TAG, INT_TAG, FLOAT_TAG, BOOL_TAG, NULL_TAG, MAP_TAG, SEQ_TAG, MERGE_TAG, TIMESTAMP_TAG})

_VALUE_BUDGET = 1_000_000
"""Most YAML nodes one spec may expand to through aliases (a 'billion laughs' guard)."""

_new = object.__new__

MISSING = object()
"""Returned by a getter whose value was reported (and so must not be used)."""

_MAIN_STACK_LEVELS = 10_000
"""Nesting libyaml's composer can take on the main thread. It recurses in C (about 500 bytes of
stack per level, measured), so a hostile file nested 50,000 deep would crash the interpreter."""
_STACK_PER_LEVEL = 1024
"""C stack one nesting level may take in libyaml's composer, with a 2x margin."""
_DEFAULT_THREAD_STACK = 8 << 20
"""A new thread's stack when nobody set one (Linux's usual RLIMIT_STACK)."""
LITERAL_DEPTH = 64
"""Deepest literal value (lists in lists...) a spec may hold; keeps every later walk recursion-safe."""

_OPENER_RUN = re.compile(r"[\[{](?:\s*[\[{]){255}")  # 256 openers; this spelling scans 4x faster


@lru_cache(maxsize=1)
def _loader() -> type:
    """libyaml's C composer when it is installed (several times faster on big specs), with the
    base resolver: plain scalars stay untyped until `resolved_tag` resolves the few the spec reads."""
    return getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class _TooDeep(Exception):
    def __init__(self, depth: int):
        super().__init__(depth)
        self.depth = depth


def _compose(text: str) -> Node | None:
    """`yaml.compose` that cannot overflow the C stack, whatever the input.

    Every nesting level needs one of `[ { - : ?`, so their count bounds the depth. Ordinary
    specs are composed directly. Bigger ones are composed on a thread of their own, whose stack
    is whatever the process gives new threads: the CLI raises that while it compiles
    (`tether.commands.check.compiling`), since a library call must not flip process-wide switches. Only when
    the bound exceeds what that stack holds is the exact depth measured from the event stream
    (no recursion), and a document deeper than the stack is refused as a diagnostic.
    """
    bound = sum(text.count(c) for c in "[{-:?") + 1
    if bound <= _MAIN_STACK_LEVELS:
        return yaml.compose(text, Loader=_loader())
    run = _OPENER_RUN.search(text)  # libyaml is quadratic in flow depth: refuse the cheap attack fast
    if run is not None:
        raise _TooDeep(run.group(0).count("[") + run.group(0).count("{"))
    import threading

    levels = (threading.stack_size() or _DEFAULT_THREAD_STACK) // _STACK_PER_LEVEL
    if bound > levels:
        _nesting_depth(text, levels)  # raises _TooDeep past what the thread's stack holds
    outcome: list[Any] = []

    def compose() -> None:
        try:
            outcome.append((True, yaml.compose(text, Loader=_loader())))
        except BaseException as exc:  # handed to the calling thread below
            outcome.append((False, exc))

    worker = threading.Thread(target=compose, name="tether-yaml-compose", daemon=True)
    worker.start()
    worker.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


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


@dataclass(slots=True)
class Entry:
    """One `key: value` of a mapping, with the dotted path used in messages.

    `merged` holds sub-entries when `defaults` and a task both give a mapping for this key.
    """

    key: Node
    value: Node
    path: str
    merged: dict[str, "Entry"] | None = None


ScalarValue = Union[str, int, float, bool, None, "list[Any]", "dict[str, Any]"]


class NodeReader:
    """Typed getters over one spec's nodes; every problem is reported once into `diags`."""

    def __init__(self, text: str, filename: str, diags: Diagnostics):
        self.text = text
        self.file = filename
        self.diags = diags
        self.lines = text.splitlines()
        self.bad_nodes: set[int] = set()  # ids of nodes already reported (bad tags)
        self.reported: set[tuple[str, str, Span | None]] = set()
        self.budget = _VALUE_BUDGET

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
        # Span(...) without the frozen dataclass's __init__ (an object.__setattr__ per field):
        # twice as fast, and every task, input and output gets a span.
        span = _new(Span)
        fields = span.__dict__
        fields["file"] = self.file
        fields["line"] = start.line + 1
        fields["col"] = start.column + 1
        fields["end_line"] = end.line + 1
        fields["end_col"] = end.column + 1
        return span

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
            if mark is not None and _tab_before(self.text, mark.line, mark.column):
                problem, hint = "a tab in the indentation", "YAML indents with spaces, never tabs: replace the tab with spaces"
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

    def entries(self, node: Node, path: str, allowed: tuple[str, ...] | None, where: str | None = None) -> dict[str, Entry]:
        """The keys of a mapping node (first of duplicates wins; merge keys `<<` applied).

        `where` names the mapping in messages; by default its quoted path, built only when needed.
        """
        result: dict[str, Entry] = {}
        merged: list[tuple[Node, Node]] = []
        prefix = f"{path}." if path else ""
        bad = self.bad_nodes
        for key, value in node.value:
            if bad and id(key) in bad:
                continue
            name = key.value
            if name == "<<" and resolved_tag(key) == MERGE_TAG:  # is_merge, inlined: this runs for every key
                merged.extend(self.merge_sources(value))
                continue
            if not isinstance(key, ScalarNode):
                named = where or f"'{path}'"
                self.error("E109", f"keys in {named} must be strings, not {describe(key)}", self.span(key))
                continue
            if name in result:
                self.duplicate(key, result[name].key)
            elif allowed is not None and name not in allowed:
                self.unknown_key(key, name, allowed, where or f"'{path}'")
            else:
                result[name] = Entry(key, value, prefix + name)
        for key, value in merged:  # explicit keys win over merged ones, as in YAML 1.1
            if isinstance(key, ScalarNode) and key.value not in result:
                if allowed is not None and key.value not in allowed:
                    self.unknown_key(key, key.value, allowed, where or f"'{path}'")
                    continue
                result[key.value] = Entry(key, value, f"{path}.{key.value}" if path else key.value)
        return result

    def merge_sources(self, value: Node) -> list[tuple[Node, Node]]:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if isinstance(source, MappingNode) and id(source) not in self.bad_nodes:
                pairs.extend((k, v) for k, v in source.value if not is_merge(k))
            else:
                self.error("E109", f"a YAML merge ('<<') needs a mapping, not {describe(source)}", self.span(source))
        return pairs

    def unknown_key(self, key: Node, name: str, allowed: tuple[str, ...], where: str) -> None:
        guess = did_you_mean(name, allowed)
        hint = f"did you mean '{guess}'?" if guess else "allowed keys: " + ", ".join(allowed)
        self.error("E107", f"unknown key '{name}' in {where}", self.span(key), hint)

    def sub(self, entry: Entry, allowed: tuple[str, ...] | None, where: str | None = None) -> dict[str, Entry] | None:
        """The entries of a mapping-valued entry, or None (reported) when it is not a mapping."""
        if entry.merged is not None:
            return entry.merged
        if not self.expect(entry, MappingNode, "a mapping"):
            return None
        return self.entries(entry.value, entry.path, allowed, where)

    def expect(self, entry: Entry, kind: type, what: str, hint: str | None = None) -> bool:
        if id(entry.value) in self.bad_nodes:
            return False
        if isinstance(entry.value, kind):
            return True
        self.error("E109", f"'{entry.path}' must be {what}, not {describe(entry.value)}", self.span(entry.value), hint)
        return False

    def scalar(self, entry: Entry) -> Any:
        """A scalar entry's value (str, int, float, bool or None), or MISSING (reported)."""
        if id(entry.value) in self.bad_nodes:
            return MISSING
        if not isinstance(entry.value, ScalarNode):
            self.error("E109", f"'{entry.path}' must be a single value, not {describe(entry.value)}", self.span(entry.value))
            return MISSING
        try:
            return scalar_value(entry.value)
        except ValueError as exc:
            self.error("E109", f"'{entry.path}': {exc}", self.span(entry.value))
            return MISSING

    def string(self, entry: Entry, hint: str | None = None) -> Any:
        value = self.scalar(entry)
        if value is MISSING:
            return MISSING
        if not isinstance(value, str):
            self.error("E109", f"'{entry.path}' must be a string, not {describe(entry.value)}", self.span(entry.value), hint)
            return MISSING
        return value

    def count(self, entry: Entry, minimum: int, default: int) -> int:
        """A whole number >= minimum; anything else is reported and `default` is used."""
        value = self.scalar(entry)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error("E109", f"'{entry.path}' must be a whole number, not {describe(entry.value)}", self.span(entry.value))
            return default
        if value < minimum:
            need = "0 or more" if minimum == 0 else f"{minimum} or more"
            self.error("E113", f"'{entry.path}' must be {need}, not {value}", self.span(entry.value))
            return default
        return value

    def plain(self, node: Node, path: str, active: frozenset[int] = frozenset()) -> Any:
        """A literal value (JSON-like) from any node; MISSING when something in it was reported."""
        if id(node) in self.bad_nodes:
            return MISSING
        if len(active) >= LITERAL_DEPTH:
            self.error("E109", f"'{path}' is nested more than {LITERAL_DEPTH} levels deep", self.span(node))
            return MISSING
        self.budget -= 1
        if self.budget < 0:
            if self.budget == -1:
                self.error("E102", "invalid YAML: aliases expand to too many values", self.span(node), "avoid nesting aliases of aliases")
            return MISSING
        if isinstance(node, ScalarNode):
            try:
                return scalar_value(node)
            except ValueError as exc:
                self.error("E109", f"'{path}': {exc}", self.span(node))
                return MISSING
        if id(node) in active:
            self.error("E109", f"'{path}' contains itself through a YAML alias", self.span(node))
            return MISSING
        inner = active | {id(node)}
        if isinstance(node, SequenceNode):
            items = [self.plain(item, f"{path}[{i}]", inner) for i, item in enumerate(node.value)]
            return MISSING if any(item is MISSING for item in items) else items
        result: dict[str, Any] = {}
        keys: dict[str, Node] = {}
        broken = False
        explicit = [(k, v) for k, v in node.value if not is_merge(k)]
        merged = [pair for k, v in node.value if is_merge(k) for pair in self.merge_sources(v)]
        for k, v in explicit + merged:
            if not isinstance(k, ScalarNode) or id(k) in self.bad_nodes:
                if id(k) not in self.bad_nodes:
                    self.error("E109", f"keys in '{path}' must be strings, not {describe(k)}", self.span(k))
                broken = True
                continue
            if k.value in keys:
                if (k, v) in explicit:  # a merged key that an explicit one overrides is fine
                    self.duplicate(k, keys[k.value])
                continue
            keys[k.value] = k
            item = self.plain(v, f"{path}.{k.value}", inner)
            broken = broken or item is MISSING
            result[k.value] = item
        return MISSING if broken else result


_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


def anchor(entry: Entry) -> Node:
    """What a diagnostic about an entry points at: the value, or the key when the value is a
    block (indented lines below the key), whose first line would be some inner key instead."""
    value = entry.value
    if isinstance(value, (MappingNode, SequenceNode)) and not value.flow_style and value.value:
        return entry.key
    return value


def resolved_tag(node: Node) -> str:
    """A node's tag, with a plain scalar's implicit type (int, bool, null, merge...) resolved by
    YAML 1.1's rules (the tables of PyYAML's Resolver), the first time it is asked for."""
    tag = node.tag
    if tag != STR_TAG or node.style not in (None, "") or not isinstance(node, ScalarNode):
        return tag
    resolved = _implicit_tag(node.value)
    if resolved != STR_TAG:
        node.tag = resolved  # later calls return at the first test
    return resolved


@lru_cache(maxsize=65536)
def _implicit_tag(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar. A plain string stays tagged str, so without this
    cache every later look at it would run the resolver's regular expressions again."""
    for candidate, regexp in _IMPLICIT.get(value[:1] if value else "", []) + _IMPLICIT.get(None, []):
        if regexp.match(value):
            return candidate  # type: ignore[no-any-return]
    return STR_TAG


def is_merge(key: Node) -> bool:
    """A YAML merge key `<<` (the string compare first: this runs for every key of the spec)."""
    return key.value == "<<" and resolved_tag(key) == MERGE_TAG


def scalar_value(node: ScalarNode) -> ScalarValue:
    """A scalar's value by its resolved tag, with PyYAML's own safe scalar rules."""
    tag = resolved_tag(node)
    if tag in (STR_TAG, TIMESTAMP_TAG) or not tag.startswith(_CORE):
        return node.value
    if tag == NULL_TAG:
        return None
    constructor = _constructor()
    try:
        if tag == BOOL_TAG:
            return bool(constructor.construct_yaml_bool(node))
        if tag == INT_TAG:
            return int(constructor.construct_yaml_int(node))
        if tag == FLOAT_TAG:
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


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = resolved_tag(node)
    if tag == NULL_TAG:
        return "null"
    if tag == BOOL_TAG:
        return f"a boolean ({node.value})"
    if tag == INT_TAG:
        return f"a number ({node.value})"
    if tag == FLOAT_TAG:
        return f"a number ({node.value})"
    return f"a string ('{node.value}')" if len(node.value) <= 40 else "a string"


def word(value: object) -> str:
    """A scalar as command-line / env text: YAML booleans as true/false, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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


def _tab_before(text: str, line: int, column: int) -> bool:
    """Is there a tab in the leading white space of 0-based `line`, up to the error's column?"""
    lines = text.splitlines()
    if line >= len(lines):
        return False
    row = lines[line]
    lead = row[: len(row) - len(row.lstrip(" \t"))]
    return "\t" in lead[: column + 1]


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


__all__ = [
    "BOOL_TAG", "FLOAT_TAG", "INT_TAG", "LITERAL_DEPTH", "MERGE_TAG", "MISSING", "NULL_TAG", "STR_TAG", "Entry",
    "NodeReader", "ScalarValue", "anchor", "describe", "is_merge", "resolved_tag", "scalar_value", "word",
]
