"""Invoking batch endpoints through a real server: Azure's REST body and the simple form, idempotent
invocation (a retried request never queues a second job), and a client whose connection drops after the
server answered (it retries, and still one job is queued)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from pathlib import Path

import pandas as pd

from tests.server.conftest import api, deploy_iris, iris_project
from tests.thresher_server import ThresherServer
from thresher import Workspace


def _scores(folder: Path) -> list[tuple[str, int]]:
    frame = pd.read_csv(folder / "predictions.csv", sep=" ", header=None, names=["file", "prediction"])
    return list(zip(frame["file"], frame["prediction"], strict=True))


def test_azure_body_and_simple_form_invoke_the_same_deployment(served: ThresherServer, tmp_path: Path) -> None:
    project, expected = iris_project(tmp_path / "iris")
    deploy_iris(None, project)
    with Workspace() as ws:  # THRESHER_SERVER: data goes up as an upload, as the CLI sends it
        data = ws.jobs._client.local(str(project / "data"))  # type: ignore[attr-defined]
    azure = {"properties": {"InputData": {"iris": {"JobInputType": "UriFolder", "Uri": data}}}}
    with api(served) as client:
        first = client.post("/api/v1/batch-endpoints/iris-batch/jobs", json=azure)
        assert first.status_code == 201, first.text
        second = client.post(
            "/api/v1/batch-endpoints/iris-batch/jobs", json={"input": data, "input_type": "uri_folder"}
        )
        assert second.status_code == 201, second.text
        bad = client.post(
            "/api/v1/batch-endpoints/iris-batch/jobs",
            json={"properties": {"InputData": {"iris": {"JobInputType": "Tabular", "Uri": data}}}},
        )
        assert bad.status_code == 400 and "JobInputType is 'Tabular'" in bad.json()["error"]["message"]
    with Workspace() as ws:
        for name in (first.json()["name"], second.json()["name"]):
            job = ws.jobs.wait(name, timeout=180)
            assert job.status == "Completed", job.headline
            assert _scores(ws.jobs.download(name, tmp_path / name)) == expected


def test_the_same_idempotency_key_queues_one_job(served: ThresherServer, tmp_path: Path) -> None:
    project, _expected = iris_project(tmp_path / "iris", files=1)
    deploy_iris(None, project)
    with Workspace() as ws:
        data = ws.jobs._client.local(str(project / "data"))  # type: ignore[attr-defined]
    body = {"input": data}
    headers = {"Idempotency-Key": "retry-me-0001"}
    with api(served) as client:
        answers = []

        def invoke() -> None:
            answers.append(client.post("/api/v1/batch-endpoints/iris-batch/jobs", json=body, headers=headers))

        threads = [threading.Thread(target=invoke) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        invoke()  # and once more after the first answer was stored
        assert {answer.status_code for answer in answers} == {201}
        assert len({answer.json()["name"] for answer in answers}) == 1
        jobs = client.get("/api/v1/jobs").json()
        assert len(jobs) == 1
        shutil.rmtree(data)  # the upload is gone: a new invocation of it is refused, a retried one is answered
        refused = client.post("/api/v1/batch-endpoints/iris-batch/jobs", json=body)
        assert refused.status_code == 400 and "does not exist" in refused.json()["error"]["message"]
        retried = client.post("/api/v1/batch-endpoints/iris-batch/jobs", json=body, headers=headers)
        assert retried.status_code == 201 and retried.json()["name"] == answers[0].json()["name"]
        assert len(client.get("/api/v1/jobs").json()) == 1
        other = client.post("/api/v1/jobs/prune", json={"older_than_seconds": 1}, headers=headers)
        assert other.status_code == 200  # a key only dedupes the routes that queue jobs


class DroppingProxy:
    """Forwards 127.0.0.1:<port> to the server; the first request that queues a job reaches the server, but its
    answer never reaches the client: the connection is closed instead, as a network drop would."""

    def __init__(self, target: int, marker: bytes) -> None:
        self.target, self.marker, self.dropped = target, marker, 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._up, args=(client, upstream), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket) -> None:
        drop = threading.Event()
        threading.Thread(target=self._down, args=(upstream, client, drop), daemon=True).start()
        while data := _recv(client):
            if self.marker in data and self.dropped == 0:
                self.dropped += 1
                drop.set()
            upstream.sendall(data)
        upstream.close()

    @staticmethod
    def _down(upstream: socket.socket, client: socket.socket, drop: threading.Event) -> None:
        while data := _recv(upstream):
            if drop.is_set():  # the server answered: the client never hears it
                break
            client.sendall(data)
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the other pump, and the client sees the line drop
            sock.close()

    def close(self) -> None:
        self._listener.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def test_a_client_whose_answer_was_lost_retries_and_one_job_is_queued(served: ThresherServer, tmp_path: Path) -> None:
    project, expected = iris_project(tmp_path / "iris", files=2)
    deploy_iris(None, project)
    proxy = DroppingProxy(served.port, b"POST /api/v1/batch-endpoints/iris-batch/jobs")
    try:
        with Workspace(f"http://127.0.0.1:{proxy.port}", token=served.token) as ws:
            job = ws.jobs.invoke("iris-batch", input=str(project / "data"))
            assert proxy.dropped == 1
            assert [j.name for j in ws.jobs.list()] == [job.name]
            done = ws.jobs.wait(job.name, timeout=180)
            assert done.status == "Completed", done.headline
            assert _scores(ws.jobs.download(job.name, tmp_path / "out")) == expected
    finally:
        proxy.close()
