"""Policy values are checked at compile time and reported at the decorator keyword."""

import tether


@tether.task(
    retries=-1,
    timeout="1.5h",
    resources=tether.Resources(cpu="2", memory="500m"),
    checkpoint=tether.Checkpoint(keep=0),
)
def train(epochs: int) -> int:
    return epochs


@tether.task(retries=tether.Retry(2, backoff=tether.Backoff(delay="30s", factor=0.5)))
def fetch(day: str) -> str:
    return day


@tether.workflow
def policies(epochs: int = 3) -> int:
    fetch(day="2024-06-03")
    return train(epochs=epochs)
