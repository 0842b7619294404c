"""Golden diagnostics: each broken spec in tests/diagnostics/ beside its exact rendered output.

A case named `E123_*.yaml` must produce error E123, and every code in the table has a case, so
a message, a caret column or a hint never changes without a reviewed diff. After an intended
change, regenerate with `TETHER_REGEN=1 pytest tests/test_diagnostics_golden.py` and review the
diff; regeneration is refused when CI is set, so CI can only compare.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tether.core.diagnostics import render
from tether.compiler.load import load
from tether.compiler.validate import CODES

CASES_DIR = Path(__file__).resolve().parent / "diagnostics"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.suffix in (".yaml", ".txt"))
NOT_REACHABLE_FROM_A_SPEC = {"E000"}  # an internal error is a bug by definition; see test_cli_check
NOT_REACHABLE_FROM_A_SPEC |= {"E130", "E131", "E132", "E133"}  # a profile's own: tests/test_profile.py


def rendered(case: Path) -> str:
    result = load(case.name)  # run from the cases directory, so spans name the bare file
    blocks = [render(d, result.sources.get(d.span.file) if d.span else None) for d in result.diagnostics]
    return "\n\n".join(blocks) + "\n"


def _regenerate_requested() -> bool:
    if not os.environ.get("TETHER_REGEN"):
        return False
    if os.environ.get("CI"):
        pytest.fail("TETHER_REGEN is refused when CI is set: golden files are only compared in CI")
    return True


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_rendered_diagnostics_match_golden(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES_DIR)
    actual = rendered(case)
    expected_file = case.with_suffix(".expected")
    if _regenerate_requested():
        expected_file.write_text(actual, encoding="utf-8")
    assert expected_file.exists(), f"no golden file for {case.name}: run with TETHER_REGEN=1 and review it"
    assert actual == expected_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", [c for c in CASES if c.name[0] == "E"], ids=lambda c: c.stem)
def test_case_named_after_a_code_reports_that_code(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES_DIR)
    code = case.name.split("_")[0]
    result = load(case.name)
    assert code in {d.code for d in result.diagnostics}
    assert result.workflow is None


def test_every_code_has_a_golden_case() -> None:
    """YAML-reachable codes have a case here; the Python front end's own codes (E12x, E21x)
    are asserted with exact messages in tests/test_python_spec.py, which must name them."""
    covered = {c.name.split("_")[0] for c in CASES if c.name[0] == "E"}
    python_tests = (CASES_DIR.parent / "test_python_spec.py").read_text(encoding="utf-8")
    covered |= {code for code in CODES if f"[{code}]" in python_tests or f'"{code}"' in python_tests}
    missing = set(CODES) - covered - NOT_REACHABLE_FROM_A_SPEC
    assert not missing, f"codes without a golden case: {sorted(missing)}"


def test_every_reported_code_is_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES_DIR)
    seen = {d.code for case in CASES for d in load(case.name).diagnostics}
    assert seen <= set(CODES)


def test_codes_are_grouped_by_range() -> None:
    """E1xx spec shape, E2xx types and expressions, E3xx graph, E4xx target limits."""
    assert all(code[0] == "E" and len(code) == 4 and code[1] in "01234" for code in CODES)
    assert list(CODES) == sorted(CODES)
