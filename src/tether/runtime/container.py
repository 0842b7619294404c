"""Run a container task's command in this process's place: files in, files out, any language.

The contract a command follows (DESIGN.md): each declared output is written as JSON to
`$TETHER_OUTPUTS/<name>`; `$TETHER_CHECKPOINT_DIR` holds the newest checkpoint when the command
starts and is saved as a new checkpoint when it exits or is terminated. Inside an image the
command is the image's; under `tether run` it runs on this machine (the image is not pulled).

The command runs without a shell (argv as written); a spec that wants a shell says
`command: [sh, -c]`. A SIGTERM to this process (a spot reclaim, a pod eviction, the local
executor's --interrupt) is forwarded to the command, which gets `TERM_GRACE_S` seconds to finish
writing before it is killed; then the checkpoint directory is saved, so a command that wrote
its state with write-then-rename loses nothing. When this process leads a process group (always
under the local executor, see procgroup.py) the SIGTERM goes to the whole group, so a shell's
children get it too, and the command's leftovers die with the attempt.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from . import procgroup
from .inputs import InputError, ValueResolver

if TYPE_CHECKING:
    from ..core.ir import Task
    from .checkpoint import Checkpoint

TERM_GRACE_S = 10.0
"""How long a terminated command may take to exit before it is killed (Kubernetes gives 30 s in
all, so this leaves time to upload the checkpoint)."""


class CommandError(Exception):
    """The command could not be started (not found, not executable): fatal, a retry cannot help."""


@dataclass(frozen=True)
class CommandResult:
    """How the command ended. `terminated`: this process got SIGTERM while it ran."""

    returncode: int
    terminated: bool
    outputs: dict[str, Any] | None  # None when the command did not succeed
    output_error: str | None = None


def command_line(task: "Task", resolver: ValueResolver, has_item: bool, item: Any) -> list[str]:
    """command + args with every `${{ }}` evaluated; a whole-argument value that is not a string
    becomes its JSON text (a list arrives as `[1, 2]`), the same rule as interpolation."""
    assert task.container is not None
    argv = []
    for index, expr in enumerate((*task.container.command, *task.container.args)):
        value = resolver.evaluate(expr, item, f"argument {index} of {task.name}", has_item)
        argv.append(_as_argument(value))
    if not argv:
        raise InputError(f"container task {task.name} has no command: give `command` (the image's entrypoint is not known here)")
    return argv


def _as_argument(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _fingerprint(directory: str) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detection (names, sizes, mtimes): an unchanged directory is not saved again."""
    entries = []
    for base, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            stat = os.lstat(path)  # a dangling symlink is an entry too
            entries.append((os.path.relpath(path, directory), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


def _read_outputs(task: "Task", outputs_dir: str) -> tuple[dict[str, Any] | None, str | None]:
    values: dict[str, Any] = {}
    for output in task.outputs:
        path = os.path.join(outputs_dir, output.name)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None, (
                f"the command exited 0 but did not write its output {output.name!r} "
                f"(write it as JSON to $TETHER_OUTPUTS/{output.name})"
            )
        try:
            values[output.name] = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, (
                f"output {output.name!r} in $TETHER_OUTPUTS/{output.name} is not JSON ({exc.msg}): "
                f"got {text[:60]!r}; a string needs its quotes, e.g. '\"text\"'"
            )
    return values, None


def run_command(
    task: "Task",
    argv: list[str],
    env: Mapping[str, str],
    checkpoint: "Checkpoint",
) -> CommandResult:
    """Run the command to its end (or through a SIGTERM) and save its checkpoint directory."""
    with tempfile.TemporaryDirectory(prefix="tether-") as scratch:
        outputs_dir = os.path.join(scratch, "outputs")
        checkpoint_dir = os.path.join(scratch, "checkpoint")
        os.makedirs(outputs_dir)
        os.makedirs(checkpoint_dir)
        if checkpoint.prev_exists():
            checkpoint.restore(checkpoint_dir)
        before = _fingerprint(checkpoint_dir)
        child_env = {**os.environ, **env, "TETHER_OUTPUTS": outputs_dir, "TETHER_CHECKPOINT_DIR": checkpoint_dir}
        if os.sep not in argv[0] and shutil.which(argv[0], path=child_env.get("PATH")) is None:
            raise CommandError(f"command {argv[0]!r} of {task.name} is not on PATH on this machine")
        with _SigtermForwarder() as forwarder:
            returncode = forwarder.run(argv, child_env)
            # Still under the forwarder: a second SIGTERM cannot cut the save short.
            if _fingerprint(checkpoint_dir) != before:
                checkpoint.save(checkpoint_dir)
        if returncode != 0 or forwarder.terminated:
            return CommandResult(returncode, forwarder.terminated, None)
        outputs, error = _read_outputs(task, outputs_dir)
        _warn_undeclared(task, outputs_dir)
        return CommandResult(returncode, False, outputs, error)


def _warn_undeclared(task: "Task", outputs_dir: str) -> None:
    """Name each file the command wrote to $TETHER_OUTPUTS that is not a declared output: it is
    dropped, and is most often a typo of one (on the attempt's stderr, so in its log)."""
    declared = {output.name for output in task.outputs}
    for name in sorted(set(os.listdir(outputs_dir)) - declared):
        print(
            f"tether: warning: the command wrote $TETHER_OUTPUTS/{name}, which is not a declared output "
            f"of {task.name} (declared: {', '.join(sorted(declared)) or 'none'}); it is ignored",
            file=sys.stderr,
        )


class _GraceStarts(Exception):
    """Raised by the first SIGTERM to stop waiting without a deadline and start the grace period."""


class _SigtermForwarder:
    """While active, SIGTERM to this process is passed on to the child instead of ending us."""

    def __init__(self) -> None:
        self.terminated = False
        self._child: subprocess.Popen[bytes] | None = None
        self._previous: Any = None

    def __enter__(self) -> "_SigtermForwarder":
        if threading.current_thread() is threading.main_thread():  # only there can it be set
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _on_sigterm(self, signum: int, frame: object) -> None:
        first = not self.terminated
        self.terminated = True
        if self._child is not None and self._child.poll() is None:
            self._pass_on()
            if first:
                raise _GraceStarts

    def _pass_on(self) -> None:
        """SIGTERM to the command and to everything it started (its group), or to it alone when
        this process leads no group (a cluster where `tether exec` shares its shell's group)."""
        procgroup.terminating()
        if not procgroup.is_leader():
            assert self._child is not None
            self._child.send_signal(signal.SIGTERM)

    def run(self, argv: list[str], env: Mapping[str, str]) -> int:
        """The child's return code (negative: killed by that signal, as subprocess reports it)."""
        try:
            try:
                self._child = subprocess.Popen(argv, env=dict(env))
            except OSError as exc:
                raise CommandError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
            if self.terminated:  # SIGTERM arrived between fork and now
                self._pass_on()
            else:
                return self._child.wait()
        except _GraceStarts:
            pass
        assert self._child is not None
        try:
            return self._child.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            self._child.kill()
            return self._child.wait()
