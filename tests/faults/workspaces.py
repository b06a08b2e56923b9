"""Workspaces made through the CLI to damage, and the ``thresher`` command run as a real process."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
