"""Importing this module fails in user code: reported at the failing line, never a traceback."""

import tether

THRESHOLDS = {"low": 0.5}
DEFAULT = THRESHOLDS["high"]


@tether.workflow
def never_built(n: int) -> None:
    pass
