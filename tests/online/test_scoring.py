"""Azure scoring scripts and a no-code MLflow model deployed from YAML and scored: ``invoke --request-file``
gives each model's own predictions, every payload family of the no-code deployment does too, and a wrong
column type is a 400 that names the column.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.online.conftest import PLAIN, SCHEMA, Online, close_to
from thresher.cli import main

ENDPOINT = "scoring"


@pytest.fixture(scope="module")
def served(online: Online) -> Online:
    online.endpoint(ENDPOINT)
    online.deploy(ENDPOINT, "mlflow", all_traffic=True, request_settings={"max_concurrent_requests_per_instance": 16})
    online.deploy(ENDPOINT, "plain", script=PLAIN)
    online.deploy(ENDPOINT, "schema", script=SCHEMA)
    # waits up to 300 ms to fill a batch, so requests arrive while its worker is taken: they are read ahead
    online.deploy(
        ENDPOINT,
        "waiting",
        batching={"mode": "on", "max_wait_ms": 300},
        request_settings={"max_concurrent_requests_per_instance": 16},
    )
    return online


def _invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["online-endpoint", "invoke", "-n", ENDPOINT, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_invoke_with_a_request_file_gives_each_deployments_own_predictions(
    served: Online, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = served.rows(3)
    expected = served.expected(rows)
    azure = tmp_path / "azure.json"
    azure.write_text(json.dumps(served.azure_body(rows)))
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"data": rows.values.tolist(), "scale": 2.0}))

    code, out, err = _invoke(capsys, "--request-file", str(azure))  # the traffic: all to mlflow
    assert code == 0, err
    assert close_to(json.loads(out), expected)
    code, out, err = _invoke(capsys, "-r", str(azure), "--deployment-name", "plain")
    assert code == 0, err
    assert close_to(json.loads(out)["predictions"], expected)
    code, out, err = _invoke(capsys, "-r", str(schema), "-d", "schema")
    assert code == 0, err
    assert close_to(json.loads(out), [2 * v for v in expected])


def test_the_decorated_script_checks_its_input_and_describes_itself(served: Online) -> None:
    with served.client(ENDPOINT) as client:
        headers = {"azureml-model-deployment": "schema"}
        missing = client.post(served.uri(ENDPOINT), json={"scale": 1.0}, headers=headers)
        swagger = client.get(served.uri(ENDPOINT, "swagger.json"), headers=headers)
    assert missing.status_code == 400
    assert "data" in missing.json()["message"]
    assert swagger.status_code == 200
    assert "data" in json.dumps(swagger.json())


def test_every_payload_family_of_the_no_code_model_gives_its_predictions(served: Online) -> None:
    rows = served.rows(4, start=10)
    expected = served.expected(rows)
    columns, data = list(rows.columns), rows.values.tolist()
    split = {"columns": columns, "data": data}
    records = rows.to_dict(orient="records")
    csv = io.StringIO()
    rows.to_csv(csv, index=False)
    v2 = {"inputs": [{"name": c, "shape": [len(rows)], "datatype": "FP64", "data": rows[c].tolist()} for c in columns]}
    with served.client(ENDPOINT) as client:
        score, invocations = served.uri(ENDPOINT), served.uri(ENDPOINT, "invocations")
        answers = {
            "input_data split": client.post(score, json={"input_data": split}).json(),
            "input_data split with params": client.post(score, json={"input_data": split, "params": {}}).json(),
            "dataframe_split": client.post(invocations, json={"dataframe_split": split}).json()["predictions"],
            "dataframe_records": client.post(invocations, json={"dataframe_records": records}).json()["predictions"],
            "inputs": client.post(invocations, json={"inputs": rows.to_dict(orient="list")}).json()["predictions"],
            "instances": client.post(invocations, json={"instances": records}).json()["predictions"],
            "csv": client.post(
                invocations, content=csv.getvalue().encode(), headers={"content-type": "text/csv"}
            ).json()["predictions"],
            "v2": client.post(served.uri(ENDPOINT, "v2/models/mlflow/infer"), json=v2).json()["outputs"][0]["data"],
        }
    for family, answer in answers.items():
        assert close_to(answer, expected), family


def test_a_wrong_column_type_is_a_400_naming_the_column_without_the_value(served: Online) -> None:
    rows = served.rows(2)
    body = served.azure_body(rows)
    body["input_data"]["data"][1][2] = "very-secret-text"  # bmi
    with served.client(ENDPOINT) as client:
        answer = client.post(served.uri(ENDPOINT), json=body)
    assert answer.status_code == 400
    message = answer.json()["message"]
    assert "'bmi'" in message
    assert "very-secret-text" not in message


def test_every_answer_has_server_timing_and_the_deployment_and_metrics_count_it(served: Online) -> None:
    with served.client(ENDPOINT) as client:
        answer = client.post(served.uri(ENDPOINT), json=served.azure_body(served.rows(1)))
        metrics = httpx_get(served.uri(ENDPOINT).split("/endpoints/")[0] + "/metrics")
    timing = answer.headers["server-timing"]
    for stage in ("parse", "queue", "batch", "predict", "encode"):
        assert f"{stage};dur=" in timing
    assert answer.headers["azureml-model-deployment"] == "mlflow"
    assert 'thresher_online_requests_total{code="200",deployment="mlflow",endpoint="scoring"}' in metrics
    assert "thresher_online_worker_resident_bytes" in metrics


def test_get_logs_shows_requests_and_worker_output(served: Online, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["online-endpoint", "get-logs", "-n", ENDPOINT, "--lines", "5"]) == 0
    access = capsys.readouterr().out
    assert " scoring " in access and " 200 " in access
    assert main(["online-deployment", "get-logs", "-n", "plain", "-e", ENDPOINT]) == 0
    assert "worker plain/instance-0/worker-0 starting" in capsys.readouterr().out


def httpx_get(url: str) -> str:
    return httpx.get(url, timeout=30).text


def test_concurrent_requests_to_the_no_code_model_are_batched_and_each_gets_its_own_answer(served: Online) -> None:
    uri, key = served.uri(ENDPOINT), served.keys[ENDPOINT]

    def client_loop(offset: int) -> list[tuple[list[float], list[float], int]]:
        seen = []
        with httpx.Client(headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
            for round_ in range(15):
                rows = served.rows(1 + (offset + round_) % 3, start=offset * 20 + round_)
                answer = client.post(uri, json=served.azure_body(rows))
                assert answer.status_code == 200, answer.text
                seen.append((answer.json(), served.expected(rows), int(answer.headers.get("x-thresher-batch-size", 1))))
        return seen

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = [item for chunk in pool.map(client_loop, range(12)) for item in chunk]
    assert all(close_to(got, expected) for got, expected, _ in results)
    assert max(size for _, _, size in results) > 1  # some answers came out of a batch of several requests
    status = served.ws.online_deployments.status("mlflow", ENDPOINT)
    assert status["batching"]["max_batch_size"] > 1  # tuned at start from the model's predict cost
    metrics = httpx_get(uri.split("/endpoints/")[0] + "/metrics")
    assert 'thresher_online_batch_released_total{deployment="mlflow",endpoint="scoring",reason=' in metrics


def test_large_bodies_that_wait_for_the_busy_worker_are_read_ahead_and_answered_alike(served: Online) -> None:
    uri, invocations = served.uri(ENDPOINT), served.uri(ENDPOINT, "invocations")
    headers = {"authorization": f"Bearer {served.keys[ENDPOINT]}", "azureml-model-deployment": "waiting"}

    def client_loop(offset: int) -> list[tuple[list[float], list[float]]]:
        seen = []
        with httpx.Client(headers=headers, timeout=60) as client:
            for round_ in range(3):
                rows = served.frame.sample(frac=1.0, random_state=offset * 10 + round_)  # 442 rows, ~100 KB
                split = {"columns": list(rows.columns), "data": rows.values.tolist()}
                if round_ % 2:
                    answer = client.post(invocations, json={"dataframe_split": split})
                    got = answer.json()["predictions"] if answer.status_code == 200 else answer.text
                else:
                    answer = client.post(uri, json={"input_data": split})
                    got = answer.json() if answer.status_code == 200 else answer.text
                assert answer.status_code == 200, got
                seen.append((got, served.expected(rows)))
        return seen

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = [item for chunk in pool.map(client_loop, range(6)) for item in chunk]
    assert all(close_to(got, expected) for got, expected in results)
    status = served.ws.online_deployments.status("waiting", ENDPOINT)
    assert status["read_ahead"] > 0, status  # the front read those that came while the worker's batch filled


def test_a_large_body_is_predicted_alone_beside_small_ones(served: Online) -> None:
    uri, key = served.uri(ENDPOINT), served.keys[ENDPOINT]
    large = pd.concat([served.frame] * 12, ignore_index=True)  # 5,304 rows: 1.2 MB of JSON, 424 KB as a matrix

    def client_loop(offset: int) -> list[tuple[bool, list[float], list[float], int]]:
        seen = []
        with httpx.Client(headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
            for round_ in range(4):
                rows = large if (offset + round_) % 2 else served.rows(2, start=offset * 10 + round_)
                answer = client.post(uri, json=served.azure_body(rows))
                assert answer.status_code == 200, answer.text
                size = int(answer.headers.get("x-thresher-batch-size", 1))
                seen.append((len(rows) > 100, answer.json(), served.expected(rows), size))
        return seen

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = [item for chunk in pool.map(client_loop, range(8)) for item in chunk]
    assert all(close_to(got, expected) for _, got, expected, _ in results)
    assert all(size == 1 for is_large, _, _, size in results if is_large)
