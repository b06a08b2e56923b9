"""Azure ML v2 YAML files load unchanged, with paths resolved next to the file."""

from __future__ import annotations

from pathlib import Path

from thresher.specs import (
    BatchDeploymentSpec,
    BatchEndpointSpec,
    CodeSpec,
    ComputeSpec,
    DataSpec,
    DatastoreSpec,
    EnvironmentSpec,
    InlineEnvironment,
    InlineModel,
    ModelSpec,
    PipelineSettings,
    Reference,
    load_spec,
)


def test_mnist_torch_deployment_loads_with_inline_assets_resolved(yaml_dir: Path) -> None:
    folder = yaml_dir / "mnist-torch"
    spec = load_spec(folder / "deployment.yml", "batch_deployment")

    assert isinstance(spec, BatchDeploymentSpec)
    assert (spec.name, spec.endpoint_name, spec.type) == ("mnist-torch-dpl", "mnist-batch", "model")
    assert spec.model == InlineModel(name="mnist-classifier-torch", path=str(folder / "model"))
    assert Path(spec.model.path).is_dir()
    assert spec.code_configuration is not None
    assert spec.code_configuration.code == str(folder / "code")
    assert (Path(spec.code_configuration.code) / spec.code_configuration.scoring_script).is_file()
    assert isinstance(spec.environment, InlineEnvironment)
    assert spec.environment.name == "batch-torch-py38"
    assert spec.environment.image == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
    assert spec.environment.conda_file == str(folder / "environment" / "conda.yaml")
    assert spec.compute == Reference(name="batch-cluster")
    assert spec.resources.instance_count == 1
    assert spec.settings.max_concurrency_per_instance == 2
    assert spec.settings.mini_batch_size == 10
    assert (spec.settings.retry_settings.max_retries, spec.settings.retry_settings.timeout) == (3, 30)
    assert spec.settings.output_file_name == "predictions.csv"


def test_mlflow_deployment_without_code_or_environment(yaml_dir: Path) -> None:
    spec = load_spec(yaml_dir / "heart-mlflow" / "deployment.yml", "batch_deployment")

    assert isinstance(spec, BatchDeploymentSpec)
    assert spec.model == Reference(name="heart-classifier", label="latest")
    assert str(spec.model) == "azureml:heart-classifier@latest"
    assert spec.code_configuration is None
    assert spec.environment is None
    assert spec.resources.instance_count == 2
    assert spec.settings.retry_settings.timeout == 300


def test_legacy_deployment_moves_top_level_settings_under_settings(yaml_dir: Path) -> None:
    folder = yaml_dir / "legacy"
    spec = load_spec(folder / "deployment.yml", "batch_deployment")

    assert isinstance(spec, BatchDeploymentSpec)
    assert spec.type is None
    assert spec.settings.mini_batch_size == 10
    assert spec.settings.max_concurrency_per_instance == 2
    assert spec.settings.output_file_name == "digits.csv"
    assert spec.settings.retry_settings.timeout == 30
    # Environment variables reach the scoring script as text, as the user wrote them.
    assert spec.settings.environment_variables == {"DIGITS_THRESHOLD": "0.5", "VERBOSE": "true"}
    # Azure's unnamed inline assets get names derived from the deployment.
    assert spec.model == InlineModel(name="mnist-legacy-dpl-model", path=str(folder / "mnist" / "model"))
    assert isinstance(spec.environment, InlineEnvironment)
    assert spec.environment.name == "mnist-legacy-dpl-env"
    assert spec.environment.conda_file == str(folder / "mnist" / "environment" / "conda.yml")
    assert Path(spec.environment.conda_file).is_file()


def test_summary_only_deployment_writes_no_predictions_file(yaml_dir: Path) -> None:
    spec = load_spec(yaml_dir / "custom-output" / "deployment.yml", "batch_deployment")

    assert isinstance(spec, BatchDeploymentSpec)
    assert spec.settings.output_action == "summary_only"
    assert spec.settings.output_file_name is None
    assert spec.model == Reference(name="heart-classifier-sklpipe", label="latest")


def test_endpoint(yaml_dir: Path) -> None:
    spec = load_spec(yaml_dir / "mnist-torch" / "endpoint.yml", "batch_endpoint")

    assert isinstance(spec, BatchEndpointSpec)
    assert spec.name == "mnist-batch"
    assert spec.auth_mode == "aad_token"
    assert spec.defaults.deployment_name is None
    assert spec.tags == {"type": "deep-learning"}


def test_model_environment_code_and_data_assets(yaml_dir: Path) -> None:
    folder = yaml_dir / "assets"

    model = load_spec(folder / "model.yml", "model")
    assert isinstance(model, ModelSpec)
    assert (model.name, model.version, model.type) == ("heart-classifier", "1", "mlflow_model")
    assert model.path == str(folder / "model") and (Path(model.path) / "MLmodel").is_file()
    assert model.tags == {"framework": "xgboost", "accuracy": "0.91"}

    environment = load_spec(folder / "environment.yml", "environment")
    assert isinstance(environment, EnvironmentSpec)
    assert environment.version == "2"
    assert environment.conda_file == str(folder / "environment" / "conda.yaml")

    code = load_spec(folder / "code.yml", "code")
    assert isinstance(code, CodeSpec)
    assert code.path == str(folder / "code") and (Path(code.path) / "score.py").is_file()

    data = load_spec(folder / "data.yml", "data")
    assert isinstance(data, DataSpec)
    assert (data.type, data.path) == ("uri_folder", str(folder / "data"))


def test_amlcompute_with_instance_range(yaml_dir: Path) -> None:
    spec = load_spec(yaml_dir / "assets" / "compute.yml", "compute")

    assert isinstance(spec, ComputeSpec)
    assert (spec.type, spec.min_instances, spec.max_instances) == ("amlcompute", 0, 5)
    assert spec.idle_time_before_scale_down == 120
    assert spec.size == "STANDARD_DS3_v2"


def test_datastores(yaml_dir: Path) -> None:
    blob = load_spec(yaml_dir / "assets" / "datastore.yml", "datastore")
    assert isinstance(blob, DatastoreSpec)
    assert (blob.type, blob.account_name, blob.container_name) == (
        "azure_blob",
        "mytestblobstore",
        "data-container",
    )
    assert blob.credentials is not None and "account_key" in blob.credentials

    local = load_spec(yaml_dir / "assets" / "local-datastore.yml", "datastore")
    assert isinstance(local, DatastoreSpec)
    assert local.path == str(yaml_dir / "assets" / "data")


def test_uris_are_kept_and_relative_paths_follow_the_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "data.yml").write_text("name: remote\npath: azureml://datastores/blob/paths/heart/\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "data.yml").write_text("name: local\ntype: uri_file\npath: ../heart.csv\n")

    remote = load_spec(tmp_path / "data.yml", "data")
    local = load_spec(tmp_path / "nested" / "data.yml", "data")

    assert isinstance(remote, DataSpec) and isinstance(local, DataSpec)
    assert remote.path == "azureml://datastores/blob/paths/heart/"
    assert local.path == str(tmp_path / "heart.csv")
    for uri in ("s3://bucket/in/", "https://host/x.csv", "az://c/x", "abfs://c/x", "gs://b/x", "file:///d/x"):
        (tmp_path / "uri.yml").write_text(f"name: u\npath: {uri}\n")
        spec = load_spec(tmp_path / "uri.yml", "data")
        assert isinstance(spec, DataSpec) and spec.path == uri


def test_pipeline_deployment_keeps_its_component_and_pipeline_settings(yaml_dir: Path) -> None:
    folder = yaml_dir / "pipeline"
    spec = load_spec(folder / "deployment.yml", "batch_deployment")

    assert isinstance(spec, BatchDeploymentSpec)
    assert spec.type == "pipeline"
    assert spec.component == str(folder / "hello-component" / "hello.yml")
    assert spec.pipeline_settings == PipelineSettings(default_compute="batch-cluster", continue_on_step_failure=False)
