"""Trains and saves an MLflow model of the Python 3.8 era; run by a Python 3.8 environment's interpreter.

    python py38_training.py MODEL_DIR DATA_DIR

Fits ``xgboost.XGBRegressor`` on scikit-learn's diabetes data, saves it with ``mlflow.xgboost.save_model``
(an input signature, and a conda_env pinning ``python=3.8``, ``pip`` and the versions used here), then
predicts every CSV file of DATA_DIR with the saved model, as MLflow loads it, and prints one JSON line:
the Python and package versions and the predictions per file, which a thresher job must reproduce.
Written for Python 3.8 (it runs there, not in thresher's interpreter).
"""

import json
import os
import platform
import sys

import mlflow
import mlflow.pyfunc
import mlflow.xgboost
import pandas as pd
import sklearn
import xgboost
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes


def main(model_dir: str, data_dir: str) -> None:
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    # one thread and a fixed seed: the same model on every run
    model = xgboost.XGBRegressor(n_estimators=20, max_depth=3, n_jobs=1, random_state=0).fit(features, target)
    pins = [f"scikit-learn=={sklearn.__version__}", f"xgboost=={xgboost.__version__}", f"mlflow=={mlflow.__version__}"]
    conda_env = {
        "name": "diabetes-py38",
        "channels": ["conda-forge"],
        "dependencies": ["python=3.8", "pip", {"pip": pins}],
    }
    signature = infer_signature(features, model.predict(features))
    mlflow.xgboost.save_model(model, model_dir, signature=signature, conda_env=conda_env)
    loaded = mlflow.pyfunc.load_model(model_dir)
    predictions = {}
    for name in sorted(os.listdir(data_dir)):
        frame = pd.read_csv(os.path.join(data_dir, name))
        predictions[name] = [float(value) for value in loaded.predict(frame)]
    versions = {"scikit-learn": sklearn.__version__, "xgboost": xgboost.__version__, "mlflow": mlflow.__version__}
    print(json.dumps({"python": platform.python_version(), "versions": versions, "predictions": predictions}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
