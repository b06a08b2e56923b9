"""The rules under ``@input_schema`` (in-process): converting JSON to each parameter type, describing the
types in Swagger, the ``AMLRequest`` / ``AMLResponse`` objects, and encoding what ``run`` returns.

The shims are imported here through the ``thresher.runtime.shims`` package; the served path (shims
as top-level packages) is covered by test_online_script.py.
"""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pytest

from thresher.runtime.online_reply import EncodeError, json_reply
from thresher.runtime.online_schema import SchemaError
from thresher.runtime.shims.azureml_inference_server_http.api.aml_request import AMLRequest
from thresher.runtime.shims.azureml_inference_server_http.api.aml_response import AMLResponse
from thresher.runtime.shims.inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from thresher.runtime.shims.inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from thresher.runtime.shims.inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)

# ---- numpy -----------------------------------------------------------------------------------------------


def test_numpy_takes_lossless_casts_and_names_the_row_of_one_that_is_not() -> None:
    floats = NumpyParameterType(np.zeros((1, 2)))
    converted = floats.deserialize_input([[1, 2], [3, 4]])
    assert converted.dtype == np.float64 and converted.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    ints = NumpyParameterType(np.zeros((1, 2), dtype=np.int64))
    assert ints.deserialize_input([[1.0, 2.0]]).dtype == np.int64
    with pytest.raises(SchemaError, match=r"expected int64, found float64 with a fractional part \(e.g. row 1\)"):
        ints.deserialize_input([[1.0, 2.0], [3.0, 2.5]])
    with pytest.raises(SchemaError, match="found boolean values"):
        floats.deserialize_input([[True, False]])
    with pytest.raises(SchemaError, match="ragged"):
        floats.deserialize_input([[1.0, 2.0], [3.0]])
    assert NumpyParameterType(np.zeros((1, 2)), enforce_shape=False).deserialize_input([1.0, 2.0, 3.0]).shape == (3,)
    array = np.ones((1, 2))
    assert floats.deserialize_input(array) is array  # a script calling run() with an array


def test_numpy_structured_arrays_take_objects_or_lists() -> None:
    sample = np.array([(1.5, 2)], dtype=[("width", "f8"), ("count", "i8")])
    kind = NumpyParameterType(sample)
    got = kind.deserialize_input([{"width": 1, "count": 3}, [2.5, 4]])
    assert got.dtype == sample.dtype and got.tolist() == [(1.0, 3), (2.5, 4)]
    with pytest.raises(SchemaError, match="field 'count': expected int64, found float64 with a fractional part"):
        kind.deserialize_input([{"width": 1, "count": 3.5}])
    schema = kind.input_to_swagger()
    assert schema["items"]["properties"]["count"] == {"type": "integer", "format": "int64"}
    assert schema["example"] == [{"width": 1.5, "count": 2}]


# ---- pandas ----------------------------------------------------------------------------------------------


SAMPLE = pd.DataFrame({"age": [30], "height": [1.8], "name": ["ann"]})


@pytest.mark.parametrize(
    ("orient", "sent"),
    [
        ("records", [{"name": "bo", "height": 2, "age": 40}]),
        ("split", {"columns": ["age", "height", "name"], "data": [[40, 2, "bo"]]}),
        ("values", [[40, 2.0, "bo"]]),
        ("index", {"0": {"age": 40, "height": 2.0, "name": "bo"}}),
        ("columns", {"age": {"0": 40}, "height": {"0": 2.0}, "name": {"0": "bo"}}),
    ],
)
def test_pandas_reads_each_orient_into_the_samples_columns_and_dtypes(orient: str, sent: object) -> None:
    frame = PandasParameterType(SAMPLE, orient=orient).deserialize_input(sent)
    assert list(frame.columns) == ["age", "height", "name"]
    assert frame.dtypes.tolist() == SAMPLE.dtypes.tolist()
    assert frame.iloc[0].tolist() == [40, 2.0, "bo"]


def test_pandas_reports_every_column_that_does_not_fit_without_its_values() -> None:
    kind = PandasParameterType(SAMPLE)
    rows = [{"age": 1, "height": 1.0, "name": "a"}, {"age": None, "height": "tall-secret", "name": 7}]
    with pytest.raises(SchemaError) as caught:
        kind.deserialize_input(rows)
    said = str(caught.value)
    assert "column 'age': expected int64, found float64 with a missing value (e.g. row 1)" in said
    assert "column 'height': expected float64, found text (e.g. row 1)" in said
    assert "column 'name': expected text, found mixed-integer (e.g. row 1)" in said
    assert "secret" not in said
    with pytest.raises(SchemaError, match=r"missing column\(s\) 'name'"):
        kind.deserialize_input([{"age": 1, "height": 1.0}])
    loose = PandasParameterType(SAMPLE, enforce_shape=False).deserialize_input([{"age": 1, "extra": "x"}])
    assert list(loose.columns) == ["age", "extra"]
    assert kind.deserialize_input([]).columns.tolist() == ["age", "height", "name"]


def test_pandas_column_names_applied_dates_and_number_named_columns() -> None:
    positional = PandasParameterType(SAMPLE, apply_column_names=True).deserialize_input([[5, 1.5, "c"]])
    assert positional.iloc[0].tolist() == [5, 1.5, "c"]
    dated = pd.DataFrame({"when": pd.to_datetime(["2024-01-02"])})
    frame = PandasParameterType(dated).deserialize_input([{"when": "2025-03-04T05:06:07"}])
    assert frame["when"].dtype == dated["when"].dtype and frame["when"][0] == pd.Timestamp("2025-03-04T05:06:07")
    with pytest.raises(SchemaError, match=r"column 'when': .* found a value that is not a date"):
        PandasParameterType(dated).deserialize_input([{"when": "soon"}])
    numbered = pd.DataFrame(np.zeros((1, 2)))
    assert PandasParameterType(numbered).deserialize_input([{"0": 1, "1": 2}]).columns.tolist() == [0, 1]


def test_pandas_swagger_describes_the_orient_layout() -> None:
    schema = PandasParameterType(SAMPLE, orient="split").input_to_swagger()
    assert schema["type"] == "object" and set(schema["properties"]) == {"columns", "index", "data"}
    assert schema["example"] == {"columns": ["age", "height", "name"], "index": [0], "data": [[30, 1.8, "ann"]]}
    records = PandasParameterType(SAMPLE).input_to_swagger()
    assert records["items"]["properties"]["name"] == {"type": "string"}


# ---- standard Python -------------------------------------------------------------------------------------


def test_standard_types_enforce_the_top_level_type_and_convert_nested_types() -> None:
    assert StandardPythonParameterType(1.5).deserialize_input(2) == 2.0
    with pytest.raises(SchemaError, match="expected an integer like the sample, found a string"):
        StandardPythonParameterType(1).deserialize_input("3")
    when = StandardPythonParameterType(datetime.datetime(2024, 1, 1)).deserialize_input("2024-05-06T07:08:09Z")
    assert when == datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    nested = StandardPythonParameterType({"rows": NumpyParameterType(np.zeros((1, 2))), "note": "x"})
    got = nested.deserialize_input({"rows": [[1, 2]], "note": 5})
    assert isinstance(got["rows"], np.ndarray) and got["note"] == 5  # plain keys pass as sent, as on Azure
    schema = nested.input_to_swagger()
    assert schema["properties"]["rows"]["type"] == "array" and schema["example"]["rows"] == [[0.0, 0.0]]


# ---- AMLRequest / AMLResponse ----------------------------------------------------------------------------


def test_amlrequest_reads_like_a_flask_request() -> None:
    request = AMLRequest(
        "post",
        "/score",
        "n=1&n=x&flag=",
        {"content-type": "application/x-www-form-urlencoded", "cookie": "session=abc"},
        b"a=1&b=two",
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded" and "CONTENT-TYPE" in request.headers
    assert request.args.get("n", type=int) == 1 and request.args.getlist("n", type=int) == [1]
    assert request.args.to_dict(flat=False) == {"n": ["1", "x"], "flag": [""]}
    assert request.form.to_dict() == {"a": "1", "b": "two"}
    assert request.values.getlist("n") == ["1", "x"]
    assert request.cookies == {"session": "abc"}
    assert (request.method, request.full_path) == ("POST", "/score?n=1&n=x&flag=")
    assert request.get_data(as_text=True) == "a=1&b=two"
    assert request.get_json(silent=True) is None
    with pytest.raises(ValueError, match="not valid JSON"):
        request.get_json()


def test_amlresponse_bodies_and_headers() -> None:
    as_json = AMLResponse({"a": 1}, 400, json_str=True, run_function_failed=True)
    assert (as_json.status_code, as_json.status, as_json.json) == (400, "400 Bad Request", {"a": 1})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.headers["X-MS-Run-Function-Failed"] == "True"
    text = AMLResponse("héllo", 200, headers={"X-Extra": "1"})
    assert text.get_data() == "héllo".encode() and text.content_type == "text/html; charset=utf-8"
    assert dict(text.headers.items()) == {"X-Extra": "1", "Content-Type": "text/html; charset=utf-8"}


# ---- what run() returns ----------------------------------------------------------------------------------


def test_return_values_are_encoded_as_json_or_refused_by_type() -> None:
    frame = pd.DataFrame({"a": [1, 2], "when": pd.to_datetime(["2024-01-01", None])})
    value = {"frame": frame, "array": np.arange(3), "scalar": np.float32(0.5), "series": frame["a"]}
    status, headers, body = json_reply(value)
    assert (status, headers) == (200, {"content-type": "application/json"})
    assert json.loads(body) == {
        "frame": [{"a": 1, "when": "2024-01-01T00:00:00"}, {"a": 2, "when": None}],
        "array": [0, 1, 2],
        "scalar": 0.5,
        "series": [1, 2],
    }
    with pytest.raises(EncodeError, match="type set, which JSON cannot hold"):
        json_reply({"labels": {1, 2}})
