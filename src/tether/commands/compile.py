"""Compile workflow specs for a target: `ir` (the typed DAG as JSON), `local` (the plan), or a
backend's manifests (argo, batch, plugins).

Without -o the manifests go to standard output (several are separated by `---`). With -o DIR
each manifest is written to DIR/<its path> atomically and the set all-or-nothing, and files
tether wrote there that the same specs no longer produce are removed (see manifest_dir). With
--check as well, nothing is written: exit 1 with a unified diff when any file is stale, missing or
no longer produced (a GitOps repository out of date). Exit 1 also when a spec or the profile has
errors or DIR cannot be written; 2 for usage errors (an unknown target, an -O key the target does
not read); 70 when tether itself failed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

from .check import EXIT_ERRORS, EXIT_INTERNAL, EXIT_OK
from .manifest_dir import OWNERS_FILE, Compiled, is_relative_name, read_owners

if TYPE_CHECKING:
    from ..backends import Backend, Manifest, Profile

EXIT_USAGE = 2



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs", nargs="+", metavar="SPEC", help="spec.yaml, file.py:workflow or package.module:workflow",
    )
    parser.add_argument("-t", "--target", default="ir", help="what to compile to: ir (default), local, argo, batch")
    parser.add_argument(
        "--profile", metavar="FILE",
        help="a YAML profile: store, image and one section per target (see each backend's defaults)",
    )
    parser.add_argument(
        "-O", "--option", action="append", default=[], metavar="KEY=VALUE",
        help="a target option (repeatable), e.g. -O kind=template",
    )
    parser.add_argument(
        "--kind", metavar="KIND",
        help="what kind of document the target writes, where it has several (argo: workflow, template); "
        "the same as -O kind=KIND",
    )
    parser.add_argument(
        "--unsupported", choices=("error", "warn"), default="error",
        help="a feature the target cannot express is an error (default) or a warning",
    )
    parser.add_argument("-o", "--output", metavar="DIR", help="write each manifest to DIR/<name>")
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 with a diff when the files under DIR (-o) are not what compiling writes",
    )
    from .check import add_strict_refs_argument

    add_strict_refs_argument(parser)


def run(args: argparse.Namespace) -> int:
    from .check import print_internal_error, use_color

    color = use_color(sys.stderr)
    if args.check and not args.output:
        print("tether compile: --check needs -o DIR (the directory to compare)", file=sys.stderr)
        return EXIT_USAGE
    options = parse_pairs(args.option, "compile", "-O")
    if options is None:
        return EXIT_USAGE
    from ..backends import UnknownTargetError, get_backend

    try:
        backend = get_backend(args.target)
    except UnknownTargetError as exc:
        print(f"tether compile: {exc}", file=sys.stderr)
        if exc.hint and "did you mean" not in str(exc):
            print(f"  = hint: {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    if not check_option_keys(backend, args.target, options, "compile", "-O"):
        return EXIT_USAGE
    if args.kind:
        if not check_option_keys(backend, args.target, {"kind": args.kind}, "compile", "--kind"):
            return EXIT_USAGE
        options["kind"] = args.kind
    loaded = _load_profile(args, backend, options, color)
    if loaded is None:
        return EXIT_ERRORS
    profile, profile_sources = loaded
    compiled: list[Compiled] = []
    statuses = set()
    for spec in args.specs:  # every spec is compiled, so one run reports every problem
        try:
            status, manifests = _compile_spec(
                spec, backend, profile, profile_sources, args.unsupported, color, strict_refs=args.strict_refs
            )
        except _BackendBug as bug:
            print_internal_error(spec, bug.cause, color)
            status, manifests = "internal", []
        statuses.add(status)
        compiled.extend(manifests)
    if "internal" in statuses:
        return EXIT_INTERNAL
    if "errors" in statuses:
        return EXIT_ERRORS
    if not _no_collisions(compiled):
        return EXIT_ERRORS
    if not args.output:
        sys.stdout.write("---\n".join(c.text for c in compiled))
        return EXIT_OK
    directory = Path(args.output)
    if directory.exists() and not directory.is_dir():
        print(f"tether compile: -o {directory}: not a directory", file=sys.stderr)
        print("  = hint: -o names the directory the manifests go to (it is created if missing)", file=sys.stderr)
        return EXIT_ERRORS
    from .manifest_dir import check, owners_lock, write_set

    with owners_lock(directory):  # two compiles into one DIR: read-modify-write, one at a time
        owned = read_owners(directory)
        if owned is None:
            return EXIT_ERRORS
        if args.check:
            return EXIT_OK if check(directory, compiled, owned, args.target, _command(args)) else EXIT_ERRORS
        return EXIT_OK if write_set(directory, compiled, owned, args.target) else EXIT_ERRORS


class _BackendBug(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def _load_profile(
    args: argparse.Namespace, backend: Backend, options: dict[str, str], color: bool,
) -> tuple[Profile, dict[str, str]] | None:
    """The profile, its diagnostics printed; None when it has errors."""
    from ..backends import BUILTIN, available_targets, profile_type_of
    from ..backends.profile import load_profile
    from ..core.diagnostics import Diagnostics
    from .check import print_diagnostic_list

    diagnostics = Diagnostics()
    sources: dict[str, str] = {}
    text = None
    if args.profile is not None:
        try:
            text = Path(args.profile).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"tether compile: cannot read profile {args.profile}: {exc}", file=sys.stderr)
            return None
        sources[args.profile] = text
    # The other targets' names only matter when a file has sections to skip; listing plugins
    # reads every installed distribution's entry points (importlib.metadata: ~20 ms of start-up).
    sections = {*BUILTIN, *available_targets()} if args.profile is not None else set(BUILTIN)
    profile = load_profile(
        args.profile, args.target, profile_type_of(backend), diagnostics, options,
        sections=sections, text=text,
    )
    print_diagnostic_list(diagnostics.sorted(), sources, color)
    return None if diagnostics.has_errors else (profile, sources)


def _compile_spec(
    spec: str, backend: Backend, profile: Profile, profile_sources: dict[str, str], unsupported: str, color: bool,
    *, strict_refs: bool = False,
) -> tuple[Literal["ok", "errors", "internal"], list[Compiled]]:
    """One spec's manifests, serialised, its diagnostics printed. A backend's exception is
    raised as _BackendBug (loading reports its own)."""
    from ..core.diagnostics import Diagnostics, Severity
    from .check import compiling, load_reporting, print_diagnostic_list, print_diagnostics

    # The backend and the emitter run under the same switches as loading (the cyclic GC paused:
    # they allocate a document of ~10 objects per task and no cycles; left on, automatic
    # collections re-scan the whole IR again and again, a third of a 5,000-task argo compile).
    with compiling():
        return _load_and_compile(spec, backend, profile, profile_sources, unsupported, color, strict_refs=strict_refs)


def _load_and_compile(
    spec: str, backend: Backend, profile: Profile, profile_sources: dict[str, str], unsupported: str, color: bool,
    *, strict_refs: bool = False,
) -> tuple[Literal["ok", "errors", "internal"], list[Compiled]]:
    from ..core.diagnostics import Diagnostics, Severity
    from .check import load_reporting, print_diagnostic_list, print_diagnostics

    result = load_reporting(spec, color, strict_refs=strict_refs)
    if result is None:
        return "internal", []
    print_diagnostics(result, color)
    if result.workflow is None:
        return "errors", []
    level = Severity.WARNING if unsupported == "warn" else Severity.ERROR
    diagnostics = Diagnostics(unsupported_level=level)
    try:
        manifests = backend.compile(result.workflow, profile, diagnostics)
        texts = [(m.path, _serialise(m)) for m in manifests]
    except Exception as exc:  # a backend bug must not reach the user as a traceback
        raise _BackendBug(exc) from exc
    print_diagnostic_list(diagnostics.sorted(), {**profile_sources, **result.sources}, color)
    if diagnostics.has_errors:
        return "errors", []
    return "ok", [Compiled(spec, result.workflow.name, path, text) for path, text in texts]


def _serialise(manifest: Manifest) -> str:
    """A manifest's file content. JSON: sorted keys, 2-space indent (for `ir`, exactly `to_json`)."""
    if not isinstance(manifest.path, str) or not is_relative_name(manifest.path):
        raise ValueError(f"manifest path {manifest.path!r} is not a relative '/'-separated file name")
    if manifest.format == "yaml":
        return _dump_yaml(manifest.document)
    if manifest.format == "json":
        return json.dumps(manifest.document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if manifest.format == "text" and isinstance(manifest.document, str):
        return manifest.document
    raise ValueError(f"manifest {manifest.path}: format {manifest.format!r} with a {type(manifest.document).__name__}")


def _dump_yaml(document: Any) -> str:
    from ..backends.yaml_emit import dump

    return dump(document)


def _no_collisions(compiled: list[Compiled]) -> bool:
    """Two manifests with one path would overwrite each other: an error naming both sources."""
    first: dict[str, Compiled] = {}
    ok = True
    for item in compiled:
        earlier = first.setdefault(item.path, item)
        if earlier is not item:
            which = f"both {earlier.spec} and {item.spec}" if earlier.spec != item.spec else f"{item.spec} twice"
            print(f"tether compile: manifest '{item.path}' is produced by {which}", file=sys.stderr)
            print("  = hint: give the workflows different names (manifest names come from them)", file=sys.stderr)
            ok = False
    return ok


def option_keys(backend: Backend) -> tuple[str, ...] | None:
    """The -O keys `backend` reads from `Profile.options`, as it declares them (`option_keys`);
    None when it does not say (a plugin written before keys were checked: anything goes)."""
    declared = getattr(backend, "option_keys", None)
    return None if declared is None else tuple(sorted(declared))


def check_option_keys(backend: Backend, target: str, options: Mapping[str, str], command: str, flag: str) -> bool:
    """False, with a usage message and a did-you-mean, when an -O key is not one the target
    reads: a misspelt key (`-O knd=template`) or a profile setting (`-O namespace=x`) would
    otherwise be ignored without a word."""
    from ..backends import profile_type_of
    from ..backends.profile import describe
    from ..core.diagnostics import did_you_mean

    accepted = option_keys(backend)
    if accepted is None:
        return True
    profile_type = profile_type_of(backend)
    settings = [key for key, *_ in describe(profile_type)] if profile_type is not None else []
    ok = True
    for key in options:
        if key in accepted:
            continue
        ok = False
        shown = f"{flag} {key}=..." if flag == "-O" else flag
        print(f"tether {command}: target '{target}' has no option '{key}' ({shown})", file=sys.stderr)
        guess = did_you_mean(key, accepted)
        if guess is not None:
            print(f"  = hint: did you mean '{guess}'?", file=sys.stderr)
        elif key in settings or key in ("store", "image"):
            section = f"the profile's `{target}:` section" if key in settings else "the profile's top level"
            print(f"  = hint: '{key}' is a profile setting: put it in {section} (--profile FILE)", file=sys.stderr)
        elif accepted:
            print(f"  = hint: -O takes: {', '.join(accepted)}", file=sys.stderr)
        else:
            print(f"  = hint: target '{target}' takes no -O options; see `tether targets {target}` for its profile settings",
                  file=sys.stderr)
    return ok


def parse_pairs(pairs: list[str], command: str, flag: str) -> dict[str, str] | None:
    """`KEY=VALUE` arguments (`-O`, `-p`) as a dict; None, with a message, when one is malformed."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            print(f"tether {command}: {flag} {pair!r} is not KEY=VALUE", file=sys.stderr)
            return None
        options[key] = value
    return options


def _command(args: argparse.Namespace) -> str:
    """The command that brings DIR up to date (the one just run, without --check)."""
    argv = ["tether", "compile", *args.specs, "--target", args.target]
    if args.profile:
        argv += ["--profile", args.profile]
    for option in args.option:
        argv += ["-O", option]
    if args.unsupported != "error":
        argv += [f"--unsupported={args.unsupported}"]
    if args.strict_refs:
        argv += ["--strict-refs"]
    return shlex.join([*argv, "-o", args.output])


__all__ = ["OWNERS_FILE", "add_arguments", "check_option_keys", "parse_pairs", "run"]
