"""Keep `tether.__all__` honest (httpx's test_exported_members, adapted) and `import tether` light."""

from __future__ import annotations

import json
import subprocess
import sys
from types import ModuleType

import tether


def test_all_is_sorted_and_unique() -> None:
    assert tether.__all__ == sorted(set(tether.__all__))


def test_every_exported_name_resolves_to_a_tether_object() -> None:
    for name in tether.__all__:
        member = getattr(tether, name)
        assert getattr(member, "__module__", "").startswith("tether."), name


def test_every_public_name_is_exported() -> None:
    public = {
        name
        for name in dir(tether)
        if not name.startswith("_")
        and not isinstance(getattr(tether, name), ModuleType)
        and name not in {"annotations", "TYPE_CHECKING", "Any"}  # typing helpers of __init__ itself
    }
    assert public == set(tether.__all__)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    try:
        tether.Retries  # type: ignore[attr-defined]
    except AttributeError as exc:
        assert "Retries" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("tether.Retries should not exist")


def test_the_api_the_seed_and_the_issue_name_is_there() -> None:
    for name in (
        "task",
        "workflow",
        "current_context",
        "RecoverableError",
        "Retry",
        "Backoff",
        "Interruptible",
        "Checkpoint",
        "Resources",
        "Cache",
        "Secret",
        "File",
        "Dir",
        "foreach",
        "when",
    ):
        assert name in tether.__all__, name


def test_import_tether_loads_no_compiler_and_no_third_party_module() -> None:
    """Importing a module of tasks must not pay for the compiler, lark, yaml, networkx or fsspec."""
    code = "import json, sys, tether; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not {
        m for m in loaded if m.startswith(("tether.compiler", "tether.api.graph", "tether.api.policies"))
    }
    assert not loaded & {"lark", "yaml", "networkx", "fsspec", "jinja2"}


def test_policy_objects_load_on_first_use() -> None:
    code = "import sys, tether; tether.Retry(3); print('tether.api.policies' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
