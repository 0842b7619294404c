"""`tether targets`: every target is listed, and each backend's profile keys come with their
defaults, read from the profile dataclass itself (so the documentation cannot drift)."""

from __future__ import annotations

import dataclasses

import pytest
from cli_helpers import tether

from tether.backends import get_backend, profile_type_of
from tether.backends.profile import field_key


def test_targets_are_listed_with_what_they_compile_to(tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    done = tether(tether_cmd, tether_env, "targets")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines() if line and not line.startswith("common")]
    assert names == ["argo", "batch", "ir", "local"]


@pytest.mark.parametrize("target", ["argo", "batch"])
def test_every_profile_key_is_shown_with_its_default(target: str, tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    done = tether(tether_cmd, tether_env, "targets", target)
    assert done.returncode == 0, done.stderr
    profile_type = profile_type_of(get_backend(target))
    assert profile_type is not None
    keys = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ") and line.split() and not line.strip().startswith("type ")]
    assert keys == [field_key(f) for f in dataclasses.fields(profile_type)]
    assert sum(line.strip().startswith("type ") and "; default " in line for line in done.stdout.splitlines()) == len(keys)


def test_an_unknown_target_is_a_usage_error_with_a_guess(tether_cmd: list[str], tether_env: dict[str, str]) -> None:
    done = tether(tether_cmd, tether_env, "targets", "argoo")
    assert done.returncode == 2
    assert "did you mean 'argo'?" in done.stderr
