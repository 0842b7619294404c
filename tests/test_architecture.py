"""The layering, held by a test: what every layer shares lives in `tether.core`, which imports
nothing else of tether; the runtime, the backends and the public `api` never import a front end
(`tether.compiler`), so a pod running `tether exec` never loads YAML or decorator machinery.

Imports are read with `ast` (function-level lazy imports included), not by importing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "tether"
MAX_MODULE_LINES = 800


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every tether module `path` imports, resolved to absolute dotted names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "tether" or m.startswith("tether.")}


MODULES = sorted(PACKAGE.rglob("*.py"))


def _layer_imports(layer: str) -> dict[str, set[str]]:
    return {
        _module_name(p): _imports(p) for p in MODULES if _module_name(p).startswith(f"tether.{layer}")
    }


def test_core_imports_nothing_else_of_tether() -> None:
    offenders = {
        module: sorted(m for m in imported if not m.startswith("tether.core"))
        for module, imported in _layer_imports("core").items()
    }
    assert {m: i for m, i in offenders.items() if i} == {}


@pytest.mark.parametrize("layer", ["runtime", "backends", "api"])
def test_runtime_backends_and_api_import_no_front_end(layer: str) -> None:
    offenders = {
        module: sorted(m for m in imported if m.startswith("tether.compiler"))
        for module, imported in _layer_imports(layer).items()
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_private_names_stay_private_across_packages() -> None:
    """`from tether.x import _name` across top-level packages reaches into another's internals."""
    offenders = []
    for path in MODULES:
        module = _module_name(path)
        own = module.split(".")[1] if "." in module else ""
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                for alias in node.names:
                    if alias.name.startswith("_") and (node.module or "").split(".")[0] != own:
                        offenders.append(f"{module}: {alias.name} from {node.module}")
    assert offenders == []


def test_no_module_is_over_800_lines() -> None:
    long = {
        _module_name(p): n
        for p in MODULES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_checker_sees_lazy_imports() -> None:
    """Guards the guard: a function-level relative import is found and resolved."""
    imported = _imports(PACKAGE / "commands" / "exec_.py")
    assert "tether.runtime.entry" in imported
