"""Online endpoints through the SDK on a workspace folder: keys and tokens, traffic rules, the doorbell.

The same operations through a server are covered by tests/cli/test_online_commands.py (both targets).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest

from thresher import ConflictError, NotFoundError, SpecError, Workspace
from thresher.errors import ResourceError, ThresherError
from thresher.sdk.online_keys import (
    TOKEN_LIFETIME,
    KeyCredentials,
    TokenCredentials,
    credential_checker,
    issue_token,
)
from thresher.sdk.online_serving import OnlineServing
from thresher.specs import OnlineDeploymentSpec, OnlineEndpointSpec, load_spec, parse_spec

ONLINE = Path(__file__).resolve().parent.parent / "specs" / "yaml" / "online"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    for key in ("THRESHER_SERVER", "THRESHER_TOKEN", "THRESHER_DATABASE_URL", "THRESHER_SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    shutil.copytree(ONLINE, tmp_path / "online")
    return Workspace(tmp_path / "ws")


def endpoint(name: str = "my-endpoint", **document: object) -> OnlineEndpointSpec:
    spec = parse_spec({"name": name, **document}, "online_endpoint", base_dir=Path.cwd())
    assert isinstance(spec, OnlineEndpointSpec)
    return spec


def keys(ws: Workspace, name: str = "my-endpoint") -> KeyCredentials:
    credentials = ws.online_endpoints.get_credentials(name)
    assert set(credentials) == {"primaryKey", "secondaryKey"}
    return cast(KeyCredentials, credentials)


def token(ws: Workspace, name: str = "my-endpoint") -> TokenCredentials:
    credentials = ws.online_endpoints.get_credentials(name)
    assert set(credentials) == {"accessToken", "expiryTimeUtc", "refreshAfterTimeUtc", "tokenType"}
    return cast(TokenCredentials, credentials)


def scripted(tmp_path: Path, name: str, endpoint_name: str = "my-endpoint") -> OnlineDeploymentSpec:
    spec = load_spec(tmp_path / "online" / "endpoint" / "blue-deployment.yml", "online_deployment")
    assert isinstance(spec, OnlineDeploymentSpec)
    return spec.model_copy(update={"name": name, "endpoint_name": endpoint_name})


def test_keys_are_made_sealed_and_regenerated_one_at_a_time(ws: Workspace) -> None:
    created = ws.online_endpoints.create(endpoint())
    assert (created.spec["auth_mode"], created.spec["traffic"], created.spec["mirror_traffic"]) == ("key", {}, {})
    first = keys(ws)
    assert len(first["primaryKey"]) >= 43 and first["primaryKey"] != first["secondaryKey"]
    # at rest, only sealed: neither key is anywhere in the database file
    database = sqlite3.connect(ws.settings.workspace_dir / "thresher.db")
    dumped = "\n".join(database.iterdump())
    database.close()
    assert first["primaryKey"] not in dumped and first["secondaryKey"] not in dumped
    old = credential_checker(ws.online_endpoints.key_material("my-endpoint"))
    assert old(first["primaryKey"]) and old(first["secondaryKey"])
    assert not old("") and not old(first["primaryKey"][:-1]) and not old(first["primaryKey"] + "x")

    ws.online_endpoints.regenerate_keys("my-endpoint", key_type="secondary")
    second = keys(ws)
    assert second["primaryKey"] == first["primaryKey"] and second["secondaryKey"] != first["secondaryKey"]
    material = ws.online_endpoints.key_material("my-endpoint")
    assert material.keys_version == 2
    checker = credential_checker(material)
    assert checker(second["secondaryKey"]) and checker(second["primaryKey"])
    assert not checker(first["secondaryKey"])  # the old secondary key opens nothing any more
    assert first["primaryKey"] not in repr(material) and material.token_secret not in repr(material)

    ws.online_endpoints.regenerate_keys("my-endpoint")  # primary by default
    assert keys(ws)["primaryKey"] != first["primaryKey"]
    with pytest.raises(ResourceError, match="The key type is 'tertiary'; it must be primary or secondary"):
        ws.online_endpoints.regenerate_keys("my-endpoint", key_type="tertiary")


def test_creating_an_existing_endpoint_again_keeps_its_keys(ws: Workspace) -> None:
    ws.online_endpoints.create(endpoint())
    made = keys(ws)
    ws.online_endpoints.create(endpoint(description="second save"))
    assert keys(ws) == made
    assert ws.online_endpoints.get("my-endpoint").spec["description"] == "second save"


def test_tokens_expire_and_name_their_endpoint(ws: Workspace) -> None:
    ws.online_endpoints.create(endpoint(auth_mode="aml_token"))
    ws.online_endpoints.create(endpoint("other-endpoint", auth_mode="aml_token"))
    before = datetime.now(timezone.utc)
    credentials = token(ws)
    assert credentials["tokenType"] == "Bearer"
    issued, expiry = credentials["accessToken"], credentials["expiryTimeUtc"]
    assert int((before + TOKEN_LIFETIME).timestamp()) - 1 <= expiry <= int((before + TOKEN_LIFETIME).timestamp()) + 5
    assert before.timestamp() < credentials["refreshAfterTimeUtc"] < expiry

    material = ws.online_endpoints.key_material("my-endpoint")
    checker = credential_checker(material)
    assert checker(issued)
    assert checker(issued, now=datetime.fromtimestamp(expiry - 1, timezone.utc))
    assert not checker(issued, now=datetime.fromtimestamp(expiry, timezone.utc))  # expired
    stale = issue_token(material, now=datetime.now(timezone.utc) - TOKEN_LIFETIME - timedelta(seconds=1))
    assert not checker(stale["accessToken"])
    payload, _, signature = issued.partition(".")
    forged = signature[:-1] + ("B" if signature.endswith("A") else "A")
    assert not checker(f"{payload}.{forged}") and not checker(payload) and not checker(f"{payload}x.{signature}")
    assert not checker(material.primary_key)  # keys do not open a token endpoint
    assert not checker(token(ws, "other-endpoint")["accessToken"])  # another endpoint's token
    with pytest.raises(ConflictError, match="uses auth_mode aml_token, whose tokens expire on their own"):
        ws.online_endpoints.regenerate_keys("my-endpoint")


def test_aad_token_is_refused_with_the_modes_to_use(ws: Workspace) -> None:
    with pytest.raises(SpecError, match=r"auth_mode is 'aad_token'.*Use auth_mode: key .* or aml_token"):
        endpoint(auth_mode="aad_token")
    assert ws.online_endpoints.list() == []


def test_traffic_names_existing_deployments_and_sums_to_0_or_100(ws: Workspace, tmp_path: Path) -> None:
    ws.online_endpoints.create(endpoint())
    with pytest.raises(NotFoundError, match=r"has no deployment 'blue'.*\(it has: none yet\)"):
        ws.online_endpoints.update("my-endpoint", traffic={"blue": 100})
    blue = ws.online_deployments.create(scripted(tmp_path, "blue"), all_traffic=True)
    assert (blue.kind, blue.spec["model"]) == ("online_deployment", "azureml:blue-model:1")
    assert Path(blue.spec["code_configuration"]["code"]).is_relative_to(ws.settings.workspace_dir)
    assert ws.online_endpoints.get("my-endpoint").spec["traffic"] == {"blue": 100}
    ws.online_deployments.create(scripted(tmp_path, "green"))
    with pytest.raises(SpecError, match=r"--traffic: traffic adds up to 150 \(blue=90, green=60\)"):
        ws.online_endpoints.update("my-endpoint", traffic={"blue": 90, "green": 60})
    with pytest.raises(NotFoundError, match=r"has no deployment 'red'.*\(it has: blue, green\)"):
        ws.online_endpoints.update("my-endpoint", traffic={"blue": 90, "red": 10})
    updated = ws.online_endpoints.update("my-endpoint", traffic={"blue": 90, "green": 10})
    assert updated.spec["traffic"] == {"blue": 90, "green": 10}
    with pytest.raises(SpecError, match="takes live or mirrored traffic, not both"):
        ws.online_endpoints.update("my-endpoint", mirror_traffic={"green": 10})
    with pytest.raises(SpecError, match=r"mirror_traffic.green is 60; at most 50 percent"):
        ws.online_endpoints.update("my-endpoint", traffic={"blue": 100, "green": 0}, mirror_traffic={"green": 60})
    ws.online_endpoints.update("my-endpoint", traffic={"blue": 100, "green": 0}, mirror_traffic={"green": 10})
    assert ws.online_endpoints.update("my-endpoint", ["description=rollout"]).spec["mirror_traffic"] == {"green": 10}


def test_a_deployment_with_traffic_cannot_be_deleted(ws: Workspace, tmp_path: Path) -> None:
    ws.online_endpoints.create(endpoint())
    ws.online_deployments.create(scripted(tmp_path, "blue"), all_traffic=True)
    ws.online_deployments.create(scripted(tmp_path, "green"))
    with pytest.raises(ConflictError, match="takes 100 percent of the live traffic") as live:
        ws.online_deployments.delete("blue", "my-endpoint")
    assert live.value.fix == (
        'Move its traffic first: thresher online-endpoint update -n my-endpoint --traffic "green=100"'
    )
    ws.online_endpoints.update("my-endpoint", traffic={"blue": 100, "green": 0}, mirror_traffic={"green": 20})
    with pytest.raises(ConflictError, match="receives 20 percent of the mirrored traffic") as mirrored:
        ws.online_deployments.delete("green", "my-endpoint")
    assert '--mirror-traffic "green=0"' in (mirrored.value.fix or "")
    ws.online_endpoints.update("my-endpoint", mirror_traffic={"green": 0})
    ws.online_deployments.delete("green", "my-endpoint")
    assert [d.name for d in ws.online_deployments.list("my-endpoint")] == ["blue"]
    spec = ws.online_endpoints.get("my-endpoint").spec
    assert (spec["traffic"], spec["mirror_traffic"]) == ({"blue": 100}, {})  # its 0 % entries left with it
    ws.online_endpoints.delete("my-endpoint")
    with pytest.raises(NotFoundError, match="online endpoint 'my-endpoint' does not exist"):
        ws.online_deployments.list("my-endpoint")


def test_deployments_check_their_references_as_batch_deployments_do(ws: Workspace, tmp_path: Path) -> None:
    ws.online_endpoints.create(endpoint())
    missing = parse_spec(
        {"name": "blue", "model": "azureml:nope:1", "environment": "azureml:gone@latest"},
        "online_deployment",
        base_dir=tmp_path,
    )
    assert isinstance(missing, OnlineDeploymentSpec)
    with pytest.raises(NotFoundError) as caught:
        ws.online_deployments.create(missing, endpoint_name="my-endpoint")
    assert "model: model 'nope' does not exist" in str(caught.value)
    assert "environment: environment 'gone' does not exist" in str(caught.value)
    no_code = parse_spec(
        {"name": "blue", "model": {"path": str(tmp_path / "online" / "model-1" / "model")}},
        "online_deployment",
        base_dir=tmp_path,
    )
    assert isinstance(no_code, OnlineDeploymentSpec)
    with pytest.raises(ThresherError, match="has no scoring script, and model azureml:blue-model:1 is not an MLflow"):
        ws.online_deployments.create(no_code, endpoint_name="my-endpoint")
    with pytest.raises(ThresherError, match="names no endpoint"):
        ws.online_deployments.create(no_code)
    assert ws.online_deployments.list("my-endpoint") == []


def test_every_change_rings_the_doorbell_and_status_reads_the_state(ws: Workspace, tmp_path: Path) -> None:
    serving = OnlineServing(ws.settings)
    assert serving.status() == {}
    ws.online_endpoints.create(endpoint())
    rung = serving.wake_file.stat().st_size
    ws.online_deployments.create(scripted(tmp_path, "blue"))
    ws.online_endpoints.update("my-endpoint", traffic={"blue": 100})
    ws.online_endpoints.regenerate_keys("my-endpoint")
    assert serving.wake_file.stat().st_size == rung + 3
    serving.state_file.parent.mkdir(parents=True)
    serving.state_file.write_text(json.dumps({"endpoints": {"my-endpoint": {"port": 5001}}}))
    assert serving.status() == {"endpoints": {"my-endpoint": {"port": 5001}}}
    serving.state_file.write_text("{half written")
    assert serving.status() == {}
