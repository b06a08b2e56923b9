"""Rollout on one machine: a 90/10 split lands 10 % on the smaller deployment, a 10 % mirror to a deployment
whose predictions are off by a known amount reports that disagreement and difference, and a blue/green
update under steady load from 8 clients fails no request.
"""

from __future__ import annotations

import collections
import threading
import time

import httpx
import pytest

from tests.online.conftest import PLAIN, Online

ENDPOINT = "rollout"
SETTINGS = {"max_concurrent_requests_per_instance": 8, "request_timeout_ms": 20000}


@pytest.fixture(scope="module")
def served(online: Online) -> Online:
    online.endpoint(ENDPOINT)
    online.deploy(ENDPOINT, "blue", script=PLAIN, all_traffic=True, request_settings=SETTINGS)
    online.deploy(ENDPOINT, "green", script=PLAIN, request_settings=SETTINGS)
    online.deploy(ENDPOINT, "shifted", script=PLAIN, request_settings=SETTINGS, environment_variables={"SHIFT": "0.5"})
    return online


def test_a_90_10_split_puts_10_percent_on_the_smaller_deployment(served: Online) -> None:
    served.ws.online_endpoints.update(ENDPOINT, traffic={"blue": 90, "green": 10}, mirror_traffic={})
    body = served.azure_body(served.rows(1))
    seen: collections.Counter[str] = collections.Counter()
    with served.client(ENDPOINT) as client:
        uri = served.uri(ENDPOINT)
        for _ in range(1000):
            answer = client.post(uri, json=body)
            assert answer.status_code == 200, answer.text
            seen[answer.headers["azureml-model-deployment"]] += 1
    assert set(seen) == {"blue", "green"}
    assert 70 <= seen["green"] <= 130, seen  # 10 % ± 3 points


def test_a_mirror_reports_how_often_and_how_much_its_answers_differ(served: Online) -> None:
    served.ws.online_endpoints.update(ENDPOINT, traffic={"blue": 100, "green": 0}, mirror_traffic={"shifted": 10})
    body = served.azure_body(served.rows(2))
    with served.client(ENDPOINT) as client:
        uri = served.uri(ENDPOINT)
        for _ in range(500):
            answer = client.post(uri, json=body)
            assert answer.status_code == 200 and answer.headers["azureml-model-deployment"] == "blue"
    mirror: dict[str, object] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # mirrored answers are compared after the caller's; the report follows
        mirror = served.ws.online_endpoints.serving(ENDPOINT)["mirror"] or {}
        if mirror.get("requests_compared") and int(mirror["requests_compared"]) + int(mirror["dropped"]) >= 25:  # type: ignore[call-overload]
            break
        time.sleep(0.2)
    assert mirror["deployment"] == "shifted"
    compared = int(mirror["requests_compared"])  # type: ignore[call-overload]
    assert 20 <= compared <= 90, mirror  # 10 % of 500, give or take
    assert mirror["disagreement_rate"] == 1.0
    assert abs(float(mirror["max_abs_difference"]) - 0.5) < 1e-9  # type: ignore[arg-type]
    assert isinstance(mirror["latency_delta_ms_p50"], float)
    served.ws.online_endpoints.update(ENDPOINT, mirror_traffic={})


def test_a_blue_green_update_under_load_from_8_clients_fails_no_request(served: Online) -> None:
    served.ws.online_endpoints.update(ENDPOINT, traffic={"blue": 100, "green": 0}, mirror_traffic={})
    body = {**served.azure_body(served.rows(1)), "pid": True}
    uri, key = served.uri(ENDPOINT), served.keys[ENDPOINT]
    stop = threading.Event()
    statuses: collections.Counter[int] = collections.Counter()
    pids: list[tuple[float, int]] = []
    lock = threading.Lock()

    def load() -> None:
        with httpx.Client(headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
            while not stop.is_set():
                answer = client.post(uri, json=body)
                with lock:
                    statuses[answer.status_code] += 1
                    if answer.status_code == 200:
                        pids.append((time.monotonic(), answer.json()["pid"]))

    clients = [threading.Thread(target=load) for _ in range(8)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(1.0)
        before = {pid for _, pid in pids}
        served.ws.online_deployments.update("blue", ENDPOINT, ["environment_variables.UPDATED=1"])
        switched = time.monotonic()
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    after = {pid for at, pid in pids if at > switched + 0.5}
    assert set(statuses) == {200}, statuses
    assert statuses[200] > 100
    assert after and not after & before  # the new workers serve once the update returns
