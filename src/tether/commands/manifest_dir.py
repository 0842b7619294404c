"""`tether compile -o DIR`: the files tether owns in a GitOps directory, which of them are stale,
and writing a compiled set into it all-or-nothing (or comparing it, for --check).

DIR/.tether-manifests records one `target<TAB>workflow<TAB>path<TAB>spec` line per file a compile
wrote; `spec` is the spec file relative to DIR (`flows.py:name` for a Python workflow), so a
file stays owned when its workflow is renamed or its spec deleted. Lines of three fields (written
before the spec was recorded) are read as owned by an unknown spec. A file tether owns is stale
when, for the target compiled now, it is not produced and either its workflow or its spec was
compiled now, or its spec file no longer exists, or (a `flows.py:name` spec whose file is compiled
now) the file no longer binds `name` at top level; stale files are removed on write and are extra
for --check, or Argo CD would go on deploying a renamed workflow under its old name too. Files
tether does not own are never touched.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .output_files import discard, reason, target_of, write_atomically, write_temporary

OWNERS_FILE = ".tether-manifests"
"""Not .yaml or .json, so tools that apply every manifest of a directory (Argo CD, kubectl apply
-f) skip it."""


@dataclass(frozen=True)
class Compiled:
    """One manifest as text to write, and where it came from."""

    spec: str
    workflow: str
    path: str
    text: str


@dataclass(frozen=True, order=True)
class Owner:
    """One line of DIR/.tether-manifests."""

    target: str
    workflow: str
    path: str
    spec: str = ""
    """The spec relative to DIR ('/'-separated); "" when unknown (a module or stdin spec, or a
    line written before specs were recorded)."""

    def line(self) -> str:
        return "\t".join((self.target, self.workflow, self.path, *((self.spec,) if self.spec else ()))) + "\n"


@dataclass(frozen=True)
class Stale:
    """A file tether owns that the compile of its spec no longer produces."""

    path: str
    why: str
    """Completes "DIR/path is ...": "no longer produced by workflow 'x'"."""


def is_relative_name(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and "\\" not in path and "\0" not in path and all(p not in ("", ".", "..") for p in parts)


def spec_key(spec: str, directory: Path) -> str:
    """How .tether-manifests names a SPEC argument: its file relative to DIR, so the same spec
    compiled from another working directory is recognised; "" for stdin and module specs
    (nothing on disk to follow)."""
    from ..compiler.load import is_yaml_ref

    if spec == "-":
        return ""
    if is_yaml_ref(spec):
        file, suffix = spec, ""
    else:
        file, _, name = spec.rpartition(":")
        if not file.endswith(".py"):
            return ""
        suffix = f":{name}"
    # Both sides resolved: the kernel reads DIR/../x.yaml through DIR's link target, so a key
    # relative to the link's own path would name another file when DIR is a symlink.
    key = os.path.relpath(os.path.realpath(file), os.path.realpath(directory)).replace(os.sep, "/") + suffix
    return "" if any(c in key for c in "\t\r\n") else key


def _spec_file(key: str, directory: Path) -> Path:
    """The file a key names, joined to DIR resolved as spec_key resolved it."""
    file = key if key.endswith((".yaml", ".yml")) or ":" not in key else key.rpartition(":")[0]
    return Path(os.path.realpath(directory)) / file


def _function_gone(key: str, directory: Path, compiled_files: set[str]) -> bool:
    """A `flows.py:etl` key whose file is compiled now (as `flows.py:etl_v2`, say) but no longer
    binds `etl` at top level: the function was renamed or deleted. Unknown (a file that does not
    parse, a star import that may bind it) counts as still there."""
    import ast

    file, sep, name = key.rpartition(":")
    if not sep or not file.endswith(".py") or file not in compiled_files:
        return False
    try:
        tree = ast.parse(_spec_file(key, directory).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return False
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(alias.name == "*" for alias in node.names):
                return False
            bound.update((alias.asname or alias.name).partition(".")[0] for alias in node.names)
        else:  # assignments and anything else at top level that binds a name (if/try blocks too)
            bound.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
            bound.update(n.name for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return name not in bound


@contextmanager
def owners_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on DIR (flock on the directory itself, so no lock file lands in a
    GitOps checkout) while `.tether-manifests` is read, changed and written: without it, two
    compiles into one DIR could each write the owners file they read, losing the other's lines.
    A DIR that does not exist yet, or a system without flock, goes unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read_owners(directory: Path) -> set[Owner] | None:
    """The entries of DIR/.tether-manifests (none when it does not exist); None, with a message,
    when it cannot be read."""
    try:
        text = (directory / OWNERS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError) as exc:
        why = reason(exc, directory / OWNERS_FILE) if isinstance(exc, OSError) else str(exc)
        print(f"tether compile: cannot read {directory / OWNERS_FILE}: {why}", file=sys.stderr)
        return None
    owners: set[Owner] = set()
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) in (3, 4) and is_relative_name(fields[2]):
            owners.add(Owner(*fields))
    return owners


def stale_files(compiled: list[Compiled], owned: set[Owner], target: str, directory: Path) -> list[Stale]:
    """Files tether owns for `target` that this compile makes stale (see the module doc)."""
    produced = {c.path for c in compiled}
    workflows = {c.workflow for c in compiled}
    specs = {key: c.spec for c in compiled if (key := spec_key(c.spec, directory))}
    python_files = {key.rpartition(":")[0] for key in specs if not key.endswith((".yaml", ".yml"))}
    found: dict[str, Stale] = {}
    for owner in sorted(owned):
        if owner.target != target or owner.path in produced or owner.path in found:
            continue
        if owner.workflow in workflows:
            found[owner.path] = Stale(owner.path, f"no longer produced by workflow '{owner.workflow}'")
        elif owner.spec in specs:
            found[owner.path] = Stale(owner.path, f"no longer produced by {specs[owner.spec]}")
        elif owner.spec and not _spec_file(owner.spec, directory).exists():
            spec = os.path.normpath(directory / owner.spec)
            found[owner.path] = Stale(owner.path, f"owned by {spec}, which no longer exists")
        elif owner.spec and _function_gone(owner.spec, directory, python_files):
            spec = os.path.normpath(directory / owner.spec)
            found[owner.path] = Stale(owner.path, f"owned by {spec}, which no longer exists")
    return sorted(found.values(), key=lambda s: s.path)


def check(directory: Path, compiled: list[Compiled], owned: set[Owner], target: str, update: str) -> bool:
    """The GitOps staleness check over the whole set: compare bytes, print a unified diff of
    what writing would change (stdout) and one line per problem (stderr). True when up to date."""
    import difflib

    problems: list[str] = []
    stale_set = stale_files(compiled, owned, target, directory)
    owners_text = "".join(o.line() for o in sorted(_owners_after(compiled, owned, target, directory, {s.path for s in stale_set})))
    for item in compiled:
        path = directory / item.path
        try:
            current: str | None = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            current = None
        except (OSError, UnicodeDecodeError) as exc:
            why = reason(exc, path) if isinstance(exc, OSError) else str(exc)
            print(f"tether compile: cannot read {path}: {why}", file=sys.stderr)
            return False
        if current == item.text:
            continue
        _print_diff(difflib.unified_diff(
            [] if current is None else current.splitlines(keepends=True),
            item.text.splitlines(keepends=True),
            fromfile=f"{path} (committed)" if current is not None else "/dev/null",
            tofile=f"{path} (compiled from {item.spec})",
        ))
        problems.append(f"{path} {'does not exist' if current is None else 'is stale'}")
    for stale in stale_set:
        path = directory / stale.path
        try:
            current = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as exc:
            print(f"tether compile: cannot read {path}: {reason(exc, path)}", file=sys.stderr)
            return False
        _print_diff(difflib.unified_diff(
            current.splitlines(keepends=True), [], fromfile=f"{path} (committed)", tofile="/dev/null",
        ))
        problems.append(f"{path} is {stale.why}")
    if not problems:  # every manifest is right: the owners file alone may lag (a spec moved or
        # renamed), and a later compile of one spec would then take another's manifest for orphaned
        try:
            recorded: str | None = (directory / OWNERS_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            recorded = None
        if recorded != owners_text:
            _print_diff(difflib.unified_diff(
                [] if recorded is None else recorded.splitlines(keepends=True), owners_text.splitlines(keepends=True),
                fromfile=f"{directory / OWNERS_FILE} (committed)", tofile=f"{directory / OWNERS_FILE} (compiled)",
            ))
            problems.append(f"{directory / OWNERS_FILE} {'does not exist' if recorded is None else 'is stale'}")
    if not problems:
        print(f"{directory}: up to date ({len(compiled)} {'file' if len(compiled) == 1 else 'files'})", file=sys.stderr)
        return True
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"run '{update}' to update", file=sys.stderr)
    return False


def _print_diff(lines: Iterable[str]) -> None:
    sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in lines)


def write_set(directory: Path, compiled: list[Compiled], owned: set[Owner], target: str) -> bool:
    """Write every changed file and the new .tether-manifests, then remove the stale files.

    All-or-nothing as far as a directory allows: every new file is first written in full to a
    temporary file beside its target, so a full disk, a read-only directory or a directory in a
    file's place fails before anything is replaced (the temporary files and any directory made
    for them removed again); only then is each renamed over its target. False, with one line
    naming the path and the OS's reason, on failure."""
    stale = stale_files(compiled, owned, target, directory)
    owners = _owners_after(compiled, owned, target, directory, {s.path for s in stale})
    pending = [(directory / c.path, c.text.encode("utf-8")) for c in compiled]
    pending.append((directory / OWNERS_FILE, "".join(o.line() for o in sorted(owners)).encode("utf-8")))
    staged: list[tuple[Path, Path]] = []
    made: list[Path] = []
    for path, data in pending:
        try:
            if _same_bytes(path, data):
                continue  # unchanged: keep its mtime, so make-style tools see nothing new
            made.extend(_make_parents(path.parent))
            target = target_of(path)  # a symlinked manifest: its file is replaced, the link kept
            staged.append((write_temporary(target, data), target))
        except BaseException as exc:  # Ctrl-C included: no staged temporary is left in the directory
            for temporary, _ in staged:
                discard(temporary)
            for folder in reversed(made):
                _remove_empty(folder)
            if not isinstance(exc, OSError):
                raise
            print(f"tether compile: cannot write {path}: {reason(exc, path)} (nothing under {directory} was changed)",
                  file=sys.stderr)
            return False
    for index, (temporary, path) in enumerate(staged):
        try:
            os.replace(temporary, path)
        except BaseException as exc:  # a race (the target became a directory since), or Ctrl-C
            for later, _ in staged[index:]:
                discard(later)
            if not isinstance(exc, OSError):
                raise
            print(f"tether compile: cannot write {path}: {reason(exc, path)} "
                  f"({index} of {len(staged)} files were replaced; compile again)", file=sys.stderr)
            return False
    kept = {o for o in owned if o.target == target and o.path in {s.path for s in stale}}
    removed = True
    for item in stale:
        path = directory / item.path
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            print(f"tether compile: cannot remove {path} ({item.why}): {reason(exc, path)}", file=sys.stderr)
            removed = False
            continue
        print(f"removed {path} ({item.why})", file=sys.stderr)
        kept -= {o for o in kept if o.path == item.path}
    if not removed:  # still owned, so the next compile removes it
        try:
            write_atomically(directory / OWNERS_FILE, "".join(o.line() for o in sorted(owners | kept)).encode("utf-8"))
        except OSError:
            pass
    return removed


def _owners_after(compiled: list[Compiled], owned: set[Owner], target: str, directory: Path, removed: set[str]) -> set[Owner]:
    """.tether-manifests after this compile: every other target's and workflow's entries kept,
    this compile's replacing those of the paths it writes or removes."""
    replaced = {c.path for c in compiled} | removed
    kept = {o for o in owned if not (o.target == target and o.path in replaced)}
    return kept | {Owner(target, c.workflow, c.path, spec_key(c.spec, directory)) for c in compiled}


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == data
    except OSError:
        return False


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p, returning the directories it created (outermost first) so a failed write can
    remove them again."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    created: list[Path] = []
    for each in reversed(missing):
        try:
            each.mkdir()
        except FileExistsError:
            if not each.is_dir():
                raise
            continue
        created.append(each)
    return created


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


__all__ = ["Compiled", "OWNERS_FILE", "Owner", "check", "owners_lock", "read_owners", "spec_key", "stale_files", "write_set"]
