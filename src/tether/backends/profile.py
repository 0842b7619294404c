"""The compile profile: what a spec does not say about where it runs (store, default image,
one typed section per target), read from `--profile FILE`.

A backend declares its section as a frozen dataclass (`Backend.profile_type`); the reader here
fills it from YAML generically by field type, so every backend gets located diagnostics
(file:line:col, did-you-mean) for unknown keys and bad values without writing a parser.
Field types: str, int, float, bool, Literal[...], Enum, Mapping[str, T], list[T], tuple[T, ...],
nested frozen dataclasses, Optional (X | None), and Any (plain data passed through). Field
metadata: `key` (the YAML key, when it differs from the field name), `help`, and `check`: a
function of the value read that returns what is wrong with it (a phrase after the key, e.g. "is
not a lowercase DNS-1123 label") or None, with an optional `hint`, for the rules a type cannot say. A profile type
must be constructible with no arguments: its defaults are what compile uses without a file.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Union

from ..core.diagnostics import Diagnostics, Span, did_you_mean

if TYPE_CHECKING:
    import yaml


def _no_spans() -> dict[str, Span]:
    return {}


def _no_options() -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Profile:
    """Compile-time settings for one target. With no profile file, every field has its default."""

    store: str | None = None
    """Run-store URI the pods use (s3://bucket/prefix)."""
    image: str | None = None
    """Default image for tasks that name none."""
    target: Any = None
    """An instance of the backend's `profile_type` (its defaults when the file has no section)."""
    options: Mapping[str, str] = field(default_factory=_no_options)
    """`-O KEY=VALUE` target options (e.g. kind=template)."""
    path: str | None = field(default=None, compare=False)
    """The profile file, when one was given."""
    spans: Mapping[str, Span] = field(default_factory=_no_spans, compare=False, repr=False, hash=False)
    """Where each key was read ('store', 'argo.namespace', 'argo.nodeSelector.zone'), so a
    backend can locate a diagnostic about a profile value."""

    def span_of(self, key: str) -> Span | None:
        return self.spans.get(key)


TOP_LEVEL_KEYS = ("store", "image")
"""Keys every profile may set; every other top-level key is a target's section."""


def load_profile(
    path: str | None,
    target: str,
    profile_type: type | None,
    diagnostics: Diagnostics,
    options: Mapping[str, str] | None = None,
    sections: Iterable[str] = (),
    text: str | None = None,
) -> Profile:
    """The profile for `target`: read from `path` (None: no file, every default), its `target:`
    section read into `profile_type`. Other targets' sections (`sections`: the known target
    names) are skipped, so one file serves argo and batch; anything else is a located error.
    `text` is the file's content when the caller already read it (for rendering diagnostics)."""
    options = dict(options or {})
    if path is None:
        return Profile(target=_default(profile_type), options=options)
    if text is None:
        try:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
        except (OSError, UnicodeDecodeError) as exc:
            diagnostics.error("E130", f"cannot read profile {path}: {exc}")
            return Profile(target=_default(profile_type), options=options, path=path)
    reader = _Reader(path, diagnostics)
    root = reader.compose(text)
    if root is None:
        return Profile(target=_default(profile_type), options=options, path=path)
    if not reader.is_mapping(root, "the profile", "a mapping with store, image and one section per target"):
        return Profile(target=_default(profile_type), options=options, path=path)
    known = {*TOP_LEVEL_KEYS, *sections, target}
    values: dict[str, Any] = {}
    section: Any = None
    for key_node, value_node in reader.entries(root, ""):
        key = key_node.value
        if key in TOP_LEVEL_KEYS:
            reader.spans[key] = reader.span(value_node)
            value = reader.value(value_node, Union[str, None], key)
            if value is not _NOTHING:
                values[key] = value
        elif key == target:
            reader.spans[key] = reader.span(value_node)
            section = value_node
        elif key not in known:
            reader.unknown(key_node, key, known, "the profile")
    target_value = _default(profile_type)
    if section is not None and profile_type is None:
        diagnostics.error(
            "E131", f"target '{target}' takes no profile section", reader.span(section),
            "remove this section; `store` and `image` go at the top level",
        )
    elif section is not None and not _is_null(section):
        value = reader.value(section, profile_type, target)
        target_value = target_value if value is _NOTHING else value
    return Profile(
        store=values.get("store"), image=values.get("image"), target=target_value,
        options=options, path=path, spans=dict(reader.spans),
    )


def field_key(item: dataclasses.Field[Any]) -> str:
    """The YAML key of a profile field: `metadata["key"]` when given, else the field name."""
    return str(item.metadata.get("key", item.name))


def describe(profile_type: type) -> list[tuple[str, str, Any, str]]:
    """(key, type, default, help) of each field, for a backend's documentation of its defaults."""
    hints = typing.get_type_hints(profile_type)
    out = []
    for item in dataclasses.fields(profile_type):
        if item.default is not dataclasses.MISSING:
            default: Any = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = dataclasses.MISSING
        out.append((field_key(item), _type_text(hints[item.name]), default, str(item.metadata.get("help", ""))))
    return out


def _default(profile_type: type | None) -> Any:
    """The section's defaults; a profile type must be constructible without arguments."""
    return None if profile_type is None else profile_type()


def _is_null(node: yaml.Node) -> bool:
    return node.tag == "tag:yaml.org,2002:null"


_NOTHING = object()
"""A value that was reported as bad: the field keeps its default."""


class _Reader:
    """Reads YAML nodes into typed values, reporting each problem at its node."""

    def __init__(self, path: str, diagnostics: Diagnostics):
        self.path = path
        self.diagnostics = diagnostics
        self.spans: dict[str, Span] = {}

    def compose(self, text: str) -> yaml.Node | None:
        import yaml

        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            span = Span(self.path, mark.line + 1, mark.column + 1) if mark else None
            self.diagnostics.error("E130", f"profile is not valid YAML: {exc.problem or exc}", span)
        except (yaml.YAMLError, RecursionError) as exc:
            self.diagnostics.error("E130", f"profile is not valid YAML: {type(exc).__name__}", Span(self.path, 1, 1))
        return None

    def span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(self.path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def error(self, node: yaml.Node, message: str, hint: str | None = None) -> None:
        self.diagnostics.error("E132", message, self.span(node), hint)

    def is_mapping(self, node: yaml.Node, what: str, expected: str) -> bool:
        import yaml

        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":  # `argo: !foo {...}`: plain data only
                self.error(node, f"{what}: YAML tag '{node.tag}' is not allowed", "a profile is plain data: remove the tag")
                return False
            return True
        self.error(node, f"{what} must be {expected}, not {_node_text(node)}")
        return False

    def entries(self, node: yaml.MappingNode, where: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        """String-keyed entries in file order; duplicate and non-string keys are reported."""
        import yaml

        seen: set[str] = set()
        out = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.error(key_node, f"a key {f'in {where} ' if where else ''}must be a string, not {_node_text(key_node)}")
                continue
            if key_node.value in seen:
                self.error(key_node, f"key '{_join(where, key_node.value)}' is given twice")
                continue
            seen.add(key_node.value)
            out.append((key_node, value_node))
        return out

    def unknown(self, key_node: yaml.Node, key: str, known: Iterable[str], where: str) -> None:
        guess = did_you_mean(key, known)
        hint = f"did you mean '{guess}'?" if guess else "known keys: " + ", ".join(sorted(known))
        self.diagnostics.error("E133", f"unknown key '{key}' in {where}", self.span(key_node), hint)

    def value(self, node: yaml.Node, kind: Any, where: str) -> Any:
        """`node` as a value of type `kind`, or `_NOTHING` after reporting why it is not one."""
        import yaml

        if kind is Any:  # plain data, passed through (e.g. Kubernetes tolerations)
            return yaml.constructor.SafeConstructor().construct_document(node)
        origin = typing.get_origin(kind)
        args = typing.get_args(kind)
        if origin in (Union, types.UnionType):
            if _is_null(node) and type(None) in args:
                return None
            rest = [a for a in args if a is not type(None)]
            return self.value(node, rest[0] if len(rest) == 1 else Union[tuple(rest)], where)  # type: ignore[arg-type]
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            return self.dataclass(node, kind, where)
        if origin in (dict, collections.abc.Mapping) or kind in (dict, Mapping):
            if not self.is_mapping(node, f"'{where}'", "a mapping"):
                return _NOTHING
            value_type = args[1] if len(args) == 2 else str
            out = {}
            for key_node, value_node in self.entries(node, where):
                key = _join(where, key_node.value)
                self.spans[key] = self.span(value_node)
                item = self.value(value_node, value_type, key)
                if item is not _NOTHING:
                    out[key_node.value] = item
            return out
        if origin in (list, tuple) or kind in (list, tuple):
            if not isinstance(node, yaml.SequenceNode):
                self.error(node, f"'{where}' must be a list, not {_node_text(node)}", "write [a, b] or one '- item' per line")
                return _NOTHING
            item_type = args[0] if args else str
            items = []
            for i, item_node in enumerate(node.value):
                item = self.value(item_node, item_type, f"{where}[{i}]")
                if item is not _NOTHING:
                    items.append(item)
            return tuple(items) if origin is tuple or kind is tuple else items
        return self.scalar(node, kind, where)

    def dataclass(self, node: yaml.Node, kind: type, where: str) -> Any:
        if not self.is_mapping(node, f"'{where}'", "a mapping"):
            return _NOTHING
        hints = typing.get_type_hints(kind)
        by_key = {field_key(f): f for f in dataclasses.fields(kind) if f.init}
        values: dict[str, Any] = {}
        for key_node, value_node in self.entries(node, where):
            item = by_key.get(key_node.value)
            if item is None:
                self.unknown(key_node, key_node.value, by_key, f"'{where}'")
                continue
            key = _join(where, key_node.value)
            self.spans[key] = self.span(value_node)
            value = self.value(value_node, hints[item.name], key)
            check = item.metadata.get("check")
            problem = check(value) if check is not None and value is not _NOTHING and value is not None else None
            if problem:
                self.error(value_node, f"'{key}' {problem}", item.metadata.get("hint"))
            elif value is not _NOTHING:
                values[item.name] = value
        missing = [
            field_key(f) for f in dataclasses.fields(kind)
            if f.init and f.name not in values
            and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            self.error(node, f"'{where}' needs {', '.join(repr(m) for m in missing)}")
            return _NOTHING
        return kind(**values)

    def scalar(self, node: yaml.Node, kind: Any, where: str) -> Any:
        import yaml

        expected = _type_text(kind)
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, f"'{where}' must be {expected}, not {_node_text(node)}")
            return _NOTHING
        if node.tag not in _CORE_SCALAR_TAGS:  # `!custom`: the constructor would raise, and run nothing
            self.error(node, f"'{where}': YAML tag '{node.tag}' is not allowed",
                       "a profile is plain data: remove the tag")
            return _NOTHING
        try:
            value = yaml.constructor.SafeConstructor().construct_object(node) if node.tag != _STR_TAG else node.value
        except (ValueError, TypeError, yaml.YAMLError):  # `!!int "abc"`
            self.error(node, f"'{where}': '{node.value}' is not a valid {node.tag.rpartition(':')[2]}",
                       "remove the tag, or write a value of that type")
            return _NOTHING
        if typing.get_origin(kind) is typing.Literal:
            choices = typing.get_args(kind)
            if value in choices and type(value) is type(choices[choices.index(value)]):
                return value
            if isinstance(value, int) and not isinstance(value, bool) and node.value in choices:
                return node.value  # `argoVersion: 4` means the choice written "4"
            guess = did_you_mean(str(value), [str(c) for c in choices])
            hint = f"did you mean '{guess}'?" if guess else None
            self.error(node, f"'{where}' must be one of {', '.join(map(str, choices))}, not {_show(value)}", hint)
            return _NOTHING
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            names = {str(m.value): m for m in kind}
            if str(value) in names:
                return names[str(value)]
            guess = did_you_mean(str(value), names)
            hint = f"did you mean '{guess}'?" if guess else None
            self.error(node, f"'{where}' must be one of {', '.join(names)}, not {_show(value)}", hint)
            return _NOTHING
        if kind is float and type(value) is int:
            return float(value)
        if kind in (str, int, float, bool) and type(value) is kind:
            return value
        hint = None
        if kind is str and node.tag != "tag:yaml.org,2002:null":
            hint = f"quote it: '{node.value}'"
        elif kind in (int, float) and isinstance(value, str):
            hint = "write the number without quotes"
        self.error(node, f"'{where}' must be {expected}, not {_show(value)}", hint)
        return _NOTHING


_STR_TAG = "tag:yaml.org,2002:str"
_CORE_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp"))
"""The tags a profile scalar may carry: what the safe loader resolves plain scalars to, or `!!int`
and friends written out."""


def command_problem(words: list[str]) -> str | None:
    """A `check` for the command that starts tether in an image (argo `tether`, batch `command`):
    every pod or job runs `<command> exec ...`, so it needs at least one word and no blank one."""
    if words and all(word.strip() for word in words):
        return None
    return "is empty or has an empty part; every pod or job runs `<command> exec ...`"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"'{value}'" if isinstance(value, str) else f"{type(value).__name__} {value}"


def _node_text(node: yaml.Node) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if _is_null(node):
        return "null"
    return f"'{node.value}'"


def _type_text(kind: Any) -> str:
    """A type in words, for diagnostics and documentation."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        text = " or ".join(_type_text(a) for a in rest)
        return text + " or null" if len(rest) < len(args) else text
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if origin in (dict, collections.abc.Mapping) or kind in (dict, Mapping):
        return "a mapping"
    if origin in (list, tuple) or kind in (list, tuple):
        return "a list"
    if dataclasses.is_dataclass(kind):
        return "a mapping"
    if kind is Any:
        return "any YAML value"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(kind, getattr(kind, "__name__", str(kind)))


__all__ = ["Profile", "TOP_LEVEL_KEYS", "command_problem", "describe", "field_key", "load_profile"]
