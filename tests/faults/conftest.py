"""Fault tests: jobs over bad inputs, failing runners, workers and disks, and damaged workspaces.

``bench`` is the jobs suite's workspace on SQLite (a real workspace, runner and worker processes);
``db_bench`` runs a test once on each metadata database, for what reaches the database (failed item
names that are not UTF-8: PostgreSQL refuses lone surrogates in JSON and text). ``populated_workspace``
is a workspace made through the CLI, which ``workspace_copy`` copies for a test to damage.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.workspaces import ENDPOINT, JOB, Result, Thresher, make_project, run_thresher, wait_for_runner_exit
from tests.jobs.conftest import Bench, bench
from thresher import Workspace
from thresher.specs import parse_spec
from thresher.store import JobRecord

__all__ = ["bench", "db_bench", "echoed", "fifo", "job_error", "output_bytes", "text_inputs"]


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


def text_inputs(root: Path, count: int, value: Callable[[int], str] = "value-{}".format) -> Path:
    """``root/data/item-NNNN.txt``, ``count`` files each holding ``value(index)``: input for echoing scripts."""
    folder = root / "data"
    folder.mkdir()
    for index in range(count):
        (folder / f"item-{index:04d}.txt").write_text(value(index) + "\n")
    return folder


def echoed(folder: Path, repeat: int = 1) -> str:
    """What a script returning "<file name> <its text × repeat>" per file writes, in input order."""
    return "".join(f"{path.name} {path.read_text().strip() * repeat}\n" for path in sorted(folder.iterdir()))


def fifo(path: Path) -> Path:
    """A named pipe at ``path`` (nobody ever writes to it: opening it for reading would block forever)."""
    os.mkfifo(path)
    return path


@pytest.fixture(scope="session")
def populated_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace made through the CLI: a model, an endpoint, a deployment and a completed job.

    Built once; tests copy it. The runner has exited and the database holds everything in its main
    file (no -wal beside it), so damage done to the file is all the damage there is.
    """
    root = make_project(tmp_path_factory.mktemp("populated"))
    home = root / "ws"
    steps = [
        ["model", "create", "-n", "faults-model", "-p", "model"],
        ["batch-endpoint", "create", "-f", "endpoint.yml"],
        ["batch-deployment", "create", "-f", "deployment.yml", "-e", ENDPOINT, "--set-default"],
        ["batch-endpoint", "invoke", "-n", ENDPOINT, "--input", "data", "--job-name", JOB],
        ["job", "stream", "-n", JOB],
    ]
    for step in steps:
        result = run_thresher(step, home=home, cwd=root)
        assert result.code == 0, str(result)
    wait_for_runner_exit(home)
    assert not (home / "thresher.db-wal").exists(), "the runner left a -wal file: damage would not be all"
    return home


@pytest.fixture
def workspace_copy(populated_workspace: Path, tmp_path: Path) -> Path:
    """A copy of the populated workspace, this test's to damage."""
    home = tmp_path / "ws"
    shutil.copytree(populated_workspace, home)
    return home


@pytest.fixture
def input_folder(tmp_path: Path) -> Path:
    """Three small input files, in this test's folder: invoke finds its input, whatever the database."""
    folder = tmp_path / "data"
    folder.mkdir()
    for index in range(3):
        (folder / f"input-{index}.csv").write_text(f"b,{index}\n")
    return folder


@pytest.fixture
def thresher(tmp_path: Path) -> Thresher:
    """Run ``thresher`` in a process, in this test's folder, against the workspace given as ``home``."""

    def run(*args: str, home: Path, database_url: str | None = None) -> Result:
        return run_thresher(args, home=home, cwd=tmp_path, database_url=database_url)

    return run
