"""An MLflow model of the Python 3.8 era (old scikit-learn, xgboost 1.x) scored with no code in its own environment."""

from __future__ import annotations

import numpy as np

from tests.environments.conftest import PY38_FILES, EnvBench, Py38Model
from tests.mlflow.conftest import MlflowBench, read_predictions


def test_a_python_38_xgboost_model_is_scored_with_no_code_as_it_predicted_where_it_was_trained(
    env_bench: EnvBench, py38_model: Py38Model
) -> None:
    trained = py38_model.trained
    assert trained["python"].startswith("3.8.")
    assert trained["versions"] == {"scikit-learn": "1.3.2", "xgboost": "1.7.6", "mlflow": "2.17.2"}
    conda = (py38_model.folder / "conda.yaml").read_text()
    assert "python=3.8" in conda and "- pip\n" in conda and "xgboost==1.7.6" in conda

    bench = MlflowBench(env_bench.ws, env_bench.root)
    # no environment and no code_configuration: the model's own environment and the built-in MLflow driver
    bench.deploy(py38_model.folder, name="py38", settings={"mini_batch_size": 2}, environment=False)
    job = bench.run(py38_model.data, timeout=600)
    assert job.status == "Completed", job.headline

    environment = (bench.logs(job) / "sys" / "environment.txt").read_text()
    assert f"({trained['python']})" in environment  # the workers' interpreter: the model's Python 3.8
    assert "mlflow==2.17.2 is installed as mlflow-skinny==2.17.2" in environment

    out = read_predictions(bench.output(job), ["row", "prediction", "file_name"])
    sizes = {name: len(predictions) for name, predictions in trained["predictions"].items()}
    assert sizes == {"part-0.csv": 200, "part-1.csv": 150, "part-2.csv": 92} and set(sizes) == set(PY38_FILES)
    assert out["file_name"].tolist() == [name for name, size in sizes.items() for _ in range(size)]
    assert out["row"].tolist() == [row for size in sizes.values() for row in range(size)]
    expected = np.concatenate([np.asarray(trained["predictions"][name], dtype=np.float32) for name in sizes])
    # xgboost predicts float32: the job's text must read back as the very same float32 values
    np.testing.assert_array_equal(out["prediction"].to_numpy(dtype=np.float64).astype(np.float32), expected)
    assert len(np.unique(expected)) > 100  # a model that learned, not a constant
