"""A pyfunc.PythonModel for the tests, pickled by value (so loading it needs no test module)."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd


class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Two output columns: x doubled, and a label built from the name, n and the optional note."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        note = model_input["note"].fillna("") if "note" in model_input else ""
        label = model_input["name"] + ":" + model_input["n"].astype(str) + note
        return pd.DataFrame({"doubled": model_input["x"] * 2, "label": label})
