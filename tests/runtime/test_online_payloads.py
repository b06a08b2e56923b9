"""The fast paths of online request and reply bodies give what the plain paths give.

orjson reads JSON, an all-float split body becomes one float64 matrix, and a finite float64 (or integer)
array of predictions is written by orjson; each must be indistinguishable from the standard library and
pandas' own inference, and step aside for what they would read or write differently.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from thresher.runtime import online_payloads
from thresher.runtime.online_payloads import PayloadError, encode_predictions, read_json, split_frame


def test_orjson_is_there_to_take_the_fast_paths() -> None:
    assert online_payloads.orjson is not None, "orjson is a dependency of thresher's server and of MLflow envs"


@pytest.mark.parametrize(
    "data",
    [
        [[1.5, -2.25, 3.0], [0.1, 1e-7, 2e300]],  # every value a float: the float64 matrix
        [[1, 2.5, 3.0], [4, 5.5, 6.0]],  # an all-integer column stays int64, as pandas infers it
        [[True, 2.5, 1.0], [False, 0.5, 2.0]],  # booleans are not read as 1.0
        [[None, 2.5, 1.0], [1.0, 0.5, 2.0]],
        [["a", 2.5, 1.0], ["b", 0.5, 2.0]],
    ],
)
def test_a_split_body_reads_as_pandas_reads_it(data: list[list[object]]) -> None:
    split = {"columns": ["a", "b", "c"], "data": data}
    fast = split_frame(json.loads(json.dumps(split)), "input_data")
    pd.testing.assert_frame_equal(fast, pd.DataFrame(data, columns=["a", "b", "c"]))


def test_a_float_split_body_keeps_its_index_and_checks_its_shape() -> None:
    fast = split_frame({"columns": ["x", "y"], "index": [7, 9], "data": [[1.0, 2.0], [3.0, 4.0]]}, "input_data")
    assert list(fast.index) == [7, 9] and fast.dtypes.tolist() == [np.float64, np.float64]
    with pytest.raises(PayloadError, match="row 1 has 1 values and there are 2 columns"):
        split_frame({"columns": ["x", "y"], "data": [[1.0, 2.0], [3.0]]}, "input_data")


@pytest.mark.parametrize(
    "body",
    [
        b'{"input_data": [[1.5, 2]], "params": {"k": "v"}}',
        b'{"a": NaN, "b": Infinity}',  # not JSON, but Python's json (and MLflow) read it
        '{"text": "\u00e9"}'.encode("utf-16"),  # another encoding
    ],
)
def test_json_bodies_read_as_the_standard_library_reads_them(body: bytes) -> None:
    expected = json.loads(body)
    got = read_json(body, "application/json")
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_an_integer_past_64_bits_reads_as_the_nearest_float() -> None:
    # orjson's one difference from Python's json, kept: a JavaScript client could not send it either
    assert read_json(b'{"big": 123456789012345678901234567890}', "application/json") == {"big": 1.2345678901234568e29}


def test_broken_json_is_still_a_400_with_the_standard_librarys_position() -> None:
    with pytest.raises(PayloadError, match=r"not valid JSON \(Expecting value, line 1 column 16\)"):
        read_json(b'{"input_data": }', "application/json")


@pytest.mark.parametrize(
    "predictions",
    [
        np.array([1.5, 1e-5, 2.0, 1e300, -0.0]),
        np.arange(6, dtype=np.int64).reshape(2, 3),
        np.array([True, False]),
        np.array([1.0, np.nan, np.inf]),  # NaN and Infinity as Python's json writes them
        np.array([0.1, 0.2], dtype=np.float32),  # float32 as its float64 value, as tolist() gives it
        np.arange(8.0)[::2],  # not contiguous
        pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}),
        [1, 2, 3],
    ],
)
def test_predictions_are_written_as_json_dumps_writes_them(predictions: object) -> None:
    plain = online_payloads.jsonable(predictions)
    for key in (None, "predictions"):
        expected = json.dumps(plain if key is None else {key: plain})
        got = encode_predictions(predictions, key)
        assert json.dumps(json.loads(got)) == expected


def _parquet_bytes(frame: pd.DataFrame, **options: object) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, **options)
    return buffer.getvalue()


_numbers = {"f": [1.5, -2.0, 3.25], "i": [1, 2, 3], "b": [True, False, True]}


@pytest.mark.parametrize(
    ("frame", "options"),
    [
        (pd.DataFrame(_numbers), {}),  # a RangeIndex, kept as metadata only
        (pd.DataFrame(_numbers, index=pd.Index([7, 8, 9], name="id")), {}),  # an index stored as a column
        (pd.DataFrame(_numbers, index=pd.Index([7, 8, 9], name="id")), {"index": False}),
        (pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"), "g": np.float32([1, 2, 3])}), {}),
        (pd.DataFrame({"i8": np.int8([1, 2, 3]), "u64": np.uint64([1, 2**64 - 1, 3])}), {}),
        (pd.DataFrame({"f": [1.0, float("nan"), 2.0], "s": ["a", "b", None]}), {}),  # text: pandas' own reader
        (pd.DataFrame({"t": pd.date_range("2026-01-01", periods=3, tz="UTC"), "f": [1.0, 2.0, 3.0]}), {}),
    ],
)
def test_a_parquet_body_reads_as_pandas_reads_it(frame: pd.DataFrame, options: dict[str, object]) -> None:
    frame.attrs = {"source": "test"}
    body = _parquet_bytes(frame, **options)
    raw = online_payloads.read_invocations(body, online_payloads.PARQUET, {}, False)
    pd.testing.assert_frame_equal(raw.data, pd.read_parquet(io.BytesIO(body)))
    assert raw.data.attrs == pd.read_parquet(io.BytesIO(body)).attrs


def test_the_numeric_parquet_path_takes_only_numbers() -> None:
    numbers = _parquet_bytes(pd.DataFrame(_numbers))
    text = _parquet_bytes(pd.DataFrame({"f": [1.0], "s": ["a"]}))
    assert online_payloads._numeric_parquet(numbers) is not None
    assert online_payloads._numeric_parquet(text) is None


def test_a_broken_parquet_body_is_a_400() -> None:
    body = _parquet_bytes(pd.DataFrame(_numbers))[:-20]
    with pytest.raises(PayloadError, match="not a Parquet file") as error:
        online_payloads.read_invocations(body, online_payloads.PARQUET, {}, False)
    assert error.value.status == 400


def _sent(matrix: online_payloads.Matrix) -> online_payloads.RawInput:
    """The matrix as the worker gets it: its header through JSON, its values as bytes."""
    return online_payloads.matrix_frame(json.loads(json.dumps(matrix.header())), matrix.values.tobytes())


_FLOATS = [[1.5, -2.25, 3.0], [0.1, 1e-7, 2e300], [float("nan"), 0.0, -0.0]]


@pytest.mark.parametrize(
    "split",
    [
        {"columns": ["a", "b", "c"], "data": _FLOATS},
        {"columns": ["a", "b", "c"], "index": [10, "x", 2.5], "data": _FLOATS},
        {"data": _FLOATS},  # no column names
    ],
)
@pytest.mark.parametrize("params", [None, {"scale": 2.0}])
def test_a_body_read_ahead_as_a_matrix_is_what_the_worker_reads(split: dict[str, object], params: object) -> None:
    score = json.dumps({"input_data": split, **({"params": params} if params else {})}).encode()
    invocations = json.dumps({"dataframe_split": split, **({"params": params} if params else {})}).encode()
    for body, is_score, plain in (
        (score, True, lambda: online_payloads.read_score(score, "application/json", set())),
        (invocations, False, lambda: online_payloads.read_invocations(invocations, "application/json", {}, False)),
    ):
        matrix = online_payloads.read_matrix(body, "application/json", score=is_score)
        assert matrix is not None
        ahead, worker = _sent(matrix), plain()
        pd.testing.assert_frame_equal(ahead.data, worker.data)
        assert (ahead.form, ahead.params) == (worker.form, worker.params)


@pytest.mark.parametrize(
    ("body", "content_type", "score"),
    [
        (b'{"input_data": {"data": [[1, 2.5]]}}', "application/json", True),  # an integer: pandas' inference
        (b'{"input_data": {"data": [["a", 2.5]]}}', "application/json", True),
        (b'{"input_data": {"data": [[1.5, 2.5]]}, "extra": 1}', "application/json", True),  # a 400 of the worker's
        (b'{"input_data": {"data": [[1.5, 2.5], [1.5]]}}', "application/json", True),
        (b'{"input_data": {"data": [[1.5]], "index": [1, 2]}}', "application/json", True),
        (b'{"input_data": [[1.5, 2.5]]}', "application/json", True),  # a tensor
        (b'{"input_data": {"data": [[1.5, 2.5]], "mask": [[1.0]]}}', "application/json", True),  # named tensors
        (b'{"input_data": {"data": []}}', "application/json", True),
        (b'{"input_data": {"data": [[1.5, 2.5]]', "application/json", True),  # broken JSON
        (b'{"dataframe_split": {"data": [[1.5, 2.5]]}}', "text/csv", False),
        (b'{"dataframe_split": {"data": [[1.5, 2.5]]}}', "application/json; charset=latin-1", False),
        (b'{"dataframe_split": {"data": [[1.5, 2.5]]}, "instances": []}', "application/json", False),
        (b'{"dataframe_records": [{"a": 1.5}]}', "application/json", False),
    ],
)
def test_any_other_body_is_left_for_the_worker_to_read(body: bytes, content_type: str, score: bool) -> None:
    assert online_payloads.read_matrix(body, content_type, score=score) is None
