"""Calling a pyfunc model's predict on input thresher has already fitted to its signature.

``PyFuncModel.predict`` checks the input against the signature again (about a millisecond for a one-row
DataFrame, more than a small model's predict), which for input fitted by thresher's stricter policy
(exact dtypes, every column checked) can change nothing. ``fitted_predictor`` therefore calls the
flavor's own predict function directly, with the params filled from the params schema as MLflow does,
when the loaded model is one whose predict is exactly "enforce the schema, then call the flavor":
models whose signature comes from type hints or whose input example reshapes the data keep MLflow's
full path, as does any MLflow whose ``PyFuncModel`` is not laid out as expected (the model's
environment may have another MLflow).
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Python 3.8 (a model environment's) cannot subscript collections.abc.Callable at run time
    from collections.abc import Callable

    Predict = Callable[[Any, "dict[str, Any] | None"], Any]


def full_predictor(model: Any) -> Predict:
    """MLflow's own ``predict`` (every check of its own)."""

    def predict(data: Any, params: dict[str, Any] | None) -> Any:
        return model.predict(data, params=params) if params else model.predict(data)

    return predict


def fitted_predictor(model: Any) -> Predict:
    """The flavor's predict function behind ``model`` for fitted input, or MLflow's full ``predict``."""
    metadata: Any = getattr(model, "metadata", None)
    function: Any = getattr(model, "_predict_fn", None)
    try:
        plain = (
            callable(function)
            and metadata is not None
            and metadata.get_input_schema() is not None
            and not metadata._is_signature_from_type_hint()
            and not metadata._is_type_hint_from_example()
        )
        takes_params = plain and _takes_params(function)
        enforce: Any = importlib.import_module("mlflow.models.utils")._enforce_params_schema if plain else None
        schema = metadata.get_params_schema() if plain else None
    except (AttributeError, ImportError, TypeError, ValueError):
        return full_predictor(model)
    if not plain or enforce is None:
        return full_predictor(model)

    def predict(data: Any, params: dict[str, Any] | None) -> Any:
        filled = enforce(params, schema)
        if takes_params:
            return function(data, params=filled)
        return function(data)

    return predict


def _takes_params(function: Callable[..., Any]) -> bool:
    parameter = inspect.signature(function).parameters.get("params")
    return parameter is not None and parameter.kind != inspect.Parameter.VAR_KEYWORD
