"""A stored spec (``to_document()``) is re-validated on update: it must come back equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thresher.specs import Kind, load_spec, parse_spec

FILES: list[tuple[str, Kind]] = [
    ("mnist-torch/deployment.yml", "batch_deployment"),
    ("heart-mlflow/deployment.yml", "batch_deployment"),
    ("legacy/deployment.yml", "batch_deployment"),
    ("custom-output/deployment.yml", "batch_deployment"),
    ("pipeline/deployment.yml", "batch_deployment"),
    ("mnist-torch/endpoint.yml", "batch_endpoint"),
    ("assets/model.yml", "model"),
    ("assets/environment.yml", "environment"),
    ("assets/code.yml", "code"),
    ("assets/data.yml", "data"),
    ("assets/compute.yml", "compute"),
    ("assets/datastore.yml", "datastore"),
    ("assets/local-datastore.yml", "datastore"),
]

DOCUMENTS: list[tuple[dict[str, object], Kind]] = [
    (
        {
            "name": "inline-conda",
            "conda_file": {"channels": ["conda-forge"], "dependencies": ["python=3.11", {"pip": ["pandas"]}]},
        },
        "environment",
    ),
    ({"name": "reqs", "requirements_file": "requirements.txt", "build": {"path": "docker"}}, "environment"),
    (
        {"name": "gpu", "type": "ray", "address": "ray://head:10001", "min_instances": 1, "max_instances": 4},
        "compute",
    ),
    (
        {
            "name": "bucket",
            "type": "s3",
            "url": "s3://bucket/root",
            "credentials": {"access_key_id": {"env": "AWS_KEY_ID"}},
        },
        "datastore",
    ),
    ({"name": "lake", "type": "azure_data_lake_gen2", "account_name": "a", "filesystem": "fs"}, "datastore"),
    ({"name": "bare-pipeline", "type": "pipeline", "component": "azureml:hello:1"}, "batch_deployment"),
    ({"name": "scorer", "auth_mode": "key", "defaults": {"deployment_name": "blue"}}, "batch_endpoint"),
    (
        {
            "name": "tabular",
            "endpoint_name": "Scorer",
            "model": "azureml:m:3",
            "environment": "azureml:env@latest",
            "compute": "cpu",
            "resources": {"instance_count": 2, "locations": ["westeurope"]},
            "settings": {
                "mini_batch_size": "5000 rows",
                "instance_count": 4,
                "output_format": "parquet",
                "partition_keys": ["region"],
                "allowed_failed_percent": 12.5,
            },
        },
        "batch_deployment",
    ),
]


@pytest.mark.parametrize(("name", "kind"), FILES, ids=[name for name, _ in FILES])
def test_every_azure_file_survives_a_round_trip(name: str, kind: Kind, yaml_dir: Path, tmp_path: Path) -> None:
    spec = load_spec(yaml_dir / name, kind)

    document = json.loads(json.dumps(spec.to_document()))
    again = parse_spec(document, kind, base_dir=tmp_path)

    assert again == spec
    assert again.to_document() == document


@pytest.mark.parametrize(("data", "kind"), DOCUMENTS, ids=[f"{kind}-{data['name']}" for data, kind in DOCUMENTS])
def test_every_kind_survives_a_round_trip(data: dict[str, object], kind: Kind, tmp_path: Path) -> None:
    spec = parse_spec(data, kind, base_dir=tmp_path)

    document = json.loads(json.dumps(spec.to_document()))
    again = parse_spec(document, kind, base_dir=tmp_path / "elsewhere")

    assert again == spec
    assert "$schema" not in document


def test_documents_keep_azures_shape(yaml_dir: Path) -> None:
    spec = load_spec(yaml_dir / "heart-mlflow" / "deployment.yml", "batch_deployment")

    document = spec.to_document()

    assert document["model"] == "azureml:heart-classifier@latest"
    assert document["compute"] == "azureml:batch-cluster"
    assert document["settings"]["retry_settings"] == {"max_retries": 3, "timeout": 300}
    assert "component" not in document and "code_configuration" not in document
