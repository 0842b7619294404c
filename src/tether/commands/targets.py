"""List the compile targets, or one target's profile section: every key with its type, its
default and what it does, so each backend's defaults are documented where they are defined.

    tether targets              the targets (built-in and plugins) and what each compiles to
    tether targets argo         the `argo:` section of a profile file, key by key
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="TARGET", help="show this target's profile keys and defaults")


def run(args: argparse.Namespace) -> int:
    from ..backends import UnknownTargetError, available_targets, get_backend, profile_type_of

    if args.target is None:
        for name in available_targets():
            try:
                description = get_backend(name).description
            except Exception as exc:  # a broken plugin must not hide the others
                description = f"(cannot be loaded: {type(exc).__name__}: {exc})"
            print(f"{name:<8} {description}")
        print("\ncommon profile keys: store (the run store URI the pods use), image (the default image)")
        return 0
    try:
        backend = get_backend(args.target)
    except UnknownTargetError as exc:
        print(f"tether targets: {exc}", file=sys.stderr)
        return 2
    profile_type = profile_type_of(backend)
    print(f"{backend.name}: {backend.description}")
    if profile_type is None:
        print(f"the {backend.name} target takes no profile section")
        return 0
    from ..backends.profile import describe

    print(f"\nprofile section `{backend.name}:` (every key optional)")
    rows = [(key, kind, _shown(default), help_text) for key, kind, default, help_text in describe(profile_type)]
    width = max(len(r[0]) for r in rows)
    for key, kind, default, help_text in rows:
        print(f"  {key:<{width}}  {help_text}")
        print(f"  {'':<{width}}  type {kind}; default {default}")
    return 0


def _shown(default: object) -> str:
    if default is dataclasses.MISSING:
        return "(required)"
    if default is None:
        return "none"
    return json.dumps(default, sort_keys=True) if not isinstance(default, str) else default
