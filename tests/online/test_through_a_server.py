"""Online endpoints through a thresher server: the CLI of a remote client creates an endpoint and a deployment
(its model and code uploaded), the server's machine serves them, and ``invoke`` scores on them with the
key the client fetched; a killed serving process is started again by the server; ``show`` gives the
scoring URI, a reader cannot read the keys.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pytest
import yaml

from tests.conftest import thresher_processes
from tests.online.conftest import PLAIN, diabetes
from tests.thresher_server import ThresherServer
from thresher.cli import main
from thresher.sdk import online_serving
from thresher.settings import load_settings


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThresherServer]:
    home = tmp_path / "served"
    for name in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    served = ThresherServer(home, env={"THRESHER_ONLINE_AUTOSTART": "1"})
    served.start()
    monkeypatch.setenv("THRESHER_HOME", str(tmp_path / "client-home"))
    for key, value in served.client_env().items():
        monkeypatch.setenv(key, value)
    try:
        yield served
    finally:
        served.stop()
        deadline = time.monotonic() + 20
        while thresher_processes(str(home)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not thresher_processes(str(home))


def test_a_remote_cli_deploys_invokes_and_shows_an_online_endpoint(
    server: ThresherServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.linear_model import LinearRegression

    frame, target = diabetes()
    model = LinearRegression().fit(frame, target)
    (tmp_path / "model").mkdir()
    joblib.dump(model, tmp_path / "model" / "model.pkl")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(PLAIN)
    (tmp_path / "endpoint.yml").write_text(yaml.safe_dump({"name": "remote-ep", "auth_mode": "key"}))
    deployment = {
        "name": "blue",
        "endpoint_name": "remote-ep",
        "model": {"name": "diabetes-pkl", "path": "model"},
        "code_configuration": {"code": "code", "scoring_script": "score.py"},
        "instance_type": "Standard_DS3_v2",
        "instance_count": 1,
    }
    (tmp_path / "blue.yml").write_text(yaml.safe_dump(deployment))
    rows = frame.iloc[:2]
    body = {"input_data": {"columns": list(rows.columns), "data": rows.values.tolist()}}
    (tmp_path / "request.json").write_text(json.dumps(body))

    def cli(*args: str) -> str:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured.out

    cli("online-endpoint", "create", "-f", str(tmp_path / "endpoint.yml"))
    cli("online-deployment", "create", "-f", str(tmp_path / "blue.yml"), "--all-traffic")
    answer = json.loads(
        cli("online-endpoint", "invoke", "-n", "remote-ep", "--request-file", str(tmp_path / "request.json"))
    )
    assert answer["predictions"] == pytest.approx([float(v) for v in model.predict(rows)], rel=1e-12)

    # the serving process is killed: the server starts it again by itself (no command asks), and it serves
    settings = load_settings(home=server.home, server=None, database_url=None)
    killed = online_serving.serving_pid(settings)
    assert killed is not None and killed > 0
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while online_serving.serving_pid(settings) in (None, -1, killed) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert online_serving.serving_pid(settings) not in (None, -1, killed), "the server did not restart it"
    status: dict[str, Any] = {}
    while status.get("state") != "Succeeded" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = online_serving.live_state(settings).get("deployments", {}).get("remote-ep/blue") or {}
    again = json.loads(
        cli("online-endpoint", "invoke", "-n", "remote-ep", "--request-file", str(tmp_path / "request.json"))
    )
    assert again == answer

    shown = json.loads(cli("online-endpoint", "show", "-n", "remote-ep"))
    assert shown["scoring_uri"].endswith("/endpoints/remote-ep/score")
    assert "primaryKey" not in json.dumps(shown)
    assert (
        json.loads(cli("online-deployment", "show", "-n", "blue", "-e", "remote-ep"))["provisioning_state"]
        == "Succeeded"
    )
    assert "starting" in cli("online-deployment", "get-logs", "-n", "blue", "-e", "remote-ep")
    cli("online-endpoint", "delete", "-n", "remote-ep", "--yes")
