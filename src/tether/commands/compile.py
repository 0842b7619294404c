"""Compile workflow specs for a target: `ir` (the typed DAG as JSON), `local` (the plan), or a
backend's manifests (argo, batch, plugins).

Without -o the manifests go to standard output (several are separated by `---`). With -o DIR
each manifest is written to DIR/<its path> atomically, and files that an earlier compile of the
same workflows wrote but this one no longer produces are removed (DIR/.tether-manifests records
which files each workflow owns). With --check as well, nothing is written: exit 1 with a unified
diff when any file is stale, missing or no longer produced (a GitOps repository out of date).
Exit 1 also when a spec or the profile has errors; 2 for usage errors (an unknown target); 70
when tether itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .check import EXIT_ERRORS, EXIT_INTERNAL, EXIT_OK

if TYPE_CHECKING:
    from ..backends import Backend, Manifest, Profile

EXIT_USAGE = 2

OWNERS_FILE = ".tether-manifests"
"""Under -o DIR: one `target<TAB>workflow<TAB>path` line per file a compile wrote. Not .yaml or
.json, so tools that apply every manifest of a directory (Argo CD, kubectl apply -f) skip it."""


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


@dataclass(frozen=True)
class _Compiled:
    """One manifest as bytes to write, and where it came from."""

    spec: str
    workflow: str
    path: str
    text: str


def run(args: argparse.Namespace) -> int:
    from .check import print_internal_error, use_color

    color = use_color(sys.stderr)
    if args.check and not args.output:
        print("tether compile: --check needs -o DIR (the directory to compare)", file=sys.stderr)
        return EXIT_USAGE
    options = parse_pairs(args.option, "compile", "-O")
    if options is None:
        return EXIT_USAGE
    if args.kind:
        options["kind"] = args.kind
    from ..backends import UnknownTargetError, get_backend

    try:
        backend = get_backend(args.target)
    except UnknownTargetError as exc:
        print(f"tether compile: {exc}", file=sys.stderr)
        if exc.hint and "did you mean" not in str(exc):
            print(f"  = hint: {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    loaded = _load_profile(args, backend, options, color)
    if loaded is None:
        return EXIT_ERRORS
    profile, profile_sources = loaded
    compiled: list[_Compiled] = []
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
    owned = _read_owners(directory)
    if owned is None:
        return EXIT_ERRORS
    if args.check:
        return _check(directory, compiled, owned, args)
    _write(directory, compiled, owned, args.target)
    return EXIT_OK


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
) -> tuple[Literal["ok", "errors", "internal"], list[_Compiled]]:
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
) -> tuple[Literal["ok", "errors", "internal"], list[_Compiled]]:
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
    return "ok", [_Compiled(spec, result.workflow.name, path, text) for path, text in texts]


def _serialise(manifest: Manifest) -> str:
    """A manifest's file content. JSON: sorted keys, 2-space indent (for `ir`, exactly `to_json`)."""
    if not isinstance(manifest.path, str) or not _is_relative_name(manifest.path):
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


def _is_relative_name(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and "\\" not in path and "\0" not in path and all(p not in ("", ".", "..") for p in parts)


def _no_collisions(compiled: list[_Compiled]) -> bool:
    """Two manifests with one path would overwrite each other: an error naming both sources."""
    first: dict[str, _Compiled] = {}
    ok = True
    for item in compiled:
        earlier = first.setdefault(item.path, item)
        if earlier is not item:
            which = f"both {earlier.spec} and {item.spec}" if earlier.spec != item.spec else f"{item.spec} twice"
            print(f"tether compile: manifest '{item.path}' is produced by {which}", file=sys.stderr)
            print("  = hint: give the workflows different names (manifest names come from them)", file=sys.stderr)
            ok = False
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


# ---------------------------------------------------------------------------- -o DIR

Owners = set[tuple[str, str, str]]
"""(target, workflow, path) of every file recorded in DIR/.tether-manifests."""


def _read_owners(directory: Path) -> Owners | None:
    try:
        text = (directory / OWNERS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"tether compile: cannot read {directory / OWNERS_FILE}: {exc}", file=sys.stderr)
        return None
    owners: Owners = set()
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and _is_relative_name(fields[2]):
            owners.add((fields[0], fields[1], fields[2]))
    return owners


def _no_longer_produced(compiled: list[_Compiled], owned: Owners, target: str) -> list[tuple[str, str]]:
    """(path, workflow) of files an earlier compile of these workflows wrote and this one does not."""
    workflows = {c.workflow for c in compiled}
    produced = {c.path for c in compiled}
    return sorted(
        (path, workflow) for t, workflow, path in owned if t == target and workflow in workflows and path not in produced
    )


def _check(directory: Path, compiled: list[_Compiled], owned: Owners, args: argparse.Namespace) -> int:
    """The GitOps staleness check over the whole set: compare bytes, show what would change."""
    import difflib

    problems: list[str] = []
    for item in compiled:
        path = directory / item.path
        try:
            current: str | None = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            current = None
        except (OSError, UnicodeDecodeError) as exc:
            print(f"tether compile: cannot read {path}: {exc}", file=sys.stderr)
            return EXIT_ERRORS
        if current == item.text:
            continue
        _print_diff(difflib.unified_diff(
            [] if current is None else current.splitlines(keepends=True),
            item.text.splitlines(keepends=True),
            fromfile=f"{path} (committed)" if current is not None else "/dev/null",
            tofile=f"{path} (compiled from {item.spec})",
        ))
        problems.append(f"{path} {'does not exist' if current is None else 'is stale'}")
    for name, workflow in _no_longer_produced(compiled, owned, args.target):
        path = directory / name
        try:
            current = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            continue
        _print_diff(difflib.unified_diff(
            current.splitlines(keepends=True), [], fromfile=f"{path} (committed)", tofile="/dev/null",
        ))
        problems.append(f"{path} is no longer produced by workflow '{workflow}'")
    if not problems:
        print(f"{directory}: up to date ({len(compiled)} {'file' if len(compiled) == 1 else 'files'})", file=sys.stderr)
        return EXIT_OK
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"run '{_command(args)}' to update", file=sys.stderr)
    return EXIT_ERRORS


def _print_diff(lines: Any) -> None:
    sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in lines)


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


def _write(directory: Path, compiled: list[_Compiled], owned: Owners, target: str) -> None:
    """Write each changed file atomically, remove files these workflows no longer produce, then
    record what each workflow now owns."""
    for item in compiled:
        path = directory / item.path
        data = item.text.encode("utf-8")
        try:
            if path.read_bytes() == data:
                continue  # unchanged: keep its mtime, so make-style tools see nothing new
        except OSError:
            pass
        _write_atomically(path, data)
    workflows = {c.workflow for c in compiled}
    for name, _ in _no_longer_produced(compiled, owned, target):
        try:
            (directory / name).unlink()
        except FileNotFoundError:
            pass
    kept = {entry for entry in owned if not (entry[0] == target and entry[1] in workflows)}
    kept.update((target, c.workflow, c.path) for c in compiled)
    _write_atomically(directory / OWNERS_FILE, "".join(f"{t}\t{w}\t{p}\n" for t, w, p in sorted(kept)).encode("utf-8"))


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


__all__ = ["OWNERS_FILE", "add_arguments", "run"]
