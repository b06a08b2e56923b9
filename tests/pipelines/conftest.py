"""Pipeline tests: a workspace with raw CSVs (sklearn's diabetes data), a registered model, and a copy of
the three-step pipeline (prepare -> parallel score -> aggregate) to edit."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from tests.cli.conftest import Result, cli  # noqa: F401 (fixtures)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workspace of a pipeline test, used directly. (These tests edit files after a run and resume, inject
    faults into the runner and read the workspace's objects, so they are not a server's conformance suite:
    test_published.py and tests/server run pipelines through a server.)"""
    workspace = tmp_path / "ws"
    for key in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("THRESHER_HOME", str(workspace))
    monkeypatch.chdir(tmp_path)
    return workspace


@dataclass
class Project:
    """A copy of a pipeline fixture, its workspace and the CLI."""

    root: Path
    cli: Callable[..., Result]

    def run(self, *args: str) -> Result:
        """``thresher job create -f pipeline.yml --stream`` (plus ``args``); the result."""
        return self.cli("job", "create", "-f", str(self.root / "pipeline.yml"), "--stream", "-o", "json", *args)

    def latest(self) -> str:
        """The newest pipeline job's name."""
        return str(self.cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip())


def write_raw(folder: Path, files: int = 4, rows: int = 20) -> None:
    """``files`` CSVs of the diabetes features, ``rows`` rows each."""
    frame = load_diabetes(as_frame=True).frame.drop(columns=["target"])
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        frame.iloc[index * rows : (index + 1) * rows].to_csv(folder / f"part-{index}.csv", index=False)


def write_model(folder: Path) -> None:
    """A Ridge regression of the diabetes data, as model.joblib."""
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(Ridge().fit(features, target), folder / "model.joblib")


@pytest.fixture
def project(tmp_path: Path, cli: Callable[..., Result]) -> Project:  # noqa: F811
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "three_step", root)
    write_raw(root / "raw")
    write_model(tmp_path / "model")
    created = cli(
        "model",
        "create",
        "--name",
        "diabetes-model",
        "--path",
        str(tmp_path / "model"),
        "--type",
        "custom_model",
        "-o",
        "none",
    )
    assert created.code == 0, created.err
    return Project(root, cli)
