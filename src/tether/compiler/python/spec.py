"""The Python front end: `file.py:workflow` or `package.module:workflow` -> an (unvalidated) Workflow.

The module is imported (a file by path, as a module named after its stem with its directory
first on sys.path, so its tasks' refs are `stem:function` exactly as the runtime imports them),
then the workflow's body runs once under a ContextVar builder: each task call becomes a node, each
promise passed on becomes a `${{ }}` expression, and the return value becomes the outputs.
The result is the same IR the YAML front end builds; `load()` validates it the same way.

User code runs here, so every failure in it (a syntax error, an exception at import or in the
body) becomes a diagnostic at the user's file:line taken from the traceback, never a traceback.
"""

from __future__ import annotations

import ast

import importlib
import importlib.util
import inspect
import os
import re
import sys
import sysconfig
import traceback
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from ...api.building import building
from ...api.graph import BuildError, Builder, CallSite, Node, Promise, TaskInterface
from ...api.task import TaskFunction
from ...api.workflow import WorkflowFunction
from ...core.diagnostics import Diagnostics, Span, did_you_mean
from ...core.expr import Expr, Ref
from ...core.ir import Binding, Output, Task, Workflow, WorkflowInput, WorkflowOutput
from .interface import task_interface, workflow_parameters, workflow_return_types
from .policies import task_fields
from .source import SourceIndex, display_path

_TETHER_DIR = str(Path(__file__).resolve().parents[2])  # src/tether
_LIBRARY_DIRS = tuple(
    str(Path(p).resolve()) + os.sep
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)


def compile_python_ref(ref: str, diags: Diagnostics, sources: dict[str, str]) -> Workflow | None:
    """Compile `path/to/file.py:workflow` or `package.module:workflow`."""
    target, _, attribute = ref.rpartition(":")
    if not target or not attribute.isidentifier():
        diags.error(
            "E100",
            f"'{ref}' does not name a workflow",
            None,
            "write path/to/file.py:WORKFLOW or package.module:WORKFLOW",
        )
        return None
    index = SourceIndex(sources)
    with _importing(target, diags, index) as module:
        if module is None:
            return None
        workflow = getattr(module, attribute, None)
        if not isinstance(workflow, WorkflowFunction):
            _not_a_workflow(module, target, attribute, workflow, diags, index)
            return None
        return compile_workflow(workflow, diags, index)


def compile_workflow(
    workflow: WorkflowFunction[..., Any], diags: Diagnostics, index: SourceIndex
) -> Workflow | None:
    """Run the workflow's body under a builder and turn what it built into IR."""
    fn = workflow.__wrapped__
    code = fn.__code__
    reporter = _Reporter(diags, index)
    builder = Builder(reporter)
    params = workflow_parameters(workflow, index, diags)
    typed = {p.name: p for p in params or []}
    arguments: dict[str, Promise] = {}
    for name, parameter in inspect.signature(fn).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        arguments[name] = Promise(builder, _expr=Ref("inputs", name) if name in typed else None)
    returned: Any = _FAILED
    with building(builder):
        try:
            returned = fn(**arguments)
        except BaseException as exc:  # noqa: BLE001 - user code: report where it failed, never a traceback
            if isinstance(exc, KeyboardInterrupt):
                raise
            _report_exception(exc, f"building workflow '{workflow.workflow_name}' failed", diags, index, code)
    tasks = tuple(_task(node, reporter) for node in builder.nodes)
    outputs = () if returned is _FAILED else _outputs(returned, workflow, builder, diags, index)
    if not tasks and not diags.has_errors:
        diags.error(
            "E117",
            f"workflow '{workflow.workflow_name}' calls no tasks",
            index.def_span(code),
            "call at least one @tether.task in its body",
        )
    inputs = tuple(
        WorkflowInput(p.name, p.type, p.has_default, p.default, "", index.parameter_span(code, p.name))
        for p in params or []
    )
    return Workflow(
        name=workflow.workflow_name,
        tasks=tasks,
        inputs=inputs,
        outputs=outputs,
        description=_first_paragraph(fn.__doc__),
        labels=tuple(sorted(workflow.labels.items())),
        schedule=workflow.schedule,
        span=index.def_span(code),
        source=index.sources.get(index.name(code.co_filename)),
    )


_FAILED = object()


class _Reporter:
    """The builder's link to this compilation: diagnostics, and each task's interface and
    policies computed once (a task called ten times is reported once)."""

    def __init__(self, diags: Diagnostics, index: SourceIndex):
        self.diags = diags
        self.index = index
        self._interfaces: dict[TaskFunction[..., Any], TaskInterface | None] = {}
        self._fields: dict[TaskFunction[..., Any], dict[str, Any]] = {}
        self._spans: dict[TaskFunction[..., Any], dict[str, Span]] = {}
        self._returns: dict[TaskFunction[..., Any], Span] = {}

    def error(
        self,
        code: str,
        message: str,
        site: CallSite | None,
        hint: str | None = None,
        keyword: str | None = None,
    ) -> None:
        span = None
        if site is not None:
            span = (self.index.keyword_span(site, keyword) if keyword else None) or self.index.site_span(site)
        self.diags.error(code, message, span, hint)

    def interface(self, task: Any) -> TaskInterface | None:
        if task not in self._interfaces:
            self._interfaces[task] = task_interface(task, self.index, self.diags)
        return self._interfaces[task]

    def policy_fields(self, task: TaskFunction[..., Any]) -> dict[str, Any]:
        if task not in self._fields:
            code = task.__wrapped__.__code__

            def report(keyword: str, diag_code: str, message: str, hint: str | None) -> None:
                where = self.index.decorator_keyword_span(code, keyword)
                self.diags.error(diag_code, f"task '{task.task_name}': {message}", where, hint)

            self._fields[task] = task_fields(task.options, report)
        return self._fields[task]

    def return_span(self, task: TaskFunction[..., Any]) -> Span:
        """Where a task's outputs are declared: its return annotation."""
        if task not in self._returns:
            self._returns[task] = self.index.return_span(task.__wrapped__.__code__)
        return self._returns[task]

    def policy_spans(self, task: TaskFunction[..., Any]) -> dict[str, Span]:
        """Spans of the decorator keywords, under the keys validation looks up ('timeout',
        'env.NAME', 'secrets[i]', ...), so a policy problem found later points at the decorator."""
        if task in self._spans:
            return self._spans[task]
        code = task.__wrapped__.__code__
        def_line = self.index.def_span(code).line
        spans = {}
        for key in (
            "retries",
            "interruptible",
            "checkpoint",
            "resources",
            "timeout",
            "cache",
            "image",
            "env",
            "secrets",
        ):
            span = self.index.decorator_keyword_span(code, key)
            if span.line != def_line:
                spans[key] = span
        if "env" in spans:
            spans.update({f"env.{name}": spans["env"] for name in task.options.env})
        if "secrets" in spans:
            spans.update({f"secrets[{i}]": spans["secrets"] for i in range(len(task.options.secrets))})
        self._spans[task] = spans
        return spans


def _task(node: Node, reporter: _Reporter) -> Task:
    index = reporter.index
    interface = node.interface
    call_span = index.site_span(node.site)
    spans: dict[str, Span] = dict(reporter.policy_spans(node.task))
    bindings = []
    for name, expr in node.bindings.items():
        span = index.keyword_value_span(node.site, name) or call_span
        spans[f"inputs.{name}"] = span
        bindings.append(Binding(name, interface.inputs[name] if interface else None, expr, span))
    after = tuple(dict.fromkeys(name for name, _ in node.after))
    for i, (_, site) in enumerate(node.after):
        spans.setdefault(f"after[{i}]", index.site_span(site))
    if node.when_site is not None:
        spans["when"] = index.site_span(node.when_site)
    if node.foreach_site is not None:
        spans["foreach"] = index.site_span(node.foreach_site)
    fn = node.task.__wrapped__
    return_span = reporter.return_span(node.task)
    return Task(
        name=node.name,
        python=interface.python if interface else f"{fn.__module__}:{fn.__qualname__}",  # broken: reported
        inputs=tuple(bindings),
        outputs=tuple(
            Output(name, type_, return_span) for name, type_ in (interface.outputs if interface else ())
        ),
        after=after,
        when=node.when,
        foreach=node.foreach,
        span=call_span,
        spans=spans,
        **reporter.policy_fields(node.task),
    )


def _outputs(
    returned: Any,
    workflow: WorkflowFunction[..., Any],
    builder: Builder,
    diags: Diagnostics,
    index: SourceIndex,
) -> tuple[WorkflowOutput, ...]:
    """A promise -> `result` (a task's NamedTuple outputs keep their names); a NamedTuple or a
    dict of promises -> their names; None -> no outputs."""
    code = workflow.__wrapped__.__code__
    span = index.return_statement_span(code)
    site = CallSite(code.co_filename, span.line)
    named: list[tuple[str, Any]]
    if returned is None:
        return ()
    if isinstance(returned, Promise) and returned._node is not None and len(returned._node.output_names) > 1:
        named = [(name, getattr(returned, name)) for name in returned._node.output_names]
    elif isinstance(returned, tuple) and hasattr(returned, "_fields"):
        named = list(zip(returned._fields, returned))
    elif isinstance(returned, dict):
        if not all(isinstance(k, str) and k.isidentifier() for k in returned):
            diags.error(
                "E127",
                "workflow output names must be identifiers",
                span,
                "return {'accuracy': metrics.accuracy, ...}",
            )
            return ()
        named = list(returned.items())
    elif isinstance(returned, (tuple, list)):
        diags.error(
            "E127",
            f"workflow '{workflow.workflow_name}' returns a {type(returned).__name__}; outputs need names",
            span,
            "return a NamedTuple or a dict of promises: return {'model': model, 'accuracy': metrics.accuracy}",
        )
        return ()
    else:
        named = [("result", returned)]
    single = len(named) == 1 and named[0][1] is returned
    # The return annotation declares the outputs' types (validation checks the values against
    # them): a plain `-> T` is the type of a single `result`, a NamedTuple's fields go by name.
    declared, plain = workflow_return_types(workflow, index)
    if plain and not single:
        declared = {}
    outputs = []
    for name, value in named:
        expr: Expr | None = builder.to_expr(value, site, f"workflow output '{name}'")
        if expr is not None:
            outputs.append(WorkflowOutput(name, expr, declared.get(name), span))
    return tuple(outputs)


def _first_paragraph(doc: str | None) -> str:
    """A workflow's description: the first paragraph of its docstring, on one line."""
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


# ---------------------------------------------------------------------------- importing


class _importing:
    """Import the spec's module for the duration of a compilation.

    A file is imported fresh under its stem with its directory first on sys.path (and the
    previous `sys.modules[stem]`, if any, put back afterwards); a module name is imported
    normally with the working directory on sys.path, as `python -m` would.
    """

    def __init__(self, target: str, diags: Diagnostics, index: SourceIndex):
        self.target = target
        self.diags = diags
        self.index = index
        self._path_entry: str | None = None
        self._name: str | None = None
        self._saved: ModuleType | None = None

    def __enter__(self) -> ModuleType | None:
        if self.target.endswith(".py") or os.sep in self.target or "/" in self.target:
            return self._import_file(Path(self.target))
        return self._import_module(self.target)

    def __exit__(self, *exc: object) -> None:
        if self._path_entry is not None and self._path_entry in sys.path:
            sys.path.remove(self._path_entry)
        if self._name is not None:
            if self._saved is not None:
                sys.modules[self._name] = self._saved
            else:
                sys.modules.pop(self._name, None)

    def _add_path(self, entry: str) -> None:
        if entry not in sys.path:
            sys.path.insert(0, entry)
            self._path_entry = entry

    def _import_file(self, path: Path) -> ModuleType | None:
        if not path.is_file():
            hint = "check the path" if path.suffix == ".py" else "a Python spec is path/to/file.py:WORKFLOW"
            self.diags.error("E101", f"cannot read '{self.target}': no such file", None, hint)
            return None
        stem = path.stem
        self.index.lines(str(path.resolve()))
        if stem in sys.stdlib_module_names:
            self.diags.error(
                "E120",
                f"'{path.name}' has the name of the standard library module '{stem}'",
                Span(display_path(str(path)), 1, 1),
                f"rename the file: the runtime imports tasks as {stem}:FUNCTION and would find the standard library's {stem}",
            )
            return None
        if not stem.isidentifier():
            self.diags.error(
                "E120",
                f"'{path.name}' cannot be imported: '{stem}' is not a valid module name",
                Span(display_path(str(path)), 1, 1),
                "rename the file with letters, digits and underscores (the runtime imports tasks as MODULE:function)",
            )
            return None
        self._add_path(str(path.resolve().parent))
        spec = importlib.util.spec_from_file_location(stem, path.resolve())
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        self._name, self._saved = stem, sys.modules.get(stem)
        sys.modules[stem] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            _report_exception(exc, f"importing '{self.target}' failed", self.diags, self.index, None)
            return None
        return module

    def _import_module(self, name: str) -> ModuleType | None:
        self._add_path(os.getcwd())
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                self.diags.error(
                    "E120",
                    f"no module named '{exc.name}'",
                    None,
                    "give a file (path/to/file.py:WORKFLOW), or run from the directory that holds the package",
                )
                return None
            _report_exception(exc, f"importing '{name}' failed", self.diags, self.index, None)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            _report_exception(exc, f"importing '{name}' failed", self.diags, self.index, None)
        return None


def _not_a_workflow(
    module: ModuleType, target: str, attribute: str, value: Any, diags: Diagnostics, index: SourceIndex
) -> None:
    workflows = sorted(name for name, obj in vars(module).items() if isinstance(obj, WorkflowFunction))
    span = None
    if value is None:
        guess = did_you_mean(attribute, workflows)
        hint = (
            f"did you mean '{guess}'?"
            if guess
            else (
                f"its workflows: {', '.join(workflows)}"
                if workflows
                else "decorate a function with @tether.workflow"
            )
        )
        diags.error("E121", f"'{target}' has no workflow '{attribute}'", span, hint)
        return
    if isinstance(value, TaskFunction):
        hint = "compile a @tether.workflow that calls this task"
    else:
        hint = "decorate it with @tether.workflow" + (
            f" (workflows here: {', '.join(workflows)})" if workflows else ""
        )
    function = getattr(value, "__wrapped__", value)
    if callable(function) and hasattr(function, "__code__"):
        span = index.def_span(function.__code__)
    else:  # `wf = 5`: the module's own line that binds the name
        span = _binding_span(module, attribute, index)
    diags.error("E121", f"'{attribute}' in '{target}' is not a @tether.workflow", span, hint)


def _binding_span(module: ModuleType, name: str, index: SourceIndex) -> Span | None:
    """Where `module` last binds `name` at its top level (an assignment, def, class or import)."""
    filename = getattr(module, "__file__", None)
    tree = index.tree(filename) if filename else None
    if tree is None or filename is None:
        return None
    found: ast.AST | None = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            found = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found = next((t for t in targets if isinstance(t, ast.Name) and t.id == name), found)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            found = node
    return index.node_span(filename, found) if found is not None else None


def _report_exception(
    exc: BaseException, what: str, diags: Diagnostics, index: SourceIndex, code: Any
) -> None:
    """A diagnostic at the user's line that raised (or a BuildError's own code and hint)."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        col = exc.offset or 1
        end = (
            exc.end_offset if exc.end_lineno == exc.lineno and exc.end_offset and exc.end_offset > col else 0
        )
        index.lines(exc.filename)
        syntax_span = Span(display_path(exc.filename), exc.lineno, col, exc.lineno if end else 0, end or 0)
        diags.error("E120", f"{what}: SyntaxError: {exc.msg}", syntax_span, None)
        return
    where = _user_frame(exc.__traceback__)
    span: Span | None = (
        index.span(where[0], where[1]) if where else (index.def_span(code) if code is not None else None)
    )
    if isinstance(exc, BuildError):
        diags.error(exc.code, str(exc), span, exc.hint)
        return
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    hint = None
    if "Promise" in message:
        hint = "a workflow body only wires tasks together: compute with the values inside a task"
    elif isinstance(exc, ImportError):
        hint = "the spec's directory is on sys.path; install or vendor other dependencies"
    elif isinstance(exc, TypeError):
        hint = _keyword_hint(str(exc))
    diags.error("E120" if code is None else "E122", f"{what}: {message}", span, hint)


_UNEXPECTED_KEYWORD = re.compile(r"^(task|workflow)\(\) got an unexpected keyword argument '(\w+)'$")


def _keyword_hint(message: str) -> str | None:
    """`@tether.task(retry=3)` -> "did you mean retries=...?" (a typo fails at import, in Python itself)."""
    match = _UNEXPECTED_KEYWORD.match(message)
    if match is None:
        return None
    import tether

    function = getattr(tether, match.group(1))
    keywords = [p.name for p in inspect.signature(function).parameters.values() if p.kind is p.KEYWORD_ONLY]
    from ...core.diagnostics import did_you_mean

    guess = did_you_mean(match.group(2), keywords)
    if guess is None:
        return f"tether.{match.group(1)}() takes {', '.join(keywords)}"
    return f"did you mean {guess}=...? tether.{match.group(1)}() takes {', '.join(keywords)}"


def _user_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost frame of the traceback in user code: not tether, not the standard library."""
    found: tuple[str, int] | None = None
    for frame, line in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if filename.startswith("<"):
            continue
        resolved = str(Path(filename).resolve())
        if resolved.startswith(_TETHER_DIR + os.sep) or resolved.startswith(_LIBRARY_DIRS):
            continue
        found = (filename, line)
    return found
