"""Arithmetic on a promise in the workflow body: the body only wires tasks together."""

import tether


@tether.task
def double(n: int) -> int:
    return 2 * n


@tether.workflow
def arithmetic(n: int) -> int:
    doubled = double(n=n)
    return double(n=doubled + 1)
