"""A str flows into an int input: reported at the call's keyword."""

import tether


@tether.task
def fetch(day: str) -> str:
    return day


@tether.task
def count(n: int) -> int:
    return n


@tether.workflow
def mistyped(day: str = "2024-06-03") -> int:
    text = fetch(day=day)
    return count(n=text)
