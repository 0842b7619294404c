"""The `tether` command. Subcommands live in tether.commands.*, each imported only when used,
so `tether --help` and `tether check` start without networkx, lark grammars or backends."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# name -> (module under tether.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("check", "check specs and report every problem with file:line:col"),
    "compile": ("compile", "compile a spec for a target (ir, argo, batch)"),
    "run": ("run", "run a workflow on this machine"),
    "logs": ("logs", "show the logs of a run, or of one node of it"),
    "runs": ("runs", "list the runs in the run store: id, workflow, status, start, duration"),
    "status": ("status", "a run's state node by node, live while it runs"),
    "outputs": ("outputs", "a run's outputs, or one node's, as JSON"),
    "exec": ("exec_", "run one task attempt (the entrypoint every backend calls)"),
    "targets": ("targets", "list the compile targets, or one target's profile keys and their defaults"),
    "submit": ("submit", "register a workflow's AWS Batch job definitions and submit its jobs"),
    "graph": ("graph", "draw a workflow as Mermaid, Graphviz DOT or a self-contained HTML page"),
    "report": ("report", "a run as one self-contained HTML page (DAG, timeline, checkpoints), or --json"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the arguments of the one subcommand `argv` names (all of them when
    `argv` is None). Only that command's module is imported: `tether exec` in a pod and
    `tether compile` in CI pay for no other command's imports."""
    parser = argparse.ArgumentParser(
        prog="tether",
        description="Compile one workflow spec to Argo, AWS Batch or a local run, "
        "with retries, spot interruptions and checkpoints that mean the same everywhere.",
    )
    parser.add_argument("--version", action=_LazyVersion, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _command_named(argv)
    for name, (module, help_text) in COMMANDS.items():
        if argv is not None and name != chosen:
            if chosen not in COMMANDS:  # listed for `tether --help` and unknown-command errors only
                sub.add_parser(name, help=help_text).set_defaults(_module=module)
            continue  # a known command needs no other (each parser costs argparse's gettext lookups)
        command = importlib.import_module(f"tether.commands.{module}")
        sub_parser = sub.add_parser(name, help=help_text, description=command.__doc__)
        command.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def _command_named(argv: Sequence[str] | None) -> str | None:
    """The subcommand in `argv`: its first word that is not an option."""
    for word in argv or ():
        if not word.startswith("-"):
            return word
    return None


class _LazyVersion(argparse.Action):
    """--version, reading package metadata only when asked (importlib.metadata costs ~20-60 ms)."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        print(f"tether {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tether")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    if args._module in _STORE_COMMANDS:
        _quiet_background_io()
    command = importlib.import_module(f"tether.commands.{args._module}")
    try:
        return int(command.run(args) or 0)
    except KeyboardInterrupt:
        print("tether: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


_STORE_COMMANDS = frozenset({"run", "exec_", "logs", "runs", "status", "outputs", "report", "submit"})
"""The commands that open a run store (and so import fsspec, which imports logging anyway)."""


def _quiet_background_io() -> None:
    """Keep the event loop that s3fs runs in a background thread from printing tracebacks.

    When an S3 endpoint goes away, aiohttp leaves tasks whose exceptions nobody retrieves, and
    asyncio reports each through the `asyncio` logger at garbage collection. tether has already
    reported the store failure as one line, so those tracebacks are noise to a user (they stay
    visible with TETHER_DEBUG=1). A process-wide logging setting, so it is made here, at the CLI
    entry point, never in a library call.
    """
    import os

    if os.environ.get("TETHER_DEBUG"):
        return
    import logging

    logging.getLogger("asyncio").addHandler(logging.NullHandler())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
