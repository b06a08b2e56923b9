"""pyfunc.PythonModels for the online handler's tests, pickled by value (loading them needs no test module)."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd


class NamedTensors(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Two named tensors and a param: the row sums of ``a`` times ``scale``, plus ``b``."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> np.ndarray:
        scale = (params or {}).get("scale", 1.0)
        return np.asarray(model_input["a"].sum(axis=1) * scale + model_input["b"])


class Fragile(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """x doubled; a negative x raises (a model error, not a signature error)."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        if (model_input["x"] < 0).any():
            raise ValueError("x must not be negative")
        return np.asarray(model_input["x"] * 2)
