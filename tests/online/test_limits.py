"""What protects an endpoint: a run() that hangs gets its caller a 408 and is replaced by a fresh worker,
an overload beyond Azure's pending bound gets 429s with Retry-After (and no 408 for the requests let in),
and no key, a wrong key, a regenerated key or an expired token scores nothing.
"""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from tests.online.conftest import PLAIN, Online

ENDPOINT = "limits"


@pytest.fixture(scope="module")
def served(online: Online) -> Online:
    online.endpoint(ENDPOINT)
    online.deploy(
        ENDPOINT,
        "sleepy",
        script=PLAIN,
        all_traffic=True,
        request_settings={"request_timeout_ms": 1500, "max_concurrent_requests_per_instance": 4},
    )
    online.deploy(
        ENDPOINT,
        "slow",
        script=PLAIN,
        request_settings={"request_timeout_ms": 30000, "max_concurrent_requests_per_instance": 1},
    )
    return online


def test_a_run_that_hangs_is_a_408_and_the_next_request_gets_a_fresh_worker(served: Online) -> None:
    body = {**served.azure_body(served.rows(1)), "pid": True}
    with served.client(ENDPOINT) as client:
        uri = served.uri(ENDPOINT)
        first = client.post(uri, json=body)
        hung = client.post(uri, json={**body, "sleep": 3600})
        deadline = time.monotonic() + 60
        status = served.ws.online_deployments.status("sleepy", ENDPOINT)
        while not (status.get("restarts") and status.get("ready_workers")) and time.monotonic() < deadline:
            time.sleep(0.1)  # the replacement starts (imports, init()) while the endpoint answers others
            status = served.ws.online_deployments.status("sleepy", ENDPOINT)
        after = [client.post(uri, json=body) for _ in range(3)]
    assert first.status_code == 200
    assert hung.status_code == 408
    assert "request_timeout_ms (1500 ms)" in hung.json()["message"]
    assert status["restarts"] == 1 and status["ready_workers"] == 1, status
    assert [answer.status_code for answer in after] == [200, 200, 200]
    assert {answer.json()["pid"] for answer in after} != {first.json()["pid"]}  # a fresh worker


def test_twice_the_pending_bound_gets_429s_with_retry_after_and_no_408(served: Online) -> None:
    body = {**served.azure_body(served.rows(1)), "sleep": 0.5}
    headers = {"azureml-model-deployment": "slow"}
    with served.client(ENDPOINT) as probe:
        assert probe.post(served.uri(ENDPOINT), json=body, headers=headers).status_code == 200
    uri, key = served.uri(ENDPOINT), served.keys[ENDPOINT]

    def call(_: int) -> httpx.Response:
        with httpx.Client(headers={"authorization": f"Bearer {key}", **headers}, timeout=60) as client:
            return client.post(uri, json=body)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # 2 × (2 × 1 × 1) pending allowed
        answers = list(pool.map(call, range(8)))
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1, statuses
    assert all(answer.headers.get("retry-after") for answer in answers if answer.status_code == 429)


def test_no_key_a_wrong_key_and_a_regenerated_key_score_nothing(served: Online) -> None:
    body = served.azure_body(served.rows(1))
    uri = served.uri(ENDPOINT)
    old = dict(served.ws.online_endpoints.get_credentials(ENDPOINT))
    assert httpx.post(uri, json=body).status_code == 401
    assert httpx.post(uri, json=body, headers={"authorization": "Bearer not-the-key"}).status_code == 401
    secondary = {"authorization": f"Bearer {old['secondaryKey']}"}
    assert httpx.post(uri, json=body, headers=secondary, timeout=30).status_code == 200
    served.ws.online_endpoints.regenerate_keys(ENDPOINT, "primary")
    new = dict(served.ws.online_endpoints.get_credentials(ENDPOINT))
    assert new["primaryKey"] != old["primaryKey"] and new["secondaryKey"] == old["secondaryKey"]
    stale = httpx.post(uri, json=body, headers={"authorization": f"Bearer {old['primaryKey']}"}, timeout=30)
    assert stale.status_code == 401
    fresh = httpx.post(uri, json=body, headers={"authorization": f"Bearer {new['primaryKey']}"}, timeout=30)
    assert fresh.status_code == 200
    assert httpx.post(uri, json=body, headers=secondary, timeout=30).status_code == 200
    served.keys[ENDPOINT] = str(new["primaryKey"])


def test_an_aml_token_endpoint_takes_its_tokens_and_says_when_they_expire(served: Online) -> None:
    served.endpoint("tokens", auth_mode="aml_token")
    served.deploy("tokens", "blue", script=PLAIN, all_traffic=True)
    credentials = dict(served.ws.online_endpoints.get_credentials("tokens"))
    assert credentials["tokenType"] == "Bearer" and credentials["expiryTimeUtc"]
    body = served.azure_body(served.rows(1))
    uri = served.uri("tokens")
    token = {"authorization": f"Bearer {credentials['accessToken']}"}
    assert httpx.post(uri, json=body, headers=token, timeout=30).status_code == 200
    other = {"authorization": f"Bearer {served.keys[ENDPOINT]}"}  # another endpoint's key
    assert httpx.post(uri, json=body, headers=other, timeout=30).status_code == 401
    served.ws.online_endpoints.delete("tokens")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and httpx.post(uri, json=body, headers=token, timeout=30).status_code != 404:
        time.sleep(0.1)
    assert httpx.post(uri, json=body, headers=token, timeout=30).status_code == 404
