"""No-code MLflow deployments end to end: models trained here, deployed without code, real jobs.

Jobs run their workers in the interpreter running the tests (an environment asset without a
dependency file), so no environment is built, except in the one test of the model's own environment.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from thresher import Workspace
from thresher.specs import parse_spec
from thresher.store import JobRecord

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

pytest.importorskip("mlflow.pyfunc")
import mlflow.pyfunc
from mlflow.models import infer_signature

DIABETES_COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_diabetes

    frame, target = load_diabetes(return_X_y=True, as_frame=True)
    return frame, target


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of MLflow models trained on the spot: diabetes (sklearn, lightgbm), digits (torch), a PythonModel."""
    return tmp_path_factory.mktemp("models")


def _save(models: Path, name: str, save: Any) -> Path:
    folder = models / name
    if not folder.exists():
        save(str(folder))
    return folder


@pytest.fixture(scope="session")
def sklearn_model(models: Path) -> Path:
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    frame, target = diabetes()
    model = LinearRegression().fit(frame, target)
    signature = infer_signature(frame, model.predict(frame))
    return _save(models, "diabetes", lambda p: mlflow.sklearn.save_model(model, p, signature=signature))


@pytest.fixture(scope="session")
def lightgbm_model(models: Path) -> Path:
    import lightgbm
    import mlflow.lightgbm

    frame, target = diabetes()
    model = lightgbm.LGBMRegressor(n_estimators=30, verbose=-1).fit(frame, target)
    signature = infer_signature(frame, model.predict(frame))
    return _save(
        models,
        "lightgbm",
        lambda p: mlflow.lightgbm.save_model(model, p, signature=signature, pip_requirements=["lightgbm"]),
    )


@pytest.fixture(scope="session")
def torch_model(models: Path) -> Path:
    import mlflow.pytorch
    import torch
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)
    labels = torch.tensor(digits.target)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(100):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(images), labels).backward()
        optimizer.step()
    net.eval()
    example = digits.images[:2].astype(np.float32)
    signature = infer_signature(example, net(torch.from_numpy(example)).detach().numpy())
    return _save(
        models,
        "digits",
        lambda p: mlflow.pytorch.save_model(
            net, p, signature=signature, input_example=example, pip_requirements=["torch"]
        ),
    )


PYFUNC_INPUTS = pd.DataFrame(
    {"x": [0.5, 1.5], "n": np.array([1, 2], dtype=np.int64), "name": ["a", "b"], "note": ["!", "?"]}
)


@pytest.fixture(scope="session")
def pyfunc_model(models: Path) -> Path:
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    signature = ModelSignature(
        inputs=Schema(
            [
                ColSpec("double", "x"),
                ColSpec("long", "n"),
                ColSpec("string", "name"),
                ColSpec("string", "note", required=False),
            ]
        )
    )
    import cloudpickle

    from tests.mlflow import doubler

    cloudpickle.register_pickle_by_value(doubler)
    return _save(
        models,
        "doubler",
        lambda p: mlflow.pyfunc.save_model(
            p,
            python_model=doubler.Doubler(),
            signature=signature,
            input_example=PYFUNC_INPUTS.head(1),
            pip_requirements=["pandas"],
        ),
    )


@dataclass
class MlflowBench:
    """A workspace with an endpoint; each test registers a model and deploys it with no code."""

    ws: Workspace
    root: Path
    endpoint: str = "scoring"

    def deploy(
        self,
        model: Path,
        *,
        name: str = "blue",
        settings: dict[str, Any] | None = None,
        script: str | None = None,
        model_type: str = "mlflow_model",
        environment: bool = True,
    ) -> str:
        """Register ``model`` and deploy it, in the current interpreter unless ``environment`` is False."""
        self.ws.models.create(
            parse_spec({"name": f"{name}-model", "path": str(model), "type": model_type}, "model", base_dir=self.root)
        )
        document: dict[str, Any] = {
            "name": name,
            "endpoint_name": self.endpoint,
            "type": "model",
            "model": f"azureml:{name}-model@latest",
            "settings": {"retry_settings": {"max_retries": 1, "timeout": 60}, **(settings or {})},
        }
        if environment:
            self.ws.environments.create(parse_spec({"name": "here"}, "environment", base_dir=self.root))
            document["environment"] = "azureml:here@latest"
        if script is not None:
            code = self.root / f"code-{name}"
            code.mkdir(exist_ok=True)
            (code / "score.py").write_text(textwrap.dedent(script))
            document["code_configuration"] = {"code": str(code), "scoring_script": "score.py"}
        spec = parse_spec(document, "batch_deployment", base_dir=self.root)
        self.ws.batch_deployments.create(spec, set_default=True)  # type: ignore[arg-type]
        return name

    def run(self, input: Path, *, timeout: float = 180, **kwargs: Any) -> JobRecord:
        job = self.ws.jobs.invoke(self.endpoint, input=str(input), **kwargs)
        return self.ws.jobs.wait(job.name, timeout=timeout)

    def output(self, job: JobRecord) -> Path:
        return Path(str(job.spec["output_file"]))

    def logs(self, job: JobRecord) -> Path:
        return Path(str(job.spec["folder"])) / "logs"


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowBench]:
    home = tmp_path / "ws"
    monkeypatch.setenv("THRESHER_HOME", str(home))
    monkeypatch.delenv("THRESHER_DATABASE_URL", raising=False)
    with Workspace(home) as ws:
        ws.batch_endpoints.create(parse_spec({"name": "scoring"}, "batch_endpoint", base_dir=tmp_path))
        yield MlflowBench(ws, tmp_path)


def read_predictions(path: Path, columns: list[str]) -> pd.DataFrame:
    """The default no-code output: comma-separated, no header."""
    return pd.read_csv(path, header=None, names=columns, keep_default_na=False, na_values=[""])
