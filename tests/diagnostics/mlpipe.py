"""The Python tasks of the reference-check cases (E14x, E23x): `tether check` reads this file
with `ast` to verify the YAML cases' `python: mlpipe:...` references; it is never imported."""

from __future__ import annotations

from typing import NamedTuple, Optional

import tether

Row = list[float]


class Metrics(NamedTuple):
    accuracy: float
    loss: float


@tether.task
def train(rows: list[Row], epochs: int, learning_rate: float = 0.1) -> list[float]:
    return [learning_rate * epochs * len(rows)]


def evaluate(weights: list[float], holdout: list[Row]) -> Metrics:
    return Metrics(accuracy=1.0, loss=float(len(weights) + len(holdout)))


def publish(weights: list[float], note: Optional[str] = None) -> None:
    print(weights, note)
