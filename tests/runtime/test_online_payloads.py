"""The fast paths of online request and reply bodies give what the plain paths give.

orjson reads JSON, an all-float split body becomes one float64 matrix, and a finite float64 (or integer)
array of predictions is written by orjson; each must be indistinguishable from the standard library and
pandas' own inference, and step aside for what they would read or write differently.
"""

from __future__ import annotations

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
