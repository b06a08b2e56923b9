"""Converting a request's JSON values to the types of ``@input_schema`` (the shim's parameter types).

The same policy as no-code MLflow deployments (``convert``): a value may change type only when it
stays the same value: 3 for a float64 sample is 3.0, 2.5 for an int64 sample is refused, text is
never a number and booleans are never numbers. A ``SchemaError`` says what does not fit (the column,
the field, the shape), what was expected and what was found, and a sample row, never the data
itself. Values that are already of the type (a script calling ``run`` itself) pass unchanged.

Runs inside the model's environment: numpy and pandas are imported when first needed.
"""

from __future__ import annotations

import datetime
import importlib
import sys
import warnings
from typing import Any

from thresher.runtime.convert import NumericData, Problem, fit_array, numeric_values


class SchemaError(ValueError):
    """A value that does not fit its parameter type; the message says where and why, without the data."""


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages that must not show it: ``a JSON object``, ``a number``, ..."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, (list, tuple)):
        return "a JSON array"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else f"a {type(value).__name__}"


def _module(name: str) -> Any:
    """numpy or pandas: already imported by the script whose sample uses them (imported here otherwise)."""
    return sys.modules.get(name) or importlib.import_module(name)


def is_parameter_type(value: Any) -> bool:
    """Whether ``value`` is an ``inference_schema`` parameter type (built-in or the user's own)."""
    return callable(getattr(value, "deserialize_input", None)) and callable(getattr(value, "input_to_swagger", None))


# ---- standard Python values ------------------------------------------------------------------------


def standard_input(ptype: Any, value: Any) -> Any:
    """``value`` with the type of ``ptype.sample_input`` (nested parameter types convert their parts)."""
    return _standard(ptype.sample_input, value, "the value")


def _standard(sample: Any, value: Any, where: str) -> Any:
    if is_parameter_type(sample):
        return sample.deserialize_input(value)
    if sample is None:
        return value
    if isinstance(sample, bool):
        return _exact(value, where, bool)
    if isinstance(sample, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _exact(value, where, int)
    if isinstance(sample, float):
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return _exact(value, where, float)
    if isinstance(sample, (datetime.date, datetime.time)):
        return _moment(sample, value, where)
    if isinstance(sample, str):
        return _exact(value, where, str)
    if isinstance(sample, dict):
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: expected a JSON object like the sample, found {json_kind(value)}")
        return {k: _nested(sample[k], v, f"key {k!r}") if k in sample else v for k, v in value.items()}
    if isinstance(sample, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise SchemaError(f"{where}: expected a JSON array like the sample, found {json_kind(value)}")
        items = list(value)
        if sample and len({type(item) for item in sample}) == 1:
            items = [_nested(sample[0], item, f"item {i}") for i, item in enumerate(items)]
        return tuple(items) if isinstance(sample, tuple) else items
    return value


def _nested(sample: Any, value: Any, where: str) -> Any:
    """Inside a dict or list, only parameter types, dates and containers of them are converted (as Azure)."""
    if is_parameter_type(sample) or isinstance(sample, (datetime.date, datetime.time, dict, list, tuple)):
        return _standard(sample, value, where)
    return value


def _exact(value: Any, where: str, kind: type) -> Any:
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    expected = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}[kind]
    raise SchemaError(f"{where}: expected {expected} like the sample, found {json_kind(value)}")


def _moment(sample: Any, value: Any, where: str) -> Any:
    kind = type(sample) if isinstance(sample, (datetime.datetime, datetime.time)) else datetime.date
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        try:
            return kind.fromisoformat(text)
        except ValueError:
            pass
    raise SchemaError(f"{where}: expected an ISO 8601 {kind.__name__} string like the sample, found {json_kind(value)}")


# ---- numpy arrays ------------------------------------------------------------------------------------


def numpy_input(ptype: Any, value: Any) -> Any:
    """``value`` (nested lists) as an array like ``ptype.sample_input`` (shape checked but for the rows)."""
    np = _module("numpy")
    sample = ptype.sample_input
    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, (list, tuple)):
        raise SchemaError(f"expected a JSON array like the sample, found {json_kind(value)}")
    if sample.dtype.names:
        return _structured(np, ptype, list(value))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.array(value, dtype=object if sample.dtype.kind == "O" else None)
    except (ValueError, TypeError):
        raise SchemaError("the array is ragged: its rows do not all have the same length") from None
    if ptype.enforce_shape and (data.ndim != sample.ndim or data.shape[1:] != sample.shape[1:]):
        raise SchemaError(
            f"expected an array of shape {_shape(sample.shape)} like the sample (any number of rows), "
            f"found shape {_shape(data.shape, rows=True)}"
        )
    if not ptype.enforce_column_type:
        return data
    fitted = _fit_numpy(np, data, sample.dtype, "the array")
    if isinstance(fitted, Problem):
        raise SchemaError(fitted.describe(0))
    return fitted


def _shape(shape: tuple[int, ...], rows: bool = False) -> str:
    dims = [str(d) for d in shape]
    if dims and not rows:
        dims[0] = "n"
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _fit_numpy(np: Any, data: Any, target: Any, what: str) -> Any:
    """``data`` as ``target`` dtype, or the ``Problem`` (its position counted in rows)."""
    if data.dtype == target:
        return data
    per_row = max(1, int(np.prod(data.shape[1:]))) if data.ndim > 1 else 1
    kind = data.dtype.kind
    if target.kind in "biuf":
        if kind in "biuf":
            fitted = fit_array(NumericData(data.reshape(-1), None, str(data.dtype)), target, what, str(target))
            if isinstance(fitted, Problem):
                row = None if fitted.position is None else fitted.position // per_row
                return Problem(fitted.what, fitted.expected, fitted.found, row)
            return fitted.reshape(data.shape)
        found = "text" if kind in "US" else "null or non-numeric values"
        return Problem(what, str(target), found, None)
    if target.kind in "US":
        return data if kind == "U" else Problem(what, "text", str(data.dtype), None)
    if target.kind == "O":
        return data if kind == "O" else data.astype(object)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return data.astype(target)
    except (ValueError, TypeError):
        found = "text that is not a date" if target.kind == "M" and kind == "U" else str(data.dtype)
        return Problem(what, str(target), found, None)


def _structured(np: Any, ptype: Any, rows: list[Any]) -> Any:
    """Rows as objects (by field name) or lists (by position) into a structured array like the sample."""
    dtype = ptype.sample_input.dtype
    names = list(dtype.names)
    out = np.empty(len(rows), dtype=dtype)
    problems = []
    for position, name in enumerate(names):
        column = []
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                column.append(row.get(name))
            elif isinstance(row, (list, tuple)) and len(row) == len(names):
                column.append(row[position])
            else:
                raise SchemaError(
                    f"row {i}: expected an object with the fields {', '.join(map(repr, names))} or a list of "
                    f"{len(names)} values, found {json_kind(row)}"
                    + (f" of {len(row)} values" if isinstance(row, (list, tuple)) else "")
                )
        values = np.array(column, dtype=object if any(v is None for v in column) else None)
        target = dtype.fields[name][0]
        fitted = _fit_numpy(np, values, target, f"field {name!r}") if ptype.enforce_column_type else values
        if isinstance(fitted, Problem):
            problems.append(fitted.describe(0))
        else:
            out[name] = fitted
    if problems:
        raise SchemaError("; ".join(problems))
    return out


# ---- pandas DataFrames -------------------------------------------------------------------------------


def pandas_input(ptype: Any, value: Any) -> Any:
    """``value`` (JSON in the ``orient`` layout) as a DataFrame with the sample's columns and dtypes."""
    pd = _module("pandas")
    sample = ptype.sample_input
    if isinstance(value, pd.DataFrame):
        return value
    frame = _frame(pd, ptype, value)
    by_text = {str(c): c for c in sample.columns if not isinstance(c, str)}
    frame = frame.rename(columns={c: by_text[c] for c in frame.columns if c in by_text and c not in sample.columns})
    unnamed = list(frame.columns) == list(range(len(frame.columns)))
    if (
        (ptype.apply_column_names or ptype.orient == "values")
        and unnamed
        and list(sample.columns) != list(frame.columns)
    ):
        if len(frame.columns) != len(sample.columns):
            raise SchemaError(
                f"expected rows of {len(sample.columns)} values (the sample's columns), found {len(frame.columns)}"
            )
        frame.columns = sample.columns
    if ptype.enforce_shape:
        missing = [c for c in sample.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in sample.columns]
        if missing or extra:
            said = [f"missing column(s) {', '.join(map(repr, missing))}"] if missing else []
            said += [f"unexpected column(s) {', '.join(map(repr, map(str, extra)))}"] if extra else []
            raise SchemaError(
                f"{' and '.join(said)}; send exactly the sample's columns {list(map(str, sample.columns))}"
            )
        frame = frame[list(sample.columns)]
    if ptype.enforce_column_type:
        frame = _fit_columns(pd, sample, frame)
    return frame


def _frame(pd: Any, ptype: Any, value: Any) -> Any:
    orient, sample = ptype.orient, ptype.sample_input
    rows_layout = orient in ("records", "values", "table")
    if rows_layout and orient == "table" and isinstance(value, dict):
        value = value.get("data")
    if rows_layout and not isinstance(value, list):
        raise SchemaError(f"expected a JSON array of rows (orient={orient!r}), found {json_kind(value)}")
    if not rows_layout and not isinstance(value, dict):
        raise SchemaError(f"expected a JSON object (orient={orient!r}), found {json_kind(value)}")
    if rows_layout and not value:
        return sample.iloc[:0].copy()
    if orient in ("records", "table"):
        named = all(isinstance(row, dict) for row in value)
        if not named and not (ptype.apply_column_names and all(isinstance(row, list) for row in value)):
            first = next(i for i, row in enumerate(value) if not isinstance(row, dict))
            raise SchemaError(f"row {first}: expected a JSON object of column values, found {json_kind(value[first])}")
    elif orient == "values" and not all(isinstance(row, list) for row in value):
        raise SchemaError("expected a JSON array of rows, each a JSON array of values")
    elif orient == "split" and not isinstance(value.get("data"), list):
        raise SchemaError("expected a JSON object with a 'data' array (and 'columns', 'index'), as orient='split'")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if orient == "split":
                columns = value.get("columns")
                return pd.DataFrame(value["data"], columns=columns, index=value.get("index"))
            if orient == "index":
                return pd.DataFrame.from_dict(value, orient="index")
            return pd.DataFrame(value)
    except (ValueError, TypeError, KeyError, AttributeError):  # pandas' own words may quote the data
        raise SchemaError(f"the value cannot be read as a table with orient={orient!r}") from None


def _fit_columns(pd: Any, sample: Any, frame: Any) -> Any:
    """Each of the sample's columns in ``frame`` converted to the sample's dtype; every misfit reported at once."""
    columns, problems = {}, []
    for name in frame.columns:
        column = frame[name]
        if name in sample.columns:
            fitted = _fit_column(pd, column, sample[name], f"column {str(name)!r}")
            if isinstance(fitted, Problem):
                problems.append(fitted.describe(0))
                continue
            column = fitted
        columns[name] = column
    if problems:
        raise SchemaError("; ".join(problems))
    return pd.DataFrame(columns, index=frame.index)


def _fit_column(pd: Any, column: Any, model: Any, what: str) -> Any:
    np = _module("numpy")
    types, target = pd.api.types, model.dtype
    present = column.notna().to_numpy()
    first = int(present.argmax()) if present.any() else None
    if isinstance(target, np.dtype) and target.kind in "biuf":
        fitted = fit_array(numeric_values(column), target, what, str(target))
        return fitted if isinstance(fitted, Problem) else pd.Series(fitted, index=column.index, name=column.name)
    if (isinstance(target, np.dtype) and target.kind == "O") or types.is_string_dtype(target):
        if types.infer_dtype(model, skipna=True) == "string":
            found = types.infer_dtype(column, skipna=True)
            if found not in ("string", "empty"):
                bad = column.map(lambda v: v is not None and v == v and not isinstance(v, str)).to_numpy()
                return Problem(what, "text", found, int(bad.argmax()) if bad.any() else first)
        return column if isinstance(target, np.dtype) else column.astype(target)
    if types.is_datetime64_any_dtype(target):
        tz = getattr(target, "tz", None)
        text = types.infer_dtype(column, skipna=True) == "string"
        parsed = pd.to_datetime(column, errors="coerce", utc=tz is not None) if text else None
        if parsed is None or bool((parsed.isna() & column.notna()).any()):
            bad = (parsed.isna() & column.notna()).to_numpy() if parsed is not None else present
            return Problem(what, f"{target} (ISO 8601 text)", "a value that is not a date", int(bad.argmax()))
        return parsed.dt.tz_convert(tz) if tz is not None else parsed.astype(target)
    try:
        converted = column.astype(target)
    except (ValueError, TypeError):
        return Problem(what, str(target), str(column.dtype), first)
    lost = (converted.isna() & column.notna()).to_numpy()
    if lost.any():  # a category the sample does not have, ...
        return Problem(what, str(target), "a value it cannot hold", int(lost.argmax()))
    return converted
