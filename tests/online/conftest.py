"""Online endpoints end to end: a real serving process, real worker processes, real HTTP.

One workspace per test module: its endpoints and deployments are created once (a worker takes about a
second to start, an MLflow model two), and the serving process lives for the module. The suite's
per-test check for leftover processes is replaced here by one at the end of the module, after every
endpoint is deleted (the serving process then exits and takes its workers with it).
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import thresher_processes
from thresher import Workspace
from thresher.sdk import online_serving
from thresher.specs import parse_spec

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
DIABETES_COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]

# run(raw_data) as Azure's examples write it: the model from AZUREML_MODEL_DIR, the rows from the JSON body.
PLAIN = """
import glob, json, os, time
import joblib
import numpy as np

def init():
    global model, shift
    model = joblib.load(glob.glob(os.path.join(os.environ["AZUREML_MODEL_DIR"], "**", "model.pkl"), recursive=True)[0])
    shift = float(os.environ.get("SHIFT", "0"))

def run(raw_data):
    body = json.loads(raw_data)
    if body.get("sleep"):
        time.sleep(float(body["sleep"]))
    rows = np.asarray(body["input_data"]["data"], dtype=float)
    answer = {"predictions": [float(v) + shift for v in model.predict(rows)]}
    if body.get("pid"):  # which worker answered, when asked
        answer["pid"] = os.getpid()
    return answer
"""

# The same model behind inference_schema's decorators (the shim), as Azure's samples decorate run().
SCHEMA = """
import glob, os
import joblib
import numpy as np
from inference_schema.schema_decorators import input_schema, output_schema
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

def init():
    global model
    model = joblib.load(glob.glob(os.path.join(os.environ["AZUREML_MODEL_DIR"], "**", "model.pkl"), recursive=True)[0])

@input_schema("data", NumpyParameterType(np.zeros((1, 10), dtype="float64")))
@input_schema("scale", StandardPythonParameterType(1.0))
@output_schema(StandardPythonParameterType([0.0]))
def run(data, scale=1.0):
    return [float(v) * scale for v in model.predict(data)]
"""


def diabetes() -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes

    return load_diabetes(return_X_y=True, as_frame=True)


@dataclass
class Online:
    """A workspace whose online endpoints are served for the whole module."""

    ws: Workspace
    root: Path
    model: Any  # the fitted LinearRegression every deployment serves
    frame: Any  # the diabetes features
    keys: dict[str, str] = field(default_factory=dict)

    def code(self, name: str, script: str) -> Path:
        folder = self.root / f"code-{name}"
        folder.mkdir(exist_ok=True)
        (folder / "score.py").write_text(textwrap.dedent(script))
        return folder

    def endpoint(self, name: str, **keys: Any) -> None:
        spec = parse_spec({"name": name, **keys}, "online_endpoint", base_dir=self.root)
        self.ws.online_endpoints.create(spec)  # type: ignore[arg-type]
        credentials = dict(self.ws.online_endpoints.get_credentials(name))
        self.keys[name] = str(credentials.get("primaryKey") or credentials.get("accessToken"))

    def deploy(
        self, endpoint: str, name: str, *, script: str | None = None, all_traffic: bool = False, **keys: Any
    ) -> Any:
        document: dict[str, Any] = {"name": name, "endpoint_name": endpoint, "instance_type": "Standard_DS3_v2"}
        if script is None:  # in this interpreter (the model's own environment is built in tests/mlflow)
            document["model"] = "azureml:diabetes-mlflow@latest"
            document["environment"] = "azureml:here@latest"
        else:
            document["model"] = "azureml:diabetes-pkl@latest"
            document["code_configuration"] = {"code": str(self.code(name, script)), "scoring_script": "score.py"}
        document.update(keys)
        spec = parse_spec(document, "online_deployment", base_dir=self.root)
        return self.ws.online_deployments.create(spec, all_traffic=all_traffic)  # type: ignore[arg-type]

    def uri(self, endpoint: str, route: str = "score") -> str:
        scoring = self.ws.online_endpoints.serving(endpoint)["scoring_uri"]
        assert scoring, f"endpoint {endpoint} is not served"
        return str(scoring).rsplit("/", 1)[0] + "/" + route

    def client(self, endpoint: str) -> httpx.Client:
        return httpx.Client(headers={"authorization": f"Bearer {self.keys[endpoint]}"}, timeout=60)

    def rows(self, count: int = 3, start: int = 0) -> Any:
        return self.frame.iloc[start : start + count]

    def expected(self, rows: Any) -> list[float]:
        return [float(v) for v in self.model.predict(rows)]

    def azure_body(self, rows: Any) -> dict[str, Any]:
        return {
            "input_data": {"columns": list(rows.columns), "index": list(range(len(rows))), "data": rows.values.tolist()}
        }


@pytest.fixture(autouse=True)
def _no_thresher_process_left() -> None:
    """The serving process of the module's workspace lives across its tests: checked once, in ``online``."""


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Online]:
    import joblib
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    root = tmp_path_factory.mktemp("online")
    home = root / "ws"
    frame, target = diabetes()
    model = LinearRegression().fit(frame, target)
    mlflow_folder = root / "models" / "diabetes-mlflow"
    signature = infer_signature(frame, model.predict(frame))
    mlflow.sklearn.save_model(
        model, str(mlflow_folder), signature=signature, input_example=frame.iloc[:2], serialization_format="cloudpickle"
    )
    pickled = root / "models" / "diabetes-pkl" / "model"
    pickled.mkdir(parents=True)
    joblib.dump(model, pickled / "model.pkl")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("THRESHER_HOME", str(home))
        patch.setenv("THRESHER_ONLINE_AUTOSTART", "1")
        ws = Workspace(home)
        for name, folder, kind in (
            ("diabetes-mlflow", mlflow_folder, "mlflow_model"),
            ("diabetes-pkl", pickled.parent, "custom_model"),
        ):
            ws.models.create(parse_spec({"name": name, "path": str(folder), "type": kind}, "model", base_dir=root))
        ws.environments.create(parse_spec({"name": "here"}, "environment", base_dir=root))  # no files: this Python
        try:
            yield Online(ws, root, model, frame)
        finally:
            for endpoint in ws.online_endpoints.list():
                ws.online_endpoints.delete(endpoint.name)
            deadline = time.monotonic() + 30
            while online_serving.serving_pid(ws.settings) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            left = thresher_processes(str(home))
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left = thresher_processes(str(home))
            ws.close()
            assert online_serving.serving_pid(ws.settings) is None, "the serving process outlived its last endpoint"
            assert not left, f"processes left behind: {left}"


def close_to(values: list[float], expected: list[float]) -> bool:
    return bool(np.allclose(values, expected, rtol=1e-9, atol=1e-9))
