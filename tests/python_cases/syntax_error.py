import tether


@tether.task
def broken(n: int) -> int:
    return n +


@tether.workflow
def wf(n: int) -> int:
    return broken(n=n)
