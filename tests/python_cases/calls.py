"""Mistakes in task calls, each reported at its own call site."""

from typing import NamedTuple

import tether


class Split(NamedTuple):
    train: list[int]
    test: list[int]


@tether.task
def split(n: int) -> Split:
    return Split(list(range(n)), [])


@tether.task
def log(message: str) -> None:
    print(message)


@tether.task
def total(values: list[int], scale: int = 1) -> int:
    return sum(values) * scale


@tether.workflow
def calls(n: int) -> None:
    parts = split(n)
    total(valuez=parts.train)
    total(scale=2)
    done = log(message="hi")
    total(values=done)
    total(values=parts)
    total(values=parts.validation)
    total(values={1, 2})
    total(values=[parts.train, {"a": parts.test}])
    log(message="${{ inputs.n + }}")
    total(values=parts.train).after("split")
