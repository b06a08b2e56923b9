"""schemathesis over the server's /openapi.json: generated requests (a bounded number per route, with an
owner's token, no runner attached so that fuzzed invocations start no workers) never get a 5xx."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from thresher.sdk import Workspace
from thresher.server.app import create_app
from thresher.settings import load_settings

# schemathesis reads the schema when the module is collected, so the app (and its workspace) is made here;
# the module's fixture removes the workspace after the tests.
_HOME = Path(tempfile.mkdtemp(prefix="thresher-fuzz-"))
_SETTINGS = load_settings(home=_HOME / "ws", server=None, server_runner=False)
_WORKSPACE = Workspace(settings=_SETTINGS)
TOKEN = _WORKSPACE.tokens.create("fuzzer", role="owner").secret
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_SETTINGS, workspace=_WORKSPACE))


@pytest.fixture(scope="module", autouse=True)
def _workspace_removed() -> Iterator[None]:
    yield
    _WORKSPACE.close()
    shutil.rmtree(_HOME, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_route_answers_a_5xx(case: Any) -> None:
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, (case.method, case.path, case.body, response.status_code, response.text[:500])


def test_the_schema_documents_every_route_with_the_bearer_scheme(tmp_path: Path) -> None:
    app = create_app(load_settings(home=tmp_path / "ws", server=None, server_runner=False))
    document = app.openapi()
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    unprotected = [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if not operation.get("security")
    ]
    assert sorted(unprotected) == ["GET /health", "GET /ready"]
