"""Environment tests: real uv builds into a real workspace; one workspace per module where it can be shared."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from thresher import Workspace
from thresher.specs import parse_spec
from thresher.store import JobRecord

# A version of six that thresher's own environment does not have (asserted in the tests), so a
# worker reporting it proves it ran in the built environment.
PINNED_SIX = "1.16.0"


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
