"""A request's raw input fitted to the model's signature, and requests predicted together.

``fit`` turns a ``RawInput`` (``online_payloads``) into what ``predict()`` gets, by the signature
policy of ``thresher.runtime.signature`` (lossless casts only, errors that name the column and never
the data)::

    signature          FRAME                 TENSOR (lists)                    TENSORS (dict)
    columns            table()               one column, or unnamed columns    a dict of columns
    one tensor         table() (reshaped)    array()                           its one entry
    named tensors      a column per tensor   refused                           named_arrays()
    none               as sent               an array                          a dict of arrays

``params`` are checked against the model's params schema (MLmodel ``signature.params``): every name must
be in it, and each value must have the param's type (lossless: 2 for a double, 2.0 for a long).

Requests whose inputs have the same ``key`` (a DataFrame's columns and dtypes, or a tensor's item shape
and dtype, and the same params) can be predicted at once: ``concat`` joins them and ``split`` cuts the
predictions back by row counts.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass
from typing import Any, Hashable

from thresher.runtime.online_payloads import FRAME, TENSORS, PayloadError, RawInput
from thresher.runtime.signature import InputSignature, SignatureError

WHERE = "The request"
_PARAM_TYPES = {"boolean": bool, "integer": int, "long": int, "float": float, "double": float, "string": str}


@dataclass(frozen=True)
class ModelInput:
    """What ``predict()`` gets for one request: ``data``, its row count, params, and a batching key (None: alone)."""

    data: Any
    rows: int
    params: dict[str, Any] | None
    key: Hashable | None


def fit(raw: RawInput, signature: InputSignature, param_specs: list[dict[str, Any]] | None) -> ModelInput:
    """``raw`` fitted to the signature, with checked params; raises ``SignatureError`` or ``PayloadError``."""
    params = check_params(raw.params, param_specs)
    data = _fit_data(raw, signature)
    return described(data, params, named_tensors=signature.tensor is None and bool(signature.tensors))


def described(data: Any, params: dict[str, Any] | None, named_tensors: bool = False) -> ModelInput:
    """``data`` with its row count and batching key."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    tag = json.dumps(params, sort_keys=True, default=str) if params else ""
    if isinstance(data, pd.DataFrame):
        if not len(data):
            raise PayloadError(f"{WHERE} has no rows; send at least one.")
        columns = ("frame", tuple(map(str, data.columns)), tuple(map(str, data.dtypes)), tag)
        return ModelInput(data, len(data), params, columns)
    arrays = data if isinstance(data, dict) else {"": data}
    if not arrays or not all(isinstance(a, np.ndarray) and a.ndim >= 1 for a in arrays.values()):
        raise PayloadError(f"{WHERE} holds a scalar or an empty dict; send a list of items (rows).")
    counts = {int(a.shape[0]) for a in arrays.values()}
    if counts == {0}:
        raise PayloadError(f"{WHERE} has no items (an empty list); send at least one.")
    rows = counts.pop() if len(counts) == 1 else 0
    if named_tensors or not rows:
        return ModelInput(data, rows, params, None)  # named tensors: items may not line up across requests
    key = ("tensor", tuple((k, str(a.dtype), a.shape[1:]) for k, a in sorted(arrays.items())), tag)
    return ModelInput(data, rows, params, key)


def _fit_data(raw: RawInput, signature: InputSignature) -> Any:
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    if raw.form == FRAME and (signature.tensor is not None or not signature.tensors):
        return signature.table(raw.data, WHERE, 0)[0]
    if not signature.inputs:
        if raw.form == TENSORS:
            return {str(name): _array(np, values) for name, values in raw.data.items()}
        return _array(np, raw.data)
    if signature.tensors:
        if signature.tensor is None:
            if raw.form == FRAME:  # records of named tensors ({"instances": [{"a": [...], "b": ...}, ...]})
                tensors = {str(column): raw.data[column].tolist() for column in raw.data.columns}
                return signature.named_arrays(tensors, WHERE)
            if raw.form != TENSORS:
                raise SignatureError(_want_named(signature))
            return signature.named_arrays(raw.data, WHERE)
        spec = signature.tensor
        values = raw.data
        if raw.form == TENSORS:
            if len(values) != 1:
                names = ", ".join(f"'{name}'" for name in values)
                raise SignatureError(f"{WHERE} sends several inputs ({names}); the model takes one tensor.")
            values = next(iter(values.values()))
        array = signature.array(values, WHERE)
        return {spec["name"]: array} if spec.get("name") else array
    if raw.form == TENSORS:
        return signature.table(_columns_frame(pd, np, raw.data), WHERE, 0)[0]
    rows, columns = raw.data, [spec.get("name") for spec in signature.columns]
    if isinstance(rows, list) and rows and len(columns) == 1 and not any(isinstance(r, (list, dict)) for r in rows):
        return signature.table(pd.DataFrame({columns[0] if signature.named else 0: rows}), WHERE, 0)[0]
    widths = {len(row) for row in rows if isinstance(row, list)} if isinstance(rows, list) else set()
    if signature.named or not rows or len(widths) != 1 or not all(isinstance(row, list) for row in rows):
        wanted = ", ".join(f"'{name}'" for name in columns) if signature.named else f"{len(columns)} unnamed columns"
        raise SignatureError(
            f"{WHERE} sends a tensor (a list), and the model takes columns ({wanted}). Send a DataFrame: "
            '{"columns": [...], "data": [[...], ...]} (as input_data or dataframe_split), records, or a dict of '
            "columns."
        )
    return signature.table(pd.DataFrame(rows), WHERE, 0)[0]


def _columns_frame(pd: Any, np: Any, columns: dict[str, Any]) -> Any:
    """A dict of columns (lists, or one value each for a single row) as a DataFrame."""
    arrays = {str(name): _array(np, values) for name, values in columns.items()}
    if arrays and all(array.ndim == 0 for array in arrays.values()):
        arrays = {name: array.reshape(1) for name, array in arrays.items()}  # one value each: one row
    arrays = {name: a.reshape(-1) if a.ndim == 2 and a.shape[1] == 1 else a for name, a in arrays.items()}
    lengths = {name: len(array) if array.ndim else 1 for name, array in arrays.items()}
    if any(array.ndim != 1 for array in arrays.values()) or len(set(lengths.values())) > 1:
        shapes = ", ".join(f"'{name}' {list(array.shape)}" for name, array in arrays.items())
        raise SignatureError(
            f"{WHERE} sends a dict of inputs that are not columns of one length ({shapes}); the model takes "
            "columns: send each as a list of values, one per row."
        )
    return pd.DataFrame({name: pd.Series(array).infer_objects() for name, array in arrays.items()})


def _array(np: Any, values: Any) -> Any:
    if isinstance(values, np.ndarray):
        return values
    try:
        return np.asarray(values)
    except ValueError:
        raise SignatureError(
            f"{WHERE} sends ragged lists (items of different lengths); a tensor needs equal lengths."
        ) from None


def _want_named(signature: InputSignature) -> str:
    names = ", ".join(f"'{spec.get('name')}'" for spec in signature.tensors)
    return (
        f'{WHERE} does not fit the model\'s signature: it takes named tensors ({names}); send {{"name": [...], ...}}.'
    )


def check_params(params: Any, specs: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """``params`` checked against the params schema (None: the model has none, MLflow then ignores them)."""
    if params is not None and not isinstance(params, dict):
        raise PayloadError(f"params must be a JSON object of name: value; it is a {type(params).__name__}.")
    if params is None or specs is None:
        unchecked: dict[str, Any] | None = params
        return unchecked
    known = {str(spec["name"]): spec for spec in specs}
    unknown = sorted(set(params) - set(known))
    if unknown:
        accepted = ", ".join(f"'{name}'" for name in known) or "none"
        raise PayloadError(f"params {unknown} are not in the model's params schema (params: {accepted}); remove them.")
    checked, problems = {}, []
    for name, value in params.items():
        spec = known[name]
        many = spec.get("shape") is not None
        values = value if many and isinstance(value, list) else [value]
        fitted = [_param(item, str(spec.get("type"))) for item in values]
        if (many and not isinstance(value, list)) or any(item is _BAD for item in fitted):
            shape = "a list of " if many else ""
            found = type(value).__name__ if not (many and isinstance(value, list)) else "a list with other values"
            problems.append(f"'{name}': expected {shape}{spec.get('type')}, found {found}")
        else:
            checked[name] = fitted if many else fitted[0]
    if problems:
        raise PayloadError(f"params do not fit the model's params schema: {'; '.join(problems)}.")
    return checked


_BAD = object()


def _param(value: Any, kind: str) -> Any:
    """``value`` as the param type when no value changes; ``_BAD`` otherwise."""
    if kind not in _PARAM_TYPES:
        return value  # binary, datetime, object, array: MLflow checks them
    if kind == "boolean":
        return value if isinstance(value, bool) else _BAD
    if isinstance(value, bool) or (kind != "string" and not isinstance(value, (int, float))):
        return _BAD
    if kind == "string":
        return value if isinstance(value, str) else _BAD
    if kind in ("integer", "long"):
        whole = isinstance(value, int) or (math.isfinite(value) and value == int(value))
        limit = 2**31 if kind == "integer" else 2**63
        return int(value) if whole and -limit <= int(value) < limit else _BAD
    return value if isinstance(value, float) or abs(value) <= 2**53 else _BAD


def concat(inputs: list[ModelInput]) -> Any:
    """The data of requests with one key, as one input."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    first = inputs[0].data
    if isinstance(first, pd.DataFrame):
        return pd.concat([item.data for item in inputs], ignore_index=True)
    if isinstance(first, dict):
        return {name: np.concatenate([item.data[name] for item in inputs]) for name in first}
    return np.concatenate([item.data for item in inputs])


def split(predictions: Any, counts: list[int]) -> list[Any] | None:
    """``predictions`` cut into one part per request (``counts`` rows each); None when they do not have one
    entry per row (the requests are then predicted one by one)."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    total = sum(counts)
    bounds = [sum(counts[:i]) for i in range(len(counts) + 1)]
    if isinstance(predictions, (pd.DataFrame, pd.Series)):
        if len(predictions) != total:
            return None
        return [predictions.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds, bounds[1:])]
    if isinstance(predictions, dict):
        parts = {k: split(v, counts) for k, v in predictions.items()}
        if not parts or any(part is None for part in parts.values()):
            return None
        return [{k: part[i] for k, part in parts.items() if part is not None} for i in range(len(counts))]
    if isinstance(predictions, np.ndarray) and predictions.ndim >= 1 and len(predictions) == total:
        return [predictions[a:b] for a, b in zip(bounds, bounds[1:])]
    if isinstance(predictions, list) and len(predictions) == total:
        return [predictions[a:b] for a, b in zip(bounds, bounds[1:])]
    return None
