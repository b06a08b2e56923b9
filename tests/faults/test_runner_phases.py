"""The runner's invariant, phase by phase: whatever fails inside a runner (a bug in thresher, a kill -9,
a SIGTERM, a full disk), the job ends Failed with a headline, or is left resumable and says so; and a
resume then produces exactly the output an undisturbed run writes.

Faults are injected through the declared seam (``THRESHER_FAULT_INJECTION``, read by the detached
runner's entry point; see ``thresher.scheduler.faults``), into real runner and worker processes.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.faults.conftest import echoed, text_inputs
from tests.jobs.conftest import Bench
from tests.processes import worker_pids
from thresher.scheduler.faults import PHASES
from thresher.store import JobRecord

SCRIPT = """
import os

def run(mini_batch):
    return [os.path.basename(path) + " " + open(path).read().strip() for path in mini_batch]
"""
SETTINGS = {"mini_batch_size": 2, "max_concurrency_per_instance": 1}


def _runner_gone(runner: str | None) -> bool:
    if runner is None:
        return True
    pid = int(runner.rsplit(":", 1)[1])
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except OSError:
        return True
    return state == "Z"


def _settle(bench: Bench, name: str, timeout: float = 60) -> JobRecord:
    """The job once nothing more will happen to it without a user: ended, queued again, or orphaned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = bench.ws.jobs.get(name)
        if job.status in ("Completed", "Failed", "Canceled"):
            return job
        if job.status == "Queued" and job.headline:
            return job
        if job.status in ("Running", "Finalizing") and _runner_gone(job.runner):
            return bench.ws.jobs.get(name)
        time.sleep(0.05)
    raise AssertionError(f"job {name} did not settle: {bench.ws.jobs.get(name)}")


def _run_with_fault(bench: Bench, monkeypatch: pytest.MonkeyPatch, folder: Path, fault: str) -> JobRecord:
    monkeypatch.setenv("THRESHER_FAULT_INJECTION", fault)
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(folder))
    settled = _settle(bench, job.name)
    monkeypatch.delenv("THRESHER_FAULT_INJECTION")
    return settled


def _resume_to_the_end(bench: Bench, job: JobRecord) -> JobRecord:
    bench.ws.jobs.resume(job.name)
    ended = bench.ws.jobs.wait(job.name, timeout=60)
    assert ended.status == "Completed", ended.headline
    assert ended.attempt == 2
    return ended


@pytest.fixture
def folder(bench: Bench) -> Path:
    bench.deploy(SCRIPT, settings=SETTINGS)
    return text_inputs(bench.root, 7, lambda index: f"value-{index * index}")


@pytest.mark.parametrize("phase", PHASES)
def test_a_bug_in_thresher_at_any_phase_fails_the_job_with_a_headline_and_resume_finishes(
    bench: Bench, monkeypatch: pytest.MonkeyPatch, folder: Path, phase: str
) -> None:
    failed = _run_with_fault(bench, monkeypatch, folder, f"{phase}=raise")
    assert failed.status == "Failed"
    assert failed.headline == (
        f"Job '{failed.name}' failed: thresher itself failed while the job was at phase '{phase}': "
        f"RuntimeError: fault injected at phase '{phase}' (THRESHER_FAULT_INJECTION)"
    )
    error_file = Path(str(failed.spec["folder"])) / "logs" / "job_error.txt"
    text = error_file.read_text()
    assert text.startswith(str(failed.headline)) and "Traceback (most recent call last)" in text
    assert "thresher job resume --name" in text
    assert (failed.error or {}).get("resumable") is True
    ended = _resume_to_the_end(bench, failed)
    assert bench.output(ended) == echoed(folder)


@pytest.mark.parametrize("phase", PHASES)
def test_a_runner_killed_at_any_phase_leaves_a_resumable_job_that_finishes_with_the_same_bytes(
    bench: Bench, monkeypatch: pytest.MonkeyPatch, folder: Path, phase: str
) -> None:
    orphaned = _run_with_fault(bench, monkeypatch, folder, f"{phase}=kill")
    assert orphaned.status in ("Running", "Finalizing")
    note = bench.ws.jobs.note(orphaned)
    assert note is not None and f"Its runner {orphaned.runner} is gone" in note
    assert f"Resume with: thresher job resume --name {orphaned.name}" in note
    ended = _resume_to_the_end(bench, orphaned)
    assert bench.output(ended) == echoed(folder)
    target = Path(str(ended.spec["output_file"]))
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial file left behind


@pytest.mark.parametrize("phase", ["environment", "planned", "committed", "assembled"])
def test_sigterm_at_a_phase_puts_the_job_back_in_the_queue_saying_why(
    bench: Bench, monkeypatch: pytest.MonkeyPatch, folder: Path, phase: str
) -> None:
    queued = _run_with_fault(bench, monkeypatch, folder, f"{phase}=stop")
    assert queued.status == "Queued" and queued.runner is None
    headline = str(queued.headline)
    assert "was stopped (SIGTERM) while running job" in headline
    assert f"Start one with: thresher job resume --name {queued.name}" in headline
    ended = _resume_to_the_end(bench, queued)
    assert bench.output(ended) == echoed(folder)


def test_sigterm_from_outside_stops_the_workers_and_requeues_the_job(bench: Bench) -> None:
    slow = SCRIPT.replace("def run(mini_batch):", "def run(mini_batch):\n    __import__('time').sleep(0.3)")
    bench.deploy(slow, settings=SETTINGS)
    folder = text_inputs(bench.root, 7, lambda index: f"value-{index * index}")
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(folder))
    deadline = time.monotonic() + 30
    while bench.ws.jobs.get(job.name).progress.mini_batches_done < 1:
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.05)
    runner = bench.ws.jobs.get(job.name).runner
    assert runner is not None
    os.kill(int(runner.rsplit(":", 1)[1]), signal.SIGTERM)
    queued = _settle(bench, job.name)
    assert queued.status == "Queued" and "was stopped (SIGTERM)" in str(queued.headline)
    assert 1 <= queued.progress.mini_batches_done < 4
    assert worker_pids(bench.root) == []
    ended = _resume_to_the_end(bench, queued)
    assert bench.output(ended) == echoed(folder)


@pytest.mark.parametrize("phase", ["planned", "assembled", "reported"])
def test_a_full_disk_at_a_phase_stops_the_job_naming_the_disk_and_resume_finishes(
    bench: Bench, monkeypatch: pytest.MonkeyPatch, folder: Path, phase: str
) -> None:
    stopped = _run_with_fault(bench, monkeypatch, folder, f"{phase}=diskfull")
    assert stopped.status == "Failed"
    headline = str(stopped.headline)
    assert headline.startswith(f"Job '{stopped.name}' stopped: the disk holding ")
    assert "is full (mounted at " in headline and "No space left on device" in headline
    assert (stopped.error or {}).get("resumable") is True
    error_text = (Path(str(stopped.spec["folder"])) / "logs" / "job_error.txt").read_text()
    assert "thresher job prune --older-than 7d --yes" in error_text
    ended = _resume_to_the_end(bench, stopped)
    assert bench.output(ended) == echoed(folder)
