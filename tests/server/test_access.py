"""Access control of a real thresher server: every route but health needs a token, roles limit what a
token may do, revoked tokens stop working, and neither token secrets nor datastore secrets come back."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import api
from tests.thresher_server import ThresherServer
from thresher import Workspace
from thresher.server.token_cache import REFRESH_SECONDS
from thresher.settings import load_settings

OPEN = {("GET", "/health"), ("GET", "/ready"), ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc")}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _routes(server: ThresherServer) -> list[tuple[str, str]]:
    schema: dict[str, Any] = httpx.get(server.url + "/openapi.json").json()
    found = []
    for path, methods in schema["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x" * 64, path)  # an upload's digest is 64 characters long
        found += [(method.upper(), concrete) for method in methods if (method.upper(), path) not in OPEN]
    return found


def test_every_route_but_health_needs_a_token(served: ThresherServer) -> None:
    routes = _routes(served)
    assert len(routes) > 40
    with api(served, token="") as anonymous, api(served, token="thr_not-a-token") as forged:
        for method, path in routes:
            for client in (anonymous, forged):
                response = client.request(method, path)
                assert response.status_code == 401, (method, path, response.status_code, response.text)
                assert "token" in response.json()["error"]["message"]
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/ready").json()["status"] == "ready"


def test_a_reader_cannot_create_update_delete_or_invoke_anything(served: ThresherServer) -> None:
    reader = served.token_for("reader")
    writes = [(method, path) for method, path in _routes(served) if method in WRITES]
    assert len(writes) > 20
    with api(served, token=reader) as client:
        for method, path in writes:
            response = client.request(method, path, json={})
            assert response.status_code == 403, (method, path, response.status_code, response.text)
            assert re.search(r"needs (contributor|owner) or higher", response.json()["error"]["message"])
        assert client.get("/api/v1/models").status_code == 200  # reading is what a reader may do
        assert client.get("/api/v1/tokens").status_code == 403  # but not the list of tokens


def test_a_contributor_cannot_manage_tokens_and_a_revoked_token_stops_working(served: ThresherServer) -> None:
    contributor = served.token_for("contributor", "ci")
    with api(served, token=contributor) as client:
        refused = client.post("/api/v1/tokens", json={"name": "mine", "role": "owner"})
        assert refused.status_code == 403 and "needs owner" in refused.json()["error"]["message"]
        assert client.get("/api/v1/jobs").status_code == 200
    with api(served) as owner:
        listed = owner.get("/api/v1/tokens").json()
        assert {token["name"] for token in listed} >= {"ci"}
        assert all("secret" not in token and "secret_hash" not in token for token in listed)
        assert owner.post("/api/v1/tokens/ci/revoke").json()["revoked_at"]
    with api(served, token=contributor) as client:
        assert client.get("/api/v1/jobs").status_code == 401


def test_a_token_revoked_by_another_process_is_refused_by_every_server_worker_within_a_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    server = ThresherServer(tmp_path / "ws")
    server.start("--workers", "2")  # the revoking process is neither worker: each learns it from the database
    try:
        contributor = server.token_for("contributor", "nightly")
        with api(server, token=contributor) as client:
            for _ in range(20):  # both workers have seen and kept it
                assert client.get("/api/v1/jobs").status_code == 200
            with Workspace(settings=load_settings(home=server.home, server=None)) as ws:
                ws.tokens.revoke("nightly")  # as `thresher token revoke` on the server's machine does
            time.sleep(REFRESH_SECONDS * 4)  # each worker reads the tokens' revision this often
            assert [client.get("/api/v1/jobs").status_code for _ in range(20)] == [401] * 20
    finally:
        server.stop()


def test_secrets_are_stored_hashed_and_never_returned(served: ThresherServer) -> None:
    with api(served) as owner:
        made = owner.post("/api/v1/tokens", json={"name": "nightly", "role": "contributor"}).json()
    secret = made["secret"]
    assert secret.startswith("thr_") and len(secret) > 40
    with api(served, token=secret) as client:
        assert client.get("/api/v1/jobs").status_code == 200
    database = sqlite3.connect(served.home / "thresher.db")
    dumped = "\n".join(database.iterdump())
    database.close()
    assert secret not in dumped and served.token not in dumped
    with api(served) as owner:
        assert secret not in owner.get("/api/v1/tokens").text


def test_a_backup_is_written_only_to_an_absolute_path_on_the_server(served: ThresherServer, tmp_path: Path) -> None:
    # a relative path would land in whatever folder the server was started from (fuzzing once filled one)
    with api(served) as owner:
        refused = owner.post("/api/v1/workspace/backup", json={"path": "relative.db"})
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert "'relative.db' is relative" in error["message"] and "absolute path" in error["fix"]
        written = owner.post("/api/v1/workspace/backup", json={"path": str(tmp_path / "copy.db")})
        assert written.status_code == 200, written.text
    assert (tmp_path / "copy.db").stat().st_size > 0
