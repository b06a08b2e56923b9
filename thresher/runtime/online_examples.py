"""Known-good inputs of an MLflow model, for the warm-up prediction, batching's cost curve and Swagger's example.

The model's saved ``input_example`` comes first (with its params, when it was saved with some). Without
one, a one-row input is made from the signature: zeros, ``False``, empty text, the epoch for dates; free
tensor dimensions become 1. Without either, there is no known-good input.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

from thresher.runtime.online_payloads import FRAME, TENSOR, TENSORS, RawInput
from thresher.runtime.signature import InputSignature

INPUT_EXAMPLE, SIGNATURE = "input_example", "signature"
_ZEROS: dict[str, Any] = {"boolean": False, "integer": 0, "long": 0, "float": 0.0, "double": 0.0, "string": ""}


def saved_example(metadata: Any, folder: str) -> RawInput | None:
    """The model's saved input example as a raw input (None when it was saved without one)."""
    pd = importlib.import_module("pandas")
    if not getattr(metadata, "saved_input_example_info", None):
        return None
    data = metadata.load_input_example(folder)
    if data is None:
        return None
    params = None
    if hasattr(metadata, "load_input_example_params"):  # MLflow 2.6 and later
        params = metadata.load_input_example_params(folder)
    if isinstance(data, pd.DataFrame):
        return RawInput(FRAME, data, params)
    if isinstance(data, dict):
        return RawInput(TENSORS, data, params)
    return RawInput(TENSOR, data, params)


def synthesized(signature: InputSignature) -> RawInput | None:
    """A one-row input made from the signature (None: the model has no signature)."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    if not signature.inputs:
        return None
    if signature.tensors:
        arrays = {str(spec.get("name")): _zeros(np, spec) for spec in signature.tensors}
        if signature.tensor is not None:
            return RawInput(TENSOR, next(iter(arrays.values())))
        return RawInput(TENSORS, arrays)
    row = {}
    for position, spec in enumerate(signature.columns):
        kind = str(spec.get("type"))
        value = pd.Timestamp(0) if kind == "datetime" else b"" if kind == "binary" else _ZEROS.get(kind)
        row[spec.get("name") if signature.named else position] = [value]
    return RawInput(FRAME, pd.DataFrame(row))


def _zeros(np: Any, spec: dict[str, Any]) -> Any:
    tensor = spec.get("tensor-spec") or {}
    shape = [1 if int(d) < 0 else int(d) for d in tensor.get("shape") or [-1]]
    return np.zeros(shape, dtype=np.dtype(str(tensor.get("dtype") or "float64")))


def replicated(data: Any, rows: int, size: int) -> Any:
    """``data`` (``rows`` items) repeated to ``size`` items."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    times = max(1, math.ceil(size / max(rows, 1)))
    if isinstance(data, pd.DataFrame):
        return pd.concat([data] * times, ignore_index=True).iloc[:size]
    if isinstance(data, dict):
        return {name: replicated(values, rows, size) for name, values in data.items()}
    return np.concatenate([data] * times)[:size]


def json_example(data: Any) -> Any:
    """Model input as ``input_data`` sends it (a split DataFrame, nested lists or a dict of them)."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    if isinstance(data, pd.DataFrame):
        split = data.to_dict(orient="split")
        return {key: split[key] for key in ("columns", "index", "data")}
    if isinstance(data, dict):
        return {name: np.asarray(values).tolist() for name, values in data.items()}
    return np.asarray(data).tolist()
