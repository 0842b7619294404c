"""Diagnostics as values: collected during compilation, rendered separately.

A front end never raises on bad input; it appends a `Diagnostic` to a `Diagnostics`
collector and carries on, so `tether check` reports every problem of a spec in one run.
Codes: E1xx spec shape, E2xx types and expressions, E3xx graph, E4xx target limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Iterator


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file. Lines and columns are 1-based; `end_col` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


@dataclass
class Diagnostics:
    """An ordered collector; the one mutable object a compilation threads through."""

    items: list[Diagnostic] = field(default_factory=list)
    unsupported_level: Severity = Severity.ERROR
    """The severity of `unsupported` diagnostics: the CLI's `--unsupported=error|warn`."""

    def error(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, span, hint, Severity.ERROR))

    def warning(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, message, span, hint, Severity.WARNING))

    def unsupported(self, message: str, span: Span | None = None, hint: str | None = None, code: str = "E410") -> None:
        """A feature the target cannot express. An error by default; `--unsupported=warn`
        lets a user compile anyway, knowing the manifest drops that feature."""
        self.items.append(Diagnostic(code, message, span, hint, self.unsupported_level))

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[Diagnostic]:
        """Stable order for output: by file position, spanless ones first, then insertion."""
        indexed = list(enumerate(self.items))
        indexed.sort(key=lambda pair: (pair[1].span is not None, pair[1].span or Span("", 0, 0), pair[0]))
        return [d for _, d in indexed]


class CompileError(Exception):
    """Raised at an API boundary (not inside the compiler) when compilation produced errors."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        super().__init__(render_plain(first) if first else "compilation failed")


_STYLE = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
}
_BOLD = "\x1b[1m"
_BLUE = "\x1b[1;34m"
_RESET = "\x1b[0m"


def render_plain(d: Diagnostic) -> str:
    where = f"{d.span}: " if d.span else ""
    return f"{where}{d.severity.value}[{d.code}]: {d.message}"


def render(d: Diagnostic, source: str | None = None, color: bool = False) -> str:
    """Render like a compiler: header, the source line with a caret under the span, a hint."""

    def paint(style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if color else text

    where = f"{d.span}: " if d.span else ""
    header = (
        f"{paint(_BOLD, where)}{paint(_STYLE[d.severity], f'{d.severity.value}[{d.code}]')}: "
        f"{paint(_BOLD, d.message)}"
    )
    lines = [header]
    source_line = _source_line(source, d.span.line) if (source is not None and d.span) else None
    if d.span and source_line is not None:
        number = str(d.span.line)
        gutter = " " * len(number)
        text = source_line.expandtabs(1)
        start = max(d.span.col - 1, 0)
        if d.span.end_line == d.span.line and d.span.end_col > d.span.col:
            width = d.span.end_col - d.span.col
        else:
            width = max(len(text.rstrip()) - start, 1)
        width = max(1, min(width, max(len(text) - start, 1)))
        lines.append(paint(_BLUE, f"{gutter} |"))
        lines.append(paint(_BLUE, f"{number} | ") + text)
        lines.append(paint(_BLUE, f"{gutter} | ") + " " * start + paint(_STYLE[d.severity], "^" * width))
    if d.hint:
        indent = " " * (len(str(d.span.line)) if d.span and source_line is not None else 0)
        lines.append(f"{indent} = {paint(_BOLD, 'hint')}: {d.hint}")
    return "\n".join(lines)


def _source_line(source: str, line: int) -> str | None:
    if line < 1:
        return None
    lines = source.splitlines()
    if line > len(lines):
        return None
    return lines[line - 1]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, for a 'did you mean' hint; None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None
