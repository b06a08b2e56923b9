"""Starting the detached runner: what it loads, and a runner started early waiting for its job.

The runner is run as a new process that reports its ``sys.modules`` when it exits
(``tests/imports.py``); it exits on its own once the queue has been empty for a few seconds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.imports import run_and_list_imports
from tests.jobs.conftest import Bench, csv_folder
from thresher.scheduler.launch import ensure_runner

SCRIPT = """
import os

def run(mini_batch):
    return [os.path.basename(path) for path in mini_batch]
"""


def test_the_runner_of_a_local_job_loads_no_alembic_storage_or_data_library(bench: Bench) -> None:
    bench.deploy(SCRIPT, settings={"mini_batch_size": 2})
    queued = bench.ws.jobs.invoke(bench.endpoint, input=str(csv_folder(bench.root, 3)), start_runner=False)
    environment = dict(os.environ, THRESHER_HOME=str(bench.ws.settings.workspace_dir))
    runner = run_and_list_imports(["-m", "thresher.runner"], bench.root, env=environment)
    assert runner.code == 0, runner.err
    job = bench.ws.jobs.get(queued.name)
    assert job.status == "Completed", job.headline
    assert bench.output(job).splitlines() == ["file-00000.csv", "file-00001.csv", "file-00002.csv"]
    # the workers read the files; the runner plans, dispatches and records, with the store's SQLAlchemy
    assert runner.heavy() == ["sqlalchemy"], runner.heavy()
    assert "thresher.executors.ray" not in runner.modules


def test_a_runner_started_before_the_job_is_queued_is_woken_to_claim_it(bench: Bench) -> None:
    bench.deploy(SCRIPT)
    settings = bench.ws.settings
    started = ensure_runner(settings)  # as invoke does before checking the input and the output
    assert started is not None
    try:
        # While it starts (it may not hold the runner lock yet), asking again must not start another.
        assert ensure_runner(settings, started=started) is None
        job = bench.ws.jobs.invoke(bench.endpoint, input=str(csv_folder(bench.root, 2)), start_runner=False)
        assert ensure_runner(settings, started=started) is None  # as invoke does once the job is queued
        done = bench.ws.jobs.wait(job.name, timeout=120)
        assert done.status == "Completed", done.headline
        assert done.runner == f"{socket.gethostname()}:{started.pid}"  # the early runner took it
    finally:
        started.wait(timeout=60)


def test_a_runner_started_early_that_idled_out_before_the_job_was_queued_is_replaced(bench: Bench) -> None:
    # invoke starts a runner, then checks a slow input (remote storage under load) for longer than the runner
    # waits idle: the runner has marked the lock stopping and made its last look at the queue, but its
    # process has not exited yet when invoke, the job queued, asks again. Waking it left the job queued for
    # good (seen in CI); a new runner must be started. The leaving runner is stood in for by a process that
    # lives on with the lock marked as a real runner leaves it.
    bench.deploy(SCRIPT)
    settings = bench.ws.settings
    leaving = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (settings.workspace_dir / "runner.lock").write_text(f"{leaving.pid} stopping")
        job = bench.ws.jobs.invoke(bench.endpoint, input=str(csv_folder(bench.root, 2)), start_runner=False)
        started = ensure_runner(settings, started=leaving)
        assert started is not None  # a new runner, not a ring of the leaving one's doorbell
        done = bench.ws.jobs.wait(job.name, timeout=120)
        assert done.status == "Completed", done.headline
        assert done.runner == f"{socket.gethostname()}:{started.pid}"
        started.wait(timeout=60)
    finally:
        leaving.kill()
        leaving.wait()
