"""What a deployment gets when its YAML leaves a setting out: Azure's defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.errors import SpecError
from thresher.specs import BatchDeploymentSpec, BatchSettings, ComputeSpec, load_spec, parse_spec


def _deployment(document: dict[str, object], tmp_path: Path) -> BatchDeploymentSpec:
    spec = parse_spec({"name": "blue", **document}, "batch_deployment", base_dir=tmp_path)
    assert isinstance(spec, BatchDeploymentSpec)
    return spec


def test_settings_defaults_are_azures(tmp_path: Path) -> None:
    spec = _deployment({"type": "model", "model": "azureml:clf:1"}, tmp_path)
    settings = spec.settings

    assert isinstance(settings, BatchSettings)
    assert settings.mini_batch_size == 10
    assert settings.max_concurrency_per_instance == 1
    assert settings.error_threshold == -1
    assert settings.allowed_failed_count == -1
    assert settings.allowed_failed_percent == 100
    assert settings.logging_level == "info"
    assert settings.retry_settings.max_retries == 3
    assert settings.retry_settings.timeout == 30
    assert settings.output_action == "append_row"
    assert settings.output_file_name == "predictions.csv"
    assert settings.environment_variables == {}
    assert (settings.output_format, settings.isolate_failures) == ("azure", True)
    assert spec.resources.instance_count == 1


def test_settings_instance_count_overrides_resources(tmp_path: Path) -> None:
    spec = _deployment({"resources": {"instance_count": 1}, "settings": {"instance_count": 3}}, tmp_path)

    assert spec.resources.instance_count == 3


def test_top_level_environment_variables_merge_into_settings(tmp_path: Path) -> None:
    spec = _deployment(
        {
            "type": "model",
            "environment_variables": {"A": "root"},
            "settings": {"environment_variables": {"B": 2}},
        },
        tmp_path,
    )

    assert spec.settings.environment_variables == {"A": "root", "B": "2"}


def test_logging_level_in_any_case_and_endpoint_name_lowercased(tmp_path: Path) -> None:
    spec = _deployment({"endpoint_name": "Mnist-Batch", "settings": {"logging_level": "WARNING"}}, tmp_path)

    assert spec.endpoint_name == "mnist-batch"
    assert spec.settings.logging_level == "warning"


@pytest.mark.parametrize(
    ("given", "stored"),
    [(5, 5), ("20", 20), ("1MB", "1mb"), ("100 kb", "100kb"), ("5000 rows", "5000 rows")],
)
def test_mini_batch_size_files_or_tabular_sizes(given: object, stored: object, tmp_path: Path) -> None:
    spec = _deployment({"settings": {"mini_batch_size": given}}, tmp_path)

    assert spec.settings.mini_batch_size == stored


@pytest.mark.parametrize("given", ["ten", "0 rows", "5 parsecs", 2.5, True])
def test_mini_batch_size_rejects_what_is_neither(given: object, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        _deployment({"settings": {"mini_batch_size": given}}, tmp_path)

    (problem,) = caught.value.problems
    assert problem.path == "settings.mini_batch_size"
    assert "'1MB'" in problem.message or "at least 1" in problem.message


def test_compute_defaults_to_one_local_instance(tmp_path: Path) -> None:
    spec = parse_spec({"name": "cpu"}, "compute", base_dir=tmp_path)

    assert isinstance(spec, ComputeSpec)
    assert (spec.type, spec.min_instances, spec.max_instances) == ("local", 0, 1)


def test_keys_left_empty_take_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yml"
    path.write_text("name: blue\ntype: model\ntags:\nresources:\nsettings:\n  retry_settings:\n")

    spec = load_spec(path, "batch_deployment")

    assert isinstance(spec, BatchDeploymentSpec)
    assert spec.tags == {}
    assert spec.resources.instance_count == 1
    assert spec.settings.retry_settings.timeout == 30
