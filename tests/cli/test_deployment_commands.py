"""Batch endpoints and deployments through the CLI: references, defaults, overrides, snapshots, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result

Cli = Callable[..., Result]

DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: {name}
endpoint_name: scorer
type: model
model: azureml:clf@latest
code_configuration:
  code: code
  scoring_script: score.py
environment: azureml:env:1
compute: azureml:cluster
settings:
  mini_batch_size: 5
  retry_settings:
    max_retries: 2
    timeout: 60
"""


@pytest.fixture
def project(tmp_path: Path, cli: Cli) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "clf.pkl").write_text("weights")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("def init():\n    pass\n\n\ndef run(batch):\n    return batch\n")
    (tmp_path / "code" / "notes.tmp").write_text("scratch")
    (tmp_path / "code" / ".amlignore").write_text("*.tmp\n")
    (tmp_path / "conda.yaml").write_text("dependencies:\n  - pip:\n    - pandas\n")
    (tmp_path / "endpoint.yml").write_text("name: scorer\n")
    (tmp_path / "deployment.yml").write_text(DEPLOYMENT.format(name="blue"))
    return tmp_path


def _register_all(cli: Cli) -> None:
    assert cli("model", "create", "-n", "clf", "-p", "model").code == 0
    assert cli("environment", "create", "-n", "env", "--conda-file", "conda.yaml").code == 0
    assert cli("compute", "create", "-n", "cluster", "--type", "amlcompute", "--max-instances", "2").code == 0
    assert cli("batch-endpoint", "create", "-f", "endpoint.yml").code == 0


def test_missing_references_are_reported_together_with_what_exists(cli: Cli, project: Path) -> None:
    cli("model", "create", "-n", "other-model", "-p", "model")
    cli("compute", "create", "-n", "cpu")
    cli("batch-endpoint", "create", "-f", "endpoint.yml")
    result = cli("batch-deployment", "create", "-f", "deployment.yml", "-e", "scorer")
    assert result.code == 1
    assert "model: " in result.err and "'clf'" in result.err and "other-model" in result.err
    assert "environment: " in result.err
    assert "compute: " in result.err and "cpu" in result.err
    assert cli("batch-deployment", "list", "-e", "scorer", "-o", "json").json() == []


def test_create_resolves_versions_and_sets_default(cli: Cli, project: Path) -> None:
    _register_all(cli)
    created = cli("batch-deployment", "create", "-f", "deployment.yml", "-e", "scorer", "--set-default")
    assert created.code == 0, created.err
    document = created.json()
    assert document["model"] == "azureml:clf:1"
    assert document["environment"] == "azureml:env:1"
    assert document["compute"] == "azureml:cluster"
    assert document["settings"]["retry_settings"] == {"max_retries": 2, "timeout": 60}
    shown = cli("batch-endpoint", "show", "-n", "scorer", "--query", "defaults.deployment_name", "-o", "tsv")
    assert shown.out.strip() == "blue"


def test_code_is_snapshotted_honouring_amlignore(cli: Cli, project: Path) -> None:
    _register_all(cli)
    code = cli(
        "batch-deployment",
        "create",
        "-f",
        "deployment.yml",
        "-e",
        "scorer",
        "--query",
        "code_configuration.code",
        "-o",
        "tsv",
    ).out.strip()
    snapshot = Path(code)
    assert (snapshot / "score.py").is_file()
    assert not (snapshot / "notes.tmp").exists()
    (project / "code" / "score.py").write_text("def init():\n    pass\n\n\ndef run(batch):\n    return []\n")
    # The deployment keeps running the code it was created with.
    assert "return batch" in (snapshot / "score.py").read_text()


def test_set_takes_several_values_like_az(cli: Cli, project: Path) -> None:
    _register_all(cli)
    cli("batch-deployment", "create", "-f", "deployment.yml", "-e", "scorer")
    result = cli(
        "batch-deployment",
        "update",
        "-n",
        "blue",
        "-e",
        "scorer",
        "--set",
        "settings.mini_batch_size=20",
        "settings.max_concurrency_per_instance=2",
    )
    assert result.code == 0, result.err
    settings = result.json()["settings"]
    assert settings["mini_batch_size"] == 20
    assert settings["max_concurrency_per_instance"] == 2
    assert settings["retry_settings"]["timeout"] == 60


def test_invalid_update_is_rejected_and_nothing_changes(cli: Cli, project: Path) -> None:
    _register_all(cli)
    cli("batch-deployment", "create", "-f", "deployment.yml", "-e", "scorer")
    result = cli("batch-deployment", "update", "-n", "blue", "-e", "scorer", "--set", "settings.mini_batch_size=0")
    assert result.code == 1
    assert "mini_batch_size" in result.err
    shown = cli(
        "batch-deployment",
        "show",
        "-n",
        "blue",
        "-e",
        "scorer",
        "--query",
        "settings.mini_batch_size",
        "-o",
        "tsv",
    )
    assert shown.out.strip() == "5"


def test_default_must_exist_and_cannot_be_deleted(cli: Cli, project: Path) -> None:
    _register_all(cli)
    missing = cli("batch-endpoint", "update", "-n", "scorer", "--set", "defaults.deployment_name=green")
    assert missing.code == 1 and "green" in missing.err
    cli("batch-deployment", "create", "-f", "deployment.yml", "-e", "scorer", "--set-default")
    refused = cli("batch-deployment", "delete", "-n", "blue", "-e", "scorer", "--yes")
    assert refused.code == 1
    assert "default deployment" in refused.err and "defaults.deployment_name" in refused.err


def test_endpoint_delete_removes_its_deployments(cli: Cli, project: Path) -> None:
    _register_all(cli)
    cli("batch-deployment", "create", "-f", "deployment.yml", "-e", "scorer")
    assert cli("batch-endpoint", "delete", "-n", "scorer", "--yes").code == 0
    cli("batch-endpoint", "create", "-f", "endpoint.yml")
    assert cli("batch-deployment", "list", "-e", "scorer", "-o", "json").json() == []


def test_delete_without_yes_needs_confirmation(cli: Cli, project: Path) -> None:
    _register_all(cli)
    result = cli("batch-endpoint", "delete", "-n", "scorer")
    assert result.code == 1
    assert "--yes" in result.err
    assert cli("batch-endpoint", "show", "-n", "scorer").code == 0


def test_legacy_deployment_form_creates(cli: Cli, project: Path) -> None:
    _register_all(cli)
    (project / "legacy.yml").write_text(
        "name: legacy\nendpoint_name: scorer\nmodel: azureml:clf:1\n"
        "code_configuration:\n  code: code\n  scoring_script: score.py\n"
        "environment: azureml:env:1\ncompute: azureml:cluster\n"
        "mini_batch_size: 3\noutput_file_name: out.csv\nretry_settings:\n  max_retries: 1\n  timeout: 10\n"
        "environment_variables:\n  MODE: fast\n"
    )
    result = cli("batch-deployment", "create", "-f", "legacy.yml", "--query", "settings", "-o", "json")
    assert result.code == 0, result.err
    settings = result.json()
    assert settings["mini_batch_size"] == 3
    assert settings["output_file_name"] == "out.csv"
    assert settings["environment_variables"] == {"MODE": "fast"}


def test_three_mistakes_are_reported_at_once_with_lines(cli: Cli, project: Path) -> None:
    _register_all(cli)
    (project / "bad.yml").write_text(
        "name: bad\n"
        "endpoint_name: scorer\n"
        "type: model\n"
        "model: azureml:clf:1\n"
        "settings:\n"
        "  mini_bach_size: 5\n"
        "  max_concurrency_per_instance: 0\n"
        "  logging_level: verbose\n"
    )
    result = cli("batch-deployment", "create", "-f", "bad.yml")
    assert result.code == 1
    assert "3 problems" in result.err
    assert "bad.yml:6" in result.err and "mini_batch_size" in result.err
    assert "bad.yml:7" in result.err
    assert "bad.yml:8" in result.err and "verbose" in result.err
