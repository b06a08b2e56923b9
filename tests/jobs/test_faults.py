"""Exactly-once outputs under faults: kill -9 of a worker, kill -9 of the runner and resume, cancel."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from tests.jobs.conftest import Bench, csv_folder
from tests.processes import worker_pids

SLOW_SCRIPT = """
import os, time
import pandas as pd

def init():
    pass

def run(mini_batch):
    time.sleep(0.05)
    frames = [pd.read_csv(p).assign(file=os.path.basename(p)) for p in mini_batch]
    return pd.concat(frames)[["file", "id", "value"]]
"""


def _wait_for(predicate, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _clean_output(bench: Bench, folder: Path) -> str:
    job = bench.run(folder, deployment_name="clean", output_path=str(bench.root / "clean-out"))
    assert job.status == "Completed", job.headline
    return bench.output(job)


def test_kill_9_of_a_worker_mid_job_loses_and_doubles_no_row(bench: Bench) -> None:
    folder = csv_folder(bench.root, 200)
    settings = {"mini_batch_size": 5, "max_concurrency_per_instance": 2}
    bench.deploy(SLOW_SCRIPT, name="clean", settings=settings)
    expected = _clean_output(bench, folder)
    bench.deploy(SLOW_SCRIPT, name="victim", settings=settings)
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(folder), deployment_name="victim")
    _wait_for(lambda: bench.ws.jobs.get(job.name).progress.mini_batches_done >= 8)
    pids = worker_pids(bench.root)
    assert pids, "no worker process found"
    os.kill(pids[0], signal.SIGKILL)
    ended = bench.ws.jobs.wait(job.name, timeout=120)
    assert ended.status == "Completed", ended.headline
    assert bench.output(ended) == expected
    assert len(expected.splitlines()) == 600


def test_kill_9_of_the_runner_then_resume_gives_the_clean_output(bench: Bench) -> None:
    folder = csv_folder(bench.root, 120)
    settings = {"mini_batch_size": 3, "max_concurrency_per_instance": 2}
    bench.deploy(SLOW_SCRIPT, name="clean", settings=settings)
    expected = _clean_output(bench, folder)
    bench.deploy(SLOW_SCRIPT, name="victim", settings=settings)
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(folder), deployment_name="victim")
    target = random.Random(7).randint(3, 25)
    _wait_for(lambda: bench.ws.jobs.get(job.name).progress.mini_batches_done >= target)
    runner = bench.ws.jobs.get(job.name).runner
    assert runner is not None
    os.kill(int(runner.rsplit(":", 1)[1]), signal.SIGKILL)
    _wait_for(
        lambda: (
            not Path(f"/proc/{runner.rsplit(':', 1)[1]}/status").exists()
            or "Z" in Path(f"/proc/{runner.rsplit(':', 1)[1]}/status").read_text().split("State:")[1][:4]
        )
    )
    bench.ws.jobs.resume(job.name)
    ended = bench.ws.jobs.wait(job.name, timeout=120)
    assert ended.status == "Completed", ended.headline
    assert ended.attempt == 2
    assert bench.output(ended) == expected


def test_cancel_stops_workers_promptly_and_resume_finishes(bench: Bench) -> None:
    folder = csv_folder(bench.root, 60)
    bench.deploy(SLOW_SCRIPT.replace("0.05", "0.3"), settings={"mini_batch_size": 1, "max_concurrency_per_instance": 2})
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(folder))
    _wait_for(lambda: bench.ws.jobs.get(job.name).progress.mini_batches_done >= 2)
    bench.ws.jobs.cancel(job.name)
    started = time.monotonic()
    canceled = bench.ws.jobs.wait(job.name, timeout=30)
    assert canceled.status == "Canceled"
    assert time.monotonic() - started < 10
    done = canceled.progress.mini_batches_done
    assert 2 <= done < 60
    assert "thresher job resume" in str(canceled.headline)
    _wait_for(lambda: not worker_pids(bench.root), timeout=10)
    bench.ws.jobs.resume(job.name)
    ended = bench.ws.jobs.wait(job.name, timeout=120)
    assert ended.status == "Completed", ended.headline
    assert len(bench.output(ended).splitlines()) == 180
