"""Online endpoints and deployments through the CLI, on a workspace folder and through a real server:
Azure's YAML unchanged, keys, traffic rules and their messages."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from thresher import Workspace
from thresher.sdk.online_keys import credential_checker
from thresher.settings import load_settings

Cli = Callable[..., Result]
ONLINE = Path(__file__).resolve().parent.parent / "specs" / "yaml" / "online"


@pytest.fixture
def project(tmp_path: Path, cli: Cli) -> Path:
    """Azure's sample endpoint and blue deployment (model, score.py, conda file), and a green copy."""
    shutil.copytree(ONLINE, tmp_path / "online")
    folder = tmp_path / "online" / "endpoint"
    blue = (folder / "blue-deployment.yml").read_text()
    (folder / "green-deployment.yml").write_text(blue.replace("name: blue", "name: green"))
    return folder


def served_material(home: Path, name: str) -> Callable[[str], bool]:
    """The credential check of endpoint ``name``, from the workspace folder itself (as a serving front has it)."""
    with Workspace(settings=load_settings(home=home, server=None)) as ws:
        return credential_checker(ws.online_endpoints.key_material(name))


def test_azure_yaml_is_created_shown_and_listed_without_its_keys(cli: Cli, project: Path, home: Path) -> None:
    made = cli("online-endpoint", "create", "-f", str(project / "endpoint.yml"), "--local", "--no-wait")
    assert made.code == 0, made.err
    endpoint = made.json()
    assert (endpoint["name"], endpoint["auth_mode"], endpoint["traffic"], endpoint["mirror_traffic"]) == (
        "my-endpoint",
        "key",
        {},
        {},
    )
    assert endpoint["provisioning_state"] == "Succeeded" and "scoring_uri" in endpoint
    blue = cli("online-deployment", "create", "-f", str(project / "blue-deployment.yml"), "--all-traffic")
    assert blue.code == 0, blue.err
    assert (blue.json()["name"], blue.json()["endpoint_name"], blue.json()["model"]) == (
        "blue",
        "my-endpoint",
        "azureml:blue-model:1",
    )
    assert blue.json()["request_settings"]["request_timeout_ms"] == 5000
    shown = cli("online-endpoint", "show", "-n", "my-endpoint", "--query", "traffic")
    assert shown.json() == {"blue": 100}
    listed = cli("online-deployment", "list", "-e", "my-endpoint", "--query", "[].name")
    assert listed.json() == ["blue"]
    assert cli("online-deployment", "show", "-n", "blue", "-e", "my-endpoint", "--query", "instance_count").json() == 1
    keys = cli("online-endpoint", "get-credentials", "-n", "my-endpoint").json()
    table = cli("online-endpoint", "list", "-o", "table")
    every = cli("online-endpoint", "list").out + shown.out + table.out + made.out
    assert "my-endpoint" in table.out and keys["primaryKey"] not in every and keys["secondaryKey"] not in every


def test_keys_are_regenerated_one_at_a_time_and_the_old_one_stops_working(cli: Cli, project: Path, home: Path) -> None:
    assert cli("online-endpoint", "create", "-f", str(project / "endpoint.yml")).code == 0
    first = cli("online-endpoint", "get-credentials", "-n", "my-endpoint").json()
    assert set(first) == {"primaryKey", "secondaryKey"}
    assert cli("online-endpoint", "regenerate-keys", "-n", "my-endpoint", "--key-type", "secondary").code == 0
    second = cli("online-endpoint", "get-credentials", "-n", "my-endpoint").json()
    assert second["primaryKey"] == first["primaryKey"] and second["secondaryKey"] != first["secondaryKey"]
    accepts = served_material(home, "my-endpoint")
    assert accepts(second["primaryKey"]) and accepts(second["secondaryKey"])
    assert not accepts(first["secondaryKey"])
    wrong = cli("online-endpoint", "regenerate-keys", "-n", "my-endpoint", "--key-type", "tertiary")
    assert wrong.code == 1 and "it must be primary or secondary" in wrong.err

    token_mode = cli("online-endpoint", "update", "-n", "my-endpoint", "--set", "auth_mode=aml_token")
    assert token_mode.code == 0, token_mode.err
    token = cli("online-endpoint", "get-credentials", "-n", "my-endpoint").json()
    assert token["tokenType"] == "Bearer" and token["expiryTimeUtc"] > token["refreshAfterTimeUtc"]
    accepts = served_material(home, "my-endpoint")
    assert accepts(token["accessToken"]) and not accepts(second["primaryKey"])


def test_traffic_rules_are_told_with_the_field_and_the_fix(cli: Cli, project: Path) -> None:
    assert cli("online-endpoint", "create", "-f", str(project / "endpoint.yml")).code == 0
    assert cli("online-deployment", "create", "-f", str(project / "blue-deployment.yml"), "--all-traffic").code == 0
    assert cli("online-deployment", "create", "-f", str(project / "green-deployment.yml")).code == 0

    over = cli("online-endpoint", "update", "-n", "my-endpoint", "--traffic", "blue=90 green=60")
    assert over.code == 1
    assert "traffic adds up to 150 (blue=90, green=60); the percentages must add up to 100" in over.err
    unknown = cli("online-endpoint", "update", "-n", "my-endpoint", "--traffic", "blue=90 red=10")
    assert unknown.code == 1 and "has no deployment 'red'" in unknown.err and "it has: blue, green" in unknown.err
    garbled = cli("online-endpoint", "update", "-n", "my-endpoint", "--traffic", "blue=ninety")
    assert garbled.code == 1 and "--traffic item 'blue=ninety' is not deployment=percent" in garbled.err
    too_much = cli("online-endpoint", "update", "-n", "my-endpoint", "--mirror-traffic", "green=60")
    assert too_much.code == 1 and "mirror_traffic.green is 60; at most 50 percent" in too_much.err
    live = cli("online-endpoint", "update", "-n", "my-endpoint", "--mirror-traffic", "blue=10")
    assert live.code == 1 and "takes live or mirrored traffic, not both" in live.err

    split = cli("online-endpoint", "update", "-n", "my-endpoint", "--traffic", "blue=90 green=10")
    assert split.code == 0 and split.json()["traffic"] == {"blue": 90, "green": 10}
    refused = cli("online-deployment", "delete", "-n", "green", "-e", "my-endpoint", "--yes")
    assert refused.code == 1 and "takes 10 percent of the live traffic" in refused.err
    assert 'Fix: Move its traffic first: thresher online-endpoint update -n my-endpoint --traffic "blue=100"' in (
        refused.err
    )
    assert cli("online-endpoint", "update", "-n", "my-endpoint", "--traffic", "blue=100").code == 0
    assert cli("online-deployment", "delete", "-n", "green", "-e", "my-endpoint", "--yes").code == 0
    assert cli("online-deployment", "list", "-e", "my-endpoint", "--query", "[].name").json() == ["blue"]
    assert cli("online-endpoint", "delete", "-n", "my-endpoint", "--yes").code == 0
    assert json.loads(cli("online-endpoint", "list").out) == []
