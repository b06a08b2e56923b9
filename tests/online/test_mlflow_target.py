"""MLflow's own tools on thresher: ``mlflow deployments create|predict|get|delete -t thresher`` through MLflow's
CLI and ``get_deploy_client``, online (served for real) and batch (a real job).

MLflow finds the target through the ``mlflow.deployments`` entry point. The installed thresher may predate it,
so ``plugin`` puts a distribution holding exactly the entry point of pyproject.toml on ``sys.path`` and has
MLflow scan the entry points again: what is tested is the registration ``pip install`` makes.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tomllib
from click.testing import CliRunner, Result
from mlflow.deployments import PredictionsResponse, get_deploy_client
from mlflow.deployments.cli import commands
from mlflow.deployments.interface import plugin_store
from mlflow.exceptions import MlflowException

from tests.online.conftest import Online, close_to
from thresher import Workspace
from thresher.sdk import online_serving
from thresher.specs import parse_spec

ROOT = Path(__file__).resolve().parents[2]
GROUP = "mlflow.deployments"


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The ``thresher`` target, registered as pyproject.toml declares it."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][GROUP]
    site = tmp_path_factory.mktemp("entry-points")
    info = site / "thresher_mlflow_target_shim-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thresher-mlflow-target-shim\nVersion: 0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in declared.items())
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}")
    before = dict(plugin_store.registry)
    sys.path.insert(0, str(site))
    try:
        plugin_store.register_entrypoints()
        assert plugin_store.registry["thresher"].value == "thresher.sdk.mlflow_target"
        yield str(site)
    finally:
        sys.path.remove(str(site))
        plugin_store.registry.clear()
        plugin_store.registry.update(before)


@pytest.fixture(scope="module")
def here(online: Online) -> str:
    """An environment without dependency files: workers run in this interpreter (the model's own would be built)."""
    online.ws.environments.create(parse_spec({"name": "here"}, "environment", base_dir=online.root))
    return "azureml:here@latest"


def mlflow_cli(*args: str) -> Result:
    """``mlflow deployments <args>``, in this process."""
    result = CliRunner().invoke(commands, list(args), catch_exceptions=True)
    assert result.exit_code == 0, f"mlflow deployments {' '.join(args)}:\n{result.output}\n{result.exception!r}"
    return result


def model_folder(online: Online) -> Path:
    return online.root / "models" / "diabetes-mlflow"


def predictions(response: Any) -> list[float]:
    assert isinstance(response, PredictionsResponse)
    return [float(v) for v in response.get_predictions(predictions_format="ndarray").ravel()]


def test_mlflow_cli_deploys_online_and_predict_returns_the_models_predictions(
    online: Online, plugin: str, here: str, tmp_path: Path
) -> None:
    folder = str(model_folder(online))
    created = mlflow_cli("create", "-t", "thresher", "--name", "mlflow-cli", "-m", folder, "-C", f"environment={here}")
    assert "python_function deployment mlflow-cli is created" in created.output

    rows = online.rows(5, start=7)
    (tmp_path / "input.json").write_text(rows.to_json(orient="records"))
    mlflow_cli(
        "predict", "-t", "thresher", "--name", "mlflow-cli",
        "--input-path", str(tmp_path / "input.json"), "--output-path", str(tmp_path / "out.json"),
    )  # fmt: skip
    assert close_to(json.loads((tmp_path / "out.json").read_text())["predictions"], online.expected(rows))

    shown = mlflow_cli("get", "-t", "thresher", "--name", "mlflow-cli").output
    scoring_uri = online.ws.online_endpoints.serving("mlflow-cli")["scoring_uri"]
    assert f"scoring_uri: {scoring_uri}" in shown
    assert "traffic: 100" in shown

    # The Python client, on the workspace named in the target URI: a DataFrame, named tensors, params-free MLflow
    # bodies, and the endpoint's traffic split instead of a deployment name.
    client = get_deploy_client(f"thresher:{online.ws.settings.home}")
    rows = online.rows(3, start=20)
    assert close_to(predictions(client.predict("mlflow-cli", rows)), online.expected(rows))
    split = {"dataframe_split": rows.to_dict(orient="split")}
    assert close_to(predictions(client.predict(endpoint="mlflow-cli", inputs=split)), online.expected(rows))
    tensors = {column: rows[column].to_numpy() for column in rows.columns}
    assert close_to(predictions(client.predict("mlflow-cli", tensors)), online.expected(rows))
    assert [d["name"] for d in client.list_deployments()] == ["mlflow-cli"]

    with pytest.raises(MlflowException, match="'bmi'") as wrong:
        client.predict("mlflow-cli", rows.assign(bmi=["very-secret-text"] * 3))
    assert "very-secret-text" not in wrong.value.message
    assert "answered 400" in wrong.value.message

    mlflow_cli("delete", "-t", "thresher", "--name", "mlflow-cli")
    assert [e.name for e in online.ws.online_endpoints.list()] == []  # the endpoint made for it went with it
    mlflow_cli("delete", "-t", "thresher", "--name", "mlflow-cli")  # deleting again changes nothing
    with pytest.raises(MlflowException, match="There is no deployment 'mlflow-cli'"):
        client.predict("mlflow-cli", rows)


def test_a_second_deployment_gets_no_traffic_until_told_and_delete_moves_none(
    online: Online, plugin: str, here: str, tmp_path: Path
) -> None:
    client = get_deploy_client("thresher")
    model_uri = model_folder(online).as_uri()  # a file:// URI
    environment = {"environment": here}
    first = client.create_deployment(
        "blue", model_uri, endpoint="rollout", config={"instance_count": "1", **environment}
    )
    assert first["endpoint"] == "rollout" and first["type"] == "online" and first["traffic"] == 100
    deploy_config = tmp_path / "deploy-config.json"  # as Azure's MLflow target takes it
    azure_keys = {"instance_type": "Standard_DS2_v2", "request_settings": {"request_timeout_ms": 20000}}
    deploy_config.write_text(json.dumps(azure_keys))
    second = client.create_deployment(
        "green",
        model_uri,
        endpoint="rollout",
        config={"deploy-config-file": str(deploy_config), "model_name": "diabetes-green", **environment},
    )
    assert second["traffic"] == 0
    assert second["request_settings"]["request_timeout_ms"] == 20000
    assert second["model"].startswith("azureml:diabetes-green:")
    rows = online.rows(2)
    assert close_to(predictions(client.predict("green", rows)), online.expected(rows))  # named, at 0 %

    with pytest.raises(MlflowException, match="already has a online deployment 'green'"):
        client.create_deployment("green", model_uri, endpoint="rollout")
    with pytest.raises(MlflowException, match="takes 100 percent of the live traffic") as refused:
        client.delete_deployment("blue", endpoint="rollout")
    assert "online-endpoint update -n rollout" in refused.value.message

    client.update_endpoint("rollout", config={"traffic": "blue=0,green=100"})
    assert client.get_endpoint("rollout")["traffic"] == {"blue": 0, "green": 100}
    updated = client.update_deployment("green", config={"max_concurrent_requests_per_instance": "2"})
    assert updated["request_settings"]["max_concurrent_requests_per_instance"] == 2
    assert updated["state"] == "Succeeded"
    client.delete_deployment("blue")
    assert [d["name"] for d in client.list_deployments(endpoint="rollout")] == ["green"]
    client.delete_deployment("green")
    assert client.list_endpoints() == []


def test_batch_deployments_are_made_default_scored_by_jobs_and_refused_by_predict(
    online: Online, plugin: str, here: str, tmp_path: Path
) -> None:
    client = get_deploy_client("thresher")
    created = client.create_deployment(
        "nightly",
        str(model_folder(online)),
        config={"type": "batch", "environment": here, "mini_batch_size": "1"},
    )
    assert created["type"] == "batch" and created["default"] is True
    assert created["settings"]["mini_batch_size"] == 1

    with pytest.raises(MlflowException, match="thresher batch-endpoint invoke -n nightly"):
        client.predict("nightly", online.rows(2))

    data = tmp_path / "data"
    data.mkdir()
    rows = online.rows(4, start=30)
    rows.to_csv(data / "part-0.csv", index=False)
    job = online.ws.jobs.invoke("nightly", input=str(data), start_runner=False)
    online.ws.jobs.run_here(job.name).join(120)
    done = online.ws.jobs.get(job.name)
    assert done.status == "Completed", done
    written = Path(str(done.spec["output_file"])).read_text().splitlines()
    scored = [float(line.split(",")[1]) for line in written if line and not line.startswith("row")]
    assert np.allclose(scored, online.expected(rows))

    client.delete_deployment("nightly")
    assert [e.name for e in online.ws.batch_endpoints.list()] == []


def test_config_problems_are_reported_together_before_anything_is_registered(online: Online, plugin: str) -> None:
    client = get_deploy_client("thresher")
    before = len(online.ws.models.list())
    with pytest.raises(MlflowException) as problems:
        client.create_deployment(
            "wrong", str(model_folder(online)), config={"instance_cnt": "2", "set_default": "true", "type": "online"}
        )
    assert "'instance_cnt' is not a config key of online deployments" in problems.value.message
    assert "set_default applies to batch deployments" in problems.value.message
    with pytest.raises(MlflowException, match=r"request_settings\.request_timeout_ms"):
        client.create_deployment("wrong", str(model_folder(online)), config={"request_timeout_ms": "0"})
    with pytest.raises(MlflowException, match="named by --name: name is 'my_model'; an endpoint name must start"):
        client.create_deployment("my_model", str(model_folder(online)))
    with pytest.raises(MlflowException, match="flavor is 'sklearn'"):
        client.create_deployment("wrong", str(model_folder(online)), flavor="sklearn")
    assert len(online.ws.models.list()) == before
    assert online.ws.online_endpoints.list() == []


def test_a_tracking_uri_without_a_tracking_server_is_a_clear_error(
    online: Online, plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # and nothing in these tests sets one
    with pytest.raises(MlflowException, match=r"no tracking server is set\. Set MLFLOW_TRACKING_URI"):
        get_deploy_client("thresher").create_deployment("from-run", "runs:/0123/model")


def test_help_names_the_uri_forms_and_config_keys(plugin: str) -> None:
    text = mlflow_cli("help", "-t", "thresher").output
    assert "thresher:/path/to/workspace" in text
    assert "max_concurrent_requests_per_instance" in text


def test_run_local_serves_in_the_foreground_until_ctrl_c_and_leaves_nothing(
    online: Online, plugin: str, tmp_path: Path
) -> None:
    """``mlflow deployments run-local -t thresher``, as a user runs it: a real process, stopped with Ctrl-C."""
    home = tmp_path / "run-local"
    with Workspace(home) as ws:  # an environment without files: the workers run in this interpreter
        ws.environments.create(parse_spec({"name": "here"}, "environment", base_dir=tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([plugin, str(ROOT)]), "THRESHER_ONLINE_AUTOSTART": "1"}
    env.pop("THRESHER_HOME", None)
    command = [
        sys.executable, "-m", "mlflow", "deployments", "run-local", "-t", "thresher", "--name", "local-one",
        "-m", str(model_folder(online)), "-C", f"workspace={home}", "-C", "environment=azureml:here@latest",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
        # as from a terminal: a suite started in the background (nohup, `make test &`) ignores Ctrl-C, and its
        # children would inherit that
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )
    try:
        said = _line_with(process, "Serving deployment 'local-one' at ", timeout=120)
        invocations, key = re.search(r" at (\S+) \(MLflow bodies\).* Bearer (\S+)", said).groups()  # type: ignore[union-attr]
        rows = online.rows(4, start=30)
        answer = httpx.post(
            invocations,
            json={"dataframe_split": rows.to_dict(orient="split")},
            headers={"authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert close_to(answer.json()["predictions"], online.expected(rows))
        assert httpx.post(invocations, json={"dataframe_split": rows.to_dict(orient="split")}).status_code == 401
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:  # it did not stop: neither it nor its serving process may outlive the test
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            with Workspace(home) as ws:
                serving = online_serving.serving_pid(ws.settings)
            if serving and serving > 0:
                os.kill(serving, signal.SIGKILL)
    with Workspace(home) as ws:
        assert ws.online_endpoints.list() == []  # the endpoint made for it went with it
        assert online_serving.serving_pid(ws.settings) is None


def _ctrl_c_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _line_with(process: subprocess.Popen[str], text: str, timeout: float) -> str:
    """The first line of the process's output holding ``text`` (the output so far in the failure otherwise)."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if not ready:
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r} from {process.args}:\n{''.join(seen)}")
