"""Failures a user will meet: exceptions, crashes, kills, hangs, broken init. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.executors.conftest import Job, backend, of_type, run_task, start, task, wait_for
from thresher.executors.base import (
    Executor,
    TaskDone,
    TaskFailed,
    WorkerInitFailed,
    WorkerLost,
    WorkerReady,
)


def _gone(pid: int) -> bool:
    """The process no longer runs (a zombie nobody reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_run_raising_fails_the_task_and_the_worker_goes_on(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        def run(mini_batch):
            if any("file-001" in path for path in mini_batch):
                raise ValueError("cannot parse " + mini_batch[0])
            return mini_batch
        """
    )
    start(executor, config)
    inputs = job.input_files(3)
    failed = run_task(executor, task(inputs[1:2], mini_batch=4))
    assert isinstance(failed, TaskFailed)
    assert failed.worker == "node-0/process000"
    assert failed.error["type"] == "ValueError"
    assert failed.error["message"] == f"cannot parse {inputs[1]}"
    # The traceback starts in the user's code: thresher's own frames are left out.
    assert failed.error["traceback"].startswith(
        f'Traceback (most recent call last):\n  File "{job.code / "score.py"}", line 4'
    )
    assert failed.error["log"] == str(job.log("error", "node-0/process000"))
    written = Path(failed.error["log"]).read_text()
    assert "run() failed on task" in written and "mini-batch 4" in written and inputs[1] in written
    assert "ValueError: cannot parse" in written
    assert isinstance(run_task(executor, task(inputs[:1])), TaskDone)  # the same worker, still alive


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("None", "run() returned NoneType None; it must return a list, tuple, generator or pandas DataFrame"),
        ("{'a': 1}", "run() returned dict {'a': 1}"),
    ],
)
def test_a_wrong_return_value_fails_the_task_with_what_was_returned(
    job: Job, executor: Executor, returned: str, message: str
) -> None:
    start(executor, job.config(f"def run(mini_batch):\n    return {returned}\n"))
    failed = run_task(executor, task(job.input_files(1)))
    assert isinstance(failed, TaskFailed)
    assert failed.error["type"] == "TypeError" and message in failed.error["message"]


def test_sys_exit_in_run_fails_only_the_task(job: Job, executor: Executor) -> None:
    start(executor, job.config("import sys\ndef run(mini_batch):\n    sys.exit(42)\n"))
    failed = run_task(executor, task(job.input_files(1)))
    assert isinstance(failed, TaskFailed)
    assert failed.error["message"] == "the script called sys.exit(42)"
    assert executor.idle_workers() == 1


def test_init_raising_fails_the_worker_quickly_and_it_is_not_replaced(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        def init():
            raise RuntimeError("model file is corrupt")
        def run(mini_batch):
            return mini_batch
        """
    )
    began = time.monotonic()
    executor.start(config, nodes=1, per_node=2)
    events = wait_for(executor, lambda evs: len(evs) >= 2)
    assert time.monotonic() - began < 10
    failures = of_type(events, WorkerInitFailed)
    assert len(failures) == 2
    error = failures[0].error
    assert (error["type"], error["message"]) == ("RuntimeError", "model file is corrupt")
    assert "in init" in error["traceback"] and "model file is corrupt" in Path(error["log"]).read_text()
    assert executor.poll(0.3) == []
    assert executor.live_workers() == 0 and executor.idle_workers() == 0


def test_an_import_error_in_the_script_is_an_init_failure(job: Job, executor: Executor) -> None:
    executor.start(job.config("import no_such_module_here\ndef run(b):\n    return b\n"), nodes=1, per_node=1)
    (failure,) = wait_for(executor, lambda evs: len(evs) >= 1)
    assert isinstance(failure, WorkerInitFailed)
    assert failure.error["type"] == "ModuleNotFoundError" and "no_such_module_here" in failure.error["message"]


def test_a_crash_inside_init_is_an_init_failure_not_a_crash_loop(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        import os, sys
        def init():
            print("about to die", file=sys.stderr)
            os._exit(7)
        def run(mini_batch):
            return mini_batch
        """
    )
    executor.start(config, nodes=1, per_node=1)
    events = wait_for(executor, lambda evs: any(isinstance(e, WorkerInitFailed) for e in evs))
    # A start-up death may be a kill from outside: the slot is refilled, and given up after 3 in a row.
    *lost, failure = events
    assert [type(e) for e in lost] == [WorkerLost, WorkerLost] and all(e.task is None for e in lost)
    assert isinstance(failure, WorkerInitFailed)
    assert failure.error["type"] == "WorkerLost"
    assert "exited with code 7" in failure.error["message"]
    assert "3 workers of its slot died so in a row" in failure.error["message"]
    assert "about to die" in failure.error["traceback"]
    assert executor.poll(0.3) == [] and executor.live_workers() == 0


def test_os_exit_in_run_loses_the_worker_and_a_replacement_runs_init_again(job: Job, executor: Executor) -> None:
    config = job.config(
        f"""
        import os
        def init():
            with open(os.path.join({str(job.root)!r}, "init-" + str(os.getpid())), "w"):
                pass
        def run(mini_batch):
            print("last words before the crash")
            if "file-000" in mini_batch[0]:
                os._exit(1)
            return mini_batch
        """
    )
    start(executor, config)
    inputs = job.input_files(2)
    doomed = task(inputs[:1])
    lost = run_task(executor, doomed)
    assert isinstance(lost, WorkerLost)
    assert (lost.worker, lost.task, lost.exit_code) == ("node-0/process000", doomed.id, 1)
    assert lost.reason.startswith("exited with code 1")
    (ready,) = of_type(wait_for(executor, lambda evs: bool(of_type(evs, WorkerReady))), WorkerReady)
    assert ready.worker == "node-0/process001"
    assert len(list(job.root.glob("init-*"))) == 2
    assert isinstance(run_task(executor, task(inputs[1:])), TaskDone)
    assert "last words before the crash" in job.log("stdout", "node-0/process000").read_text()


def test_kill_9_from_outside_is_a_lost_worker(job: Job, executor: Executor) -> None:
    start(executor, job.config("def run(mini_batch):\n    return mini_batch\n"), per_node=2)
    pid = executor.pid("node-0/process001")  # type: ignore[attr-defined]
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    events = wait_for(executor, lambda evs: len(of_type(evs, WorkerReady)) >= 1)
    (lost,) = of_type(events, WorkerLost)
    assert (lost.worker, lost.task, lost.exit_code) == ("node-0/process001", None, -9)
    assert lost.reason.startswith("killed by signal 9 (SIGKILL), possibly out of memory")
    # A new name on the same node. On ray each slot lives in an actor of its own and numbers its workers
    # per_node apart (slot 1: process001, process003, ...), so names never repeat without asking the driver.
    replacement = {"local": "node-0/process002", "ray": "node-0/process003"}[backend(executor)]
    assert of_type(events, WorkerReady)[0].worker == replacement
    assert executor.live_workers() == 2


def test_kill_of_a_hanging_run_reports_the_reason_and_kills_its_children(job: Job, executor: Executor) -> None:
    child_pid = job.root / "child.pid"
    config = job.config(
        f"""
        import subprocess, time
        def run(mini_batch):
            child = subprocess.Popen(["sleep", "60"])
            open({str(child_pid)!r}, "w").write(str(child.pid))
            time.sleep(60)
        """
    )
    start(executor, config)
    hanging = task(job.input_files(1))
    worker = executor.submit(hanging)
    wait_for(executor, lambda evs: child_pid.exists() and child_pid.read_text() != "", timeout=10)
    executor.kill(worker, "was killed: run() exceeded the timeout of 0.5 s")
    events = wait_for(executor, lambda evs: bool(of_type(evs, WorkerReady)))
    (lost,) = of_type(events, WorkerLost)
    assert (lost.task, lost.exit_code, lost.reason) == (
        hanging.id,
        -9,
        "was killed: run() exceeded the timeout of 0.5 s",
    )
    if sys.platform == "linux":
        deadline = time.monotonic() + 5
        while not _gone(int(child_pid.read_text())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(int(child_pid.read_text()))


def test_a_segfault_is_a_lost_worker_with_a_python_traceback_in_stderr(job: Job, executor: Executor) -> None:
    config = job.config("import ctypes\ndef run(mini_batch):\n    ctypes.string_at(0)\n")
    start(executor, config)
    lost = run_task(executor, task(job.input_files(1)))
    assert isinstance(lost, WorkerLost)
    assert lost.reason.startswith("killed by signal 11 (SIGSEGV)")
    stderr = job.log("stderr", "node-0/process000").read_text()
    assert "Fatal Python error: Segmentation fault" in stderr and "score.py" in stderr


def test_submit_without_an_idle_worker_is_refused(job: Job, executor: Executor) -> None:
    executor.start(job.config("def run(b):\n    return b\n"), nodes=1, per_node=1)
    with pytest.raises(RuntimeError, match="No idle worker"):
        executor.submit(task(["/x"]))


def test_a_task_larger_than_the_pipe_buffer_arrives_whole(job: Job, executor: Executor) -> None:
    start(executor, job.config("def run(mini_batch):\n    return mini_batch[:-1]\n"))
    deep = job.root.joinpath("data", *["deep"] * 20)  # items must be real files: the worker opens each
    deep.mkdir(parents=True)
    items = [str(deep / f"file-{index:06d}.csv") for index in range(3000)]  # about 400 KB of JSON
    for item in items:
        Path(item).touch()
    done = run_task(executor, task(items))
    assert isinstance(done, TaskDone)
    assert (done.items, done.succeeded, done.rows) == (3000, 2999, 2999)
