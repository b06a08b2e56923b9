"""Schedule tests: a workspace, a one-step pipeline job YAML beside a data folder, and schedule files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from thresher import Workspace

FIXTURES = Path(__file__).parent / "fixtures"


def utc(text: str) -> datetime:
    """An aware UTC datetime from ``2024-03-01T03:00:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with pipeline.yml (one command step over ``inputs.data``) and its data folder."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(FIXTURES / "pipeline.yml", root / "pipeline.yml")
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("x\n1\n")
    return root


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh SQLite workspace."""
    with Workspace(tmp_path / "ws") as workspace:
        yield workspace


def write_schedule(folder: Path, text: str, name: str = "schedule.yml") -> Path:
    """Write a schedule YAML file into ``folder``."""
    path = folder / name
    path.write_text(text)
    return path
