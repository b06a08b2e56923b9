"""MLflow models trained here and deployed with no code give the predictions the model gives directly."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from PIL import Image

from tests.mlflow.conftest import PYFUNC_INPUTS, MlflowBench, diabetes, read_predictions


def _direct(model: Path, data: object) -> np.ndarray:
    return np.asarray(mlflow.pyfunc.load_model(str(model)).predict(data))


def test_sklearn_diabetes_csv_and_parquet_in_azure_mlflow_format(bench: MlflowBench, sklearn_model: Path) -> None:
    frame, _ = diabetes()
    data = bench.root / "data"
    data.mkdir()
    pieces = {"part-0.csv": frame.iloc[:200], "part-1.parquet": frame.iloc[200:300], "part-2.csv": frame.iloc[300:]}
    for name, piece in pieces.items():
        if name.endswith(".csv"):
            piece.to_csv(data / name, index=False)
        else:
            piece.to_parquet(data / name)
    # Chunks of 64 rows: row numbers must continue across chunks of a file.
    settings = {
        "mini_batch_size": 2,
        "max_concurrency_per_instance": 2,
        "environment_variables": {"THRESHER_MLFLOW_CHUNK_ROWS": "64"},
    }
    bench.deploy(sklearn_model, settings=settings)
    job = bench.run(data)
    assert job.status == "Completed", job.headline
    text = bench.output(job).read_text()
    assert text.startswith("0,")  # no header, comma-separated
    out = read_predictions(bench.output(job), ["row", "prediction", "file_name"])
    assert out["file_name"].tolist() == [name for name, piece in pieces.items() for _ in range(len(piece))]
    assert out["row"].tolist() == [row for piece in pieces.values() for row in range(len(piece))]
    expected = np.concatenate([_direct(sklearn_model, piece.reset_index(drop=True)) for piece in pieces.values()])
    np.testing.assert_array_equal(out["prediction"].to_numpy(), expected)  # written with full precision


def test_lightgbm_parquet_with_csv_output_format(bench: MlflowBench, lightgbm_model: Path) -> None:
    frame, _ = diabetes()
    data = bench.root / "data"
    data.mkdir()
    frame.iloc[:300].to_parquet(data / "a.parquet")
    frame.iloc[300:].to_parquet(data / "b.pqt")
    bench.deploy(lightgbm_model, settings={"output_format": "csv"})
    job = bench.run(data)
    assert job.status == "Completed", job.headline
    out = pd.read_csv(bench.output(job))
    assert list(out.columns) == ["row", "prediction", "file_name"]
    assert out["file_name"].tolist() == ["a.parquet"] * 300 + ["b.pqt"] * 142
    np.testing.assert_allclose(out["prediction"], _direct(lightgbm_model, frame), rtol=1e-12)


def test_pytorch_digits_png_images_through_a_tensor_signature(bench: MlflowBench, torch_model: Path) -> None:
    from sklearn.datasets import load_digits

    images = load_digits().images[:24]
    data = bench.root / "digits"
    data.mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image.astype(np.uint8), mode="L").save(data / f"digit-{index:03d}.png")
    bench.deploy(torch_model, settings={"mini_batch_size": 5})
    job = bench.run(data)
    assert job.status == "Completed", job.headline
    columns = ["row", *(f"prediction_{i}" for i in range(10)), "file_name"]
    out = read_predictions(bench.output(job), columns)
    assert out["row"].isna().all()  # images have no row: the field is empty
    assert out["file_name"].tolist() == [f"digit-{index:03d}.png" for index in range(24)]
    expected = _direct(torch_model, images.astype(np.float32))
    np.testing.assert_allclose(out[columns[1:-1]].to_numpy(), expected, rtol=1e-5, atol=1e-5)
    assert (expected.argmax(axis=1) == load_digits().target[:24]).mean() > 0.9  # a model that learned


def test_python_model_with_several_prediction_columns_as_parquet(bench: MlflowBench, pyfunc_model: Path) -> None:
    data = bench.root / "data"
    data.mkdir()
    # x given as integers (exactly representable: accepted for the double field); note is optional.
    pd.DataFrame({"x": [1, 2, 3], "n": [4, 5, 6], "name": ["p", "q", "r"]}).to_csv(data / "a.csv", index=False)
    PYFUNC_INPUTS.to_csv(data / "b.csv", index=False)
    bench.deploy(pyfunc_model, settings={"output_format": "parquet"})
    job = bench.run(data)
    assert job.status == "Completed", job.headline
    out = pd.read_parquet(bench.output(job))
    assert list(out.columns) == ["row", "doubled", "label", "file_name"]
    a = pd.DataFrame({"x": [1.0, 2.0, 3.0], "n": [4, 5, 6], "name": ["p", "q", "r"]})
    expected = pd.concat([mlflow.pyfunc.load_model(str(pyfunc_model)).predict(f) for f in (a, PYFUNC_INPUTS)])
    assert out["doubled"].tolist() == expected["doubled"].tolist() == [2.0, 4.0, 6.0, 1.0, 3.0]
    assert out["label"].tolist() == expected["label"].tolist() == ["p:4", "q:5", "r:6", "a:1!", "b:2?"]
    assert out["row"].tolist() == [0, 1, 2, 0, 1]


def test_a_custom_scoring_script_over_an_mlflow_model(bench: MlflowBench, sklearn_model: Path) -> None:
    """Azure's deployment-custom pattern: the script loads the MLflow model and may report failed files."""
    frame, _ = diabetes()
    data = bench.root / "data"
    data.mkdir()
    frame.iloc[:10].to_csv(data / "a.csv", index=False)
    (data / "b.csv").write_text("not,a,table\n1\n")
    frame.iloc[10:20].to_csv(data / "c.csv", index=False)
    script = """
        import glob, os
        import mlflow.pyfunc
        import pandas as pd
        from thresher.runtime.results import ItemResults

        def init():
            global model
            model = mlflow.pyfunc.load_model(glob.glob(os.environ["AZUREML_MODEL_DIR"] + "/*/")[0])

        def run(mini_batch):
            frames, failures = [], []
            for path in mini_batch:
                try:
                    data = pd.read_csv(path)
                    frames.append(pd.DataFrame({"file": os.path.basename(path), "score": model.predict(data)}))
                except Exception as exc:
                    failures.append({"item": path, "error": exc})
            return ItemResults(rows=pd.concat(frames), failures=failures)
        """
    bench.deploy(sklearn_model, script=script, settings={"output_format": "csv"})
    job = bench.run(data)
    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (2, 1)
    out = pd.read_csv(bench.output(job))
    np.testing.assert_array_equal(out["score"], _direct(sklearn_model, frame.iloc[:20]))
    error = (bench.logs(job) / "job_error.txt").read_text()
    assert str(data / "b.csv") in error and "MlflowException" in error


def test_images_in_jsonl_have_a_null_row(bench: MlflowBench, torch_model: Path) -> None:
    data = bench.root / "digits"
    data.mkdir()
    Image.fromarray(np.full((8, 8), 3, dtype=np.uint8), mode="L").save(data / "three.bmp")
    bench.deploy(torch_model, settings={"output_format": "jsonl"})
    job = bench.run(data)
    assert job.status == "Completed", job.headline
    out = pd.read_json(bench.output(job), lines=True)
    assert out["row"].isna().all() and out["file_name"].tolist() == ["three.bmp"]
    assert list(out.columns) == ["row", *(f"prediction_{i}" for i in range(10)), "file_name"]


def test_the_models_own_environment_is_built_with_mlflow_skinny(bench: MlflowBench, tmp_path: Path) -> None:
    """No environment named: the workers run in a virtualenv built from the model's requirements.txt."""
    from importlib.metadata import version

    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    frame, target = diabetes()
    model = LinearRegression().fit(frame, target)
    folder = tmp_path / "own-env-model"
    pins = ["mlflow", "scikit-learn", "skops", "numpy", "pandas"]
    requirements = [f"{name}=={version('mlflow-skinny' if name == 'mlflow' else name)}" for name in pins]
    signature = infer_signature(frame, model.predict(frame))
    mlflow.sklearn.save_model(model, str(folder), signature=signature, pip_requirements=requirements)
    data = bench.root / "data"
    data.mkdir()
    frame.iloc[:20].to_csv(data / "a.csv", index=False)
    bench.deploy(folder, environment=False)
    job = bench.run(data, timeout=300)
    assert job.status == "Completed", job.headline
    environment = (bench.logs(job) / "sys" / "environment.txt").read_text()
    assert "installed as mlflow-skinny" in environment and "/envs/" in environment
    out = read_predictions(bench.output(job), ["row", "prediction", "file_name"])
    np.testing.assert_array_equal(out["prediction"], _direct(folder, frame.iloc[:20]))
