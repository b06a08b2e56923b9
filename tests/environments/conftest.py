"""Environment tests: real uv builds into a real workspace; one workspace per module where it can be shared."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from thresher import Workspace
from thresher.environments.build import index_options, uv_command
from thresher.environments.interpreters import find_interpreter
from thresher.errors import ThresherError
from thresher.runtime.mlflow_driver import QUIET_MLFLOW
from thresher.specs import parse_spec
from thresher.store import JobRecord

# A version of six that thresher's own environment does not have (asserted in the tests), so a
# worker reporting it proves it ran in the built environment.
PINNED_SIX = "1.16.0"

# The newest releases that still support Python 3.8. xgboost stays below 2: 2.x on Linux also
# installs nvidia-nccl-cu12 (about 200 MB more), although the 1.7.6 wheel itself is 200 MB (CUDA built in).
PY38_TRAINING = ["scikit-learn==1.3.2", "xgboost==1.7.6", "pandas==2.0.3", "mlflow-skinny==2.17.2"]
PY38_FILES = {"part-0.csv": slice(0, 200), "part-1.csv": slice(200, 350), "part-2.csv": slice(350, None)}


@dataclass
class EnvBench:
    """A workspace with one batch endpoint whose deployments name an environment."""

    ws: Workspace
    root: Path
    endpoint: str = "scoring"

    def conda_file(self, name: str, *pip: str, python: str | None = None) -> Path:
        """A conda.yaml with ``python=`` (when given) and the ``pip:`` list."""
        lines = ["name: test", "channels: [conda-forge]", "dependencies:"]
        lines += [f"  - python={python}"] if python else []
        lines += ["  - pip", "  - pip:", *(f"    - {p}" for p in pip)]
        path = self.root / f"{name}.conda.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def deploy(self, script: str, environment: dict[str, Any] | str | None, *, name: str = "blue") -> str:
        """A deployment of ``script`` in ``environment`` (inline {conda_file: ...} or azureml:name:ver)."""
        code = self.root / f"code-{name}"
        code.mkdir(exist_ok=True)
        (code / "score.py").write_text(textwrap.dedent(script))
        model_dir = self.root / "model"
        if not model_dir.exists():
            model_dir.mkdir()
            (model_dir / "weights.txt").write_text("w")
            spec = parse_spec({"name": "m", "path": str(model_dir)}, "model", base_dir=self.root)
            self.ws.models.create(spec)  # type: ignore[arg-type]
        document: dict[str, Any] = {
            "name": name,
            "endpoint_name": self.endpoint,
            "type": "model",
            "model": "azureml:m@latest",
            "code_configuration": {"code": str(code), "scoring_script": "score.py"},
            "settings": {"retry_settings": {"max_retries": 0, "timeout": 30}, "mini_batch_size": 1},
        }
        if environment is not None:
            document["environment"] = environment
        spec = parse_spec(document, "batch_deployment", base_dir=self.root)
        self.ws.batch_deployments.create(spec, set_default=True)  # type: ignore[arg-type]
        return name

    def inputs(self, files: int = 2) -> Path:
        folder = self.root / "data"
        folder.mkdir(exist_ok=True)
        for index in range(files):
            (folder / f"item-{index}.txt").write_text(str(index))
        return folder

    def run(self, *, timeout: float = 300) -> JobRecord:
        job = self.ws.jobs.invoke(self.endpoint, input=str(self.inputs()))
        return self.ws.jobs.wait(job.name, timeout=timeout)


@pytest.fixture(scope="module")
def env_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvBench]:
    """One workspace for a test module, so that its tests share the environments they build."""
    root = tmp_path_factory.mktemp("envs")
    home = root / "ws"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("THRESHER_HOME", str(home))
        patch.delenv("THRESHER_DATABASE_URL", raising=False)
        with Workspace(home) as ws:
            ws.batch_endpoints.create(parse_spec({"name": "scoring"}, "batch_endpoint", base_dir=root))  # type: ignore[arg-type]
            yield EnvBench(ws, root)


@dataclass(frozen=True)
class Py38Model:
    """An MLflow model trained in a Python 3.8 environment, the data to score, and what it predicted there."""

    folder: Path  # the saved model (MLmodel, conda.yaml, python_env.yaml, requirements.txt, model.xgb)
    data: Path  # diabetes features as CSV files (PY38_FILES)
    trained: dict[str, Any]  # python, versions and predictions per file, as py38_training.py printed them


@pytest.fixture(scope="session")
def py38_model(tmp_path_factory: pytest.TempPathFactory) -> Py38Model:
    """Trained by a real Python 3.8 with old scikit-learn and xgboost, so that the saved booster is theirs.

    The training virtualenv is made with uv as thresher makes environments (its uv, pip's wheel folders
    and indexes, no Python downloads) but without compiling bytecode, which would cost about 12 s here
    for the few modules one training run imports. The data files are written by the tests' own pandas,
    as a user's would be.
    """
    from sklearn.datasets import load_diabetes

    try:
        interpreter, _ = find_interpreter("3.8", "the Python 3.8 MLflow model of tests/environments")
    except ThresherError as exc:
        pytest.skip(f"no Python 3.8 installed: {exc.message}")
    root = tmp_path_factory.mktemp("py38")
    venv = root / "training-env"
    environ = {**os.environ, **QUIET_MLFLOW, "UV_PYTHON_DOWNLOADS": "never"}
    environ.pop("VIRTUAL_ENV", None)
    environ.pop("PYTHONPATH", None)  # the training run imports only its environment's packages
    python = str(venv / "bin" / "python")
    for command in (
        [*uv_command(), "venv", "--quiet", "--python", interpreter.path, str(venv)],
        [*uv_command(), "pip", "install", "--quiet", "--python", python, *index_options(), *PY38_TRAINING],
    ):
        made = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=600)
        assert made.returncode == 0, f"{shlex.join(command)} failed:\n{made.stderr}"
    data = root / "data"
    data.mkdir()
    frame, _ = load_diabetes(return_X_y=True, as_frame=True)
    for name, rows in PY38_FILES.items():
        frame.iloc[rows].to_csv(data / name, index=False)
    script = Path(__file__).with_name("py38_training.py")
    done = subprocess.run(
        [python, str(script), str(root / "model"), str(data)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=root,  # MLflow 2.x creates ./mlruns when it saves a model
        timeout=300,
    )
    assert done.returncode == 0, f"training in Python 3.8 failed:\n{done.stderr}"
    return Py38Model(root / "model", data, json.loads(done.stdout.splitlines()[-1]))
