"""The arguments every command that reads a run shares (`logs`, `status`, `outputs`, `report`,
`runs`): which store, which run, and the usage error for a run id tether never creates."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime.store import RunStore


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="URI", help="run store (default: $TETHER_STORE, else ./.tether)")


def valid_run_id(command: str, run_id: str) -> bool:
    """False, with the reason printed, for a run id outside the documented charset (exit 2)."""
    from ..runtime.store import InvalidRunId, check_run_id

    try:
        check_run_id(run_id)
    except InvalidRunId as exc:
        print(f"tether {command}: {exc}", file=sys.stderr)
        return False
    return True


def foreach_items(nodes: list[str], name: str | None) -> list[str]:
    """The item nodes `name[0]`, `name[1]`, ... of a foreach task named `name` (in index order),
    when `name` is not itself a node: what `logs` and `outputs` show for a foreach task's name."""
    if name is None or "[" in name or name in nodes:
        return []
    prefix = name + "["
    found = [node for node in nodes if node.startswith(prefix) and node.endswith("]") and node[len(prefix):-1].isdigit()]
    return sorted(found, key=lambda node: int(node[len(prefix):-1]))


def open_run(store_option: str | None, run_id: str) -> tuple["RunStore", dict[str, Any]]:
    """The run store (`--store`, else $TETHER_STORE, else .tether) and the run's summary
    (`RunStore.run_summary`); raises RunNotFound, a StoreError naming the store's runs, when it
    holds no run `run_id`. What logs, outputs, status and report open a run with."""
    from ..runtime.store import RunNotFound, RunStore, resolve_store_uri

    store = RunStore(resolve_store_uri(store_option))
    summary = store.run_summary(run_id)
    if summary["kind"] == "unknown":
        raise RunNotFound(run_id, store.uri, store.list_runs())
    return store, summary
