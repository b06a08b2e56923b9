"""The Open Inference Protocol (V2) REST dialect of no-code MLflow online deployments.

``POST /v2/models/<name>[/versions/<v>]/infer`` takes::

    {"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data"}, ...], "outputs"?: [{"name"}]}

Each input's ``data`` (flat or nested) is read as its declared ``datatype`` and ``shape``: integers and
booleans by the lossless rule (1.5 is not an INT64), numbers as the declared FP width (the decimal text
is decoded as that type), BYTES as text. The inputs are named: columns of a DataFrame for a column
signature, the tensor for a one-tensor signature, named tensors otherwise (a dict of them, as MLServer
gives a model without a signature). ``parameters`` (less ``content_type`` and ``headers``, which
MLServer reserves) are the model's params. The answer::

    {"model_name", "model_version"?, "id", "outputs": [{"name", "shape", "datatype", "data"}, ...]}

one output per column of a DataFrame prediction, per key of a dict, or ``predict`` for an array.
"""

from __future__ import annotations

import importlib
from typing import Any

from thresher.runtime.convert import Problem, fit_array, numeric_values
from thresher.runtime.online_payloads import TENSORS, PayloadError, RawInput, read_json

PLATFORM = "mlflow"
DEFAULT_OUTPUT = "predict"
RESERVED_PARAMETERS = ("content_type", "headers")
_NUMPY = {
    "BOOL": "bool",
    **{f"INT{bits}": f"int{bits}" for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": f"uint{bits}" for bits in (8, 16, 32, 64)},
    **{f"FP{bits}": f"float{bits}" for bits in (16, 32, 64)},
}
_COLUMN_TYPES = {"boolean": "BOOL", "integer": "INT32", "long": "INT64", "float": "FP32", "double": "FP64"}


def model_of(path: str) -> tuple[str, str | None]:
    """(model name, version or None) from ``/v2/models/<name>[/versions/<v>]/infer``."""
    parts = [part for part in path.split("/") if part]
    name = parts[2] if len(parts) > 2 and parts[:2] == ["v2", "models"] else ""
    version = parts[4] if len(parts) > 4 and parts[3] == "versions" else None
    return name, version


def read_infer(body: bytes, content_type: str) -> tuple[RawInput, str | None, list[str] | None]:
    """(the request's inputs, its ``id``, the output names it asks for or None)."""
    document = read_json(body, content_type)
    inputs = document.get("inputs") if isinstance(document, dict) else None
    if not isinstance(inputs, list) or not inputs or not all(isinstance(item, dict) for item in inputs):
        raise PayloadError(
            'An inference request is {"inputs": [{"name", "shape", "datatype", "data"}, ...]} with at least one '
            "input (Open Inference Protocol)."
        )
    arrays = {}
    for position, item in enumerate(inputs):
        name = str(item.get("name") or f"input-{position}")
        if name in arrays:
            raise PayloadError(f"Input '{name}' is given twice; each input needs its own name.")
        arrays[name] = _array(item, name)
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise PayloadError("The request's parameters must be a JSON object.")
    params = {key: value for key, value in parameters.items() if key not in RESERVED_PARAMETERS} or None
    wanted = document.get("outputs")
    outputs = [str(output.get("name")) for output in wanted if isinstance(output, dict)] if wanted else None
    return RawInput(TENSORS, arrays, params), document.get("id"), outputs


def _array(item: dict[str, Any], name: str) -> Any:
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    datatype, shape, data = str(item.get("datatype") or ""), item.get("shape"), item.get("data")
    if datatype not in _NUMPY and datatype != "BYTES":
        known = ", ".join([*_NUMPY, "BYTES"])
        raise PayloadError(f"Input '{name}' has datatype '{datatype}'; the datatypes are {known}.")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise PayloadError(f"Input '{name}' needs a shape: a list of dimensions, e.g. [2, 10].")
    try:
        values = np.asarray(data, dtype=object if datatype == "BYTES" else None).reshape(-1)
    except ValueError:
        raise PayloadError(f"Input '{name}' has ragged data (nested lists of different lengths).") from None
    count = int(np.prod(shape)) if shape else 1
    if values.size != count:
        raise PayloadError(f"Input '{name}' has {values.size} values and its shape {shape} holds {count}.")
    if datatype == "BYTES":
        if not all(isinstance(value, str) for value in values):
            raise PayloadError(f"Input '{name}' is BYTES: its data must be strings.")
        return values.reshape(shape)
    target = np.dtype(_NUMPY[datatype])
    found = numeric_values(pd.Series(values, copy=False))
    if target.kind == "f" and found.values is not None and found.values.dtype.kind in "iuf":
        return found.values.astype(target).reshape(shape)  # the declared width decodes the decimal text
    fitted = fit_array(found, target, f"input '{name}'", datatype)
    if isinstance(fitted, Problem):
        raise PayloadError(f"Input '{name}' does not hold {datatype} values: {fitted.describe(0, values=True)}.")
    return fitted.reshape(shape)


def response(
    predictions: Any, model: tuple[str, str | None], ident: str | None, wanted: list[str] | None
) -> dict[str, Any]:
    """The inference response for ``predictions``, with only the ``wanted`` outputs when the request named some."""
    outputs = [_output(name, values) for name, values in _named(predictions).items()]
    if wanted:
        missing = sorted(set(wanted) - {output["name"] for output in outputs})
        if missing:
            names = ", ".join(output["name"] for output in outputs)
            raise PayloadError(f"The request asks for outputs {missing}; the model's outputs are: {names}.")
        outputs = [output for output in outputs if output["name"] in wanted]
    document: dict[str, Any] = {"model_name": model[0], "id": ident, "outputs": outputs}
    if model[1] is not None:
        document["model_version"] = model[1]
    return document


def _named(predictions: Any) -> dict[str, Any]:
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    if isinstance(predictions, pd.DataFrame):
        return {str(column): predictions[column].to_numpy() for column in predictions.columns}
    if isinstance(predictions, pd.Series):
        return {str(predictions.name) if predictions.name is not None else DEFAULT_OUTPUT: predictions.to_numpy()}
    if isinstance(predictions, dict):
        return {str(key): np.asarray(value) for key, value in predictions.items()}
    return {DEFAULT_OUTPUT: np.atleast_1d(np.asarray(predictions))}


def _output(name: str, values: Any) -> dict[str, Any]:
    kind = values.dtype.kind
    if kind in "biuf":
        datatype = (
            "BOOL" if kind == "b" else {"i": "INT", "u": "UINT", "f": "FP"}[kind] + str(values.dtype.itemsize * 8)
        )
        data = values.reshape(-1).tolist()
    else:
        datatype = "BYTES"
        data = [_text(value) for value in values.reshape(-1).tolist()]
    return {"name": name, "shape": list(values.shape), "datatype": datatype, "data": data}


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) or value is None else str(value)


def metadata(name: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """V2 model metadata from the signature's ``inputs`` and ``outputs`` (MLmodel JSON)."""
    return {
        "name": name,
        "platform": PLATFORM,
        "inputs": [_tensor_metadata(spec, position, "input") for position, spec in enumerate(inputs)],
        "outputs": [_tensor_metadata(spec, position, "output") for position, spec in enumerate(outputs)],
    }


def _tensor_metadata(spec: dict[str, Any], position: int, role: str) -> dict[str, Any]:
    default = DEFAULT_OUTPUT if role == "output" and position == 0 else f"{role}-{position}"
    name = str(spec["name"]) if spec.get("name") is not None else default
    if spec.get("type") == "tensor":
        tensor = spec.get("tensor-spec") or {}
        dtype = str(tensor.get("dtype"))
        datatype = next((v2 for v2, numpy in _NUMPY.items() if numpy == dtype), "BYTES")
        return {"name": name, "datatype": datatype, "shape": [int(d) for d in tensor.get("shape") or [-1]]}
    return {"name": name, "datatype": _COLUMN_TYPES.get(str(spec.get("type")), "BYTES"), "shape": [-1]}
