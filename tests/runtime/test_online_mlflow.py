"""The no-code MLflow online handler, called in-process with real models trained here: every payload family
returns the model's own predictions, the signature policy answers 400s that name the column, batches give each
request what it gets alone, and model errors are 424s whose traceback goes to the error log only."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from thresher.runtime import online_protocol
from thresher.runtime.entry import UserCodeError
from thresher.runtime.online_mlflow import MlflowHandler

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")

from mlflow.models import ModelSignature, infer_signature  # noqa: E402
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec  # noqa: E402

from tests.mlflow.conftest import DIABETES_COLUMNS, PYFUNC_INPUTS, diabetes  # noqa: E402
from tests.runtime import online_models  # noqa: E402

Exchange = online_protocol.Exchange


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Models trained and saved on the spot: diabetes (columns, no example), digits (a tensor, with an example),
    doubler (text and long columns, with an example), named tensors with a params schema, and a fragile model."""
    import cloudpickle
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from tests.mlflow import doubler

    root = tmp_path_factory.mktemp("online-models")
    frame, target = diabetes()
    regression = LinearRegression().fit(frame, target)
    mlflow.sklearn.save_model(
        regression, str(root / "diabetes"), signature=infer_signature(frame, regression.predict(frame))
    )
    digits = load_digits()
    classifier = LogisticRegression(max_iter=300).fit(digits.data[:400], digits.target[:400])
    mlflow.sklearn.save_model(
        classifier,
        str(root / "digits"),
        signature=infer_signature(digits.data[:2], classifier.predict(digits.data[:2])),
        input_example=digits.data[:2],
    )
    cloudpickle.register_pickle_by_value(doubler)
    cloudpickle.register_pickle_by_value(online_models)
    doubler_signature = ModelSignature(
        inputs=Schema(
            [
                ColSpec("double", "x"),
                ColSpec("long", "n"),
                ColSpec("string", "name"),
                ColSpec("string", "note", required=False),
            ]
        )
    )
    mlflow_pyfunc.save_model(
        str(root / "doubler"),
        python_model=doubler.Doubler(),
        signature=doubler_signature,
        input_example=PYFUNC_INPUTS.head(1),
    )
    named_signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float64"), (-1, 3), "a"), TensorSpec(np.dtype("int64"), (-1,), "b")]),
        params=ParamSchema([ParamSpec("scale", "double", 1.0)]),
    )
    mlflow_pyfunc.save_model(str(root / "named"), python_model=online_models.NamedTensors(), signature=named_signature)
    fragile_signature = ModelSignature(inputs=Schema([ColSpec("double", "x")]))
    mlflow_pyfunc.save_model(str(root / "fragile"), python_model=online_models.Fragile(), signature=fragile_signature)
    return {path.name: path for path in root.iterdir()}


def _handler(saved: dict[str, Path], name: str, log: Path) -> MlflowHandler:
    handler = MlflowHandler(str(saved[name]), str(log))
    handler.init()
    return handler


@pytest.fixture(scope="module")
def handlers(saved: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, MlflowHandler]:
    logs = tmp_path_factory.mktemp("logs")
    return {name: _handler(saved, name, logs / f"{name}.txt") for name in ("diabetes", "digits", "doubler", "named")}


@pytest.fixture(scope="module")
def models(saved: dict[str, Path]) -> dict[str, Any]:
    """The same models loaded by MLflow itself: what each request must get."""
    return {name: mlflow_pyfunc.load_model(str(saved[name])) for name in ("diabetes", "digits", "doubler", "named")}


def request(
    dialect: str, payload: Any, *, content_type: str = "application/json", path: str = "", id: str = "r-1"
) -> Exchange:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": content_type}
    return {"id": id, "dialect": dialect, "method": "POST", "path": path, "headers": headers, "length": len(body)}, body


def ask(handler: MlflowHandler, exchange: Exchange) -> tuple[int, Any]:
    [(reply, body)] = handler.handle([exchange])
    assert reply["length"] == len(body) and reply["headers"]["content-type"] == "application/json"
    assert set(reply["timing"]) == {"parse", "predict", "encode"}
    return reply["status"], json.loads(body)


ROWS = diabetes()[0].iloc[10:14]
SPLIT = {"columns": list(ROWS.columns), "index": list(range(10, 14)), "data": ROWS.to_numpy().tolist()}
DIGITS = load_digits().data[500:503]
NAMED = {"a": [[1, 2, 3], [4, 5, 6]], "b": [10, 20]}


def expected(models: dict[str, Any], name: str, data: Any, params: dict[str, Any] | None = None) -> Any:
    predictions = models[name].predict(data, params=params) if params else models[name].predict(data)
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    return np.asarray(predictions).tolist()


@pytest.mark.parametrize(
    ("dialect", "payload", "content_type"),
    [
        ("score", {"input_data": SPLIT}, "application/json"),
        ("invocations", {"dataframe_split": SPLIT}, "application/json"),
        ("invocations", {"dataframe_records": ROWS.to_dict(orient="records")}, "application/json"),
        ("invocations", {"instances": ROWS.to_dict(orient="records")}, "application/json"),
        ("invocations", {"inputs": ROWS.to_dict(orient="list")}, "application/json"),
        ("invocations", ROWS.to_csv(index=False).encode(), "text/csv; charset=utf-8"),
    ],
)
def test_every_column_payload_family_returns_the_models_own_predictions(
    handlers: dict[str, MlflowHandler], models: dict[str, Any], dialect: str, payload: Any, content_type: str
) -> None:
    status, answer = ask(handlers["diabetes"], request(dialect, payload, content_type=content_type))
    assert status == 200
    predictions = answer["predictions"] if dialect == "invocations" else answer
    assert predictions == expected(models, "diabetes", ROWS)


@pytest.mark.parametrize(
    ("dialect", "payload"),
    [
        ("score", {"input_data": DIGITS.tolist()}),
        ("score", {"input_data": DIGITS.astype(int).tolist()}),  # integers for a float64 tensor: exact, accepted
        ("invocations", {"instances": DIGITS.tolist()}),
        ("invocations", {"inputs": DIGITS.tolist()}),
    ],
)
def test_tensor_payloads_return_the_models_own_predictions(
    handlers: dict[str, MlflowHandler], models: dict[str, Any], dialect: str, payload: Any
) -> None:
    status, answer = ask(handlers["digits"], request(dialect, payload))
    assert status == 200
    assert (answer["predictions"] if dialect == "invocations" else answer) == expected(models, "digits", DIGITS)


def test_named_tensors_with_params_return_the_models_own_predictions(
    handlers: dict[str, MlflowHandler], models: dict[str, Any]
) -> None:
    arrays = {"a": np.array(NAMED["a"], dtype=np.float64), "b": np.array(NAMED["b"])}
    mine = expected(models, "named", arrays, {"scale": 2.0})
    assert mine == [22.0, 50.0]
    assert ask(handlers["named"], request("score", {"input_data": NAMED, "params": {"scale": 2}})) == (200, mine)
    status, answer = ask(handlers["named"], request("invocations", {"inputs": NAMED, "params": {"scale": 2}}))
    assert (status, answer) == (200, {"predictions": mine})
    assert ask(handlers["named"], request("score", {"input_data": NAMED})) == (200, expected(models, "named", arrays))
    instances = [{"a": [1, 2, 3], "b": 10}, {"a": [4, 5, 6], "b": 20}]  # TF-serving rows of named tensors
    status, answer = ask(handlers["named"], request("invocations", {"instances": instances, "params": {"scale": 2}}))
    assert (status, answer) == (200, {"predictions": mine})


def test_v2_infer_reads_named_inputs_as_columns_and_answers_outputs(
    handlers: dict[str, MlflowHandler], models: dict[str, Any]
) -> None:
    inputs = [{"name": c, "shape": [4], "datatype": "FP64", "data": ROWS[c].tolist()} for c in DIABETES_COLUMNS]
    status, answer = ask(
        handlers["diabetes"], request("v2", {"id": "q-7", "inputs": inputs}, path="/v2/models/diab/infer")
    )
    assert status == 200 and answer["model_name"] == "diab" and answer["id"] == "q-7"
    assert answer["outputs"] == [
        {"name": "predict", "shape": [4], "datatype": "FP64", "data": expected(models, "diabetes", ROWS)}
    ]

    tensor = [{"name": "images", "shape": [3, 64], "datatype": "FP64", "data": DIGITS.reshape(-1).tolist()}]
    status, answer = ask(handlers["digits"], request("v2", {"inputs": tensor}, path="/v2/models/d/versions/2/infer"))
    assert status == 200 and answer["model_version"] == "2" and answer["id"] == "r-1"
    assert answer["outputs"][0]["data"] == expected(models, "digits", DIGITS)

    named = [
        {"name": "a", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]},
        {"name": "b", "shape": [2], "datatype": "INT64", "data": [10, 20]},
    ]
    status, answer = ask(
        handlers["named"], request("v2", {"inputs": named, "parameters": {"scale": 2}}, path="/v2/models/n/infer")
    )
    assert status == 200 and answer["outputs"][0]["data"] == [22.0, 50.0]

    columns = [
        {"name": "x", "shape": [2, 1], "datatype": "FP64", "data": [[0.5], [1.5]]},
        {"name": "n", "shape": [2], "datatype": "INT64", "data": [1, 2]},
        {"name": "name", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]},
    ]
    payload = {"inputs": columns, "outputs": [{"name": "label"}]}
    status, answer = ask(handlers["doubler"], request("v2", payload, path="/v2/models/doubler/infer"))
    assert (status, answer["outputs"]) == (
        200,
        [{"name": "label", "shape": [2], "datatype": "BYTES", "data": ["a:1", "b:2"]}],
    )


def test_a_wrong_column_type_is_a_400_naming_the_column_without_the_value(handlers: dict[str, MlflowHandler]) -> None:
    rows = [[*row[:9], "secret-value"] for row in SPLIT["data"]]
    for dialect, key in (("score", "input_data"), ("invocations", "dataframe_split")):
        [(reply, body)] = handlers["diabetes"].handle([request(dialect, {key: {**SPLIT, "data": rows}})])
        assert reply["status"] == 400
        message = json.loads(body)["message"]
        assert message == (
            "The request does not fit the model's signature: column 's6': expected double (float64), "
            "found text (e.g. row 0)."
        )
        assert b"secret" not in body and "secret" not in json.dumps(reply)
    status, answer = ask(
        handlers["diabetes"],
        request("v2", {"inputs": [{"name": "age", "shape": [1], "datatype": "BYTES", "data": ["secret"]}]}),
    )
    assert status == 400 and "secret" not in answer["error"]


def test_a_missing_column_is_a_400(handlers: dict[str, MlflowHandler]) -> None:
    status, answer = ask(handlers["diabetes"], request("score", {"input_data": {"columns": ["age"], "data": [[0.1]]}}))
    assert status == 400 and "it has no column 'sex', 'bmi'" in answer["message"]


def test_an_integer_for_a_double_is_accepted_and_a_fraction_for_a_long_refused(
    handlers: dict[str, MlflowHandler], models: dict[str, Any]
) -> None:
    frame = pd.DataFrame({"x": [1, 2], "n": [3, 4], "name": ["a", "b"]})
    status, answer = ask(
        handlers["doubler"], request("invocations", {"dataframe_records": frame.to_dict(orient="records")})
    )
    assert status == 200 and answer["predictions"] == expected(models, "doubler", frame.astype({"x": float}))
    status, answer = ask(
        handlers["doubler"],
        request("score", {"input_data": {"columns": ["x", "n", "name"], "data": [[1.0, 1.5, "a"]]}}),
    )
    assert status == 400
    assert "column 'n': expected long (int64), found float64 with a fractional part (e.g. row 0)" in answer["message"]


def test_params_are_checked_against_the_params_schema(handlers: dict[str, MlflowHandler]) -> None:
    status, answer = ask(handlers["named"], request("score", {"input_data": NAMED, "params": {"scael": 2}}))
    assert status == 400 and "['scael'] are not in the model's params schema (params: 'scale')" in answer["message"]
    status, answer = ask(handlers["named"], request("score", {"input_data": NAMED, "params": {"scale": "secret"}}))
    assert (
        status == 400
        and answer["message"] == "params do not fit the model's params schema: 'scale': expected double, found str."
    )


@pytest.mark.parametrize(
    ("payload", "content_type", "status", "says"),
    [
        ({"dataframe_split": SPLIT, "inputs": []}, "application/json", 400, "exactly one of the input fields"),
        ({"input_data": SPLIT}, "application/json", 400, "{dataframe_split, dataframe_records, instances, inputs}"),
        ([1, 2], "application/json", 400, "Received a list"),
        (b"{not json", "application/json", 400, "not valid JSON"),
        ({"dataframe_split": SPLIT}, "application/xml", 415, "is not accepted"),
        (
            {"dataframe_split": {"data": [[1, 2], [3]]}},
            "application/json",
            400,
            "row 1 has 1 values and there are 2 columns",
        ),
    ],
)
def test_malformed_invocations_bodies_are_refused_with_what_is_allowed(
    handlers: dict[str, MlflowHandler], payload: Any, content_type: str, status: int, says: str
) -> None:
    got, answer = ask(handlers["diabetes"], request("invocations", payload, content_type=content_type))
    assert got == status and answer["error_code"] and says in answer["message"]


def test_a_batch_of_mixed_requests_gives_each_what_it_gets_alone(
    handlers: dict[str, MlflowHandler], saved: dict[str, Path], tmp_path: Path
) -> None:
    reordered = ROWS[list(reversed(DIABETES_COLUMNS))].assign(extra=1).iloc[:2]
    exchanges = [
        request("score", {"input_data": SPLIT}, id="a"),
        request("invocations", {"dataframe_records": reordered.to_dict(orient="records")}, id="b"),
        request("score", {"input_data": {**SPLIT, "data": [[*row[:9], "x"] for row in SPLIT["data"]]}}, id="bad"),
        request(
            "v2",
            {"inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [0.01]} for c in DIABETES_COLUMNS]},
            id="c",
        ),
        request("invocations", ROWS.iloc[1:].to_csv(index=False).encode(), content_type="text/csv", id="d"),
    ]
    alone = [handlers["diabetes"].handle([exchange])[0] for exchange in exchanges]
    handler = _handler(saved, "diabetes", tmp_path / "error.txt")
    calls: list[int] = []
    model = handler.model

    class Counting:  # the real model, counting the rows of each predict() call
        metadata = model.metadata

        def predict(self, data: Any, params: Any = None) -> Any:
            calls.append(len(data))
            return model.predict(data)

    handler.model = Counting()
    together = handler.handle(exchanges)
    assert [reply["status"] for reply, _ in together] == [200, 200, 400, 200, 200]
    assert [body for _, body in together] == [body for _, body in alone]
    assert calls == [4 + 2 + 1 + 3]  # the four good requests in one predict()
    assert len({reply["timing"]["predict"] for reply, _ in together if reply["status"] == 200}) == 1


def test_predict_raising_is_a_424_whose_traceback_goes_to_the_error_log_only(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    log = tmp_path / "error.txt"
    handler = _handler(saved, "fragile", log)
    good = {"input_data": {"columns": ["x"], "data": [[1.0], [2.0]]}}
    bad = {"input_data": {"columns": ["x"], "data": [[3.0], [-4.25]]}}
    answers = handler.handle(
        [request("score", good, id="g-1"), request("score", bad, id="b-1"), request("score", good, id="g-2")]
    )
    assert [reply["status"] for reply, _ in answers] == [200, 424, 200]
    assert json.loads(answers[0][1]) == json.loads(answers[2][1]) == [2.0, 4.0]
    assert json.loads(answers[1][1]) == {"message": "ValueError: x must not be negative"}
    assert answers[1][0]["error"] == {"type": "ValueError", "message": "ValueError: x must not be negative"}
    text = log.read_text()
    assert "request b-1" in text and "Traceback" in text and "x must not be negative" in text
    assert "-4.25" not in text and "Traceback" not in answers[1][1].decode()


def test_warmup_uses_the_input_example_or_a_row_made_from_the_signature(handlers: dict[str, MlflowHandler]) -> None:
    warm = handlers["digits"].warmup()
    assert warm["source"] == "input_example" and warm["rows"] == 2 and warm["ms"] > 0
    warm = handlers["doubler"].warmup()
    assert warm["source"] == "input_example" and warm["rows"] == 1
    warm = handlers["diabetes"].warmup()
    assert warm["source"] == "signature" and warm["rows"] == 1 and warm["ms"] > 0


def test_a_missing_input_example_file_falls_back_to_the_signature(saved: dict[str, Path], tmp_path: Path) -> None:
    shutil.copytree(saved["digits"], tmp_path / "model")
    (tmp_path / "model" / "input_example.json").unlink()
    handler = _handler({"digits": tmp_path / "model"}, "digits", tmp_path / "error.txt")
    warm = handler.warmup()
    assert warm["source"] == "signature" and warm["rows"] == 1
    assert "Reading the input example" in (tmp_path / "error.txt").read_text()


def test_cost_curve_times_predict_on_each_batch_size(handlers: dict[str, MlflowHandler]) -> None:
    curve = handlers["diabetes"].cost_curve((1, 4, 16))
    assert list(curve) == [1, 4, 16] and all(ms > 0 for ms in curve.values())
    assert list(handlers["digits"].cost_curve()) == [1, 2, 4, 8, 16, 32, 64]
    assert handlers["named"].cost_curve() == {}  # named tensors are not batched


def test_v2_metadata_and_swagger_come_from_the_signature(handlers: dict[str, MlflowHandler]) -> None:
    metadata = handlers["diabetes"].document({"op": "metadata", "name": "diab"})
    assert metadata["name"] == "diab" and metadata["platform"] == "mlflow"
    assert metadata["inputs"] == [{"name": c, "datatype": "FP64", "shape": [-1]} for c in DIABETES_COLUMNS]
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    named = handlers["named"].document({"op": "metadata"})
    assert named["inputs"] == [
        {"name": "a", "datatype": "FP64", "shape": [-1, 3]},
        {"name": "b", "datatype": "INT64", "shape": [-1]},
    ]

    swagger = handlers["doubler"].document({"op": "swagger", "version": "3"})
    body = swagger["components"]["schemas"]["ServiceInput"]
    assert body["properties"]["input_data"]["properties"]["columns"]["example"] == ["x", "n", "name", "note"]
    assert body["example"]["input_data"]["columns"] == ["x", "n", "name", "note"]
    digits = handlers["digits"].document({"op": "swagger"})["components"]["schemas"]["ServiceInput"]
    assert digits["properties"]["input_data"]["items"]["maxItems"] == 64
    assert np.array(digits["example"]["input_data"]).shape == (2, 64)
    assert handlers["named"].document({"op": "swagger", "version": "2"})["definitions"]["ServiceInput"]["properties"][
        "params"
    ] == {"type": "object", "properties": {"scale": {"type": "number", "format": "double", "default": 1.0}}}


def test_a_folder_without_a_model_fails_init_with_the_traceback_in_the_error_log(tmp_path: Path) -> None:
    log = tmp_path / "error.txt"
    with pytest.raises(UserCodeError, match="No MLmodel file in the model folder"):
        MlflowHandler(str(tmp_path), str(log)).init()
    assert "Traceback" in log.read_text()
