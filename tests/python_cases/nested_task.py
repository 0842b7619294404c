import tether


def factory() -> tether.TaskFunction:
    @tether.task
    def inner(n: int) -> int:
        return n

    return inner


inner = factory()


@tether.workflow
def wf(n: int) -> int:
    return inner(n=n)
