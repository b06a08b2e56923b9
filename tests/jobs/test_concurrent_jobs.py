"""A runner runs several jobs at once within its machine's slots (``max_workers``): jobs that fit run
together, a job that does not fit waits for slots, and warm workers parked after a job give their
slots up to a job of another deployment that needs them. Real runner and worker processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.jobs.conftest import Bench
from thresher.scheduler.launch import runner_alive
from thresher.store import JobRecord

TIMED = """
import os, time

def run(mini_batch):
    began = time.time()
    time.sleep(0.4)
    return [f"{os.path.basename(path)} {began} {time.time()}" for path in mini_batch]
"""


def _files(root: Path, name: str, count: int) -> Path:
    folder = root / name
    folder.mkdir()
    for index in range(count):
        (folder / f"f{index}.txt").write_text(str(index))
    return folder


def _span(bench: Bench, job: JobRecord) -> tuple[float, float]:
    rows = [line.split() for line in bench.output(job).splitlines()]
    return min(float(r[1]) for r in rows), max(float(r[2]) for r in rows)


@pytest.fixture
def two_slots(bench: Bench, monkeypatch: pytest.MonkeyPatch) -> Bench:
    monkeypatch.setenv("THRESHER_DEFAULT_MAX_WORKERS", "2")  # the runner inherits it: a 2-slot machine
    return bench


def test_jobs_that_fit_run_together_and_one_that_does_not_waits_for_slots(two_slots: Bench, tmp_path: Path) -> None:
    bench = two_slots
    bench.deploy(TIMED, name="one", settings={"mini_batch_size": 1, "max_concurrency_per_instance": 1})
    bench.deploy(TIMED, name="two", settings={"mini_batch_size": 1, "max_concurrency_per_instance": 2})
    first = bench.ws.jobs.invoke(bench.endpoint, input=str(_files(tmp_path, "a", 4)), deployment_name="one")
    second = bench.ws.jobs.invoke(bench.endpoint, input=str(_files(tmp_path, "b", 4)), deployment_name="one")
    wide = bench.ws.jobs.invoke(bench.endpoint, input=str(_files(tmp_path, "c", 4)), deployment_name="two")
    ended = [bench.ws.jobs.wait(job.name, timeout=120) for job in (first, second, wide)]
    assert [job.status for job in ended] == ["Completed"] * 3, [job.headline for job in ended]
    a, b, c = (_span(bench, job) for job in ended)
    assert a[0] < b[1] and b[0] < a[1], "two one-worker jobs on a two-slot runner ran one after the other"
    assert c[0] >= min(a[1], b[1]) - 0.05, "the two-worker job started while both slots were taken"


def test_warm_workers_of_one_deployment_give_their_slots_to_a_job_of_another(
    two_slots: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = two_slots
    monkeypatch.setenv("THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN", "60")
    settings = {"mini_batch_size": 1, "max_concurrency_per_instance": 2}
    bench.deploy(TIMED, name="blue", settings=settings)
    bench.deploy(TIMED, name="green", settings=settings)
    blue = bench.run(_files(tmp_path, "a", 2), deployment_name="blue")
    green = bench.run(_files(tmp_path, "b", 2), deployment_name="green", timeout=60)
    assert blue.status == green.status == "Completed", (blue.headline, green.headline)
    log = (bench.ws.settings.workspace_dir / "runner.log").read_text()
    assert "(scoring/blue, 2 workers) ended: its slots were needed by another job" in log
    bench.ws.computes.stop("local")
    deadline = time.monotonic() + 20
    while runner_alive(bench.ws.settings) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not runner_alive(bench.ws.settings)
