"""Fixtures of the server's own tests: a real ``thresher server`` process, and a small iris project to
invoke through it (an Azure-style scoring script, in thresher's own interpreter)."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.thresher_server import ThresherServer

IRIS = Path(__file__).resolve().parent.parent / "azure" / "iris"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThresherServer]:
    """A server over a fresh workspace; the CLI and ``Workspace()`` in the test talk to it."""
    for key in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("THRESHER_HOME", str(tmp_path / "client-home"))
    server = ThresherServer(tmp_path / "ws")
    server.start()
    for key, value in server.client_env().items():
        monkeypatch.setenv(key, value)
    try:
        yield server
    finally:
        server.stop()


def api(server: ThresherServer, token: str | None = None) -> httpx.Client:
    """A plain HTTP client of the server's API, with ``token`` (the owner's by default)."""
    headers = {} if token == "" else {"Authorization": f"Bearer {token or server.token}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def iris_project(folder: Path, files: int = 4) -> tuple[Path, list[tuple[str, int]]]:
    """The iris endpoint's files (no environment: workers run in this interpreter), its model trained here,
    and ``files`` CSV files of 25 rows; with the (file, prediction) rows a run must write."""
    shutil.copytree(IRIS / "code", folder / "code")
    iris = load_iris(as_frame=True)
    features = iris.frame.drop(columns="target")
    model = LogisticRegression(max_iter=500).fit(features, iris.frame["target"])
    (folder / "model").mkdir()
    with (folder / "model" / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)
    (folder / "data").mkdir()
    expected: list[tuple[str, int]] = []
    for index in range(files):
        chunk = features.iloc[index * 25 : (index + 1) * 25]
        chunk.to_csv(folder / "data" / f"iris-{index}.csv", index=False)
        expected += [(f"iris-{index}.csv", int(p)) for p in model.predict(chunk)]
    (folder / "endpoint.yml").write_text((IRIS / "endpoint.yml").read_text())
    deployment = (IRIS / "deployment.yml").read_text()
    deployment = (
        deployment.split("environment:")[0]
        + "compute: azureml:cpu\n"
        + deployment.split("compute: azureml:batch-cluster\n")[1]
    )
    (folder / "deployment.yml").write_text(deployment)
    return folder, expected


def deploy_iris(cli: object, folder: Path) -> None:
    """Register the model, a local compute, the endpoint and its default deployment, with the CLI."""
    from thresher.cli import main

    for args in (
        ["model", "create", "--name", "iris-classifier", "--path", str(folder / "model")],
        ["compute", "create", "-n", "cpu", "--type", "local", "--max-workers", "2"],
        ["batch-endpoint", "create", "-f", str(folder / "endpoint.yml")],
        ["batch-deployment", "create", "-f", str(folder / "deployment.yml"), "--set-default"],
    ):
        assert main(args) == 0, args
