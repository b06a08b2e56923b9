"""End-to-end batch jobs: a real workspace, real runner and worker processes, real files."""

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


@dataclass
class Bench:
    """A workspace with one endpoint, where each test deploys its own scoring script."""

    ws: Workspace
    root: Path
    endpoint: str = "scoring"

    def deploy(
        self,
        script: str,
        *,
        name: str = "blue",
        settings: dict[str, Any] | None = None,
        model: str = "w",
        **document_keys: Any,  # more keys of the deployment document: compute, resources, ...
    ) -> str:
        code = self.root / f"code-{name}"
        code.mkdir(exist_ok=True)
        (code / "score.py").write_text(textwrap.dedent(script))
        model_dir = self.root / "model"
        if not model_dir.exists():
            model_dir.mkdir()
            (model_dir / "weights.txt").write_text(model)
        if not any(m.name == "m" for m in self.ws.models.list()):
            self.ws.models.create(parse_spec({"name": "m", "path": str(model_dir)}, "model", base_dir=self.root))
        document = {
            "name": name,
            "endpoint_name": self.endpoint,
            "type": "model",
            "model": "azureml:m@latest",
            "code_configuration": {"code": str(code), "scoring_script": "score.py"},
            "settings": {"retry_settings": {"max_retries": 1, "timeout": 20}, **(settings or {})},
            **document_keys,
        }
        spec = parse_spec(document, "batch_deployment", base_dir=self.root)
        self.ws.batch_deployments.create(spec, set_default=True)  # type: ignore[arg-type]
        return name

    def run(self, input: Path, *, timeout: float = 120, **kwargs: Any) -> JobRecord:
        job = self.ws.jobs.invoke(self.endpoint, input=str(input), **kwargs)
        return self.ws.jobs.wait(job.name, timeout=timeout)

    def output(self, job: JobRecord) -> str:
        return Path(str(job.spec["output_file"])).read_text()


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    home = tmp_path / "ws"
    monkeypatch.setenv("THRESHER_HOME", str(home))
    monkeypatch.delenv("THRESHER_DATABASE_URL", raising=False)
    with Workspace(home) as ws:
        ws.batch_endpoints.create(parse_spec({"name": "scoring"}, "batch_endpoint", base_dir=tmp_path))
        yield Bench(ws, tmp_path)


def csv_folder(root: Path, files: int, rows: int = 3, nested: bool = False) -> Path:
    """A folder of small CSV files with columns id,value (nested in sub-folders when asked)."""
    folder = root / "data"
    for index in range(files):
        target = folder / f"part-{index // 10:02d}" if nested else folder
        target.mkdir(parents=True, exist_ok=True)
        lines = ["id,value", *(f"{index * 1000 + r},{(index + r) * 0.5}" for r in range(rows))]
        (target / f"file-{index:05d}.csv").write_text("\n".join(lines) + "\n")
    return folder


ROWS_SCRIPT = """
import os
import pandas as pd

def init():
    global factor
    factor = 2.0

def run(mini_batch):
    frames = []
    for path in mini_batch:
        data = pd.read_csv(path)
        frames.append(pd.DataFrame({"file": os.path.basename(path), "id": data["id"], "score": data["value"] * factor}))
    return pd.concat(frames)
"""
