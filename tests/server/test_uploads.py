"""Uploads to a real server: stored once per content, refused past the size limit or when the bytes do not
hash to the upload's name, and never unpacked outside their folder."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

from tests.server.conftest import api
from tests.thresher_server import ThresherServer
from thresher import Workspace


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_identical_content_is_stored_once_and_a_wrong_hash_is_refused(served: ThresherServer, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name / "model").mkdir(parents=True)
        (tmp_path / name / "model" / "w.bin").write_bytes(b"\x00" * 1000)
    with Workspace() as ws:
        first = ws.jobs._client.upload(tmp_path / "a" / "model")  # type: ignore[attr-defined]
        second = ws.jobs._client.upload(tmp_path / "b" / "model")  # type: ignore[attr-defined]
    assert first == second  # the same bytes in another folder: one upload
    assert len(list((served.home / "uploads").iterdir())) == 1
    body = _tar({"m/w.bin": b"payload"})
    with api(served) as client:
        wrong = client.put(f"/api/v1/uploads/{'0' * 64}", content=body)
        assert wrong.status_code == 409 and "hash to" in wrong.json()["error"]["message"]
        escaping = _tar({"../../escape.txt": b"x"})
        digest = hashlib.sha256(escaping).hexdigest()
        refused = client.put(f"/api/v1/uploads/{digest}", content=escaping)
        assert refused.status_code >= 400 and refused.status_code < 500, refused.text
        assert not (served.home / "escape.txt").exists() and not (served.home.parent / "escape.txt").exists()
        bad_name = client.get("/api/v1/uploads/not-a-digest")
        assert bad_name.status_code == 400 and "SHA-256" in bad_name.json()["error"]["message"]


def test_an_upload_over_the_limit_is_refused_with_the_setting_to_raise(tmp_path: Path) -> None:
    server = ThresherServer(tmp_path / "ws", env={"THRESHER_UPLOAD_MAX_BYTES": "4096"})
    server.start()
    try:
        body = _tar({"big/data.bin": b"\x01" * 10_000})
        with api(server) as client:
            refused = client.put(f"/api/v1/uploads/{hashlib.sha256(body).hexdigest()}", content=body)
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert "4,096 bytes" in error["message"] and "THRESHER_UPLOAD_MAX_BYTES" in error["fix"]
        assert not any((tmp_path / "ws" / "uploads").glob("[0-9a-f]*"))
    finally:
        server.stop()


def test_a_request_names_no_file_of_the_server_s_but_uploads(served: ThresherServer, tmp_path: Path) -> None:
    with api(served) as client:
        relative = client.post("/api/v1/jobs/score", json={"model": "../secret", "input": "data"})
        assert relative.status_code == 400 and "relative path" in relative.json()["error"]["message"]
        absolute = client.post("/api/v1/jobs", json={"path": "/etc/passwd"})
        assert absolute.status_code == 400 and "server's path '/etc/passwd'" in absolute.json()["error"]["message"]
        escaping = client.post("/api/v1/models", json={"spec": {"name": "m", "path": "../../../../etc"}})
        assert escaping.status_code == 400 and "server's path" in escaping.json()["error"]["message"]
        assert client.get("/api/v1/models").json() == []
