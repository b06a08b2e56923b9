"""Workers killed at any moment, in real jobs: while importing the script, in init(), in a storm of kills
from outside, and by an item that kills every worker it touches.

A SIGKILL from outside and one from the OOM killer look the same, so the rule is: a death counts
against a piece's tries only once the piece has killed workers on 2 different slots, and a piece
gets at most 10 reruns that do not count. Start-up deaths give a slot up only after 3 in a row.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

from tests.faults.conftest import echoed, text_inputs
from tests.jobs.conftest import Bench
from tests.processes import worker_pids
from thresher.store import JobRecord

MARKING_SCRIPT = """
import os, pathlib, time

MARKS = pathlib.Path(os.environ["MARKS"])
(MARKS / f"import-{os.getpid()}").touch()
time.sleep(float(os.environ["PAUSE"]))

def init():
    (MARKS / f"init-{os.getpid()}").touch()
    time.sleep(float(os.environ["PAUSE"]))

def run(mini_batch):
    time.sleep(float(os.environ.get("RUN_PAUSE", "0")))
    return [os.path.basename(path) + " " + open(path).read().strip() for path in mini_batch]
"""


def _wait_for_mark(marks: Path, prefix: str, exclude: set[int], timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mark in marks.glob(f"{prefix}-*"):
            pid = int(mark.name.split("-")[1])
            if pid not in exclude:
                return pid
        time.sleep(0.01)
    raise AssertionError(f"no worker reached {prefix}")


def test_workers_killed_while_importing_the_script_and_in_init_are_replaced(bench: Bench) -> None:
    marks = bench.root / "marks"
    marks.mkdir()
    variables = {"MARKS": str(marks), "PAUSE": "0.4"}
    bench.deploy(MARKING_SCRIPT, settings={"mini_batch_size": 3, "environment_variables": variables})
    folder = text_inputs(bench.root, 9)
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(folder))
    importing = _wait_for_mark(marks, "import", set())
    os.kill(importing, signal.SIGKILL)  # while it imports the scoring script
    initializing = _wait_for_mark(marks, "init", {importing})
    os.kill(initializing, signal.SIGKILL)  # while init() runs: two start-up deaths in a row on the slot
    ended = bench.ws.jobs.wait(job.name, timeout=60)
    assert ended.status == "Completed", ended.headline
    assert bench.output(ended) == echoed(folder)
    assert len(list(marks.glob("import-*"))) == 3  # the worker, and two replacements in its slot


def test_a_slot_whose_workers_die_starting_three_times_in_a_row_fails_the_job_quickly(bench: Bench) -> None:
    bench.deploy(
        "import os\n\ndef init():\n    os.kill(os.getpid(), 9)\n\ndef run(mini_batch):\n    return mini_batch\n"
    )
    folder = text_inputs(bench.root, 4)
    started = time.monotonic()
    job = bench.run(folder, timeout=60)
    assert time.monotonic() - started < 30
    assert job.status == "Failed"
    headline = str(job.headline)
    assert headline.startswith(f"Job '{job.name}' failed: init() failed on every worker: WorkerLost: worker ")
    assert "killed by signal 9 (SIGKILL), possibly out of memory" in headline
    assert "while loading the scoring script or running init(); 3 workers of its slot died so in a row" in headline


def test_a_storm_of_kills_on_the_workers_loses_and_doubles_no_item(bench: Bench) -> None:
    marks = bench.root / "marks"
    marks.mkdir()
    # The job lasts at least 120 / 2 * 0.1 / 2 = 3 s of run() alone, so the storm (a kill every 0.1-0.3 s, at
    # most 10) lands well over the 5 kills asserted below however fast the machine is.
    variables = {"MARKS": str(marks), "PAUSE": "0", "RUN_PAUSE": "0.1"}
    bench.deploy(
        MARKING_SCRIPT,
        settings={"mini_batch_size": 2, "max_concurrency_per_instance": 2, "environment_variables": variables},
    )
    folder = text_inputs(bench.root, 120)
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(folder))
    done = threading.Event()
    kills: list[int] = []

    def storm() -> None:
        chooser = random.Random(8)
        while len(kills) < 10 and not done.wait(chooser.uniform(0.1, 0.3)):
            workers = worker_pids(bench.root)
            if workers:
                victim = chooser.choice(workers)
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
                except ProcessLookupError:
                    pass

    thread = threading.Thread(target=storm, daemon=True)
    thread.start()
    try:
        ended = bench.ws.jobs.wait(job.name, timeout=120)
    finally:
        done.set()
        thread.join()
    assert len(kills) >= 5, "the storm did not hit enough workers to mean anything"
    assert ended.status == "Completed", ended.headline
    assert (ended.progress.items_succeeded, ended.progress.items_failed) == (120, 0)
    assert bench.output(ended) == echoed(folder)


POISON_SCRIPT = """
import os, signal

def run(mini_batch):
    for path in mini_batch:
        if path.endswith("item-0005.txt"):
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would, for an item too big to score
    return [os.path.basename(path) for path in mini_batch]
"""


def _poisoned(bench: Bench, workers: int) -> tuple[Path, float, JobRecord]:
    settings = {"mini_batch_size": 4, "max_concurrency_per_instance": workers, "retry_settings": {"max_retries": 1}}
    bench.deploy(POISON_SCRIPT, settings=settings)
    folder = text_inputs(bench.root, 12)
    started = time.monotonic()
    job = bench.run(folder, timeout=120)
    return folder, time.monotonic() - started, job


def test_an_item_that_kills_every_worker_it_touches_fails_alone_and_quickly(bench: Bench) -> None:
    folder, seconds, job = _poisoned(bench, workers=2)
    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (11, 1)
    (failure,) = job.progress.first_failures
    assert failure.item.endswith("item-0005.txt")
    assert failure.error.startswith("WorkerLost: worker node-0/process")
    assert "killed by signal 9 (SIGKILL), possibly out of memory" in failure.error
    names = [path.name for path in sorted(folder.iterdir()) if path.name != "item-0005.txt"]
    assert bench.output(job).split() == names
    assert seconds < 60


def test_on_a_single_worker_slot_the_poison_item_still_fails_after_its_free_reruns(bench: Bench) -> None:
    _, seconds, job = _poisoned(bench, workers=1)
    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (11, 1)
    stderr_logs = list(Path(str(job.spec["folder"]), "logs", "user", "stderr", "node-0").iterdir())
    # 10 free reruns, then the counted tries and the halving down to the one item: bounded, not endless.
    print(f"{len(stderr_logs)} workers started, {seconds:.1f} s")
    assert 12 <= len(stderr_logs) <= 20
    assert seconds < 90
