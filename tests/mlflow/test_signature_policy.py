"""The signature policy (README "Signature policy"): lossless conversions accepted and checked, lossy
ones rejected with the file, column, expected and found type and a sample row, never the data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from thresher.runtime.signature import InputSignature, SignatureError

DOUBLES = InputSignature([{"type": "double", "name": n, "required": True} for n in ("age", "bmi")])
DIGITS = InputSignature([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 8, 8]}}])


def _error(signature: InputSignature, frame: pd.DataFrame, first_row: int = 0) -> str:
    with pytest.raises(SignatureError) as caught:
        signature.table(frame, "data/x.csv", first_row)
    return str(caught.value)


def test_an_int_column_for_a_double_field_is_accepted_when_every_value_is_exact() -> None:
    fitted, extra = DOUBLES.table(pd.DataFrame({"age": [1, 2, -(2**53)], "bmi": [0.5, 1.5, 2.5]}), "x.csv", 0)
    assert fitted["age"].dtype == np.float64 and fitted["age"].tolist() == [1.0, 2.0, -(2.0**53)]
    assert extra == []


def test_an_int_column_for_a_double_field_is_rejected_when_a_value_would_change() -> None:
    message = _error(DOUBLES, pd.DataFrame({"age": [1, 2, 2**53 + 1], "bmi": [0.5, 1.5, 2.5]}), first_row=100)
    assert message == (
        "data/x.csv does not fit the model's signature: column 'age': expected double (float64), found int64 "
        "with a value that float64 cannot hold exactly (e.g. row 102)."
    )


def test_a_missing_required_column_fails_and_names_the_signature() -> None:
    message = _error(DOUBLES, pd.DataFrame({"age": [1.0]}))
    assert "data/x.csv" in message and "no column 'bmi'" in message and "'age', 'bmi'" in message


def test_extra_columns_are_dropped_and_reported_for_one_warning() -> None:
    frame = pd.DataFrame({"zip": ["01234"], "bmi": [1.0], "age": [2.0], "id": [7]})
    fitted, extra = DOUBLES.table(frame, "x.csv", 0)
    assert list(fitted.columns) == ["age", "bmi"] and extra == ["zip", "id"]


def test_text_in_a_numeric_column_is_rejected_without_echoing_it() -> None:
    frame = pd.DataFrame({"age": ["1.5", "2.5", "secret-value", "3"], "bmi": [True, False, True, True]})
    message = _error(DOUBLES, frame, first_row=10)
    assert "column 'age': expected double (float64), found text (e.g. row 12)" in message
    assert "column 'bmi': expected double (float64), found boolean values (e.g. row 10)" in message
    assert "secret" not in message


def test_optional_columns_may_be_missing() -> None:
    signature = InputSignature(
        [{"type": "double", "name": "x", "required": True}, {"type": "string", "name": "note", "required": False}]
    )
    fitted, _ = signature.table(pd.DataFrame({"x": [1.0]}), "x.csv", 0)
    assert list(fitted.columns) == ["x"]


@pytest.mark.parametrize(
    ("values", "found"),
    [
        ([1.0, 2.5], "float64 with a fractional part (e.g. row 1)"),
        ([1.0, np.nan], "float64 with a missing value (e.g. row 1)"),
        ([1.0, 1e19], "float64 with a value out of the int64 range (e.g. row 1)"),
    ],
)
def test_a_float_column_for_a_long_field_must_be_whole(values: list[float], found: str) -> None:
    signature = InputSignature([{"type": "long", "name": "n", "required": True}])
    assert f"column 'n': expected long (int64), found {found}" in _error(signature, pd.DataFrame({"n": values}))
    fitted, _ = signature.table(pd.DataFrame({"n": [1.0, -3.0]}), "x.csv", 0)
    assert fitted["n"].dtype == np.int64 and fitted["n"].tolist() == [1, -3]


def test_nullable_integers_with_missing_values_become_nan_for_a_double_field() -> None:
    frame = pd.DataFrame({"age": pd.array([1, None, 3], dtype="Int64"), "bmi": [1.0, 2.0, 3.0]})
    fitted, _ = DOUBLES.table(frame, "x.csv", 0)
    assert fitted["age"].dtype == np.float64 and np.isnan(fitted["age"][1]) and fitted["age"][2] == 3.0


def test_float64_to_a_float32_tensor_is_accepted_when_exact_and_rejected_otherwise() -> None:
    exact = pd.DataFrame(np.arange(128, dtype=np.float64).reshape(2, 64) % 17)
    tensor = DIGITS.table(exact, "digits.csv", 0)[0]
    assert tensor.dtype == np.float32 and tensor.shape == (2, 8, 8) and tensor[1, 0, 0] == 64 % 17
    inexact = exact.copy()
    inexact.iloc[1, 5] = 0.1
    message = _error(DIGITS, inexact, first_row=40)
    assert message == (
        "data/x.csv does not fit the model's signature: column '5': expected float32 (tensor (-1, 8, 8)), "
        "found float64 with a value that float32 cannot hold exactly (e.g. row 41)."
    )


def test_a_table_with_the_wrong_number_of_values_per_row_for_a_tensor_fails() -> None:
    message = _error(DIGITS, pd.DataFrame(np.zeros((1, 63))))
    assert "it has 63 columns and the tensor (-1, 8, 8) takes 64 values per row" in message


def test_images_are_reshaped_and_cast_to_the_tensor() -> None:
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8)
    batch = DIGITS.image(pixels, b"", "x.png")
    assert batch.shape == (1, 8, 8) and batch.dtype == np.float32
    flat = InputSignature([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 64]}}])
    assert flat.image(pixels, b"", "x.png").shape == (1, 64)
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(SignatureError, match=r"the image is 8x8x3 \(192 values\) and the tensor \(-1, 8, 8\) takes 64"):
        DIGITS.image(rgb, b"", "x.png")
    small = InputSignature([{"type": "tensor", "tensor-spec": {"dtype": "int8", "shape": [-1, 8, 8]}}])
    with pytest.raises(SignatureError, match=r"found uint8 with a value out of the int8 range \(e.g. value 43\)"):
        small.image(pixels * 3, b"", "x.png")


def test_text_and_dates_are_read_as_text_and_checked() -> None:
    signature = InputSignature(
        [{"type": "string", "name": "zip", "required": True}, {"type": "datetime", "name": "day", "required": True}]
    )
    assert signature.text_columns() == {"zip": str, "day": str}
    fitted, _ = signature.table(pd.DataFrame({"zip": ["01234"], "day": ["2024-01-31"]}), "x.csv", 0)
    assert fitted["zip"].tolist() == ["01234"] and fitted["day"].dt.day.tolist() == [31]
    message = _error(signature, pd.DataFrame({"zip": [1234], "day": ["2024-01-31"]}))
    assert "column 'zip': expected string, found int64 (e.g. row 0)" in message


def test_several_named_tensors_cannot_be_fed_from_files() -> None:
    spec: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}
    with pytest.raises(SignatureError, match="several named inputs"):
        InputSignature([{**spec, "name": "a"}, {**spec, "name": "b"}])


def test_named_tensors_sent_online_are_fitted_each_by_the_lossless_rule() -> None:
    spec: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, 2]}}
    signature = InputSignature([{**spec, "name": "a"}, {**spec, "name": "b"}], named_tensors=True)
    fitted = signature.named_arrays({"a": [[1, 2]], "b": [[3.0, 4.0]], "extra": [0]}, "The request")
    assert sorted(fitted) == ["a", "b"] and fitted["b"].dtype == np.int64 and fitted["b"].tolist() == [[3, 4]]
    with pytest.raises(SignatureError) as caught:
        signature.named_arrays({"a": [[1, 2], [3, 4.5]], "b": [["secret", "x"]]}, "The request")
    assert str(caught.value) == (
        "The request does not fit the model's signature: tensor 'a': expected int64 (tensor (-1, 2)), found float64 "
        "with a fractional part (e.g. row 1); tensor 'b': expected int64 (tensor (-1, 2)), found text (e.g. row 0)."
    )
    with pytest.raises(SignatureError, match="it has no tensor 'b', which the signature requires"):
        signature.named_arrays({"a": [[1, 2]]}, "The request")
    with pytest.raises(SignatureError, match=r"several named tensors .* a table feeds one"):
        signature.table(pd.DataFrame({"a": [1]}), "The request", 0)


def test_a_tensor_sent_as_lists_keeps_its_shape_or_is_reshaped_per_item() -> None:
    assert DIGITS.array(np.zeros((2, 64)).tolist(), "r").shape == (2, 8, 8)
    with pytest.raises(SignatureError, match=r"the tensor has shape \(2, 63\), and the model takes \(-1, 8, 8\)"):
        DIGITS.array(np.zeros((2, 63)).tolist(), "r")
    with pytest.raises(SignatureError, match="the tensor is ragged"):
        DIGITS.array([[0.0] * 64, [0.0]], "r")


def test_no_signature_passes_data_as_read() -> None:
    frame = pd.DataFrame({"anything": ["goes"]})
    assert InputSignature(None).table(frame, "x.csv", 0) == (frame, [])
    assert InputSignature(None).image(np.zeros((2, 2), np.uint8), b"", "x.png").shape == (1, 2, 2)
