"""Azure's managed online endpoint and deployment YAML load unchanged; their mistakes name file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.errors import Problem, SpecError
from thresher.specs import (
    CodeConfiguration,
    InlineEnvironment,
    InlineModel,
    OnlineDeploymentSpec,
    OnlineEndpointSpec,
    Reference,
    load_spec,
    parse_spec,
)


def _endpoint(**document: object) -> OnlineEndpointSpec:
    spec = parse_spec({"name": "my-ep", **document}, "online_endpoint", base_dir=Path.cwd())
    assert isinstance(spec, OnlineEndpointSpec)
    return spec


def _endpoint_problems(**document: object) -> list[str]:
    with pytest.raises(SpecError) as caught:
        _endpoint(**document)
    return [str(problem) for problem in caught.value.problems]


def test_azure_sample_endpoint_and_deployment_load_unchanged(yaml_dir: Path) -> None:
    folder = yaml_dir / "online"
    endpoint = load_spec(folder / "endpoint" / "endpoint.yml", "online_endpoint")
    assert isinstance(endpoint, OnlineEndpointSpec)
    assert (endpoint.name, endpoint.auth_mode) == ("my-endpoint", "key")
    assert (endpoint.traffic, endpoint.mirror_traffic) == ({}, {})

    deployment = load_spec(folder / "endpoint" / "blue-deployment.yml", "online_deployment")
    assert isinstance(deployment, OnlineDeploymentSpec)
    assert (deployment.name, deployment.endpoint_name) == ("blue", "my-endpoint")
    assert deployment.model == InlineModel(name="blue-model", path=str(folder / "model-1" / "model"))
    assert deployment.code_configuration == CodeConfiguration(
        code=str(folder / "model-1" / "onlinescoring"), scoring_script="score.py"
    )
    assert isinstance(deployment.environment, InlineEnvironment)
    assert deployment.environment.conda_file == str(folder / "model-1" / "environment" / "conda.yaml")
    assert (deployment.instance_type, deployment.instance_count) == ("Standard_DS3_v2", 1)
    # Azure's defaults, as the managed online schema states them
    settings = deployment.request_settings
    assert (settings.request_timeout_ms, settings.max_concurrent_requests_per_instance, settings.max_queue_wait_ms) == (
        5000,
        1,
        500,
    )
    for probe in (deployment.liveness_probe, deployment.readiness_probe):
        assert (probe.initial_delay, probe.period, probe.timeout, probe.success_threshold, probe.failure_threshold) == (
            10,
            10,
            2,
            1,
            30,
        )
    assert deployment.batching.mode == "auto"
    assert parse_spec(deployment.to_document(), "online_deployment", base_dir=Path("/elsewhere")) == deployment


def test_a_rollout_endpoint_with_every_key(yaml_dir: Path) -> None:
    endpoint = load_spec(yaml_dir / "online" / "endpoint" / "rollout-endpoint.yml", "online_endpoint")
    assert isinstance(endpoint, OnlineEndpointSpec)
    assert endpoint.name == "sklearn-rollout"  # stored in lowercase, as deployments' endpoint_name is
    assert (endpoint.auth_mode, endpoint.traffic, endpoint.mirror_traffic) == (
        "aml_token",
        {"blue": 90, "green": 10},
        {"red": 20},
    )
    assert (endpoint.identity, endpoint.public_network_access, endpoint.tags) == (
        {"type": "system_assigned"},
        "enabled",
        {"team": "ml", "version": "2"},
    )
    assert parse_spec(endpoint.to_document(), "online_endpoint", base_dir=Path.cwd()) == endpoint


def test_a_no_code_mlflow_deployment_with_its_settings(yaml_dir: Path) -> None:
    spec = load_spec(yaml_dir / "online" / "endpoint" / "mlflow-deployment.yml", "online_deployment")
    assert isinstance(spec, OnlineDeploymentSpec)
    assert spec.model == Reference(name="sklearn-diabetes", label="latest")
    assert spec.code_configuration is None and spec.environment is None
    assert spec.environment_variables == {"WORKER_COUNT": "2"}
    assert (spec.request_settings.request_timeout_ms, spec.request_settings.max_concurrent_requests_per_instance) == (
        90000,
        4,
    )
    assert (spec.liveness_probe.initial_delay, spec.liveness_probe.period, spec.liveness_probe.timeout) == (30, 15, 2)
    assert spec.readiness_probe.failure_threshold == 10
    assert (spec.batching.mode, spec.batching.max_batch_size, spec.batching.max_wait_ms) == ("on", 32, 2.5)
    assert (spec.app_insights_enabled, spec.egress_public_network_access) == (True, "disabled")
    assert spec.data_collector == {"collections": {"model_inputs": {"enabled": "True"}}}


def test_endpoint_mistakes_name_the_line_the_value_and_the_fix(yaml_dir: Path) -> None:
    path = yaml_dir / "online" / "errors" / "bad-endpoint.yml"
    with pytest.raises(SpecError) as caught:
        load_spec(path, "online_endpoint")
    problems = caught.value.problems
    assert [(problem.line, problem.path) for problem in problems] == [
        (3, "auth_mode"),
        (4, "traffic"),
        (7, "mirror_traffic"),
        (8, "mirror_traffic.green"),
        (8, "mirror_traffic.green"),
    ]
    auth, traffic, two, over, live = (problem.message for problem in problems)
    assert "'aad_token'" in auth and "auth_mode: key" in auth and "aml_token" in auth
    assert "adds up to 150 (blue=90, green=60)" in traffic and "must add up to 100, or all be 0" in traffic
    assert "names 2 deployments (green, red); at most one" in two
    assert "is 60; at most 50 percent" in over and "Lower it to 50" in over
    assert "takes 60 percent of live traffic" in live and "Set traffic.green to 0" in live
    assert str(caught.value).startswith("The bad-endpoint.yml has 5 problems:")
    assert f"{path}:4: traffic adds up to 150" in str(caught.value)
    assert caught.value.fix == "Correct the keys above in bad-endpoint.yml and run the command again."


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"traffic": {"blue": 90, "green": 60}}, "traffic adds up to 150"),
        ({"mirror_traffic": {"green": 10, "red": 10}}, "mirror_traffic names 2 deployments"),
        ({"traffic": {"blue": 100}, "mirror_traffic": {"green": 60}}, "mirror_traffic.green is 60; at most 50"),
        ({"traffic": {"blue": 90, "green": 10}, "mirror_traffic": {"green": 10}}, "takes live or mirrored"),
        ({"auth_mode": "AAD_Token"}, "auth_mode is 'aad_token'"),
        ({"traffic": {"blue": 101}}, "traffic.blue is 101; it must be at most 100"),
    ],
)
def test_each_endpoint_rule_alone(document: dict[str, object], expected: str) -> None:
    (problem,) = _endpoint_problems(**document)
    assert problem.startswith("<flags>: ") and expected in problem, problem


def test_traffic_that_is_fine() -> None:
    assert _endpoint(traffic={"blue": 0, "green": 0}).traffic == {"blue": 0, "green": 0}
    assert _endpoint(traffic={"blue": 100, "green": 0}, mirror_traffic={"green": 50}).mirror_traffic == {"green": 50}
    assert _endpoint(traffic={"blue": 100}, mirror_traffic={"blue": 0}).auth_mode == "key"


def test_deployment_mistakes_name_the_line_the_value_and_the_fix(yaml_dir: Path) -> None:
    path = yaml_dir / "online" / "errors" / "bad-deployment.yml"
    with pytest.raises(SpecError) as caught:
        load_spec(path, "online_deployment")
    assert caught.value.problems == [
        Problem(str(path), 7, "instance_count", "instance_count is 0; it must be at least 1."),
        Problem(
            str(path),
            9,
            "request_settings.request_timeout_ms",
            "request_settings.request_timeout_ms is 0; it must be at least 1.",
        ),
        Problem(
            str(path),
            10,
            "max_concurrent_requests_per_instance",
            "unknown key 'max_concurrent_requests_per_instance'; it goes under request_settings "
            "(request_settings.max_concurrent_requests_per_instance).",
        ),
    ]


def test_a_deployment_without_code_needs_a_model(yaml_dir: Path) -> None:
    path = yaml_dir / "online" / "errors" / "no-model.yml"
    with pytest.raises(SpecError) as caught:
        load_spec(path, "online_deployment")
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (1, "")
    assert problem.message.startswith("required key 'model' is missing; a deployment without code_configuration")


def test_batching_is_for_no_code_deployments_and_timeouts_have_azures_limit(yaml_dir: Path) -> None:
    code = {"code": str(yaml_dir / "online" / "model-1" / "onlinescoring"), "scoring_script": "score.py"}
    base = {"name": "blue", "code_configuration": code}
    with pytest.raises(SpecError, match=r"batching is set, but this deployment runs a scoring script"):
        parse_spec({**base, "batching": {"max_batch_size": 8}}, "online_deployment", base_dir=Path.cwd())
    off = parse_spec({**base, "batching": {"mode": False}}, "online_deployment", base_dir=Path.cwd())
    assert isinstance(off, OnlineDeploymentSpec) and off.batching.mode == "off"
    too_long = {**base, "request_settings": {"request_timeout_ms": 180001}}
    with pytest.raises(SpecError, match=r"request_settings.request_timeout_ms is 180001; it must be at most 180000"):
        parse_spec(too_long, "online_deployment", base_dir=Path.cwd())
    wrong_file = r"which describes an online endpoint, but this command reads an online deployment"
    with pytest.raises(SpecError, match=wrong_file):
        parse_spec(
            {**base, "$schema": "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"},
            "online_deployment",
            base_dir=Path.cwd(),
        )
