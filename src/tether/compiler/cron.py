"""Cron schedules (`spec.schedule`): checked for shape and ranges, as Argo's CronWorkflow would.

Only the problem is reported here; the schedule itself is kept as written (whitespace
normalised), so every backend passes the same five fields or macro to its scheduler.
"""

from __future__ import annotations

CRON_HINT = "five fields 'minute hour day-of-month month day-of-week', e.g. \"0 3 * * *\", or @hourly, @daily, @weekly, @monthly, @yearly"
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    ("day-of-week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)


def cron_problem(text: str) -> str | None:
    """Why a cron expression is malformed, or None. Checks shape and ranges, as Argo would."""
    stripped = text.strip()
    if stripped.startswith("@"):
        return None if stripped in _CRON_MACROS else f"unknown macro '{stripped}'"
    fields = stripped.split()
    if len(fields) != 5:
        return f"expected 5 fields, found {len(fields)}"
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        for part in value.split(","):
            problem = _cron_part_problem(part, low, high, names)
            if problem:
                return f"{name} field '{value}' {problem}"
    return None


def _cron_part_problem(part: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    base, slash, step = part.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return f"has an invalid step '/{step}'"
    if base in ("*", "?"):
        return None
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        return f"has an invalid range '{base}'"
    numbers = []
    for bound in bounds:
        if bound.upper() in names:
            numbers.append(names.index(bound.upper()) + low)
        elif bound.isdigit():
            numbers.append(int(bound))
        else:
            return f"has an invalid value '{bound}'"
    if any(not low <= n <= high for n in numbers):
        return f"is out of range {low}-{high}"
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        return f"has a backwards range '{base}'"
    return None


__all__ = ["CRON_HINT", "cron_problem"]
