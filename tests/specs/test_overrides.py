"""``--set key.path=value`` as ``az ml ... --set`` applies it."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.errors import SpecError
from thresher.specs import BatchDeploymentSpec, BatchEndpointSpec, apply_overrides, load_spec


def test_values_are_read_as_yaml_scalars_and_flow_collections() -> None:
    result = apply_overrides(
        {"settings": {"mini_batch_size": 10}},
        [
            "settings.mini_batch_size=5",
            "settings.isolate_failures=false",
            "settings.partition_keys=[region, day]",
            "settings.allowed_failed_percent=2.5",
            "description=scores digits: fast",
            "tags={team: vision}",
            "settings.program_arguments=--threshold 0.5",
        ],
    )

    assert result == {
        "settings": {
            "mini_batch_size": 5,
            "isolate_failures": False,
            "partition_keys": ["region", "day"],
            "allowed_failed_percent": 2.5,
            "program_arguments": "--threshold 0.5",
        },
        "description": "scores digits: fast",
        "tags": {"team": "vision"},
    }


def test_missing_intermediate_mappings_are_created_and_input_is_untouched() -> None:
    original = {"name": "mnist-batch"}
    result = apply_overrides(original, ["defaults.deployment_name=mnist-torch-dpl", "a.b.c=true"])

    assert result == {
        "name": "mnist-batch",
        "defaults": {"deployment_name": "mnist-torch-dpl"},
        "a": {"b": {"c": True}},
    }
    assert original == {"name": "mnist-batch"}


def test_list_items_are_addressed_by_index() -> None:
    result = apply_overrides(
        {"resources": {"locations": ["westeurope", "eastus"]}}, ["resources.locations.1=northeurope"]
    )

    assert result["resources"]["locations"] == ["westeurope", "northeurope"]


def test_malformed_items_are_all_reported_with_source_set() -> None:
    with pytest.raises(SpecError) as caught:
        apply_overrides({"name": "x"}, ["settings.mini_batch_size", "=5", "name.first=a"])

    problems = caught.value.problems
    assert [p.source for p in problems] == ["--set", "--set", "--set"]
    assert "'settings.mini_batch_size' is not key.path=value" in problems[0].message
    assert "'=5' is not key.path=value" in problems[1].message
    assert problems[2].message == "'name.first=a' cannot be applied: name is 'x', not a mapping."


def test_overrides_apply_to_a_loaded_file(yaml_dir: Path) -> None:
    spec = load_spec(
        yaml_dir / "mnist-torch" / "deployment.yml",
        "batch_deployment",
        overrides=["settings.mini_batch_size=20", "settings.environment_variables.OPENAI_API_BASE=https://x"],
    )

    assert isinstance(spec, BatchDeploymentSpec)
    assert spec.settings.mini_batch_size == 20
    assert spec.settings.environment_variables == {"OPENAI_API_BASE": "https://x"}

    endpoint = load_spec(
        yaml_dir / "mnist-torch" / "endpoint.yml",
        "batch_endpoint",
        overrides=["defaults.deployment_name=blue"],
    )
    assert isinstance(endpoint, BatchEndpointSpec) and endpoint.defaults.deployment_name == "blue"
