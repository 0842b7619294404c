"""Every Argo golden is a manifest Argo accepts: ../shared/conformance (Argo's own JSON schema,
the full CRDs and the semantic rules of workflow/validate/validate.go, strict) for v4.1.2, the
goldens compiled for Argo 3 (`argoVersion: "3"`) for v3.7.18, and Hera's models with
`extra="forbid", strict=True`. The conformance part is skipped when ../shared is absent.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tether.backends import Profile
from tether.backends.argo import backend
from tether.backends.argo_profile import ArgoProfile
from tether.backends.yaml_emit import dump
from tether.compiler.load import load
from tether.core.diagnostics import Diagnostics

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden" / "argo"
CONFORMANCE = TESTS.parent.parent / "shared" / "conformance"
GOLDENS = sorted(GOLDEN.glob("*.yaml"))
EXAMPLES = TESTS.parent / "specs" / "examples"


def _validator() -> Any:
    if not (CONFORMANCE / "argo_validate.py").exists():
        pytest.skip("../shared/conformance is absent")
    if str(CONFORMANCE) not in sys.path:
        sys.path.insert(0, str(CONFORMANCE))
    spec = importlib.util.find_spec("argo_validate")
    if spec is None:
        pytest.skip("argo_validate is not importable")
    import argo_validate

    return argo_validate


def _errors(paths: list[Path], version: str) -> list[str]:
    v = _validator()
    options = v.Options(semantic=True, version=version)
    found = v.validate_paths([str(p) for p in paths], options)
    return [f.format() for f in found if f.level != "warning"]


def test_goldens_exist() -> None:
    assert len(GOLDENS) >= 8


def test_goldens_pass_argo_v4_conformance() -> None:
    assert _errors(GOLDENS, "v4.1.2") == []


def test_argo3_manifests_pass_v3_conformance(tmp_path: Path) -> None:
    _validator()
    paths = []
    profile = Profile(store="s3://tether-runs/runs", image="ghcr.io/acme/tether:1.0", target=ArgoProfile(argo_version="3"))
    for spec in sorted(EXAMPLES.glob("*.yaml")):
        result = load(str(spec))
        assert result.workflow is not None
        (manifest,) = backend.compile(result.workflow, profile, Diagnostics())
        path = tmp_path / spec.name
        path.write_text(dump(manifest.document), encoding="utf-8")
        paths.append(path)
    assert _errors(paths, "v3.7.18") == []


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.stem for g in GOLDENS])
def test_hera_models_accept_every_golden(golden: Path) -> None:
    models = pytest.importorskip("hera.workflows.models")
    doc = yaml.safe_load(golden.read_text(encoding="utf-8"))
    model = {"Workflow": models.Workflow, "WorkflowTemplate": models.WorkflowTemplate,
             "CronWorkflow": models.CronWorkflow}[doc["kind"]]
    model.model_validate(doc, extra="forbid", strict=True)
