"""Registry commands as a user types them: flags, files, output formats, queries and errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result

Cli = Callable[..., Result]

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.9.1
mlflow_version: 3.17.2
signature:
  inputs: '[{"type": "double", "name": "age", "required": true}, {"type": "double", "name": "bmi", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: null
"""


def _model_folder(root: Path, content: str = "weights") -> Path:
    folder = root / "model"
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_text(content)
    return folder


@pytest.mark.local_only("help and option parsing happen before any workspace is opened")
def test_version_flag(cli: Cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == "thresher 0.1.0"


def test_model_create_show_and_query(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path)
    created = cli("model", "create", "--name", "m", "--type", "custom_model", "--path", "model")
    assert created.code == 0, created.err
    assert created.json()["version"] == "1"
    assert cli("model", "create", "-n", "m", "-p", "model", "--query", "version", "-o", "tsv").out.strip() == "2"
    shown = cli("model", "show", "m:1").json()
    assert shown["type"] == "custom_model"
    assert Path(shown["path"]).name == "model"
    assert (Path(shown["path"]) / "model.pkl").read_text() == "weights"
    assert cli("model", "show", "--name", "m", "--query", "version", "-o", "tsv").out.strip() == "2"
    assert cli("model", "show", "m@latest", "--query", "version", "-o", "tsv").out.strip() == "2"


def test_identical_content_is_stored_once(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path / "a")
    _model_folder(tmp_path / "b")
    _model_folder(tmp_path / "c", content="other weights")
    paths = [
        cli(
            "model", "create", "-n", name, "-p", str(tmp_path / sub / "model"), "--query", "path", "-o", "tsv"
        ).out.strip()
        for name, sub in (("one", "a"), ("two", "b"), ("three", "c"))
    ]
    assert paths[0] == paths[1]
    assert paths[2] != paths[0]


def test_archive_hides_from_list_and_latest(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path)
    cli("model", "create", "-n", "m", "-p", "model")
    cli("model", "create", "-n", "m", "-p", "model")
    assert cli("model", "archive", "--name", "m", "--version", "2").code == 0
    assert cli("model", "show", "-n", "m", "--query", "version", "-o", "tsv").out.strip() == "1"
    versions = cli("model", "list", "--name", "m", "--query", "[].version", "-o", "json").json()
    assert versions == ["1"]
    assert cli("model", "restore", "m:2").code == 0
    assert cli("model", "show", "-n", "m", "--query", "version", "-o", "tsv").out.strip() == "2"


def test_mlflow_model_signature_is_shown(cli: Cli, tmp_path: Path) -> None:
    folder = _model_folder(tmp_path)
    (folder / "MLmodel").write_text(MLMODEL)
    (folder / "python_env.yaml").write_text("python: 3.11.7\n")
    result = cli("model", "create", "-n", "diabetes", "--type", "mlflow_model", "--path", "model")
    assert result.code == 0, result.err
    shown = cli("model", "show", "-n", "diabetes", "--query", "signature.inputs[].name", "-o", "json").json()
    assert shown == ["age", "bmi"]
    flavors = cli("model", "show", "-n", "diabetes", "--query", "flavors", "-o", "json").json()
    assert flavors == ["python_function", "sklearn"]


def test_mlflow_type_without_mlmodel_is_explained(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path)
    result = cli("model", "create", "-n", "m", "--type", "mlflow_model", "--path", "model")
    assert result.code == 1
    assert "has no MLmodel file" in result.err
    assert "Fix:" in result.err and "custom_model" in result.err


def test_missing_path_is_explained(cli: Cli) -> None:
    result = cli("model", "create", "-n", "m", "--path", "nowhere")
    assert result.code == 1
    assert "nowhere" in result.err and "does not exist" in result.err
    assert "Fix:" in result.err


def test_data_asset_records_a_fingerprint(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    (data / "a.csv").write_text("x\n1\n")
    (data / "nested" / "b.csv").write_text("x\n2\n3\n")
    first = cli("data", "create", "-n", "d", "--type", "uri_folder", "--path", "data").json()
    assert first["fingerprint"]["files"] == 2
    assert first["fingerprint"]["bytes"] == len("x\n1\n") + len("x\n2\n3\n")
    (data / "c.csv").write_text("x\n4\n")
    second = cli("data", "create", "-n", "d", "--path", "data").json()
    assert second["version"] == "2"
    assert second["fingerprint"]["hash"] != first["fingerprint"]["hash"]
    assert second["uri"].startswith("azureml://datastores/workspaceblobstore/paths/")


def test_uri_file_must_be_a_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = cli("data", "create", "-n", "d", "--type", "uri_file", "--path", "data")
    assert result.code == 1
    assert "uri_file" in result.err and "uri_folder" in result.err


def test_environment_records_conda_file_and_notes_the_image(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "conda.yaml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - pandas==2.2.0\n")
    yml = tmp_path / "env.yml"
    yml.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        "name: env\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\nconda_file: conda.yaml\n"
    )
    shown = cli("environment", "create", "-f", str(yml)).json()
    assert shown["conda"]["dependencies"][1] == {"pip": ["pandas==2.2.0"]}
    assert any("not used" in note for note in shown["notes"])


def test_amlcompute_maps_to_simulated_local_nodes(cli: Cli) -> None:
    result = cli(
        "compute",
        "create",
        "--name",
        "batch-cluster",
        "--type",
        "amlcompute",
        "--min-instances",
        "0",
        "--max-instances",
        "5",
        "--size",
        "STANDARD_DS3_V2",
    )
    assert result.code == 0, result.err
    shown = cli("compute", "show", "-n", "batch-cluster").json()
    assert shown["placement"] == {
        "backend": "local",
        "nodes": 5,
        "note": "amlcompute runs on this machine: each instance is a simulated node of local workers.",
    }
    assert shown["min_instances"] == 0
    local = cli("compute", "create", "-n", "cpu", "--query", "placement.max_workers", "-o", "tsv")
    assert local.out.strip() == str(os.cpu_count())


def test_output_formats(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path)
    cli("model", "create", "-n", "m", "-p", "model", "--description", "first one")
    table = cli("model", "list", "-o", "table").out.splitlines()
    assert table[0].split()[:3] == ["Name", "Version", "Type"]
    assert table[1].split()[:3] == ["m", "1", "custom_model"]
    row = cli("model", "show", "-n", "m", "--query", "{n: name, v: version, d: description}", "-o", "tsv").out
    assert row == "m\t1\tfirst one\n"
    # As in az, each element of a top-level list is its own row.
    assert cli("model", "show", "-n", "m", "--query", "[name, version]", "-o", "tsv").out == "m\n1\n"
    yaml_out = cli("model", "show", "-n", "m", "-o", "yaml").out
    assert "name: m\n" in yaml_out and "version: '1'\n" in yaml_out
    assert cli("model", "show", "-n", "m", "-o", "none").out == ""
    assert json.loads(cli("model", "show", "-n", "m", "-o", "jsonc").out)["name"] == "m"


def test_bad_query_is_explained(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path)
    cli("model", "create", "-n", "m", "-p", "model")
    result = cli("model", "show", "-n", "m", "--query", "[[[")
    assert result.code == 1
    assert "not a valid JMESPath expression" in result.err


def test_azure_only_options_are_accepted_and_ignored(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path)
    result = cli(
        "model",
        "create",
        "-n",
        "m",
        "-p",
        "model",
        "-g",
        "my-rg",
        "--workspace-name",
        "my-ws",
        "--subscription",
        "0000",
        "--query",
        "name",
        "-o",
        "tsv",
    )
    assert result.code == 0, result.err
    assert result.out.strip() == "m"


def test_unknown_model_lists_what_exists(cli: Cli, tmp_path: Path) -> None:
    _model_folder(tmp_path)
    cli("model", "create", "-n", "alpha", "-p", "model")
    cli("model", "create", "-n", "beta", "-p", "model")
    result = cli("model", "show", "-n", "gamma")
    assert result.code == 1
    assert "gamma" in result.err and "alpha" in result.err and "beta" in result.err


@pytest.mark.local_only("help and option parsing happen before any workspace is opened")
def test_every_command_help_shows_an_example(cli: Cli) -> None:
    commands = {
        "model": ["create", "show", "list", "archive", "restore"],
        "environment": ["create", "show", "list", "archive", "restore"],
        "data": ["create", "show", "list", "archive", "restore"],
        "datastore": ["create", "show", "list", "delete"],
        "compute": ["create", "show", "list", "delete"],
        "batch-endpoint": ["create", "update", "show", "list", "delete"],
        "batch-deployment": ["create", "update", "show", "list", "delete"],
    }
    for group, verbs in commands.items():
        for verb in verbs:
            result = cli(group, verb, "--help")
            assert result.code == 0
            assert "Example" in result.out, f"thresher {group} {verb} --help has no example"
            assert f"thresher {group}" in result.out
