"""Lossless type conversion of numeric data, value by value: the rule under the signature policy.

``fit_array`` converts an array to a target numpy dtype when no value changes, and otherwise says
which value (its position) would change and how: a missing value for an integer type, a fractional
part, a value out of range, or a value the target cannot hold exactly (int64 or float64 to a float
type). Widening casts that can never change a value (int32 to int64 or float64, float32 to float64)
are not checked; numpy's "safe" int64 to float64 is not one of them.
Booleans are not numbers; integers that are all 0 or 1 may become booleans.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """Why some data cannot take the expected type; ``position`` is the first offending value."""

    what: str  # column 'age', the image
    expected: str  # double (float64)
    found: str  # int64 with a value that float64 cannot hold exactly
    position: int | None

    def describe(self, first_row: int | None, *, values: bool = False) -> str:
        """One clause: what, expected, found, and a sample row (or value position, for images)."""
        sample = ""
        if self.position is not None:
            sample = f" (e.g. value {self.position})" if values else f" (e.g. row {(first_row or 0) + self.position})"
        return f"{self.what}: expected {self.expected}, found {self.found}{sample}"


@dataclass(frozen=True)
class NumericData:
    """A column's values as a numpy array (None: not numeric), its missing-value mask, and its type name."""

    values: Any
    mask: Any
    found: str
    position: int | None = None  # for non-numeric data: a sample offending position


def numeric_values(series: Any) -> NumericData:
    """The numbers of a pandas Series (numpy or nullable dtypes); text and other types are not numbers."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    types = pd.api.types
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return NumericData(series.to_numpy(), None, str(dtype))
    numeric = types.is_bool_dtype(dtype) or types.is_integer_dtype(dtype) or types.is_float_dtype(dtype)
    if numeric and hasattr(dtype, "numpy_dtype"):  # nullable Int64, Float64, boolean, Arrow types
        mask = series.isna().to_numpy()
        fill = False if types.is_bool_dtype(dtype) else 0
        values = series.to_numpy(dtype=dtype.numpy_dtype, na_value=fill)
        return NumericData(values, mask if mask.any() else None, str(dtype))
    inferred = types.infer_dtype(series, skipna=True)
    numbers = ("integer", "floating", "mixed-integer-float", "boolean")
    if isinstance(dtype, np.dtype) and dtype.kind == "O" and inferred in numbers:
        typed = series.infer_objects()
        if typed.dtype.kind != "O":
            return numeric_values(typed)
    present = series.notna().to_numpy()
    if inferred in ("string", "mixed", "mixed-integer"):
        not_number = pd.to_numeric(series, errors="coerce").isna().to_numpy() & present
        sample = not_number if not_number.any() else present
        return NumericData(None, None, "text", int(sample.argmax()) if sample.any() else None)
    return NumericData(None, None, str(dtype), int(present.argmax()) if present.any() else None)


def fit_array(data: NumericData, target: Any, what: str, expected: str) -> Any:
    """``data.values`` as ``target`` dtype when no value changes; otherwise a ``Problem``."""
    np = importlib.import_module("numpy")
    values, mask = data.values, data.mask
    if values is None:
        return Problem(what, expected, data.found, data.position)
    source = values.dtype
    if (source.kind == "b") != (target.kind == "b") and not (target.kind == "b" and source.kind in "iu"):
        first = 0 if len(values) else None
        return Problem(what, expected, "boolean values" if source.kind == "b" else data.found, first)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = values.astype(target)
        checks = [] if _always_exact(np, source, target) else _checks(np, values, converted, target)
    for reason, bad in checks:
        if mask is not None:
            bad = bad & ~mask
        if bad.any():
            return Problem(what, expected, f"{data.found} with {reason}", int(bad.argmax()))
    if mask is not None:
        if target.kind != "f":
            return Problem(what, expected, f"{data.found} with a missing value", int(mask.argmax()))
        converted[mask] = np.nan
    return converted


def _always_exact(np: Any, source: Any, target: Any) -> bool:
    """Whether every value of ``source`` type has the same value in ``target`` (so none is checked)."""
    if source == target:
        return True
    if source.kind == target.kind and source.kind in "iuf":
        return bool(source.itemsize <= target.itemsize)
    if source.kind == "u" and target.kind == "i":
        return bool(source.itemsize < target.itemsize)
    if source.kind in "iu" and target.kind == "f":  # numpy calls int64 -> float64 "safe"; it is not
        return bool(source.itemsize * 8 <= np.finfo(target).nmant + 1)
    return False


def _checks(np: Any, values: Any, converted: Any, target: Any) -> list[tuple[str, Any]]:
    """(reason, offending mask) pairs, most telling first."""
    if target.kind == "b":
        return [("a value other than 0 and 1", (values != 0) & (values != 1))]
    back = converted.astype(values.dtype)
    if values.dtype.kind == "f":
        nan = np.isnan(values)
        if target.kind in "iu":
            finite = np.isfinite(values)
            info = np.iinfo(target)
            return [
                ("a missing value", nan),
                ("a fractional part", finite & (values != np.trunc(values))),
                (f"a value out of the {target} range", (values < info.min) | (values > info.max) | (back != values)),
            ]
        return [(f"a value that {target} cannot hold exactly", (back != values) & ~nan)]
    if target.kind == "f":
        return [(f"a value that {target} cannot hold exactly", back != values)]
    info = np.iinfo(target)  # integer to integer: a wrapped value comes back unchanged, so compare with the range
    return [(f"a value out of the {target} range", (values < info.min) | (values > info.max))]
