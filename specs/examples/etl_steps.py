"""The steps of etl_conditional.yaml: a daily orders ETL, as plain functions.

Nothing here imports tether: a YAML spec points at these functions (`etl_steps:extract`), the
runtime calls them with the task's inputs as keyword arguments, and a task with several outputs
returns a dict keyed by the output names the spec declares. Being plain functions, they are
unit-testable and runnable without any workflow machinery:

    >>> raw = extract(day="2024-06-03", staging_dir="/tmp/etl")
    >>> validate(raw=raw, max_amount=5000.0)["row_count"] > 0
    True

The "source system" is simulated so the example runs anywhere: orders for a day are generated
from a random generator seeded with the date, with a few malformed rows for `validate` to reject,
and no orders at all on weekends (so `-p day=2024-06-02`, a Sunday, exercises the empty branch).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from pathlib import Path

REGIONS = ("emea", "amer", "apac")


def _read_jsonl(path: str) -> list[dict[str, object]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> str:
    """Write atomically (temp file + rename) so a retried attempt never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
    os.replace(partial, path)
    return str(path)


def extract(day: str, staging_dir: str) -> str:
    """Pull one day of orders from the (simulated) order service into a staging JSONL file."""
    date = dt.date.fromisoformat(day)
    rng = random.Random(day)  # same day, same orders: re-running a day is idempotent
    count = 0 if date.weekday() >= 5 else rng.randint(40, 80)
    rows: list[dict[str, object]] = []
    for number in range(count):
        rows.append(
            {
                "order_id": f"{day}-{number:05d}",
                "region": rng.choice(REGIONS + ("",)),  # "" = a row the source forgot to tag
                "amount": round(rng.uniform(-20.0, 900.0), 2),  # negatives are refunds booked wrongly
                "currency": "EUR",
            }
        )
    return _write_jsonl(Path(staging_dir) / f"orders-{day}.raw.jsonl", rows)


def validate(raw: str, max_amount: float) -> dict[str, object]:
    """Keep well-formed orders; count what was rejected so the workflow can report it."""
    rows = _read_jsonl(raw)
    clean = [r for r in rows if r["region"] in REGIONS and 0 < float(r["amount"]) <= max_amount]  # type: ignore[arg-type]
    path = Path(raw).with_name(Path(raw).name.replace(".raw.", ".clean."))
    return {"clean": _write_jsonl(path, clean), "row_count": len(clean), "rejected": len(rows) - len(clean)}


def transform(clean: str, fx_rate: float) -> dict[str, float]:
    """Revenue per region, converted to the reporting currency."""
    revenue = {region: 0.0 for region in REGIONS}
    for row in _read_jsonl(clean):
        revenue[str(row["region"])] += float(row["amount"]) * fx_rate  # type: ignore[arg-type]
    return {region: round(total, 2) for region, total in sorted(revenue.items())}


def load(revenue: dict[str, float], day: str, warehouse_dir: str) -> int:
    """Upsert the day's partition (one JSON file per day) and return the rows written.

    In production WAREHOUSE_PASSWORD comes from the `warehouse` secret; a local run has none and
    writes to a directory instead of a database, which is the point of a local run.
    """
    partition = Path(warehouse_dir) / "daily_revenue" / f"day={day}.json"
    partition.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"day": day, "revenue": revenue}, indent=2, sort_keys=True) + "\n"
    partial = partition.with_suffix(".json.partial")
    partial.write_text(body, encoding="utf-8")
    os.replace(partial, partition)
    return len(revenue)


def report_empty(day: str, rejected: int) -> str:
    """The branch taken when a day has nothing to load: say so instead of loading zeros."""
    message = f"no valid orders for {day} ({rejected} rejected); nothing loaded"
    print(message)
    return message
