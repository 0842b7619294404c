"""A small, exact, fast YAML emitter for the plain data a backend generates.

Why not PyYAML: its C emitter costs ~30x `json.dumps` on a 5,000-task manifest, and backends only
ever emit dict / list / str / int / float / bool / None (dict keys: str). For those shapes the
output here reads back as the same data under YAML 1.1 (PyYAML, libyaml) and under the readers
Kubernetes and Argo use (sigs.k8s.io/yaml: go-yaml v2 semantics), and is the same bytes for the
same data.

Style (one style, chosen for diffs in GitOps repositories):
- block mappings and sequences, 2-space indent, keys in insertion order (never sorted);
- sequences inside a mapping are "indentless" (`key:` then `- item` at the key's column), as
  PyYAML and `kubectl get -o yaml` write them; `{}` and `[]` for empty collections;
- strings are plain when every reader above reads them back as the same string (`-c` is
  plain, `'yes'`, `'010'`, `'1e3'`, `'y'` are not), otherwise single-quoted; double-quoted (with escapes) when they hold control characters, tabs, `\\r`,
  unicode line separators, a BOM or other non-printable characters; multi-line text that is safe
  as a block literal (`|`, `|-`, `|+`, with an indentation indicator when it starts with a space or tab)
  is written as one, so a shell script reads as a shell script;
- floats read back equal (`1.0`, `1.0e+16`, `.inf`, `-.inf`, `.nan`), ints as `repr`, bools
  `true`/`false`, None `null`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable

__all__ = ["dump", "dump_all"]

# A plain scalar may not start with a YAML indicator, except `-`, `?`, `:` followed by a non-space
# (ns-plain-first: https://yaml.org/spec/1.2.2/#733-plain-style ; PyYAML Scanner.check_plain,
# https://github.com/yaml/pyyaml/blob/main/lib/yaml/scanner.py). We allow only `-x` (command-line
# flags such as `-c`, `--verbose` are common in manifests) and quote `?x` and `:x`.
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@`")

# Words that resolve to bool / null / merge / value in some reader, compared lower-cased so every
# case variant is quoted. YAML 1.1 bools include y/n: https://yaml.org/type/bool.html ; go-yaml v2
# (sigs.k8s.io/yaml) resolves y/Y/yes/on/n/no/off/~/null and `<<`:
# https://github.com/go-yaml/yaml/blob/v2.4.0/resolve.go (resolveMapList) ; PyYAML's SafeLoader
# resolves `=` (tag:yaml.org,2002:value) and `<<` and then fails to construct them:
# https://github.com/yaml/pyyaml/blob/main/lib/yaml/resolver.py (Resolver.add_implicit_resolver)
_RESERVED_WORDS = frozenset(
    ["", "~", "y", "n", "yes", "no", "true", "false", "on", "off", "null", "<<", "="]
)

# Anything shaped like a number in YAML 1.1 (PyYAML int/float regexes: `0b`, `0x`, octal `010`,
# `1_000`, sexagesimal `12:30`, `.5`, `1.` ; https://github.com/yaml/pyyaml/blob/main/lib/yaml/resolver.py),
# YAML 1.2 core (`0o17`, `1e3`, `+.inf`; https://yaml.org/spec/1.2.2/#1032-tag-resolution) or
# go-yaml v2 (strconv.ParseInt(s, 0, 64) after removing `_`, ParseFloat, `-0b1`;
# https://github.com/go-yaml/yaml/blob/v2.4.0/resolve.go func resolve). Deliberately broad: a
# string such as `1.2.3` or `3d` is quoted although no reader would take it as a number.
_NUMBERISH = re.compile(
    r"[-+]?(?:0[xob][0-9a-f_.p+\-]*|(?:[0-9]|\.[0-9_])[0-9a-f_.:+\-]*)|(?:[-+]\.?|\.)(?:inf(?:inity)?|nan)",
    re.IGNORECASE,
)
# YAML 1.1 timestamps (https://yaml.org/type/timestamp.html), which go-yaml v2 also resolves
# (parseTimestamp in resolve.go above): quote anything that starts like a date.
_DATE_PREFIX = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?![0-9])")

# Not allowed raw inside single quotes: outside YAML's printable set
# (https://yaml.org/spec/1.2.2/#51-character-set), plus tab, the YAML 1.1 line breaks
# U+0085/U+2028/U+2029 (YAML 1.2 reads them as text: ambiguous, so escape them) and the BOM,
# which libyaml refuses inside a document (IS_PRINTABLE in
# https://github.com/yaml/libyaml/blob/master/src/yaml_private.h).
_NEEDS_DOUBLE_PATTERN = "[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
_NEEDS_DOUBLE_ASCII = re.compile("[^\x20-\x7e]")
"""The same test for ASCII text, which is nearly all of it: the full class above takes ~9 ms to
compile, so it is compiled only when a string outside ASCII comes along."""


def _needs_double(text: str) -> bool:
    if text.isascii():
        return _NEEDS_DOUBLE_ASCII.search(text) is not None
    return _full_needs_double().search(text) is not None


@lru_cache(maxsize=1)
def _full_needs_double() -> re.Pattern[str]:
    return re.compile(_NEEDS_DOUBLE_PATTERN)
_DOUBLE_ESCAPE = re.compile(
    "[\\\\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]"
)
_NAMED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\\0"}

# A line of literal text may not end in a space or tab: editors and pre-commit hooks strip
# trailing whitespace, which would silently change the value. Such text is double-quoted.
_TRAILING_BLANK = re.compile(r"[ \t]\n|[ \t]\Z")

# libyaml and PyYAML refuse an implicit (simple) key longer than 1024 characters
# (yaml_parser_stale_simple_keys in https://github.com/yaml/libyaml/blob/master/src/scanner.c ;
# Scanner.stale_possible_simple_keys in https://github.com/yaml/pyyaml/blob/main/lib/yaml/scanner.py);
# longer keys are written as explicit `? key` entries. The margin covers bytes-vs-characters.
_MAX_SIMPLE_KEY = 1000


def dump(document: Any) -> str:
    """One YAML document in block style, ending with a newline."""
    out: list[str] = []
    _Writer(out).document(document)
    return "".join(out)


def dump_all(documents: Iterable[Any]) -> str:
    """Several documents separated by `---` lines (a multi-document manifest file)."""
    out: list[str] = []
    writer = _Writer(out)
    for index, document in enumerate(documents):
        if index:
            out.append("---\n")
        writer.document(document)
    return "".join(out)


def _is_plain_safe(text: str) -> bool:
    """True when `text` unquoted reads back as this same string in every reader we target."""
    if not text or not text.isprintable() or text[0] in _INDICATORS or text[0] == " " or text[-1] in " :":
        return False
    if ": " in text or " #" in text or text.startswith(("...", "---", "- ")) or text == "-":
        return False
    if text.lower() in _RESERVED_WORDS:
        return False
    first = text[0]
    if first in "0123456789+-.":
        if _NUMBERISH.fullmatch(text) or _DATE_PREFIX.match(text):
            return False
    return True


def _double_quoted(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        char = match.group()
        named = _NAMED_ESCAPES.get(char)
        if named is not None:
            return named
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return '"' + _DOUBLE_ESCAPE.sub(escape, text) + '"'


def _flow_scalar(text: str) -> str:
    """Plain, single- or double-quoted rendering (single line, any position)."""
    if _is_plain_safe(text):
        return text
    if _needs_double(text):
        return _double_quoted(text)
    return "'" + text.replace("'", "''") + "'"


def _literal_lines(text: str) -> tuple[str, list[str]] | None:
    """(header, lines) of a block literal for multi-line `text`, or None when it is not safe.

    Chomping and indentation indicators: https://yaml.org/spec/1.2.2/#8111-block-indentation-indicator
    and #8112-block-chomping-indicator. Text starting with a newline, or holding anything that
    needs an escape (tab is fine, `\\r` and unicode line breaks are not), is left to double quotes.
    """
    if text[0] == "\n" or _TRAILING_BLANK.search(text):
        return None
    if _needs_double(text.replace("\n", " ").replace("\t", " ")):
        return None
    # libyaml (and go-yaml, its port) refuses a tab where it detects the indentation, so a first
    # line starting with a tab gets an explicit indicator too (yaml_parser_scan_block_scalar_breaks
    # in https://github.com/yaml/libyaml/blob/master/src/scanner.c).
    indicator = "2" if text[0] in " \t" else ""
    if not text.endswith("\n"):
        chomp, body = "-", text
    elif text.endswith("\n\n"):
        chomp, body = "+", text[:-1]
    else:
        chomp, body = "", text[:-1]
    return "|" + indicator + chomp, body.split("\n")


def _float_text(value: float) -> str:
    """A float that YAML 1.1 and 1.2 both read back equal (PyYAML needs a `.` and a signed exponent)."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "." not in text and "e" in text:
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa}.0e{exponent}"
    return text


class _Writer:
    """Appends one or more documents to `out`; caches renderings of repeated strings.

    The hot loops (`mapping`, `sequence`) are closures over local names: attribute and global
    lookups are most of the cost of emitting a large manifest in pure Python.
    """

    def __init__(self, out: list[str]) -> None:
        self.out = out
        values: dict[str, str] = {}
        keys: dict[str, str] = {}
        literals: dict[str, list[str]] = {}
        append = out.append

        def value_text(text: str) -> str:
            rendered = values.get(text)
            if rendered is None:
                literal = _literal_lines(text) if "\n" in text else None
                if literal is None:
                    rendered = _flow_scalar(text)
                else:
                    rendered = literal[0]
                    literals[text] = literal[1]
                values[text] = rendered
            return rendered

        def key_text(key: Any) -> str:
            rendered = keys.get(key)
            if rendered is None:
                if not isinstance(key, str):
                    raise TypeError(f"YAML mapping keys must be str, got {type(key).__name__}: {key!r}")
                rendered = _flow_scalar(key)
                if len(rendered) * 4 > _MAX_SIMPLE_KEY and len(rendered.encode("utf-8")) > _MAX_SIMPLE_KEY:
                    rendered = "? " + rendered
                keys[key] = rendered
            return rendered

        def literal(text: str, pad: str) -> None:
            """The lines of a block literal whose header was just written; content at pad + 2."""
            inner = pad + "  "
            for line in literals[text]:
                append(inner + line + "\n" if line else "\n")

        def mapping(node: dict[Any, Any], pad: str, first: str) -> None:
            """Keys at column len(pad); `first` precedes the first key (pad, or a "- " line start)."""
            inner = pad + "  "
            lead = first
            for key, value in node.items():
                key_s = keys.get(key)  # only str keys are cached, so a hit is a str key
                if key_s is None:
                    key_s = key_text(key)
                if key_s[0] == "?":  # `? key` then `: value`, for keys too long to be implicit
                    append(f"{lead}{key_s}\n")
                    other(pad, ":", value, pad)
                    lead = pad
                    continue
                kind = type(value)
                if kind is str:
                    text = values.get(value) or value_text(value)
                    append(f"{lead}{key_s}: {text}\n")
                    if text[0] == "|":
                        literal(value, pad)
                elif kind is dict and value:
                    append(f"{lead}{key_s}:\n")
                    mapping(value, inner, inner)
                elif kind is list and value:
                    append(f"{lead}{key_s}:\n")
                    sequence(value, pad, pad)
                else:
                    other(lead, key_s + ":", value, pad)
                lead = pad

        def sequence(node: list[Any], pad: str, first: str) -> None:
            """Dashes at column len(pad); `first` precedes the first dash (pad, or "- " in `- - a`)."""
            inner = pad + "  "
            lead = first
            for item in node:
                kind = type(item)
                if kind is str:
                    text = values.get(item) or value_text(item)
                    append(f"{lead}- {text}\n")
                    if text[0] == "|":
                        literal(item, pad)
                elif kind is dict and item:
                    mapping(item, inner, lead + "- ")
                else:
                    other(lead, "-", item, pad)
                lead = pad

        def other(lead: str, head: str, value: Any, pad: str) -> None:
            """`head` and a value not handled by the exact-type fast paths above."""
            if isinstance(value, dict) and value:
                if head == "-":
                    mapping(value, pad + "  ", lead + "- ")
                else:
                    append(f"{lead}{head}\n")
                    mapping(value, pad + "  ", pad + "  ")
            elif isinstance(value, list) and value:
                if head == "-":
                    sequence(value, pad + "  ", lead + "- ")
                else:
                    append(f"{lead}{head}\n")
                    sequence(value, pad, pad)
            elif isinstance(value, str):
                text = value_text(str(value))
                append(f"{lead}{head} {text}\n")
                if text[0] == "|":
                    literal(str(value), pad)
            else:
                append(f"{lead}{head} {_inline(value)}\n")

        self.mapping = mapping
        self.sequence = sequence

    def document(self, node: Any) -> None:
        if isinstance(node, dict) and node:
            self.mapping(node, "", "")
        elif isinstance(node, list) and node:
            self.sequence(node, "", "")
        elif isinstance(node, str):
            self.out.append(_flow_scalar(str(node)) + "\n")
        else:
            self.out.append(_inline(node) + "\n")


def _inline(node: Any) -> str:
    """A value that fits on its key's or dash's line: a non-str scalar or an empty collection."""
    if node is None:
        return "null"
    if node is True:
        return "true"
    if node is False:
        return "false"
    kind = type(node)
    if kind is int:
        return repr(node)
    if kind is float:
        return _float_text(node)
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int):
        return repr(int(node))
    if isinstance(node, float):
        return _float_text(float(node))
    if isinstance(node, str):
        return _flow_scalar(str(node))
    if isinstance(node, dict):
        return "{}"
    if isinstance(node, list):
        return "[]"
    raise TypeError(f"cannot emit {type(node).__name__} as YAML: {node!r}")
