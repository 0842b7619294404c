"""Fixtures shared by the whole suite: paths, the conformance kit, and a real local S3 server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import settings

# No timed assertions: Hypothesis's per-example deadline is one, and a loaded machine (CI's two
# cores under pytest-xdist) trips it for no fault of the code. Tests that need more examples
# say so with their own @settings.
settings.register_profile("tether", deadline=None)
settings.load_profile("tether")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLES = SPECS / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (conformance validators, seeds); absent in a user's clone, so skip cleanly."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (it is in CI, not in a user's clone)")
    return SHARED


@pytest.fixture
def tether_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the `tether` CLI in a subprocess from this source tree."""
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("TETHER_STORE", None)
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def tether_cmd() -> list[str]:
    """argv prefix that runs the CLI of this source tree with this interpreter."""
    return [sys.executable, "-m", "tether"]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server on 127.0.0.1 (moto's server mode), for s3fs to talk to."""
    moto_server = pytest.importorskip("moto.server")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[tuple[str, dict]]:
    """A fresh bucket; yields (s3://bucket, storage_options for fsspec/s3fs)."""
    import uuid

    s3fs = pytest.importorskip("s3fs")
    options = {"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"}
    bucket = f"tether-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(**options)
    fs.mkdir(bucket)
    fs.invalidate_cache()
    yield f"s3://{bucket}", options
