"""Invocations answered before FastAPI's routing (``thresher/server/express.py``) answer as the route does.

Every request here is sent twice: once with a token the server has not seen yet, which the app's own route
answers (its dependency looks the token up), and once with a token it already keeps, which the express path
answers when nothing about the request is unusual. ``state.expressed`` says which of the two answered.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import iris_project
from thresher.sdk import Workspace
from thresher.server.app import create_app
from thresher.settings import load_settings
from thresher.specs import load_spec

ROUTE = "/api/v1/batch-endpoints/iris-batch/jobs"
_names = itertools.count()


class Server:
    def __init__(self, home: Path) -> None:
        self.settings = load_settings(home=home, server=None, server_runner=False)
        self.workspace = Workspace(settings=self.settings)
        self.app = create_app(self.settings, workspace=self.workspace, background=True)  # keeps tokens fresh
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.state = self.app.state.thresher

    def token(self, role: str = "contributor") -> str:
        return self.workspace.tokens.create(f"t{next(_names)}", role=role).secret

    def kept(self, role: str = "contributor") -> str:
        """A token the server keeps (its first request looked it up)."""
        secret = self.token(role)
        assert self.client.get("/api/v1/jobs", headers=_auth(secret)).status_code == 200
        return secret

    def post(self, secret: str, **options: Any) -> tuple[Any, bool]:
        """The answer, and whether the express path gave it."""
        before = self.state.expressed
        headers = {**_auth(secret), **options.pop("headers", {})}
        response = self.client.post(options.pop("path", ROUTE), headers=headers, **options)
        return response, self.state.expressed > before


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    project, _ = iris_project(tmp_path / "iris", files=1)
    (project / "model.yml").write_text("name: iris-classifier\npath: model\n")
    (project / "compute.yml").write_text("name: cpu\ntype: local\nmax_workers: 2\n")
    served = Server(tmp_path / "ws")
    ws = served.workspace
    ws.models.create(load_spec(project / "model.yml", "model"))
    ws.computes.create(load_spec(project / "compute.yml", "compute"))
    ws.batch_endpoints.create(load_spec(project / "endpoint.yml", "batch_endpoint"))
    ws.batch_deployments.create(load_spec(project / "deployment.yml", "batch_deployment"), set_default=True)
    upload = served.state.uploads / ("0" * 64) / "data"  # where an upload of the folder would be
    shutil.copytree(project / "data", upload)
    served.data = str(upload)  # type: ignore[attr-defined]
    with served.client:
        yield served
    ws.close()


def _shape(job: dict[str, Any]) -> Any:
    """What two invocations of the same request share: all but the job's name (in its folders too) and times."""
    same = json.loads(json.dumps(job).replace(job["name"], "NAME"))
    return {key: value for key, value in same.items() if not key.endswith("_at")}


def test_an_ordinary_invocation_is_answered_by_the_express_path_as_the_route_answers_it(server: Server) -> None:
    body = {"input": server.data, "mini_batch_size": 1}  # type: ignore[attr-defined]
    by_app, expressed = server.post(server.token(), json=body)
    assert by_app.status_code == 201 and not expressed, by_app.text
    by_express, expressed = server.post(server.kept(), json=body)
    assert by_express.status_code == 201 and expressed, by_express.text
    assert by_express.headers["content-type"] == by_app.headers["content-type"]
    app_job, express_job = by_app.json(), by_express.json()
    assert _shape(express_job) == _shape(app_job), [k for k in app_job if app_job[k] != express_job.get(k)]
    assert by_express.json()["name"] != by_app.json()["name"]
    assert {job["status"] for job in server.client.get("/api/v1/jobs", headers=_auth(server.kept())).json()} == {
        "Queued"
    }


def test_a_retried_key_gets_the_first_job_through_either_path(server: Server) -> None:
    key = {"Idempotency-Key": "express-retry-1"}
    body = {"input": server.data}  # type: ignore[attr-defined]
    first, expressed = server.post(server.kept(), json=body, headers=key)
    assert first.status_code == 201 and expressed
    again, expressed = server.post(server.kept(), json=body, headers=key)
    assert again.status_code == 201 and expressed and again.json()["name"] == first.json()["name"]
    by_app, expressed = server.post(server.token(), json=body, headers=key)
    assert by_app.status_code == 201 and not expressed and by_app.json()["name"] == first.json()["name"]


@pytest.mark.parametrize(
    ("what", "options"),
    [
        ("an endpoint that does not exist", {"path": "/api/v1/batch-endpoints/nope/jobs", "json": {"input": "x"}}),
        ("an input that does not exist", {"json": {"input": "/no/such/folder"}}),
        ("Azure's body with a wrong input type", {"json": {"properties": {"InputData": {"x": {"JobInputType": "T"}}}}}),
        ("a deployment that does not exist", {"json": {"input": "DATA", "deployment_name": "nope"}}),
    ],
)
def test_a_refused_invocation_gets_the_routes_own_words(server: Server, what: str, options: dict[str, Any]) -> None:
    def sent() -> dict[str, Any]:
        copy = dict(options)
        if copy.get("json", {}).get("input") == "DATA":
            copy["json"] = {**copy["json"], "input": server.data}  # type: ignore[attr-defined]
        return copy

    by_app, expressed = server.post(server.token(), **sent())
    assert not expressed and 400 <= by_app.status_code < 500, (what, by_app.text)
    by_express, expressed = server.post(server.kept(), **sent())
    assert expressed, what
    assert (by_express.status_code, by_express.json()) == (by_app.status_code, by_app.json()), what


@pytest.mark.parametrize(
    ("what", "role", "options", "status"),
    [
        ("a reader's token", "reader", {"json": {"input": "x"}}, 403),
        ("a body that does not validate", "contributor", {"json": {"mini_batch_size": 0}}, 422),
        (
            "a body that is not JSON",
            "contributor",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
        ),
        (
            "another content type",
            "contributor",
            {"content": b'{"input": "x"}', "headers": {"content-type": "text/plain"}},
            422,
        ),
        ("a body past 1 MiB", "contributor", {"json": {"input": "x", "overrides": ["a=" + "b" * (1 << 20)]}}, None),
        ("a token in another scheme", "contributor", {"json": {"input": "x"}, "basic": True}, 401),
    ],
)
def test_an_unusual_request_is_left_to_the_app(
    server: Server, what: str, role: str, options: dict[str, Any], status: int | None
) -> None:
    secret = server.kept(role)
    if options.pop("basic", False):
        options["headers"] = {"Authorization": f"Basic {secret}"}
        response = server.client.post(ROUTE, **options)
        expressed = False
    else:
        response, expressed = server.post(secret, **options)
    assert not expressed, what
    if status is not None:
        assert response.status_code == status, (what, response.text)
    assert "error" in response.json() or response.status_code == 201, (what, response.text)
