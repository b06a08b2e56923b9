"""The signature policy of no-code MLflow deployments: fitting a file's data to the model's input signature.

One policy, the same for columns and tensors (README "Signature policy"):

- A value may change type only when no value changes: an integer column for a ``double`` field is
  accepted when every value is exactly representable as float64, a float column for a ``long`` field
  when every value is whole (and in range), float64 data for a ``float32`` tensor when every value fits
  float32 exactly. Each value is checked; a conversion that would change one is rejected.
- Text is never a number, booleans are never numbers; integers 0 and 1 may be ``boolean``.
- Columns are matched by name. Missing required columns fail, missing optional columns are fine,
  extra columns are dropped (the driver warns once per job). An unnamed signature takes the first
  columns by position.
- Tensors: the data (a table's columns, or an image's pixels) is reshaped to the tensor's shape when
  the number of values per item matches; the dtype follows the rule above.
- Online requests (``online_inputs``) also send tensors as nested lists (``array``) and, for a signature
  of several named tensors, a dict of them (``named_arrays``); files cannot, so batch refuses that
  signature unless ``InputSignature(..., named_tensors=True)``.

A ``SignatureError`` names the file, every offending column, the expected and found type, and one
sample row (counting data rows from 0, like the output's ``row`` column); never the data itself.
Runs inside the model's environment: numpy and pandas are imported when first needed.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from thresher.runtime.convert import NumericData, Problem, fit_array, numeric_values

_NUMPY_TYPES = {"boolean": "bool", "integer": "int32", "long": "int64", "float": "float32", "double": "float64"}
_TEXT_READ = {"string", "binary", "datetime"}  # read from CSV as text, so that "01234" stays "01234"


class SignatureError(ValueError):
    """Data that does not fit the model's input signature; the message says where and why."""


class InputSignature:
    """A model's input signature (``MLmodel`` ``signature.inputs`` as parsed JSON; None: no signature)."""

    def __init__(self, inputs: list[dict[str, Any]] | None, *, named_tensors: bool = False) -> None:
        """``named_tensors``: accept a signature of several named tensors (online requests can send them as a
        dict; files cannot, so batch refuses such a signature here)."""
        self.inputs = list(inputs or [])
        self.tensors = [spec for spec in self.inputs if spec.get("type") == "tensor"]
        if self.tensors and len(self.inputs) > 1 and not (named_tensors and len(self.tensors) == len(self.inputs)):
            names = ", ".join(str(spec.get("name")) for spec in self.inputs)
            raise SignatureError(
                f"The model takes several named inputs ({names}); a file can only feed one tensor or a table. "
                "Deploy it with a scoring script that builds the inputs."
            )
        self.columns = [] if self.tensors else self.inputs
        self.named = bool(self.columns) and all(spec.get("name") is not None for spec in self.columns)

    @property
    def tensor(self) -> dict[str, Any] | None:
        """The one tensor spec, for a tensor signature (None for several named tensors)."""
        return self.tensors[0] if len(self.tensors) == 1 else None

    def text_columns(self) -> dict[str, Any]:
        """``dtype=`` for reading a CSV file: the columns to read as text."""
        return {spec["name"]: str for spec in self.columns if self.named and spec.get("type") in _TEXT_READ}

    def table(self, frame: Any, where: str, first_row: int) -> tuple[Any, list[str]]:
        """The model input for a chunk of a table (rows ``first_row``...), and the extra columns dropped."""
        if not self.inputs:
            return frame, []
        if self.tensors and self.tensor is None:
            raise SignatureError(
                f"{where} does not fit the model's signature: the model takes several named tensors "
                f"({_names([str(spec.get('name')) for spec in self.tensors])}), and a table feeds one. "
                "Send a dict of named tensors."
            )
        if self.tensor is not None:
            return self._table_tensor(frame, where, first_row), []
        if not self.named:
            return self._positional(frame, where, first_row)
        exact = self._exact(frame)
        if exact is not None:
            return exact
        pd = importlib.import_module("pandas")
        present = {str(column) for column in frame.columns}
        wanted = {spec["name"] for spec in self.columns}
        missing = [s["name"] for s in self.columns if s["name"] not in present and s.get("required", True)]
        if missing:
            raise SignatureError(
                f"{where} does not fit the model's signature: it has no column {_names(missing)}, which the "
                f"signature requires (columns: {_names([s['name'] for s in self.columns])})."
            )
        problems: list[Problem] = []
        data: dict[str, Any] = {}
        for spec in self.columns:
            if spec["name"] in present:
                fitted = _fit_column(frame[spec["name"]], spec, problems)
                if fitted is not None:
                    data[spec["name"]] = fitted
        _raise(problems, where, first_row)
        extra = [str(column) for column in frame.columns if str(column) not in wanted]
        return pd.DataFrame(data, index=frame.index), extra

    def _exact(self, frame: Any) -> tuple[Any, list[str]] | None:
        """The frame's signature columns as they are, when each already has its numeric field's exact dtype and
        every required one is there: nothing to convert or check (a 1-row online request's common case)."""
        np = importlib.import_module("numpy")
        if not frame.columns.is_unique or not all(isinstance(column, str) for column in frame.columns):
            return None
        dtypes = frame.dtypes
        names = []
        for spec in self.columns:
            name, kind = spec["name"], str(spec.get("type"))
            if name not in dtypes:
                if spec.get("required", True):
                    return None
            elif kind not in _NUMPY_TYPES or dtypes[name] != np.dtype(_NUMPY_TYPES[kind]):
                return None
            else:
                names.append(name)
        wanted = set(names)
        extra = [column for column in frame.columns if column not in wanted]
        return (frame if list(frame.columns) == names else frame[names]), extra

    def _positional(self, frame: Any, where: str, first_row: int) -> tuple[Any, list[str]]:
        pd = importlib.import_module("pandas")
        count = len(self.columns)
        if frame.shape[1] < count:
            raise SignatureError(
                f"{where} does not fit the model's signature: it has {frame.shape[1]} columns and the signature "
                f"takes the first {count} by position."
            )
        problems: list[Problem] = []
        data = {}
        for position, spec in enumerate(self.columns):
            column = frame.columns[position]
            fitted = _fit_column(frame[column], {**spec, "name": str(column)}, problems)
            if fitted is not None:
                data[column] = fitted
        _raise(problems, where, first_row)
        return pd.DataFrame(data, index=frame.index), [str(c) for c in frame.columns[count:]]

    def _table_tensor(self, frame: Any, where: str, first_row: int) -> Any:
        np = importlib.import_module("numpy")
        spec = self.tensor or {}
        dtype, shape = _tensor_spec(spec)
        inner = shape[1:]
        columns = frame.shape[1]
        if -1 in inner and not (len(inner) == 1 and inner[0] == -1):
            raise SignatureError(
                f"{where}: the model takes tensors of shape {_shape(shape)}; a table can only feed a tensor whose "
                "dimensions after the first are fixed. Deploy it with a scoring script."
            )
        per_item = int(np.prod(inner)) if inner and -1 not in inner else columns
        if columns != per_item:
            raise SignatureError(
                f"{where} does not fit the model's signature: it has {columns} columns and the tensor "
                f"{_shape(shape)} takes {per_item} values per row."
            )
        problems: list[Problem] = []
        arrays = []
        for column in frame.columns:
            name = f"column '{column}'"
            expected = f"{dtype} (tensor {_shape(shape)})"
            fitted = fit_array(numeric_values(frame[column]), np.dtype(dtype), name, expected)
            if isinstance(fitted, Problem):
                problems.append(fitted)
            else:
                arrays.append(fitted)
        _raise(problems, where, first_row)
        data = np.stack(arrays, axis=1) if arrays else np.empty((len(frame), 0), dtype=dtype)
        data = data.reshape((len(frame), *inner)) if inner else data[:, 0]
        return {spec["name"]: data} if spec.get("name") else data

    def image(self, pixels: Any, raw: bytes, where: str) -> Any:
        """The model input for one image file (a batch of one)."""
        np = importlib.import_module("numpy")
        if not self.inputs:
            return pixels[np.newaxis, ...]
        if self.tensor is None:
            binary = [spec for spec in self.columns if spec.get("type") == "binary"]
            if len(self.columns) == 1 and binary:
                pd = importlib.import_module("pandas")
                return pd.DataFrame({self.columns[0].get("name") or 0: [raw]})
            raise SignatureError(
                f"{where}: the model's signature takes columns ({_names([str(s.get('name')) for s in self.columns])})"
                ", and an image can only feed a tensor or a single binary column. Deploy it with a scoring script."
            )
        spec = self.tensor
        dtype, shape = _tensor_spec(spec)
        inner = shape[1:]
        if -1 not in inner and pixels.size == int(np.prod(inner)):
            batch = pixels.reshape((1, *inner))
        # inner and pixels.shape have the same length here (checked first): zip() needs no strict=, which
        # Python 3.8 (a model environment's Python) does not have
        elif len(shape) == pixels.ndim + 1 and all(d in (-1, s) for d, s in zip(inner, pixels.shape)):
            batch = pixels[np.newaxis, ...]
        else:
            raise SignatureError(
                f"{where} does not fit the model's signature: the image is {'x'.join(map(str, pixels.shape))} "
                f"({pixels.size} values) and the tensor {_shape(shape)} takes "
                f"{'any shape of that rank' if -1 in inner else str(int(np.prod(inner))) + ' values'} per item."
            )
        pixels_data = NumericData(batch.reshape(-1), None, str(batch.dtype))
        fitted = fit_array(pixels_data, np.dtype(dtype), "the image", dtype)
        if isinstance(fitted, Problem):
            raise SignatureError(f"{where} does not fit the model's signature: {fitted.describe(None, values=True)}.")
        data = fitted.reshape(batch.shape)
        return {spec["name"]: data} if spec.get("name") else data

    def array(self, values: Any, where: str) -> Any:
        """A tensor sent as (nested) lists or an array, fitted to the model's one tensor: the same rank and
        fixed dimensions (or, with fixed dimensions, as many values per item, reshaped), and the tensor's
        dtype by the lossless rule. The first dimension counts the items (rows)."""
        spec = self.tensor or {}
        fitted = _fit_tensor(values, spec)
        if isinstance(fitted, str):
            raise SignatureError(f"{where} does not fit the model's signature: {fitted}.")
        return fitted

    def named_arrays(self, values: dict[str, Any], where: str) -> dict[str, Any]:
        """Named tensors sent as a dict, each fitted as ``array`` fits one; every problem is reported at once.
        Missing required tensors fail, tensors the signature does not name are dropped."""
        specs = self.tensors
        missing = [str(s.get("name")) for s in specs if s.get("name") not in values and s.get("required", True)]
        if missing:
            raise SignatureError(
                f"{where} does not fit the model's signature: it has no tensor {_names(missing)}, which the "
                f"signature requires (tensors: {_names([str(s.get('name')) for s in specs])})."
            )
        fitted: dict[str, Any] = {}
        problems: list[str] = []
        for spec in specs:
            if spec.get("name") in values:
                array = _fit_tensor(values[spec["name"]], spec)
                if isinstance(array, str):
                    problems.append(array)
                else:
                    fitted[spec["name"]] = array
        if problems:
            raise SignatureError(f"{where} does not fit the model's signature: {'; '.join(problems)}.")
        return fitted


def _fit_tensor(values: Any, spec: dict[str, Any]) -> Any:
    """``values`` as an array of the tensor spec's shape and dtype, or a clause saying why not."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    what = f"tensor '{spec['name']}'" if spec.get("name") is not None else "the tensor"
    dtype, shape = _tensor_spec(spec)
    try:
        array = values if isinstance(values, np.ndarray) else np.asarray(values)
    except ValueError:  # numpy refuses nested lists of unequal lengths
        return f"{what} is ragged (its items have different lengths), and the model takes {_shape(shape)}"
    inner = shape[1:]
    fits = array.ndim == len(shape) and all(d in (-1, s) for d, s in zip(shape, array.shape))
    same_items = array.ndim >= 1 and -1 not in inner and int(np.prod(array.shape[1:])) == int(np.prod(inner))
    if not fits and same_items and shape[0] in (-1, array.shape[0]):
        array, fits = array.reshape((array.shape[0], *inner)), True
    if not fits:
        return f"{what} has shape {_shape(list(array.shape))}, and the model takes {_shape(shape)} (-1: any size)"
    target = np.dtype(dtype) if dtype not in ("None", "") else array.dtype
    if target.kind not in "biuf":
        return array  # text, bytes and objects: MLflow checks these itself
    flat = array.reshape(-1)
    fitted = fit_array(numeric_values(pd.Series(flat, copy=False)), target, what, f"{dtype} (tensor {_shape(shape)})")
    if isinstance(fitted, Problem):
        per_item = max(1, flat.size // max(1, array.shape[0])) if array.ndim else 1
        row = None if fitted.position is None else fitted.position // per_item
        return Problem(fitted.what, fitted.expected, fitted.found, row).describe(0)
    return fitted.reshape(array.shape)


def _fit_column(series: Any, spec: dict[str, Any], problems: list[Problem]) -> Any:
    """The column as the field's type, or None with a problem added."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    kind = str(spec.get("type"))
    name = f"column '{spec['name']}'"
    if kind in _NUMPY_TYPES:
        target = np.dtype(_NUMPY_TYPES[kind])
        fitted = fit_array(numeric_values(series), target, name, f"{kind} ({target})")
        if isinstance(fitted, Problem):
            problems.append(fitted)
            return None
        return fitted
    if kind in ("string", "binary"):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("bytes" if kind == "binary" else "string", "empty"):
            return series
        problems.append(Problem(name, kind, _found(series, inferred), _first_present(series)))
        return None
    if kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series):
            return series
        if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
            problems.append(Problem(name, kind, _found(series, ""), _first_present(series)))
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        bad = (parsed.isna() & series.notna()).to_numpy()
        if bad.any():
            problems.append(Problem(name, kind, "text that is not a date", int(bad.argmax())))
            return None
        return parsed
    return series  # array, object, map, any: MLflow checks these itself


def _found(series: Any, inferred: str) -> str:
    if inferred in ("string", "mixed"):
        return "text"
    return str(series.dtype)


def _first_present(series: Any) -> int | None:
    present = series.notna().to_numpy()
    return int(present.argmax()) if present.any() else None


def _raise(problems: list[Problem], where: str, first_row: int) -> None:
    if problems:
        details = "; ".join(problem.describe(first_row) for problem in problems)
        raise SignatureError(f"{where} does not fit the model's signature: {details}.")


def _tensor_spec(spec: dict[str, Any]) -> tuple[str, list[int]]:
    tensor = spec.get("tensor-spec") or {}
    return str(tensor.get("dtype")), [int(d) for d in tensor.get("shape") or [-1]]


def _shape(shape: list[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _names(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
