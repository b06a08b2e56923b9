"""What invoke (and batch score) check before queueing a job without a scoring script."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.mlflow.conftest import MlflowBench, diabetes
from thresher.errors import ThresherError
from thresher.runtime.protocol import OutputFormat
from thresher.scheduler.jobspec import JobSpec
from thresher.storage import find_mlmodel


def _data(bench: MlflowBench, *names: str) -> Path:
    frame, _ = diabetes()
    data = bench.root / "data"
    data.mkdir(exist_ok=True)
    for name in names:
        frame.iloc[:3].to_csv(data / name, index=False)
    return data


def test_the_job_runs_the_built_in_driver_in_the_models_own_environment(
    bench: MlflowBench, sklearn_model: Path
) -> None:
    bench.deploy(sklearn_model, environment=False)
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(_data(bench, "a.csv")), start_runner=False)
    spec = job.spec
    assert spec["script"] is None and spec["code_dir"] is None and spec["environment"] is None
    folder = Path(str(spec["environment_files_dir"]))
    assert (folder / "MLmodel").is_file() and (folder / "requirements.txt").is_file()
    assert folder.is_relative_to(Path(str(spec["model_dir"])))  # the stored copy, not the source
    assert JobSpec.from_dict(dict(spec)).output_format is OutputFormat.MLFLOW  # Azure's MLflow driver format


def test_a_named_environment_wins_and_other_formats_stay(bench: MlflowBench, sklearn_model: Path) -> None:
    bench.deploy(sklearn_model, settings={"output_format": "jsonl"})
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(_data(bench, "a.csv")), start_runner=False)
    assert job.spec["environment"].startswith("azureml:here:")
    assert job.spec["environment_files_dir"] is None and job.spec["settings"]["output_format"] == "jsonl"


def test_a_model_that_is_not_mlflow_needs_a_scoring_script(bench: MlflowBench) -> None:
    model = bench.root / "plain"
    model.mkdir()
    (model / "weights.txt").write_text("w")
    bench.deploy(model, model_type="custom_model")
    with pytest.raises(ThresherError, match=r"is not an MLflow model .* so a scoring script is needed") as caught:
        bench.ws.jobs.invoke(bench.endpoint, input=str(_data(bench, "a.csv")), start_runner=False)
    assert "code_configuration" in str(caught.value.fix)


def test_an_mlflow_folder_registered_as_custom_model_is_pointed_at_mlflow_model(
    bench: MlflowBench, sklearn_model: Path
) -> None:
    bench.deploy(sklearn_model, model_type="custom_model")
    with pytest.raises(ThresherError, match="registered as custom_model") as caught:
        bench.ws.jobs.invoke(bench.endpoint, input=str(_data(bench, "a.csv")), start_runner=False)
    assert "--type mlflow_model" in str(caught.value.fix)


def test_an_mlflow_model_without_the_python_function_flavor_is_refused(bench: MlflowBench, sklearn_model: Path) -> None:
    model = bench.root / "no-pyfunc"
    shutil.copytree(sklearn_model, model)
    mlmodel = model / "MLmodel"
    lines = mlmodel.read_text().splitlines()
    start = lines.index("  python_function:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    mlmodel.write_text("\n".join(lines[:start] + lines[end:]) + "\n")
    bench.deploy(model)
    with pytest.raises(ThresherError, match="has the flavors sklearn but not python_function"):
        bench.ws.jobs.invoke(bench.endpoint, input=str(_data(bench, "a.csv")), start_runner=False)


def test_input_files_the_driver_cannot_read_are_refused_at_invoke(bench: MlflowBench, sklearn_model: Path) -> None:
    data = _data(bench, "a.csv", "b.csv")
    (data / "notes.txt").write_text("x")
    (data / "_SUCCESS").write_text("")
    bench.deploy(sklearn_model)
    with pytest.raises(ThresherError, match="holds files the built-in MLflow driver cannot read") as caught:
        bench.ws.jobs.invoke(bench.endpoint, input=str(data), start_runner=False)
    message = str(caught.value)
    assert f"1 .txt file (e.g. {data / 'notes.txt'})" in message and "1 extensionless file" in message
    assert "It reads .csv .parquet .pqt .png .jpg .jpeg .tiff .bmp .gif." in message


def test_batch_score_without_a_script_needs_an_mlflow_model(bench: MlflowBench, sklearn_model: Path) -> None:
    plain = bench.root / "plain"
    plain.mkdir()
    (plain / "model.pkl").write_text("w")
    data = _data(bench, "a.csv")
    with pytest.raises(ThresherError, match=r"is not an MLflow model .* needs --scoring-script"):
        bench.ws.jobs.score(model=str(plain), input=str(data))
    job = bench.ws.jobs.score(model=str(sklearn_model), input=str(data))
    mlmodel = find_mlmodel(sklearn_model)
    assert mlmodel is not None
    assert job.spec["script"] is None and job.spec["environment_files_dir"] == str(mlmodel.parent.resolve())
    assert JobSpec.from_dict(dict(job.spec)).output_format is OutputFormat.MLFLOW
