"""The steps of diamond.yaml: one dataset, two candidate models trained side by side, one winner.

Plain functions (no tether import), called with the task's inputs as keyword arguments; a task
with several outputs returns a dict keyed by the declared output names. The data is small and
synthetic (y = 3x + 2 + noise, from a seeded generator) and passed between tasks as JSON values,
so the whole diamond runs in well under a second on a laptop.
"""

from __future__ import annotations

import math
import random

Points = list[list[float]]


def make_dataset(n_samples: int, holdout_fraction: float, seed: int) -> dict[str, Points]:
    """Sample (x, y) points and split them into a training and a holdout set."""
    rng = random.Random(seed)
    points = [[x, 3.0 * x + 2.0 + rng.gauss(0.0, 0.5)] for x in (rng.uniform(0.0, 10.0) for _ in range(n_samples))]
    cut = int(len(points) * (1.0 - holdout_fraction))
    return {"train": points[:cut], "holdout": points[cut:]}


def _rmse(predict: dict[str, float], points: Points) -> float:
    errors = [(predict["slope"] * x + predict["intercept"] - y) ** 2 for x, y in points]
    return round(math.sqrt(sum(errors) / max(len(errors), 1)), 6)


def fit_mean(train: Points, holdout: Points) -> dict[str, object]:
    """The baseline every model must beat: predict the training mean."""
    mean = sum(y for _, y in train) / max(len(train), 1)
    model = {"slope": 0.0, "intercept": round(mean, 6)}
    return {"model": model, "rmse": _rmse(model, holdout)}


def fit_linear(train: Points, holdout: Points) -> dict[str, object]:
    """Ordinary least squares on one feature, in closed form."""
    n = max(len(train), 1)
    mean_x = sum(x for x, _ in train) / n
    mean_y = sum(y for _, y in train) / n
    var_x = sum((x - mean_x) ** 2 for x, _ in train)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in train) / var_x if var_x else 0.0
    model = {"slope": round(slope, 6), "intercept": round(mean_y - slope * mean_x, 6)}
    return {"model": model, "rmse": _rmse(model, holdout)}


def select_model(
    baseline: dict[str, float], baseline_rmse: float, candidate: dict[str, float], candidate_rmse: float
) -> dict[str, object]:
    """Promote the candidate only when it beats the baseline on the holdout set."""
    if candidate_rmse < baseline_rmse:
        return {"winner": "linear", "model": candidate, "rmse": candidate_rmse}
    return {"winner": "mean", "model": baseline, "rmse": baseline_rmse}
