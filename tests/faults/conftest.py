"""Jobs over bad inputs: a real workspace (on SQLite, or on PostgreSQL too), real runner and workers, real files.

``bench`` is the jobs suite's workspace on SQLite; ``db_bench`` runs a test once on each metadata
database, for what reaches the database (failed item names that are not UTF-8: PostgreSQL refuses
lone surrogates in JSON and text).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.conftest import Bench, bench
from thresher import Workspace
from thresher.specs import parse_spec
from thresher.store import JobRecord

__all__ = ["bench", "db_bench", "fifo", "job_error", "output_bytes"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_bench(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    """A ``Bench`` whose metadata database is SQLite, then a fresh PostgreSQL database."""
    home = tmp_path / "ws"
    monkeypatch.setenv("THRESHER_HOME", str(home))
    monkeypatch.delenv("THRESHER_DATABASE_URL", raising=False)
    url = request.getfixturevalue("fresh_postgres_url") if request.param == "postgres" else None
    with Workspace(home, database_url=url) as ws:
        ws.batch_endpoints.create(parse_spec({"name": "scoring"}, "batch_endpoint", base_dir=tmp_path))
        yield Bench(ws, tmp_path)


def output_bytes(job: JobRecord) -> bytes:
    """The job's append_row output file, as bytes (names that are not UTF-8 are in it as they are)."""
    return Path(str(job.spec["output_file"])).read_bytes()


def job_error(job: JobRecord) -> str:
    """``logs/job_error.txt`` of the job."""
    return (Path(str(job.spec["folder"])) / "logs" / "job_error.txt").read_text(encoding="utf-8")


def fifo(path: Path) -> Path:
    """A named pipe at ``path`` (nobody ever writes to it: opening it for reading would block forever)."""
    os.mkfifo(path)
    return path
