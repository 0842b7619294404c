"""Check a YAML spec's `python: module:function` references against the modules' source.

A YAML spec names its Python tasks by reference, so a typo (`mlpip:evaluate`, `mlpipe:trian`) or a
binding the function does not take would otherwise pass `tether check` and fail only at run time,
after upstream work. Here each module is located on the search path and read with `ast`, never
imported: user code does not run at check time.

Search path, in order (the first root holding the module's file wins):
  1. the spec's directory (the working directory for a spec read from stdin), as `tether run`
     puts it first on sys.path;
  2. each entry of PYTHONPATH;
  3. the standard library and installed packages of the Python running tether.
A module found nowhere is a warning (it may exist only in the task's image), an error with
`--strict-refs`; so is a module that does not parse. A module that exists but cannot be read
(a compiled extension, a namespace package) is not checked.

What is checked, each finding a located diagnostic (the `python:` value, or the binding):
the function exists at module level; every binding is one of its parameters (unless it takes
**kwargs) and every parameter without a default is bound; each binding's type flows into the
parameter's annotation; the declared outputs match the return annotation (one value, or a
NamedTuple's fields). A function decorated with anything but `@tether.task` (whose signature is
the function's own) is only checked to exist; so is a name bound by assignment or import, or
bound twice. An annotation is mapped with the Python front end's own table (`interface.tether_type`)
after rebuilding it from a whitelist of names (builtins, typing, tether.File/Dir, the module's
own aliases); anything else is left unchecked rather than guessed.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import sys
import typing
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from ..core.diagnostics import Diagnostics, Span, did_you_mean
from ..core.ir import Task, Workflow
from ..core.placeholders import ERROR_TYPE
from ..core.types import Type, is_assignable

NOT_FOUND_HINT = (
    "the module is looked for in the spec's directory, then PYTHONPATH, then installed packages; "
    "if it exists only in the task's image this is expected (--strict-refs makes it an error)"
)


# ---------------------------------------------------------------------------- the search path


def user_roots(spec: str) -> tuple[str, ...]:
    """The spec's directory, then PYTHONPATH: where a user's own modules live."""
    first = os.getcwd() if spec == "-" else os.path.dirname(os.path.abspath(spec))
    roots = [first, *(os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return tuple(dict.fromkeys(roots))


def search_path(spec: str) -> tuple[str, ...]:
    """The roots a module is looked for in, in order (see the module docstring)."""
    cwd = os.getcwd()
    installed = [p for p in sys.path if p and os.path.abspath(p) != cwd and os.path.isdir(p)]
    return tuple(dict.fromkeys([*user_roots(spec), *installed]))


@dataclass(frozen=True)
class Located:
    """Where a module was found: `path` is its source file, or None when it has none to read."""

    path: str | None


def locate(module: str, roots: Sequence[str]) -> Located | None:
    """The module's source file on `roots`; None when no root has it."""
    if module in sys.builtin_module_names:
        return Located(None)
    *packages, last = module.split(".")
    for root in roots:
        directory = os.path.join(root, *packages)
        if packages and not os.path.isdir(directory):
            continue
        base = os.path.join(directory, last)
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return Located(candidate)
        if os.path.isdir(base) or any(os.path.isfile(base + s) for s in importlib.machinery.EXTENSION_SUFFIXES):
            return Located(None)  # a namespace package or a compiled module: nothing to read
    return None


def _module_names(directory: str) -> Iterator[str]:
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return
    for entry in entries:  # modules and regular packages: any directory would suggest too much
        stem = entry[:-3] if entry.endswith(".py") else entry
        if stem.isidentifier() and (entry.endswith(".py") or os.path.isfile(os.path.join(directory, entry, "__init__.py"))):
            yield stem


def suggest_module(module: str, roots: Sequence[str]) -> str | None:
    """A close module name for a did-you-mean, looking only in the user's roots (not site-packages)."""
    *packages, last = module.split(".")
    candidates = [
        ".".join([*packages, name]) for root in roots for name in _module_names(os.path.join(root, *packages))
    ]
    return did_you_mean(module, candidates)


# ---------------------------------------------------------------------------- reading a module


class _Unknown(Exception):
    """An annotation built from names outside the whitelist: left unchecked."""


def _typing_table() -> dict[str, Any]:
    from ..api.files import Dir, File

    table: dict[str, Any] = {f"builtins.{t.__name__}": t for t in (int, float, bool, str, list, dict, tuple, set, bytes, object)}
    for name in ("List", "Dict", "Optional", "Union", "Annotated", "Any", "Tuple", "Set", "NamedTuple"):
        table[f"typing.{name}"] = getattr(typing, name)
        table[f"typing_extensions.{name}"] = getattr(typing, name)
    for path in ("tether", "tether.api.files"):
        table[f"{path}.File"], table[f"{path}.Dir"] = File, Dir
    return table


@dataclass
class ModuleIndex:
    """The top level of one module file: what it defines, imports and aliases."""

    path: str
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    aliases: dict[str, ast.expr] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    bound: dict[str, int] = field(default_factory=dict)  # every top-level name -> times bound
    open_ended: bool = False  # `from x import *` or a module __getattr__: absence cannot be proven

    @classmethod
    def parse(cls, path: str, source: bytes) -> "ModuleIndex":
        index = cls(path)
        with warnings.catch_warnings():  # a user's invalid escape is Python's to report at import
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=path)
        index._walk(tree.body)
        return index

    def _bind(self, name: str) -> None:
        self.bound[name] = self.bound.get(name, 0) + 1

    def _walk(self, body: Iterable[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[stmt.name] = stmt
                self._bind(stmt.name)
                self.open_ended |= stmt.name == "__getattr__"
            elif isinstance(stmt, ast.ClassDef):
                self.classes[stmt.name] = stmt
                self._bind(stmt.name)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for node in ast.walk(target):
                        if isinstance(node, ast.Name):
                            self._bind(node.id)
                if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                    if len(targets) == 1 and isinstance(targets[0], ast.Name):
                        self.aliases[targets[0].id] = stmt.value
            elif isinstance(stmt, ast.If):
                self._walk(stmt.body)
                self._walk(stmt.orelse)
            elif isinstance(stmt, (ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)):
                self._walk(stmt.body)
                self._walk(getattr(stmt, "orelse", []))
                self.open_ended |= not isinstance(stmt, (ast.With, ast.AsyncWith))  # loop targets etc.
            elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
                for block in (stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody):  # type: ignore[attr-defined]
                    self._walk(block)
            elif type(stmt).__name__ == "TypeAlias":  # `type Row = list[float]` (Python 3.12)
                self._bind(stmt.name.id)  # type: ignore[attr-defined]
            elif isinstance(stmt, ast.Expr):  # globals().update(...), setattr(...), exec(...) define names too
                self.open_ended |= any(
                    isinstance(n, ast.Name) and n.id in ("globals", "setattr", "exec") for n in ast.walk(stmt)
                )
            elif not isinstance(stmt, (ast.Pass, ast.Assert, ast.Delete, ast.Raise)):
                self.open_ended = True  # match, global...: be conservative

    def _import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        for alias in stmt.names:
            if alias.name == "*":
                self.open_ended = True
                continue
            if isinstance(stmt, ast.Import):
                local = alias.asname or alias.name.split(".")[0]
                qualified = alias.name if alias.asname else local
            else:
                local = alias.asname or alias.name
                qualified = f"{'.' * stmt.level}{stmt.module or ''}.{alias.name}"
            self.imports[local] = qualified
            self._bind(local)

    def names(self) -> list[str]:
        return sorted(self.bound)


class Annotations:
    """Map a module's ast annotations to tether types, with the Python front end's table."""

    def __init__(self, module: ModuleIndex, table: dict[str, Any]):
        self.module = module
        self.table = table
        self.types: dict[int, Type | None] = {}  # id(annotation node) -> its type: a spec may call a function 10,000 times

    def tether_type(self, node: ast.expr | None) -> Type | None:
        """The annotation's tether type; None when absent, unknown or not a tether type."""
        if node is None:
            return None
        if id(node) not in self.types:
            self.types[id(node)] = self._tether_type(node)
        return self.types[id(node)]

    def _tether_type(self, node: ast.expr) -> Type | None:
        from .python.annotations import UnsupportedAnnotation, tether_type

        try:
            return tether_type(self._object(node, 0))
        except (_Unknown, UnsupportedAnnotation, TypeError):
            return None

    def named_tuple(self, node: ast.expr | None) -> list[tuple[str, ast.expr | None]] | None:
        """The fields of a NamedTuple class defined in this module that `node` names, else None."""
        name = node.id if isinstance(node, ast.Name) else None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value.strip()
        cls = self.module.classes.get(name or "")
        if cls is None or self.module.bound.get(cls.name) != 1:
            return None
        if not any(self._qualified(base, 0) in ("typing.NamedTuple", "typing_extensions.NamedTuple") for base in cls.bases):
            return None
        return [
            (stmt.target.id, stmt.annotation)
            for stmt in cls.body
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
        ]

    def _qualified(self, node: ast.expr, depth: int) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.module.imports:
                return self.module.imports[node.id]
            if node.id not in self.module.bound:
                return f"builtins.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self._qualified(node.value, depth)
            return f"{base}.{node.attr}" if base else None
        return None

    def _object(self, node: ast.expr, depth: int) -> Any:
        if depth > 20:
            raise _Unknown()
        if isinstance(node, ast.Constant):
            if node.value is None:
                return type(None)
            if isinstance(node.value, str):  # a string annotation: parse it, still without running it
                try:
                    return self._object(ast.parse(node.value.strip(), mode="eval").body, depth + 1)
                except SyntaxError:
                    raise _Unknown() from None
            raise _Unknown()
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return typing.Union[self._object(node.left, depth + 1), self._object(node.right, depth + 1)]
        if isinstance(node, ast.Subscript):
            base = self._object(node.value, depth + 1)
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if base is typing.Annotated:
                return self._object(items[0], depth + 1)
            args = tuple(self._object(item, depth + 1) for item in items)
            return base[args if len(args) > 1 else args[0]]
        if isinstance(node, ast.Name) and node.id in self.module.aliases and self.module.bound.get(node.id) == 1:
            return self._object(self.module.aliases[node.id], depth + 1)
        qualified = self._qualified(node, depth)
        if qualified is None or qualified not in self.table:
            raise _Unknown()
        return self.table[qualified]


# ---------------------------------------------------------------------------- the checks


@dataclass
class _Module:
    located: Located | None
    index: ModuleIndex | None = None
    annotations: Annotations | None = None


class RefChecker:
    """Check every Python task of one workflow; each distinct module is read once."""

    def __init__(
        self, diags: Diagnostics, sources: dict[str, str], strict: bool, roots: Sequence[str], suggest_from: Sequence[str]
    ):
        self.diags = diags
        self.sources = sources
        self.lines: dict[str, list[str]] = {}
        self.strict = strict
        self.roots = tuple(roots)
        self.suggest_from = tuple(suggest_from)
        self.modules: dict[str, _Module] = {}
        self.table: dict[str, Any] | None = None
        self.clean: set[tuple[Any, ...]] = set()  # call signatures (see check_task) that passed

    def report(self, code: str, message: str, span: Span | None, hint: str | None, *, soft: bool = False) -> None:
        if soft and not self.strict:
            self.diags.warning(code, message, span, hint)
        else:
            self.diags.error(code, message, span, hint)

    def check(self, workflow: Workflow) -> None:
        users: dict[str, list[Task]] = {}
        for task in workflow.tasks:
            if task.python and task.python.count(":") == 1:
                module, _, name = task.python.partition(":")
                if name.isidentifier() and all(p.isidentifier() for p in module.split(".")):
                    users.setdefault(module, []).append(task)
        for module_name, tasks in users.items():
            module = self.module(module_name, tasks)
            for task in tasks:
                if module.index is not None and module.annotations is not None:
                    self.check_task(task, module.index, module.annotations)

    def ref_spans(self, task: Task) -> tuple[Span | None, Span | None]:
        """Spans of the module and the function inside the `python:` value (else the value's)."""
        span = task.span_of("python")
        lines = self._lines(span.file) if span else None
        if span is None or lines is None or task.python is None:
            return span, span
        line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        start = line.find(task.python, span.col - 1)
        if start < 0:
            return span, span
        module, _, name = task.python.partition(":")
        at = start + 1
        return (
            Span(span.file, span.line, at, span.line, at + len(module)),
            Span(span.file, span.line, at + len(module) + 1, span.line, at + len(task.python)),
        )

    def _lines(self, file: str) -> list[str] | None:
        """A source's lines, split once per file (a span is looked up per finding)."""
        lines = self.lines.get(file)
        if lines is None:
            source = self.sources.get(file)
            if source is None:
                return None
            lines = self.lines[file] = source.splitlines()
        return lines

    def module(self, name: str, tasks: list[Task]) -> _Module:
        cached = self.modules.get(name)
        if cached is not None:
            return cached
        module = self.modules[name] = _Module(locate(name, self.roots))
        first = tasks[0]
        if module.located is None:
            close = suggest_module(name, self.suggest_from)
            users = f"task '{first.name}'" if len(tasks) == 1 else f"{len(tasks)} tasks"
            hint = f"did you mean '{close}'?" if close else NOT_FOUND_HINT
            self.report(
                "E140", f"cannot find module '{name}' (used by {users}) on the search path",
                self.ref_spans(first)[0], hint, soft=True,
            )
            return module
        path = module.located.path
        if path is None:
            return module
        shown = _shown(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            module.index = ModuleIndex.parse(path, data)
        except SyntaxError as exc:
            self.sources.setdefault(shown, data.decode("utf-8", "replace"))
            where = Span(shown, exc.lineno or 1, exc.offset or 1)
            self.report(
                "E141", f"module '{name}' does not parse: {exc.msg}", where,
                f"its tasks' references are not checked until it parses (task '{first.name}' uses it)", soft=True,
            )
            return module
        except (OSError, ValueError) as exc:
            self.report(
                "E141", f"module '{name}' ({shown}) cannot be read: {exc}", self.ref_spans(first)[0],
                "its tasks' references are not checked", soft=True,
            )
            return module
        if self.table is None:
            self.table = _typing_table()
        module.annotations = Annotations(module.index, self.table)
        return module

    def check_task(self, task: Task, index: ModuleIndex, annotations: Annotations) -> None:
        assert task.python is not None
        module, _, name = task.python.partition(":")
        function = index.functions.get(name)
        if name not in index.bound:
            if index.open_ended:
                return
            candidates = [n for n in index.names() if n in index.functions or n in index.classes or n in index.aliases]
            close = did_you_mean(name, candidates)
            hint = f"did you mean '{module}:{close}'?" if close else _defined_hint(index)
            self.diags.error(
                "E142", f"module '{module}' ({_shown(index.path)}) has no function '{name}'",
                self.ref_spans(task)[1], hint,
            )
            return
        if function is None or index.bound[name] != 1 or not _own_signature(function, annotations):
            return
        # The checks below read the task's names and types only (its name and spans go into
        # messages): a task like one that passed clean passes too. A big spec calls a few
        # functions thousands of times, the same way.
        key = (task.python, tuple([(b.name, b.type) for b in task.inputs]), tuple([(o.name, o.type) for o in task.outputs]))
        if key in self.clean:
            return
        reported = len(self.diags)
        self.check_inputs(task, function, annotations)
        self.check_outputs(task, function, annotations)
        if len(self.diags) == reported:
            self.clean.add(key)

    def check_inputs(self, task: Task, function: ast.FunctionDef | ast.AsyncFunctionDef, annotations: Annotations) -> None:
        args = function.args
        if args.posonlyargs:
            return  # passed by name at run time: such a signature is reported by Python itself
        positional = args.args
        first_default = len(positional) - len(args.defaults)
        params: dict[str, tuple[ast.arg, bool]] = {}
        for i, arg in enumerate(positional):
            params[arg.arg] = (arg, i >= first_default)
        for arg, default in zip(args.kwonlyargs, args.kw_defaults):
            params[arg.arg] = (arg, default is not None)
        ref = task.python
        bound = {b.name for b in task.inputs}
        for binding in task.inputs:
            span = binding.span or task.span_of(f"inputs.{binding.name}")
            param = params.get(binding.name)
            if param is None:
                if args.kwarg is not None:
                    continue
                unbound = [p for p in params if p not in bound]
                close = did_you_mean(binding.name, unbound)
                hint = f"did you mean '{close}'?" if close else _takes_hint(ref, params)
                self.diags.error("E143", f"{ref} takes no parameter '{binding.name}'", span, hint)
                continue
            expected = annotations.tether_type(param[0].annotation)
            if expected is None or binding.type is None or binding.type == ERROR_TYPE:
                continue
            if not fits(binding.type, expected):
                self.diags.error(
                    "E230",
                    f"input '{binding.name}' of task '{task.name}' is {binding.type}, but {ref} takes {binding.name}: {expected}",
                    span, _type_hint(binding.type, expected),
                )
        missing = [p for p, (_, has_default) in params.items() if not has_default and p not in bound]
        for name in missing:
            extra = [b for b in bound if b not in params]
            close = did_you_mean(name, extra) if args.kwarg is None else None
            hint = f"the input '{close}' may be meant for it" if close else f"bind it under the task's inputs: {name}: ..."
            self.diags.error(
                "E144", f"task '{task.name}' does not bind parameter '{name}' of {ref}", self.ref_spans(task)[1], hint
            )

    def check_outputs(self, task: Task, function: ast.FunctionDef | ast.AsyncFunctionDef, annotations: Annotations) -> None:
        returns = function.returns
        if returns is None:
            return
        ref = task.python
        declared = {o.name: o for o in task.outputs}
        if isinstance(returns, ast.Constant) and returns.value is None:
            if declared:
                self.diags.error(
                    "E145", f"task '{task.name}' declares outputs {', '.join(declared)}, but {ref} returns None",
                    task.span_of("outputs"), "remove the outputs, or return them from the function",
                )
            return
        fields = annotations.named_tuple(returns)
        if fields is not None:
            names = [n for n, _ in fields]
            if len(declared) == 1 and names == list(declared):
                pass
            elif set(names) != set(declared):
                self._output_names(task, names, ast.unparse(returns), ref)
                return
            for name, annotation in fields:
                if name in declared:
                    self._output_type(task, declared[name], annotations.tether_type(annotation), ref)
            return
        result = annotations.tether_type(returns)
        if result is None or not declared:
            return
        if len(declared) > 1:
            if result.kind == "dict":
                return  # a dict with the declared names is accepted at run time
            self.diags.error(
                "E145", f"task '{task.name}' declares outputs {', '.join(declared)}, but {ref} returns one {result}",
                task.span_of("outputs"), "return a NamedTuple (or a dict) with those names",
            )
            return
        self._output_type(task, next(iter(declared.values())), result, ref)

    def _output_names(self, task: Task, fields: list[str], returned: str, ref: str | None) -> None:
        """Declared outputs that are not fields of the returned NamedTuple, and fields not declared."""
        declared = [o.name for o in task.outputs]
        meant: set[str] = set()
        for name in declared:
            if name in fields:
                continue
            close = did_you_mean(name, [f for f in fields if f not in declared])
            meant.add(close or "")
            self.diags.error(
                "E145", f"output '{name}' of task '{task.name}' is not a field of {returned}, which {ref} returns",
                _output_span(task, name),
                f"did you mean '{close}'?" if close else f"its fields: {', '.join(fields)}",
            )
        for name in fields:
            if name not in declared and name not in meant:
                self.diags.error(
                    "E145", f"task '{task.name}' does not declare output '{name}', a field of {returned}, which {ref} returns",
                    task.span_of("outputs") if task.outputs else self.ref_spans(task)[1],
                    f"declare every field of {returned} as an output: {', '.join(fields)}",
                )

    def _output_type(self, task: Task, output: Any, returned: Type | None, ref: str | None) -> None:
        if returned is None or fits(returned, output.type):
            return
        self.diags.error(
            "E231",
            f"output '{output.name}' of task '{task.name}' is declared {output.type}, but {ref} returns {returned}",
            _output_span(task, output.name), f"declare it as {returned}, or change the annotation",
        )


def _as_python(t: Type) -> Type:
    """The type as the Python function sees it: a file or dir arrives (and is returned) as its path str."""
    kind = "str" if t.kind in ("file", "dir") else t.kind
    return Type(kind, tuple(_as_python(a) for a in t.args), t.optional)


def fits(given: Type, expected: Type) -> bool:
    """Can a value of `given` be passed where a Python annotation says `expected`? The type
    rules of an edge (`is_assignable`), except that file and dir are their path strings."""
    return is_assignable(given, expected) or is_assignable(_as_python(given), _as_python(expected))


def _own_signature(function: ast.FunctionDef | ast.AsyncFunctionDef, annotations: Annotations) -> bool:
    """Undecorated, or only `@tether.task` (its `__wrapped__` is the function, which the runtime calls)."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if annotations._qualified(target, 0) not in ("tether.task", "tether.api.task.task"):
            return False
    return True


def _output_span(task: Task, name: str) -> Span | None:
    output = task.output(name)
    return output.span if output is not None and output.span is not None else task.span_of(f"outputs.{name}")


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _defined_hint(index: ModuleIndex) -> str:
    functions = [n for n in index.functions if not n.startswith("_")]
    if not functions:
        return "define it at the module's top level"
    shown = ", ".join(functions[:8]) + (", ..." if len(functions) > 8 else "")
    return f"its functions: {shown}"


def _takes_hint(ref: str | None, params: dict[str, Any]) -> str:
    return f"{ref} takes {', '.join(params)}" if params else f"{ref} takes no parameters: remove the input"


def _type_hint(given: Type, expected: Type) -> str:
    if given.as_required() == expected.as_required() and given.optional:
        return f"the value may be null: annotate the parameter {given}, or give a value that is never null"
    return f"pass a value of type {expected}, or annotate the parameter {given}"


def check_python_refs(
    workflow: Workflow, spec: str, diags: Diagnostics, sources: dict[str, str], *,
    strict: bool = False, roots: Sequence[str] | None = None,
) -> None:
    """Report every problem of the workflow's Python references (YAML specs); reads, never imports."""
    if not any(task.python for task in workflow.tasks):
        return
    if roots is None:
        checker = RefChecker(diags, sources, strict, search_path(spec), user_roots(spec))
    else:
        checker = RefChecker(diags, sources, strict, roots, roots)
    checker.check(workflow)


__all__ = ["check_python_refs", "fits", "locate", "search_path", "suggest_module", "user_roots"]
