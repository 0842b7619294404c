"""Building a workflow's DAG by calling tasks: the builder and the promises it hands out.

While the compiler runs a `@tether.workflow` body, each task call adds a node to the builder it
finds in a ContextVar (`building.py`; never a process global: two threads, or a compilation
nested in another, never see each other's nodes) and returns a `Promise` of the task's outputs.
Promises only describe values: they are wired into later calls, compared to build `when`
conditions, and turned into the IR's `${{ }}` expressions. Mistakes are reported to the compiler
with the caller's file:line and building carries on, so one compile reports every problem.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from functools import cached_property
from types import FrameType
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol

from .literals import NOT_JSON, json_value

if TYPE_CHECKING:
    from ..core.expr import Expr
    from ..core.types import Type


class BuildError(Exception):
    """A workflow body did something the builder cannot go on from (`if promise:`, iterating one).

    The compiler turns it into a diagnostic at the user's line; it never escapes a compile.
    """

    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.hint = hint


@dataclass(frozen=True)
class CallSite:
    """Where user code called into the builder. Columns are 0-based UTF-8 byte offsets, as in
    `ast` and `co_positions`; the compiler converts them to a Span against the source text."""

    file: str
    line: int
    col: int | None = None
    end_line: int | None = None
    end_col: int | None = None


def call_site(frame: FrameType) -> CallSite:
    """The precise source range of the instruction `frame` is executing (Python 3.11+), else its line."""
    code = frame.f_code
    line = frame.f_lineno or code.co_firstlineno
    positions = getattr(code, "co_positions", None)
    if positions is not None and frame.f_lasti >= 0:  # one entry per 2-byte code unit
        position = next(itertools.islice(positions(), frame.f_lasti // 2, None), None)
        if position is not None and position[0] is not None:
            start, end, col, end_col = position
            return CallSite(code.co_filename, start, col, end, end_col)
    return CallSite(code.co_filename, line)


def caller(depth: int = 1) -> CallSite:
    """The call site `depth` frames above the function calling this one."""
    return call_site(sys._getframe(depth + 1))


@dataclass(frozen=True)
class TaskInterface:
    """A task's typed interface, read from its annotations by the compiler."""

    name: str  # the IR task name before de-duplication, e.g. "use-checkpoint"
    python: str  # "module:function"
    inputs: Mapping[str, "Type"]  # in signature order
    required: frozenset[str]
    outputs: tuple[tuple[str, "Type"], ...]  # in declaration order

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.outputs)


class Reporter(Protocol):
    """What the builder needs from the compiler: a place for errors, and task interfaces."""

    def error(
        self,
        code: str,
        message: str,
        site: CallSite | None,
        hint: str | None = None,
        keyword: str | None = None,
    ) -> None:
        """Report at `site`; with `keyword`, at that keyword argument of the call at `site`."""

    def interface(self, task: Any) -> TaskInterface | None: ...


@dataclass(eq=False)
class Node:
    """One task call in the workflow body, to become one IR Task."""

    name: str
    task: Any  # the TaskFunction that was called
    interface: TaskInterface | None  # None when its annotations are broken (already reported)
    site: CallSite
    bindings: dict[str, "Expr"] = field(default_factory=dict)
    after: list[tuple[str, CallSite]] = field(default_factory=list)
    when: "Expr | None" = None
    when_site: CallSite | None = None
    foreach: "Expr | None" = None
    foreach_site: CallSite | None = None

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.interface.output_names if self.interface else ()


@dataclass(eq=False)
class _ForeachScope:
    items: "Expr"
    site: CallSite
    active: bool = True


@dataclass
class Builder:
    """The DAG under construction; lives only while the compiler runs one workflow body."""

    reporter: Reporter
    nodes: list[Node] = field(default_factory=list)
    _foreach: list[_ForeachScope] = field(default_factory=list)
    _when: list[tuple["Expr", CallSite]] = field(default_factory=list)
    _taken: set[str] = field(default_factory=set)
    _calls: dict[str, int] = field(default_factory=dict)  # base name -> highest suffix used

    # -- task calls

    def add_call(
        self, task: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], site: CallSite
    ) -> "Promise":
        interface = self.reporter.interface(task)
        node = Node(
            self._unique_name(interface.name if interface else _fallback_name(task)), task, interface, site
        )
        self.nodes.append(node)
        if args:
            example = (
                ", ".join(f"{name}=..." for name in (interface.inputs if interface else ())) or "name=value"
            )
            self.reporter.error(
                "E123",
                f"task '{node.name}' was called with {len(args)} positional argument(s); task calls take keywords only",
                site,
                f"name every input: {getattr(task, '__name__', 'task')}({example})",
            )
        unknown = False
        for name, value in kwargs.items():
            if interface is not None and name not in interface.inputs:
                from ..core.diagnostics import did_you_mean

                guess = did_you_mean(name, interface.inputs)
                known = ", ".join(interface.inputs) or "none"
                self.reporter.error(
                    "E124",
                    f"task '{node.name}' has no input '{name}'",
                    site,
                    f"did you mean '{guess}'?" if guess else f"its inputs are: {known}",
                    keyword=name,
                )
                unknown = True
                continue
            expr = self.to_expr(value, site, f"input '{name}' of task '{node.name}'", keyword=name)
            if expr is not None:
                node.bindings[name] = expr
        if interface is not None and not args and not unknown:  # else the real mistake is already reported
            missing = [name for name in interface.inputs if name in interface.required and name not in kwargs]
            if missing:
                self.reporter.error(
                    "E125",
                    f"task '{node.name}' is missing required input(s): {', '.join(missing)}",
                    site,
                    "pass them as keywords, or give the function's parameters defaults",
                )
        if self._foreach:
            scope = self._foreach[-1]
            node.foreach, node.foreach_site = scope.items, scope.site
        if self._when:
            node.when, node.when_site = _conjunction([expr for expr, _ in self._when]), self._when[-1][1]
        return Promise(self, _node=node)

    def _unique_name(self, base: str) -> str:
        """`base`, then `base-2`, `base-3`, ... for repeated calls of one task, in call order."""
        name, n = base, self._calls.get(base, 1)
        while name in self._taken:
            n += 1
            name = f"{base}-{n}"
        self._calls[base] = n
        self._taken.add(name)
        return name

    # -- values

    def to_expr(self, value: Any, site: CallSite, what: str, keyword: str | None = None) -> "Expr | None":
        """The IR expression for a Python value passed to a task; None (reported) when it has none."""
        from ..core import expr as E

        if isinstance(value, Promise):
            return value._value(site, keyword)
        if isinstance(value, str) and "${{" in value:
            try:
                return E.parse_template(value)
            except E.ExprSyntaxError as exc:
                self.reporter.error("E201", f"{what}: {exc}", site, exc.hint, keyword)
                return None
        if isinstance(value, (list, tuple)) and _holds_promise(value):
            items = [self.to_expr(item, site, what, keyword) for item in value]
            return None if any(item is None for item in items) else E.ListExpr(tuple(items))  # type: ignore[arg-type]
        if isinstance(value, dict) and _holds_promise(value):
            self.reporter.error(
                "E213",
                f"{what}: a dict cannot hold promises",
                site,
                "pass each promise as its own task input, or build the dict inside a task",
                keyword,
            )
            return None
        literal = json_value(value, tuple)
        if literal is NOT_JSON:
            self.reporter.error(
                "E213",
                f"{what}: a {type(value).__name__} cannot be passed to a task",
                site,
                "task inputs are promises or JSON values: None, bool, int, float, str, lists and dicts of them",
                keyword,
            )
            return None
        return E.Literal(literal)

    # -- scopes

    def enter_foreach(self, items: Any, site: CallSite) -> "Promise":
        from ..core.expr import Literal, Ref

        if self._foreach:
            self.reporter.error(
                "E128",
                "tether.foreach cannot be nested",
                site,
                "a task fans out over one list; flatten the list in a task first",
            )
            outer = self._foreach[-1]  # keep fanning out over the outer list: no follow-on errors
            self._foreach.append(_ForeachScope(outer.items, outer.site))
            return Promise(self)
        expr = self.to_expr(items, site, "the list of tether.foreach")
        scope = _ForeachScope(expr if expr is not None else Literal(()), site)
        self._foreach.append(scope)
        return Promise(self, _expr=Ref("item") if expr is not None else None, _scope=scope)

    def exit_foreach(self) -> None:
        self._foreach.pop().active = False

    def enter_when(self, condition: Any, site: CallSite) -> None:
        if isinstance(condition, Promise):
            expr = condition._value(site)
        else:
            self.reporter.error(
                "E128",
                f"tether.when needs a condition built from promises, not a {type(condition).__name__}",
                site,
                "compare task outputs or workflow inputs, e.g. tether.when(metrics.accuracy > 0.9); "
                "a plain Python `if` decides at compile time",
            )
            expr = None
        from ..core.expr import Literal

        self._when.append((expr if expr is not None else Literal(True), site))

    def exit_when(self) -> None:
        self._when.pop()


def _conjunction(exprs: list["Expr"]) -> "Expr":
    from ..core.expr import BinOp

    result = exprs[0]
    for expr in exprs[1:]:
        result = BinOp("and", result, expr)
    return result


def _fallback_name(task: Any) -> str:
    return str(getattr(task, "__name__", "task")).replace("_", "-").lower()


def _holds_promise(value: Any) -> bool:
    if isinstance(value, Promise):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_promise(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_promise(v) for v in value.values())
    return False


class Promise:
    """A value that will exist when the workflow runs: a task's outputs, a workflow input, the
    current `foreach` item, or a condition built from those.

    - pass it to a later task call: `train(data=prep)`; `prep.result` or `prep.FIELD` picks one
      output (a task with one output can be passed as is); `model, metrics = train(...)`
      unpacks a NamedTuple's outputs;
    - compare it to build a condition: `metrics.accuracy > 0.9`, combined with `&`, `|`, `~`;
    - order a task after others without passing data: `publish(...).after(check)`;
    - interpolate it in a string: `f"s3://bucket/{run_name}/model"`.
    """

    __slots__ = ("_builder", "_expr", "_node", "_scope")
    __hash__ = None  # type: ignore[assignment]  # == builds a condition, so promises are unhashable

    def __init__(
        self,
        builder: Builder,
        *,
        _expr: "Expr | None" = None,
        _node: Node | None = None,
        _scope: _ForeachScope | None = None,
    ):
        self._builder = builder
        self._expr = _expr
        self._node = _node
        self._scope = _scope

    @property
    def _broken(self) -> bool:
        """An error was already reported for this value; anything built from it stays quiet."""
        return self._expr is None and self._node is None

    def _value(self, site: CallSite, keyword: str | None = None) -> "Expr | None":
        """The expression this promise stands for when used as a value (`keyword`: where it was passed)."""
        node = self._node
        if node is not None:
            if node.interface is None:
                return None
            names = node.output_names
            if len(names) == 1:
                from ..core.expr import Ref

                return Ref("tasks", names[0], node.name)
            if not names:
                self._builder.reporter.error(
                    "E214",
                    f"task '{node.name}' returns nothing, so its result cannot be passed on",
                    site,
                    f"to run something after it without data, use .after(): other(...).after({node.name.replace('-', '_')})",
                    keyword,
                )
            else:
                self._builder.reporter.error(
                    "E214",
                    f"task '{node.name}' has several outputs ({', '.join(names)}); pick one",
                    site,
                    f"pass e.g. promise.{names[0]}, or unpack: {', '.join(names)} = {node.name.replace('-', '_')}(...)",
                    keyword,
                )
            return None
        if self._scope is not None and not self._scope.active:
            self._builder.reporter.error(
                "E205",
                "a tether.foreach item was used outside its `with` block",
                site,
                "call the tasks that use the item inside the `with tether.foreach(...)` block",
                keyword,
            )
            return None
        return self._expr

    def _derive(self, expr: "Expr | None") -> "Promise":
        return Promise(self._builder, _expr=expr)

    # -- outputs

    def __getattr__(self, name: str) -> "Promise":
        if name.startswith("_"):
            raise AttributeError(name)
        node = self._node
        if node is None:
            raise AttributeError(
                f"{name!r}: only a task call's promise has outputs; use promise[{name!r}] to reach into a dict value"
            )
        if node.interface is None:
            return self._derive(None)
        if name not in node.output_names:
            from ..core.diagnostics import did_you_mean

            guess = did_you_mean(name, node.output_names)
            self._builder.reporter.error(
                "E303",
                f"task '{node.name}' has no output '{name}'",
                caller(),
                (
                    f"did you mean '{guess}'?"
                    if guess
                    else f"its outputs are: {', '.join(node.output_names) or 'none'}"
                ),
            )
            return self._derive(None)
        from ..core.expr import Ref

        return self._derive(Ref("tasks", name, node.name))

    def __getitem__(self, key: str | int) -> "Promise":
        """Reach into a dict or list value: `config["lr"]`, `shards[0]`."""
        from ..core.expr import Ref

        base = self._value(caller())
        if base is None:
            return self._derive(None)
        if not isinstance(base, Ref) or not isinstance(key, (str, int)) or isinstance(key, bool):
            self._builder.reporter.error(
                "E207", "only a task output, a workflow input or a foreach item can be indexed", caller()
            )
            return self._derive(None)
        return self._derive(Ref(base.root, base.name, base.task, base.path + (key,)))

    def __iter__(self) -> Iterator["Promise"]:
        node = self._node
        if node is not None and len(node.output_names) > 1:
            return iter([getattr(self, name) for name in node.output_names])
        raise BuildError(
            "E129",
            "a promise cannot be iterated while the workflow is being built",
            "fan out with `with tether.foreach(items) as item: ...`",
        )

    # -- ordering

    def after(self, *others: "Promise | list[Promise] | tuple[Promise, ...]") -> "Promise":
        """Run this task only after `others` finished, without passing data. Returns self."""
        site = caller()
        if self._node is None:
            self._builder.reporter.error("E128", ".after() applies to a task call's promise", site)
            return self
        flat: list[Any] = []
        for other in others:
            flat.extend(other if isinstance(other, (list, tuple)) else [other])
        for other in flat:
            if isinstance(other, Promise) and other._node is not None:
                self._node.after.append((other._node.name, site))
            elif not (isinstance(other, Promise) and other._broken):
                self._builder.reporter.error(
                    "E128",
                    f".after() takes promises of task calls, not a {type(other).__name__}",
                    site,
                    "pass what an earlier task call returned: train(...).after(prepare)",
                )
        return self

    # -- conditions

    def _compare(self, op: str, other: Any) -> "Promise":
        site = caller(2)
        left = self._value(site)
        right = self._builder.to_expr(other, site, f"the right side of {op}")
        if left is None or right is None:
            return self._derive(None)
        from ..core.expr import BinOp

        return self._derive(BinOp(op, left, right))

    def __eq__(self, other: Any) -> "Promise":  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other: Any) -> "Promise":  # type: ignore[override]
        return self._compare("!=", other)

    def __lt__(self, other: Any) -> "Promise":
        return self._compare("<", other)

    def __le__(self, other: Any) -> "Promise":
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> "Promise":
        return self._compare(">", other)

    def __ge__(self, other: Any) -> "Promise":
        return self._compare(">=", other)

    def __and__(self, other: Any) -> "Promise":
        return self._compare("and", other)

    def __or__(self, other: Any) -> "Promise":
        return self._compare("or", other)

    def __rand__(self, other: Any) -> "Promise":
        return self._builder_promise(other)._compare("and", self)

    def __ror__(self, other: Any) -> "Promise":
        return self._builder_promise(other)._compare("or", self)

    def _builder_promise(self, value: Any) -> "Promise":
        return self._derive(self._builder.to_expr(value, caller(2), "a condition"))

    def __invert__(self) -> "Promise":
        value = self._value(caller())
        if value is None:
            return self._derive(None)
        from ..core.expr import Not

        return self._derive(Not(value))

    def __bool__(self) -> bool:
        raise BuildError(
            "E129",
            "a promise has no truth value while the workflow is being built",
            "use `with tether.when(condition):` to run tasks conditionally, and & | ~ instead of and/or/not",
        )

    # -- text

    def __format__(self, spec: str = "") -> str:
        """In an f-string a promise becomes `${{ ... }}`, so the string binds as an interpolation."""
        from ..core.expr import to_template

        value = self._value(caller())
        return "" if value is None else to_template(value)

    __str__ = __format__

    def __repr__(self) -> str:
        from ..core.expr import to_template

        if self._node is not None:
            return f"<promise of task {self._node.name!r} outputs {list(self._node.output_names)}>"
        return "<promise (error)>" if self._expr is None else f"<promise {to_template(self._expr)}>"
