"""An ML training pipeline: sharded preprocessing, checkpointed training on spot GPUs, a gated publish.

    make-dataset ──> preprocess[0..n_shards-1] ──> train ──> evaluate ──> publish (if accurate)
                 └───────────── holdout ─────────────────────┘

`train` is the long job: it runs on interruptible (spot) GPU capacity and checkpoints the model
after every epoch with `cp.save`, so a reclaimed node costs at most one epoch: the next attempt
restores the newest checkpoint and carries on. Try it:

    tether run specs/examples/ml_training.py:ml_training --interrupt train@1

The model is a logistic regression trained by gradient descent on synthetic 2-D points, in pure
Python, so the whole pipeline runs in about a second anywhere. The YAML twin, ml_training.yaml,
compiles to the same IR.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from pathlib import Path
from typing import NamedTuple

import tether

Row = list[float]  # [x1, x2, label]


class Dataset(NamedTuple):
    shards: list[list[Row]]
    holdout: list[Row]


class Metrics(NamedTuple):
    accuracy: float
    loss: float


@tether.task(resources=tether.Resources(cpu="500m", memory="256Mi"), timeout="10m")
def make_dataset(n_samples: int, n_shards: int, seed: int) -> Dataset:
    """Two Gaussian blobs (labels 0 and 1) with a few corrupt rows, split into shards + a holdout."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for i in range(n_samples):
        label = i % 2
        centre = 1.0 if label else -1.0
        rows.append([rng.gauss(centre, 1.0), rng.gauss(centre, 1.0), float(label)])
    for i in range(0, n_samples, 50):  # what real data has: sensor glitches
        rows[i][0] = 1e9
    rng.shuffle(rows)
    cut = n_samples * 4 // 5
    train_rows, holdout = rows[:cut], rows[cut:]
    shards = [train_rows[i::n_shards] for i in range(n_shards)]
    return Dataset(shards=shards, holdout=holdout)


def clean_rows(rows: list[Row]) -> list[Row]:
    """Drop rows with non-finite or absurd features; the same rule for training and evaluation."""
    return [row for row in rows if all(math.isfinite(x) and abs(x) < 100 for x in row[:2])]


@tether.task(retries=2, resources=tether.Resources(cpu="1", memory="512Mi"), cache=tether.Cache(version="1"))
def preprocess(shard: list[Row]) -> list[Row]:
    """Clean one shard. Shards run in parallel (foreach), and cached: same shard, same result."""
    return clean_rows(shard)


@tether.task(
    retries=tether.Retry(2, backoff=tether.Backoff(delay="30s", factor=2, max_delay="5m")),
    interruptible=tether.Interruptible(max_interruptions=5),
    checkpoint=tether.Checkpoint(keep=2),
    resources=tether.Resources(cpu="4", memory="16Gi", gpu=1),
    timeout="6h",
    image="ghcr.io/acme/trainer:1.4",
    env={"PYTHONUNBUFFERED": "1"},
)
def train(shards: list[list[Row]], epochs: int, learning_rate: float) -> list[float]:
    """Gradient descent on the logistic loss; the model [w1, w2, bias] is checkpointed every epoch."""
    cp = tether.current_context().checkpoint
    rows = [row for shard in shards for row in shard]
    workdir = Path(tempfile.mkdtemp(prefix="train-"))
    model_file = workdir / "model.json"
    state = {"epoch": 0, "weights": [0.0, 0.0, 0.0]}
    if cp.restore(model_file) is not None:  # a retry or a reclaimed spot node: resume
        state = json.loads(model_file.read_text())
        print(f"resuming after epoch {state['epoch']}")
    weights = state["weights"]
    for epoch in range(state["epoch"], epochs):
        gradient = [0.0, 0.0, 0.0]
        for x1, x2, label in rows:
            error = _sigmoid(weights[0] * x1 + weights[1] * x2 + weights[2]) - label
            gradient = [gradient[0] + error * x1, gradient[1] + error * x2, gradient[2] + error]
        weights = [w - learning_rate * g / len(rows) for w, g in zip(weights, gradient)]
        model_file.write_text(json.dumps({"epoch": epoch + 1, "weights": weights}))
        cp.save(model_file)  # durable when it returns: an interruption now loses nothing
    return weights


@tether.task(resources=tether.Resources(cpu="1", memory="1Gi"), timeout="30m")
def evaluate(weights: list[float], holdout: list[Row]) -> Metrics:
    """Accuracy and mean logistic loss on the cleaned holdout."""
    rows = clean_rows(holdout)
    correct, loss = 0, 0.0
    for x1, x2, label in rows:
        p = min(max(_sigmoid(weights[0] * x1 + weights[1] * x2 + weights[2]), 1e-12), 1 - 1e-12)
        correct += int((p >= 0.5) == bool(label))
        loss -= label * math.log(p) + (1 - label) * math.log(1 - p)
    return Metrics(accuracy=round(correct / len(rows), 4), loss=round(loss / len(rows), 4))


@tether.task(retries=tether.Retry(3, backoff=tether.Backoff(delay="10s")))
def publish(weights: list[float], accuracy: float, registry_dir: tether.Dir) -> str:
    """Write the model to the registry (a directory here: publishing twice is harmless)."""
    target = Path(registry_dir) / f"model-acc{accuracy:.4f}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {"weights": weights, "accuracy": accuracy}
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(record, sort_keys=True))
    os.replace(partial, target)  # a retried publish never leaves half a model behind
    return str(target)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@tether.workflow(labels={"team": "ml-platform"})
def ml_training(
    n_samples: int = 400,
    n_shards: int = 4,
    epochs: int = 30,
    learning_rate: float = 0.5,
    min_accuracy: float = 0.9,
    seed: int = 7,
    registry_dir: tether.Dir = ".tether/ml/registry",
) -> Metrics:
    """Train a classifier on sharded data on spot GPUs; publish it only if it is accurate enough."""
    data = make_dataset(n_samples=n_samples, n_shards=n_shards, seed=seed)
    with tether.foreach(data.shards) as shard:
        cleaned = preprocess(shard=shard)
    weights = train(shards=cleaned, epochs=epochs, learning_rate=learning_rate)
    metrics = evaluate(weights=weights, holdout=data.holdout)
    with tether.when(metrics.accuracy >= min_accuracy):
        publish(weights=weights, accuracy=metrics.accuracy, registry_dir=registry_dir)
    return metrics
