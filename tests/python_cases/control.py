"""Control flow that only exists at run time must use tether.when / tether.foreach."""

import tether


@tether.task
def score(n: int) -> float:
    return n / 10


@tether.task
def publish(score: float) -> None:
    print(score)


@tether.task
def shards(n: int) -> list[list[int]]:
    return [list(range(n))]


@tether.task
def work(items: list[int]) -> int:
    return len(items)


@tether.workflow
def python_if(n: int) -> None:
    s = score(n=n)
    if s > 0.9:
        publish(score=s)


@tether.workflow
def misuse(n: int, flag: bool = True) -> None:
    lists = shards(n=n)
    with tether.foreach(lists) as items:
        with tether.foreach(items) as inner:
            work(items=inner)
    work(items=items)
    with tether.when(True):
        publish(score=score(n=n))


@tether.workflow
def unnamed(n: int) -> tuple[float, int]:
    return score(n=n), n
