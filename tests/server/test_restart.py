"""The server killed with SIGKILL and restarted while jobs run: nothing is lost or duplicated, and a
client's `job stream` rides out the restart and finishes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tests.server.conftest import deploy_iris, iris_project
from tests.thresher_server import ThresherServer
from thresher import Workspace

SLOW = """
import time

import batch_driver


def init():
    batch_driver.init()


def run(mini_batch):
    time.sleep(0.4)  # slow enough that the jobs are running when the server is killed
    return batch_driver.run(mini_batch)
"""


def test_a_killed_and_restarted_server_loses_and_doubles_nothing(served: ThresherServer, tmp_path: Path) -> None:
    project, expected = iris_project(tmp_path / "iris", files=6)
    (project / "code" / "slow_driver.py").write_text(SLOW)
    deployment = project / "deployment.yml"
    deployment.write_text(deployment.read_text().replace("batch_driver.py", "slow_driver.py"))
    deploy_iris(None, project)
    with Workspace() as ws:
        names = [ws.jobs.invoke("iris-batch", input=str(project / "data")).name for _ in range(3)]
        deadline = time.monotonic() + 60
        while ws.jobs.get(names[0]).status != "Running":
            assert time.monotonic() < deadline, ws.jobs.get(names[0])
            time.sleep(0.1)
    stream = subprocess.Popen(
        [sys.executable, "-m", "thresher", "job", "stream", "--name", names[-1]],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1.0)  # the stream is following the job
    with Workspace() as ws:
        assert ws.jobs.get(names[-1]).status in ("Queued", "Running")  # killed while the jobs run
    served.kill()
    time.sleep(2.0)  # the server is down for a while; the stream keeps retrying
    assert stream.poll() is None
    served.start()
    output, _ = stream.communicate(timeout=240)
    assert stream.returncode == 0, output
    assert "Completed" in output
    with Workspace() as ws:
        jobs = ws.jobs.list()
        assert sorted(job.name for job in jobs) == sorted(names)  # none lost, none queued twice
        for name in names:
            job = ws.jobs.wait(name, timeout=240)
            assert job.status == "Completed", job.headline
            frame = pd.read_csv(
                ws.jobs.download(name, tmp_path / name) / "predictions.csv",
                sep=" ",
                header=None,
                names=["file", "prediction"],
            )
            assert list(zip(frame["file"], frame["prediction"], strict=True)) == expected  # each row once
