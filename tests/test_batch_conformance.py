"""Every golden Batch plan is a set of requests AWS Batch accepts.

Two checks: botocore's own `ParamValidator` against the Batch API model it ships (always), and
../shared/conformance `batch_validate.py` (the model's enums and maxima plus AWS's documented
limits), which runs when that folder exists next to the project and skips cleanly otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from batch_helpers import GOLDEN, ROOT

PLANS = sorted(GOLDEN.glob("*.json"))
VALIDATOR = ROOT.parent / "shared" / "conformance" / "batch_validate.py"
# The one warning a plan may carry: `Ref::run_id` and `Ref::in_X` of an input without a default
# have no default in the definition on purpose; `tether submit` always passes them (a default
# run id would let two runs share a store record).
ALLOWED_WARNING = "has no default in parameters"


def test_there_are_plans() -> None:
    assert PLANS


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.stem)
def test_botocore_accepts_every_request(path: Path) -> None:
    model = botocore.session.get_session().get_service_model("batch")
    plan: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    requests = [("RegisterJobDefinition", d) for d in plan["jobDefinitions"]]
    requests += [("SubmitJob", s) for s in plan["submissions"]]
    for operation, params in requests:
        report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
        assert not report.has_errors(), f"{operation} {params.get('jobName') or params.get('jobDefinitionName')}: {report.generate_report()}"


def _validator() -> ModuleType:
    if not VALIDATOR.exists():
        pytest.skip(f"{VALIDATOR} is absent (the shared conformance tools are not checked out here)")
    spec = importlib.util.spec_from_file_location("batch_validate", VALIDATOR)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.stem)
def test_shared_batch_validator_finds_no_error(path: Path) -> None:
    findings = _validator().validate_file(str(path))
    problems = [f.format() for f in findings if f.level == "error" or ALLOWED_WARNING not in f.message]
    assert not problems, "\n".join(problems)
