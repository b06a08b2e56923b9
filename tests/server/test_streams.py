"""What streams out of a real server: a job's Server-Sent Events and its log, and HTTPS with a certificate."""

from __future__ import annotations

import datetime
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.server.conftest import api, deploy_iris, iris_project
from tests.thresher_server import ThresherServer
from thresher import Workspace


def test_job_events_and_log_stream_until_the_job_ends(served: ThresherServer, tmp_path: Path) -> None:
    project, _expected = iris_project(tmp_path / "iris", files=2)
    deploy_iris(None, project)
    with Workspace() as ws:
        job = ws.jobs.invoke("iris-batch", input=str(project / "data"))
    events: list[tuple[str, dict[str, object]]] = []
    with api(served) as client, client.stream("GET", f"/api/v1/jobs/{job.name}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[len("data: ") :])))
    assert events[-1][0] == "end"
    statuses = [data["status"] for kind, data in events if kind == "job"]
    assert statuses[-1] == "Completed" and len(statuses) == len(events) - 1
    with api(served) as client:
        log = client.get(f"/api/v1/jobs/{job.name}/logs", params={"follow": True})
        assert (log.status_code == 200 and job.name in log.text) or "Completed" in log.text, log.text[:500]
        missing = client.get("/api/v1/jobs/no-such-job/events")
        assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, private


def test_https_with_a_certificate_and_the_cli_trusting_it(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = ThresherServer(tmp_path / "ws")
    server.url = server.url.replace("http://", "https://")
    try:
        server.start("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
        response = httpx.get(
            server.url + "/api/v1/models",
            headers={"Authorization": f"Bearer {server.token}"},
            verify=ssl.create_default_context(cafile=str(cert)),
        )
        assert response.status_code == 200 and response.json() == []
        env = {**os.environ, **server.client_env(), "SSL_CERT_FILE": str(cert), "THRESHER_HOME": str(tmp_path / "c")}
        shown = subprocess.run(
            [sys.executable, "-m", "thresher", "model", "list", "-o", "json"], env=env, capture_output=True, text=True
        )
        assert shown.returncode == 0 and json.loads(shown.stdout) == [], shown.stderr
        env.pop("SSL_CERT_FILE")
        refused = subprocess.run(
            [sys.executable, "-m", "thresher", "model", "list"], env=env, capture_output=True, text=True
        )
        assert refused.returncode == 1 and "certificate" in refused.stderr.lower(), refused.stderr
    finally:
        server.stop()
