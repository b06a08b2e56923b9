"""Azure scoring scripts served online: ``ScriptHandler`` with the shims imported as a worker imports them.

Each test runs the handler in a fresh Python whose PYTHONPATH is the shims folder, then thresher (as
``protocol.worker_environ`` lays it out), so ``inference_schema`` and ``azureml.contrib`` are the
shims and nothing of one test's script leaks into another's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

from thresher.runtime import protocol

DRIVER = """
import base64, json, sys
from thresher.runtime.entry import UserCodeError
from thresher.runtime.online_script import ScriptHandler

plan = json.load(sys.stdin)
handler = ScriptHandler(plan["script"], plan["error_log"])
results = []
for step, arg in plan["steps"]:
    try:
        if step == "init":
            results.append({"ok": handler.init()})
        elif step == "warmup":
            results.append({"ok": handler.warmup()})
        elif step == "document":
            results.append({"ok": handler.document(arg)})
        elif step == "call":  # a function of the script's own, e.g. one calling run() directly
            results.append({"ok": getattr(sys.modules[plan["module"]], arg)()})
        else:
            exchanges = []
            for request in arg:
                sent = request.pop("body64", None)
                body = base64.b64decode(sent) if sent else request.pop("body", "").encode()
                exchanges.append(({**request, "length": len(body)}, body))
            answers = handler.handle(exchanges)
            shown = [{"reply": reply, "body": body.decode("utf-8", "replace")} for reply, body in answers]
            results.append({"ok": shown})
    except UserCodeError as failed:
        results.append({"user_error": failed.error})
    except ValueError as exc:
        results.append({"value_error": str(exc)})
print(json.dumps(results))
"""


def post(body: Any = "", *, headers: dict[str, str] | None = None, raw: bytes | None = None) -> dict[str, Any]:
    """A POST /score request; ``body`` is sent as JSON unless it is a str."""
    text = body if isinstance(body, str) else json.dumps(body)
    request: dict[str, Any] = {"id": "r1", "dialect": "score", "method": "POST", "path": "/score", "query": ""}
    request["headers"] = {"content-type": "application/json", **(headers or {})}
    if raw is not None:
        import base64

        request["body64"] = base64.b64encode(raw).decode()
    else:
        request["body"] = text
    return request


def get(query: str) -> dict[str, Any]:
    """A GET /score request with ``query``."""
    return {"id": "g1", "dialect": "score", "method": "GET", "path": "/score", "query": query, "headers": {}}


class Served:
    """A script in its folder, served by a fresh worker-like Python per ``run`` call."""

    def __init__(self, folder: Path, source: str, model_dir: Path | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.script = folder / "score.py"
        self.script.write_text(textwrap.dedent(source))
        self.error_log = folder.parent / "logs" / "error.txt"
        self.model_dir = model_dir
        self.driver = folder.parent / "driver.py"
        self.driver.write_text(DRIVER)

    def run(self, *steps: tuple[str, Any]) -> list[dict[str, Any]]:
        """Run ``steps`` (init, warmup, handle, document, call) in one worker; their results."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([protocol.shims_dir(), protocol.package_root()])}
        if self.model_dir is not None:
            env["AZUREML_MODEL_DIR"] = str(self.model_dir)
        plan = {"script": str(self.script), "error_log": str(self.error_log), "module": "score", "steps": steps}
        done = subprocess.run(
            [sys.executable, str(self.driver)],
            input=json.dumps(plan),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout.splitlines()[-1]))

    def answers(self, *requests: dict[str, Any]) -> list[dict[str, Any]]:
        """``init`` then the replies to ``requests``, each {"reply", "body"}."""
        started, handled = self.run(("init", None), ("handle", list(requests)))
        assert started == {"ok": None}, started
        return list(handled["ok"])

    def log(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""


def message(answer: dict[str, Any]) -> str:
    return str(json.loads(answer["body"])["message"])


# ---- an Azure example script: init() loads the model, run(raw_data) parses the JSON itself --------------


AZURE_EXAMPLE = """
    import json, os
    import joblib
    import numpy as np

    def init():
        global model
        model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl"))

    def run(raw_data):
        data = np.array(json.loads(raw_data)["data"])
        return model.predict(data).tolist()
"""


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)
    model_dir = tmp_path_factory.mktemp("model")
    joblib.dump(model, model_dir / "sklearn_regression_model.pkl")
    return model_dir, model, X[:3]


def test_an_azure_example_script_returns_the_models_predictions(
    tmp_path: Path, diabetes: tuple[Path, Any, np.ndarray]
) -> None:
    model_dir, model, rows = diabetes
    served = Served(tmp_path / "code", AZURE_EXAMPLE, model_dir)
    [answer] = served.answers(post({"data": rows.tolist()}))
    reply = answer["reply"]
    assert reply["status"] == 200 and reply["error"] is None
    assert json.loads(answer["body"]) == pytest.approx(model.predict(rows).tolist())
    assert reply["headers"]["content-type"] == "application/json"
    assert float(reply["headers"]["x-ms-run-fn-exec-ms"]) >= 0
    assert set(reply["timing"]) == {"parse", "predict", "encode"}
    assert reply["length"] == len(answer["body"].encode())


def test_undecorated_run_gets_text_a_get_its_query_and_request_headers(tmp_path: Path) -> None:
    served = Served(
        tmp_path / "code",
        """
        def init():
            pass

        def run(raw_data, request_headers):
            kind = request_headers.get("Content-Type")
            return {"raw": raw_data, "type": kind, "is_dict": isinstance(request_headers, dict)}
        """,
    )
    text, query, binary, other = served.answers(
        post("héllo", headers={"content-type": "text/plain"}),
        get("a=1&a=2&b=x&empty="),
        post(raw=b"\xff\xfe"),
        {**post("{}"), "dialect": "invocations", "path": "/invocations"},
    )
    assert json.loads(text["body"]) == {"raw": "héllo", "type": "text/plain", "is_dict": True}
    assert json.loads(json.loads(query["body"])["raw"]) == {"a": ["1", "2"], "b": "x", "empty": ""}
    assert binary["reply"]["status"] == 400
    assert "not UTF-8 text" in message(binary) and "@rawhttp" in message(binary)
    assert other["reply"]["status"] == 404 and "serves /score only" in message(other)


# ---- @input_schema with numpy ---------------------------------------------------------------------------


NUMPY_SCRIPT = """
    import os
    import joblib
    import numpy as np
    from inference_schema.schema_decorators import input_schema, output_schema
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

    def init():
        global model
        model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "sklearn_regression_model.pkl"))

    @input_schema("data", NumpyParameterType(np.zeros((2, 10))))
    @output_schema(StandardPythonParameterType([150.0]))
    def run(data):
        assert isinstance(data, np.ndarray) and data.dtype == np.float64, (type(data), data.dtype)
        return model.predict(data)

    def direct():
        # a decorated run() is still a function: called directly, its argument is converted first
        return run([[0] * 10]).tolist() == run(data=np.zeros((1, 10))).tolist()
"""


def test_input_schema_numpy_converts_the_body_and_answers_predictions(
    tmp_path: Path, diabetes: tuple[Path, Any, np.ndarray]
) -> None:
    model_dir, model, rows = diabetes
    served = Served(tmp_path / "code", NUMPY_SCRIPT, model_dir)
    ints = [[1, 0, 2, 0, 0, 0, 0, 0, 0, 3]]
    good, whole, not_json, listed, missing, shape, text = served.answers(
        post({"data": rows.tolist()}),
        post({"data": ints}),
        post("{'data': [1, 2]"),
        post([[1.0] * 10]),
        post({"rows": rows.tolist()}),
        post({"data": [[1.0, 2.0]]}),
        post({"data": [[0.1] * 9 + ["secret-value"]]}),
    )
    assert json.loads(good["body"]) == pytest.approx(model.predict(rows).tolist())
    assert json.loads(whole["body"]) == pytest.approx(model.predict(np.array(ints, dtype=float)).tolist())
    assert not_json["reply"]["status"] == 415 and "not JSON" in message(not_json)
    assert listed["reply"]["status"] == 400 and "a JSON array" in message(listed) and '"data"' in message(listed)
    assert missing["reply"]["status"] == 400
    assert "no key 'data'" in message(missing) and "keys sent: 'rows'" in message(missing)
    assert shape["reply"]["status"] == 400 and "shape (n, 10)" in message(shape) and "(1, 2)" in message(shape)
    assert text["reply"]["status"] == 400 and "Parameter 'data'" in message(text) and "text" in message(text)
    assert "secret-value" not in text["body"]
    assert {a["reply"]["error"]["type"] for a in (not_json, listed, missing)} == {"RequestError"}
    _, call = served.run(("init", None), ("call", "direct"))
    assert call == {"ok": True}


# ---- @input_schema with pandas, keyed "iris", and standard parameters ---------------------------------------


PANDAS_SCRIPT = """
    import os
    import joblib
    import pandas as pd
    from inference_schema.schema_decorators import input_schema, output_schema
    from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

    sample = pd.read_json(os.path.join(os.environ["AZUREML_MODEL_DIR"], "sample.json"), orient="records")

    def init():
        global model
        model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "iris.pkl"))

    @input_schema("iris", PandasParameterType(sample))
    @input_schema("top", StandardPythonParameterType(2), optional=True)
    @input_schema("label", StandardPythonParameterType("setosa"))
    @output_schema(StandardPythonParameterType({"predictions": [0], "label": "setosa", "top": 2}))
    def run(iris, label, top=3):
        assert list(iris.columns) == list(sample.columns) and (iris.dtypes == sample.dtypes).all()
        return {"predictions": model.predict(iris), "label": label, "top": top}
"""


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    frame = load_iris(as_frame=True).frame.drop(columns="target")
    model = LogisticRegression(max_iter=500).fit(frame, load_iris().target)
    model_dir = tmp_path_factory.mktemp("iris")
    joblib.dump(model, model_dir / "iris.pkl")
    frame.head(2).to_json(model_dir / "sample.json", orient="records")
    return model_dir, model, frame.iloc[[0, 60, 120]]


def test_input_schema_pandas_names_the_column_that_does_not_fit(
    tmp_path: Path, iris: tuple[Path, Any, pd.DataFrame]
) -> None:
    model_dir, model, rows = iris
    served = Served(tmp_path / "code", PANDAS_SCRIPT, model_dir)
    records = rows.to_dict(orient="records")
    wrong = [dict(records[0], **{"petal width (cm)": "wide-secret"})]
    extra = [dict(records[0], colour="blue")]
    good, defaulted, bad_type, bad_column, no_label = served.answers(
        post({"iris": records, "label": "x", "top": 1.0}),
        post({"iris": records, "label": "x"}),
        post({"iris": wrong, "label": "x"}),
        post({"iris": extra, "label": "x"}),
        post({"iris": records, "top": 1}),
    )
    assert good["reply"]["status"] == 200, good
    assert json.loads(good["body"]) == {"predictions": model.predict(rows).tolist(), "label": "x", "top": 1}
    assert json.loads(defaulted["body"])["top"] == 3
    said = message(bad_type)
    assert bad_type["reply"]["status"] == 400
    assert "Parameter 'iris'" in said and "column 'petal width (cm)': expected float64, found text (e.g. row 0)" in said
    assert "wide-secret" not in bad_type["body"]
    assert bad_column["reply"]["status"] == 400 and "unexpected column(s) 'colour'" in message(bad_column)
    assert no_label["reply"]["status"] == 400 and "no key 'label'" in message(no_label)


def test_swagger_from_the_decorators_for_versions_2_and_3(tmp_path: Path, iris: tuple[Path, Any, pd.DataFrame]) -> None:
    model_dir, _, _ = iris
    served = Served(tmp_path / "code", PANDAS_SCRIPT, model_dir)
    _, v2, v3, v31, bad = served.run(
        ("init", None),
        ("document", {"op": "swagger"}),
        ("document", {"op": "swagger", "version": "3"}),
        ("document", {"op": "swagger", "version": "3.1"}),
        ("document", {"op": "swagger", "version": "4"}),
    )
    doc2 = v2["ok"]
    assert doc2["swagger"] == "2.0" and "/score" in doc2["paths"]
    service_input = doc2["definitions"]["ServiceInput"]
    assert service_input["required"] == ["iris", "label"]
    iris_schema = service_input["properties"]["iris"]
    assert iris_schema["type"] == "array"
    assert iris_schema["items"]["properties"]["sepal length (cm)"] == {"type": "number", "format": "double"}
    assert iris_schema["example"][0]["sepal length (cm)"] == 5.1
    assert service_input["properties"]["top"] == {"type": "integer", "format": "int64", "example": 2}
    assert doc2["definitions"]["ServiceOutput"]["properties"]["label"] == {"type": "string"}
    doc3 = v3["ok"]
    assert doc3["openapi"] == "3.0.1"
    assert doc3["components"]["schemas"]["ServiceInput"]["properties"]["label"]["example"] == "setosa"
    post_op = doc3["paths"]["/score"]["post"]
    assert post_op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceInput"
    }
    doc31 = v31["ok"]
    assert doc31["openapi"] == "3.1.0"
    assert doc31["components"]["schemas"]["ServiceInput"]["properties"]["label"]["examples"] == ["setosa"]
    assert "version '4' is not supported" in bad["value_error"]


def test_swagger_of_an_undecorated_script_and_a_users_own_file(tmp_path: Path) -> None:
    served = Served(tmp_path / "code", "def init():\n    pass\n\ndef run(raw_data):\n    return raw_data\n")
    (tmp_path / "code" / "swagger3.json").write_text(json.dumps({"openapi": "3.0.1", "info": {"title": "mine"}}))
    _, v2, v3 = served.run(
        ("init", None), ("document", {"op": "swagger", "version": "2"}), ("document", {"op": "swagger", "version": "3"})
    )
    assert v2["ok"]["definitions"]["ServiceInput"] == {"type": "object"}
    assert v2["ok"]["definitions"]["ServiceOutput"] == {"type": "object"}
    assert v3["ok"] == {"openapi": "3.0.1", "info": {"title": "mine"}}
    (tmp_path / "code" / "swagger.json").write_text(json.dumps({"swagger": "2.0", "info": {"title": "legacy"}}))
    _, v2 = served.run(("init", None), ("document", {"op": "swagger"}))
    assert v2["ok"]["info"] == {"title": "legacy"}  # swagger.json: for any version without its own file


# ---- @rawhttp ---------------------------------------------------------------------------------------------


def test_rawhttp_gets_the_request_and_its_amlresponse_is_sent_as_it_is(tmp_path: Path) -> None:
    served = Served(
        tmp_path / "code",
        """
        import json
        from azureml.contrib.services.aml_request import AMLRequest, rawhttp
        from azureml.contrib.services.aml_response import AMLResponse
        import azureml_inference_server_http.api.aml_request as api

        def init():
            assert api.AMLRequest is AMLRequest

        @rawhttp
        def run(request):
            if request.method == "GET":
                return AMLResponse(json.dumps({"path": request.full_path, "k": request.args.getlist("k")}), 200)
            if request.files:
                upload = request.files["image"]
                headers = {"Content-Type": "image/x-reversed", "X-Name": upload.filename}
                return AMLResponse(upload.read()[::-1], 201, headers)
            kind = request.headers["Content-Type"]
            return {"json": request.get_json(), "type": kind, "bytes": len(request.get_data())}
        """,
    )
    image = bytes(range(256)) + b"\r\n--end\r\n"
    boundary = "b0undary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="cat.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    queried, uploaded, plain = served.answers(
        get("k=1&k=2"),
        post(raw=multipart, headers={"content-type": f"multipart/form-data; boundary={boundary}"}),
        post({"a": 1}),
    )
    assert json.loads(queried["body"]) == {"path": "/score?k=1&k=2", "k": ["1", "2"]}
    assert queried["reply"]["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert uploaded["reply"]["status"] == 201
    assert uploaded["reply"]["headers"]["Content-Type"] == "image/x-reversed"
    assert uploaded["reply"]["headers"]["X-Name"] == "cat.png"
    assert uploaded["reply"]["length"] == len(image)
    assert json.loads(plain["body"]) == {"json": {"a": 1}, "type": "application/json", "bytes": 8}


# ---- failures -------------------------------------------------------------------------------------------


def test_run_raising_is_a_424_with_its_message_and_the_traceback_only_in_the_log(tmp_path: Path) -> None:
    served = Served(
        tmp_path / "code",
        """
        import sys

        def init():
            pass

        def run(raw_data):
            if raw_data == "exit":
                sys.exit(2)
            if raw_data == "bytes":
                return b"raw"
            raise ValueError("the model cannot score this")
        """,
    )
    raised, exited, unencodable = served.answers(post("boom"), post("exit"), post("bytes"))
    assert raised["reply"]["status"] == 424
    assert json.loads(raised["body"]) == {"message": "ValueError: the model cannot score this"}
    assert raised["reply"]["headers"]["x-ms-run-function-failed"] == "True"
    assert raised["reply"]["error"] == {"type": "ValueError", "message": "ValueError: the model cannot score this"}
    assert "Traceback" not in raised["body"]
    line = served.script.read_text().splitlines().index('    raise ValueError("the model cannot score this")') + 1
    assert "Traceback" in served.log() and f'score.py", line {line}, in run' in served.log()
    assert exited["reply"]["status"] == 424 and message(exited) == "SystemExit: the script called sys.exit(2)"
    assert unencodable["reply"]["status"] == 424 and "type bytes" in message(unencodable)
    assert "x-ms-run-function-failed" not in unencodable["reply"]["headers"]


def test_init_failing_is_a_user_code_error_with_the_traceback_in_the_log(tmp_path: Path) -> None:
    served = Served(
        tmp_path / "code", "def init():\n    raise RuntimeError('no model here')\n\ndef run(raw_data):\n    pass\n"
    )
    [failed] = served.run(("init", None))
    error = failed["user_error"]
    assert (error["type"], error["message"]) == ("RuntimeError", "no model here")
    assert "init() of the scoring script score.py failed" in served.log() and "no model here" in served.log()


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("def run(raw_data):\n    pass\n", "defines no init()"),
        ("def init():\n    pass\n", "defines no run()"),
        (
            "def init():\n    pass\n\ndef run(*rows):\n    pass\n",
            "run() takes *rows; the server passes each argument by its name",
        ),
        ("def init():\n    pass\n\ndef run(raw_data, /):\n    pass\n", "raw_data (positional-only)"),
        (
            "from azureml.contrib.services.aml_request import rawhttp\n"
            "from inference_schema.schema_decorators import input_schema\n"
            "from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType\n"
            "def init():\n    pass\n\n"
            "@rawhttp\n@input_schema('request', StandardPythonParameterType(1))\ndef run(request):\n    pass\n",
            "both @rawhttp and @input_schema",
        ),
    ],
)
def test_a_script_run_cannot_call_is_refused_at_init(tmp_path: Path, source: str, said: str) -> None:
    served = Served(tmp_path / "code", source)
    [failed] = served.run(("init", None))
    assert failed["user_error"]["type"] == "TypeError"
    assert said in failed["user_error"]["message"] and str(served.script) in failed["user_error"]["message"]


# ---- warm-up ----------------------------------------------------------------------------------------------


def test_warmup_runs_the_samples_through_the_request_path_or_does_nothing(
    tmp_path: Path, diabetes: tuple[Path, Any, np.ndarray]
) -> None:
    model_dir, _, _ = diabetes
    decorated = Served(tmp_path / "numpy" / "code", NUMPY_SCRIPT, model_dir)
    _, warmed = decorated.run(("init", None), ("warmup", None))
    assert set(warmed["ok"]) == {"ms", "rows"} and warmed["ok"]["rows"] == 2
    plain = Served(tmp_path / "plain" / "code", AZURE_EXAMPLE, model_dir)
    _, nothing = plain.run(("init", None), ("warmup", None))
    assert nothing == {"ok": {}}
    failing = Served(
        tmp_path / "failing" / "code",
        """
        from inference_schema.schema_decorators import input_schema
        from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

        def init():
            pass

        @input_schema("x", StandardPythonParameterType(1))
        def run(x):
            raise KeyError("cold")
        """,
    )
    _, failed = failing.run(("init", None), ("warmup", None))
    assert failed["user_error"]["type"] == "KeyError"
    assert "warm-up call of run() on the @input_schema samples got 424" in failed["user_error"]["message"]
