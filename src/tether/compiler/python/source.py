"""Source positions for the Python front end: from code objects and call sites to Spans.

Diagnostics about Python specs point where a YAML user would expect them: the parameter that
lacks an annotation, the keyword of a call whose value is wrong, the decorator keyword with a bad
policy. Positions come from `ast` (parsed once per file) and from the call sites the builder
records; both use 0-based UTF-8 byte columns, converted here to the 1-based character columns
of a Span.
"""

from __future__ import annotations

import ast
import os
import threading
from dataclasses import dataclass, field
from types import CodeType

from ...api.graph import CallSite
from ...core.diagnostics import Span

_PARSE_LOCK = threading.Lock()
"""CPython 3.11/3.12 can fail `ast.parse` run in two threads at once with "SystemError: AST
constructor recursion depth mismatch" (python/cpython#106905), so compilations running in
parallel threads take turns parsing."""


def display_path(filename: str) -> str:
    """A path as a user would type it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if relative.startswith(os.pardir) else relative


@dataclass
class SourceIndex:
    """Reads each source file once, records it in `sources` (for rendering), and finds nodes."""

    sources: dict[str, str]
    _lines: dict[str, list[str]] = field(default_factory=dict)
    _trees: dict[str, ast.Module | None] = field(default_factory=dict)
    _calls: dict[str, dict[int, list[ast.Call]]] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)
    _defs: dict[tuple[str, str, int], ast.FunctionDef | ast.AsyncFunctionDef | None] = field(
        default_factory=dict
    )

    def name(self, filename: str) -> str:
        """`display_path(filename)`, computed once per file for this compilation."""
        if filename not in self._names:
            self._names[filename] = display_path(filename)
        return self._names[filename]

    def lines(self, filename: str) -> list[str]:
        if filename not in self._lines:
            try:
                with open(filename, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):
                text = ""
            else:
                self.sources[self.name(filename)] = text
            self._lines[filename] = text.splitlines()
        return self._lines[filename]

    def tree(self, filename: str) -> ast.Module | None:
        if filename not in self._trees:
            source = "\n".join(self.lines(filename))
            try:
                with _PARSE_LOCK:
                    self._trees[filename] = ast.parse(source, filename) if source else None
            except (SyntaxError, SystemError):  # no tree: spans fall back to whole lines
                self._trees[filename] = None
        return self._trees[filename]

    def _char_col(self, filename: str, line: int, byte_col: int) -> int:
        lines = self.lines(filename)
        if 1 <= line <= len(lines) and not lines[line - 1].isascii():
            return len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace")) + 1
        return byte_col + 1

    def span(
        self,
        filename: str,
        line: int,
        col: int | None = None,
        end_line: int | None = None,
        end_col: int | None = None,
    ) -> Span:
        """A Span from 1-based lines and 0-based byte columns (None: the whole line)."""
        name = self.name(filename)
        self.lines(filename)
        if col is None:
            return Span(name, line, self._first_non_blank(filename, line))
        start = self._char_col(filename, line, col)
        if end_line is None or end_col is None:
            return Span(name, line, start)
        return Span(name, line, start, end_line, self._char_col(filename, end_line, end_col))

    def _first_non_blank(self, filename: str, line: int) -> int:
        lines = self.lines(filename)
        if 1 <= line <= len(lines):
            text = lines[line - 1]
            return len(text) - len(text.lstrip()) + 1
        return 1

    def node_span(self, filename: str, node: ast.AST) -> Span:
        return self.span(
            filename,
            node.lineno,  # type: ignore[attr-defined]
            node.col_offset,  # type: ignore[attr-defined]
            getattr(node, "end_lineno", None),
            getattr(node, "end_col_offset", None),
        )

    # -- call sites

    def site_span(self, site: CallSite) -> Span:
        return self.span(site.file, site.line, site.col, site.end_line, site.end_col)

    def call_at(self, site: CallSite) -> ast.Call | None:
        """The call expression the builder saw being executed at `site`."""
        if site.file not in self._calls:
            tree = self.tree(site.file)
            by_line: dict[int, list[ast.Call]] = {}
            for node in ast.walk(tree) if tree is not None else ():
                if isinstance(node, ast.Call):
                    by_line.setdefault(node.lineno, []).append(node)
            self._calls[site.file] = by_line
        for node in self._calls[site.file].get(site.line, ()):
            if site.col is None or node.col_offset == site.col:
                if site.end_col is None or (node.end_lineno, node.end_col_offset) == (
                    site.end_line,
                    site.end_col,
                ):
                    return node
        return None

    def keyword_span(self, site: CallSite, keyword: str) -> Span | None:
        """The span of `keyword=value` in the call at `site`, if it can be found."""
        kw = self._keyword(site, keyword)
        return None if kw is None else self.node_span(site.file, kw)

    def keyword_value_span(self, site: CallSite, keyword: str) -> Span | None:
        """The span of the value in `keyword=value` of the call at `site`, if it can be found."""
        kw = self._keyword(site, keyword)
        return None if kw is None else self.node_span(site.file, kw.value)

    def _keyword(self, site: CallSite, keyword: str) -> ast.keyword | None:
        call = self.call_at(site)
        return next((kw for kw in call.keywords if kw.arg == keyword), None) if call is not None else None

    # -- definitions

    def function_def(self, code: CodeType) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The `def` a code object was compiled from (its first line is the first decorator's)."""
        key = (code.co_filename, code.co_name, code.co_firstlineno)
        if key not in self._defs:
            self._defs[key] = None
            tree = self.tree(code.co_filename)
            for node in ast.walk(tree) if tree is not None else ():
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
                    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                    if code.co_firstlineno in (first, node.lineno):
                        self._defs[key] = node
                        break
        return self._defs[key]

    def def_span(self, code: CodeType) -> Span:
        """The `def NAME` line of a function, with the caret under its name."""
        node = self.function_def(code)
        if node is None:
            return self.span(code.co_filename, code.co_firstlineno)
        line = self.lines(code.co_filename)[node.lineno - 1] if self.lines(code.co_filename) else ""
        start = line.find(node.name)
        if start < 0:
            return self.span(code.co_filename, node.lineno)
        name = self.name(code.co_filename)
        return Span(name, node.lineno, start + 1, node.lineno, start + 1 + len(node.name))

    def parameter_span(self, code: CodeType, parameter: str) -> Span:
        node = self.function_def(code)
        if node is not None:
            args = node.args
            for arg in (
                args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
            ):
                if arg.arg == parameter:
                    return self.node_span(code.co_filename, arg)
        return self.def_span(code)

    def return_span(self, code: CodeType) -> Span:
        node = self.function_def(code)
        if node is not None and node.returns is not None:
            return self.node_span(code.co_filename, node.returns)
        return self.def_span(code)

    def decorator_keyword_span(self, code: CodeType, keyword: str) -> Span:
        """The span of `keyword=...` in the function's decorator call, else the def line."""
        node = self.function_def(code)
        if node is not None:
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call):
                    for kw in decorator.keywords:
                        if kw.arg == keyword:
                            return self.node_span(code.co_filename, kw)
        return self.def_span(code)

    def return_statement_span(self, code: CodeType) -> Span:
        """The function's last `return` statement (what a workflow's outputs come from)."""
        node = self.function_def(code)
        if node is not None:
            returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
            if returns:
                last = max(returns, key=lambda n: (n.lineno, n.col_offset))
                return self.node_span(code.co_filename, last)
        return self.def_span(code)
