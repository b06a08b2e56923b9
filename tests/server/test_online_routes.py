"""Online endpoints' routes on a real server: who may read an endpoint, and who may see or change its keys."""

from __future__ import annotations

from tests.server.conftest import api
from tests.thresher_server import ThresherServer


def test_a_reader_sees_endpoints_but_not_their_keys(served: ThresherServer) -> None:
    with api(served) as owner:
        made = owner.post("/api/v1/online-endpoints", json={"spec": {"name": "My-Endpoint", "auth_mode": "key"}})
        assert made.status_code == 201, made.text
        keys = owner.get("/api/v1/online-endpoints/my-endpoint/credentials").json()
    assert set(keys) == {"primaryKey", "secondaryKey"}
    reader, contributor = served.token_for("reader"), served.token_for("contributor")
    with api(served, token=reader) as client:
        shown = client.get("/api/v1/online-endpoints/my-endpoint")
        listed = client.get("/api/v1/online-endpoints")
        assert (shown.status_code, listed.status_code) == (200, 200)
        assert shown.json()["spec"]["traffic"] == {} and [e["name"] for e in listed.json()] == ["my-endpoint"]
        assert keys["primaryKey"] not in shown.text + listed.text
        for response in (
            client.get("/api/v1/online-endpoints/my-endpoint/credentials"),
            client.post("/api/v1/online-endpoints/my-endpoint/regenerate-keys", json={"key_type": "primary"}),
        ):
            assert response.status_code == 403, response.text
            assert "this route needs contributor or higher" in response.json()["error"]["message"]
            assert "primaryKey" not in response.text
    with api(served, token=contributor) as client:
        assert client.get("/api/v1/online-endpoints/my-endpoint/credentials").json() == keys
        rotated = client.post("/api/v1/online-endpoints/my-endpoint/regenerate-keys", json={"key_type": "primary"})
        assert rotated.status_code == 204
        again = client.get("/api/v1/online-endpoints/my-endpoint/credentials").json()
        assert again["primaryKey"] != keys["primaryKey"] and again["secondaryKey"] == keys["secondaryKey"]
        missing = client.get("/api/v1/online-endpoints/nope-endpoint/credentials")
        assert missing.status_code == 404
        assert "Existing online endpoints: my-endpoint" in missing.json()["error"]["message"]
