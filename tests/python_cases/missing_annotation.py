"""Annotation problems are reported at the parameter (or return annotation) they concern."""

from typing import Any

import tether


@tether.task(retries=1)
def scale(values: list[float], factor) -> list[float]:
    return [v * factor for v in values]


@tether.task
def summarize(values: list[float], extra: Any) -> set[int]:
    return set()


@tether.task
def no_return(values: list[float]):
    return values


@tether.workflow
def annotations(values: list[float]) -> None:
    scaled = scale(values=values, factor=2.0)
    summarize(values=scaled, extra=1)
    no_return(values=scaled)
