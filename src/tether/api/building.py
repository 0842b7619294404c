"""Where a workflow body finds its builder, and the `foreach` / `when` blocks it opens.

This module is all that `import tether` loads for building workflows: a ContextVar (never a
process global, so two threads or a compilation nested in another never mix) and two tiny
block objects. The builder itself (`graph.py`) is imported only by the compiler.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .graph import Builder, CallSite, Promise

_BUILDER: ContextVar[Builder | None] = ContextVar("tether_workflow_builder", default=None)


def active_builder() -> "Builder | None":
    """The builder of the workflow being compiled in this context, if any."""
    return _BUILDER.get()


class building:
    """`with building(builder):` makes `builder` the active one for this context only."""

    def __init__(self, builder: "Builder"):
        self._builder = builder
        self._token: Any = None

    def __enter__(self) -> "Builder":
        self._token = _BUILDER.set(self._builder)
        return self._builder

    def __exit__(self, *exc: object) -> None:
        _BUILDER.reset(self._token)


def _require_builder(what: str) -> "Builder":
    builder = _BUILDER.get()
    if builder is None:
        raise RuntimeError(f"tether.{what}() is only meaningful inside a @tether.workflow body")
    return builder


class _ForeachBlock:
    def __init__(self, items: Any, site: "CallSite | None"):
        self._items = items
        self._site = site
        self._builder: "Builder | None" = None

    def __enter__(self) -> "Promise":
        self._builder = _require_builder("foreach")
        assert self._site is not None  # a builder was active when foreach() was called
        return self._builder.enter_foreach(self._items, self._site)

    def __exit__(self, *exc: object) -> None:
        assert self._builder is not None
        self._builder.exit_foreach()


class _WhenBlock:
    def __init__(self, condition: Any, site: "CallSite | None"):
        self._condition = condition
        self._site = site
        self._builder: "Builder | None" = None

    def __enter__(self) -> None:
        self._builder = _require_builder("when")
        assert self._site is not None
        self._builder.enter_when(self._condition, self._site)

    def __exit__(self, *exc: object) -> None:
        assert self._builder is not None
        self._builder.exit_when()


def foreach(items: Any) -> _ForeachBlock:
    """Fan out: every task called in the block runs once per element of `items` (a list promise).

    with tether.foreach(shards) as shard:
        cleaned = preprocess(shard=shard)
    train(data=cleaned)          # after the block, cleaned is the list of all results
    """
    return _ForeachBlock(items, _caller())


def when(condition: Any) -> _WhenBlock:
    """Run the tasks called in the block only if `condition` holds at run time.

        with tether.when(metrics.accuracy > 0.9):
            publish(model=model)

    Combine conditions with `&`, `|` and `~` (Python's `and`/`or`/`not` cannot be overloaded),
    parenthesising comparisons: `(a > 1) & ~(b == "x")`.
    """
    return _WhenBlock(condition, _caller())


def _caller() -> "CallSite | None":
    """The call site of whoever called foreach()/when(); only computed while building
    (outside a build there is none, and entering the block raises the misuse)."""
    if _BUILDER.get() is None:
        return None
    from .graph import call_site

    return call_site(sys._getframe(2))
