"""Fault tests: workspaces to damage, the ``thresher`` command run as a real process, and the batch-job
bench of tests/jobs (a real workspace, runner and worker processes)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.jobs.conftest import bench

__all__ = ["bench"]

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = "faults-ep"
DEPLOYMENT = "faults-dep"
JOB = "faults-job"

SCORE = """\
import os


def init():
    global prefix
    prefix = "scored"


def run(mini_batch):
    return [f"{prefix} {os.path.basename(path)}" for path in mini_batch]
"""


@dataclass(frozen=True)
class Result:
    """What a user sees of one command: its exit code and its two streams."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def headline(self) -> str:
        """The ``ERROR:`` line, or '' when there is none."""
        return next((line for line in self.err.splitlines() if line.startswith("ERROR: ")), "")

    @property
    def fix(self) -> str:
        """The ``Fix:`` line, or '' when there is none."""
        return next((line for line in self.err.splitlines() if line.startswith("Fix: ")), "")

    def __str__(self) -> str:
        return f"thresher {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


Thresher = Callable[..., Result]


def run_thresher(
    args: Sequence[str], *, home: Path, cwd: Path, database_url: str | None = None, timeout: float = 180
) -> Result:
    """``python -m thresher ARGS`` in a process of its own, with this checkout's thresher."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["THRESHER_HOME"] = str(home)
    env["TMPDIR"] = str(cwd)  # where an unexpected error's traceback file would go
    env.pop("THRESHER_DATABASE_URL", None)
    if database_url is not None:
        env["THRESHER_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "thresher", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(tuple(args), done.returncode, done.stdout, done.stderr)


def wait_for_runner_exit(home: Path, timeout: float = 60) -> None:
    """Wait until the workspace's detached runner has exited (it holds runner.lock while alive)."""
    deadline = time.monotonic() + timeout
    with (home / "runner.lock").open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the runner of {home} did not exit within {timeout} s") from None
                time.sleep(0.2)
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
            return


def make_project(root: Path) -> Path:
    """A model folder, a scoring script, five input files and the endpoint and deployment YAML."""
    (root / "model").mkdir(parents=True)
    (root / "model" / "weights.txt").write_text("weights\n")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORE)
    (root / "data").mkdir()
    for index in range(5):
        (root / "data" / f"file-{index}.csv").write_text(f"a,{index}\n")
    (root / "endpoint.yml").write_text(f"name: {ENDPOINT}\n")
    (root / "deployment.yml").write_text(
        f"name: {DEPLOYMENT}\nendpoint_name: {ENDPOINT}\ntype: model\nmodel: azureml:faults-model@latest\n"
        "code_configuration:\n  code: code\n  scoring_script: score.py\nsettings:\n  mini_batch_size: 2\n"
    )
    return root


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
