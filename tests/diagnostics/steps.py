"""The Python tasks of the diagnostics cases. A module-level `__getattr__` makes every name
exist, so `tether check`'s reference checks stay quiet and each case shows only its own problem.
Never imported: the cases are checked by reading this file with `ast`."""

from typing import Any


def __getattr__(name: str) -> Any:
    raise AttributeError(name)
