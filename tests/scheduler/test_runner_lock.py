"""The workspace's runner lock: a runner killed a moment ago may still hold it while its last threads
exit, and a runner told to stop holds it, marked stopping, while it queues its job again and stops its
workers; ``runner_alive`` waits for such a holder instead of taking it for a runner that will serve, so
a resume or an invoke right after a kill or a SIGTERM starts a new runner (without this, the job was
left waiting).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thresher.scheduler.launch import mark_holder, runner_alive, runner_lock
from thresher.settings import Settings

HOLDER = """
import fcntl, os, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
handle.seek(0); handle.truncate(); handle.write(sys.argv[2].replace("PID", str(os.getpid()))); handle.flush()
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


def _hold(lock: Path, pid: str, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), pid, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _gone_pid() -> str:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return str(finished.pid)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "ws")


def test_a_lock_held_in_the_name_of_a_dead_runner_is_waited_for(settings: Settings) -> None:
    settings.workspace_dir.mkdir(parents=True)
    holder = _hold(settings.workspace_dir / "runner.lock", _gone_pid(), 0.6)
    began = time.monotonic()
    try:
        assert runner_alive(settings) is False  # the lock went with the dying holder
    finally:
        holder.wait()
    assert 0.3 < time.monotonic() - began < 5


def test_a_lock_held_by_a_live_runner_means_a_runner_is_alive_at_once(settings: Settings) -> None:
    settings.workspace_dir.mkdir(parents=True)
    holder = _hold(settings.workspace_dir / "runner.lock", "", 30)
    try:
        lock = settings.workspace_dir / "runner.lock"
        lock.write_text(str(holder.pid))  # what serve() writes: the holder's own pid
        began = time.monotonic()
        assert runner_alive(settings) is True
        assert time.monotonic() - began < 1
    finally:
        holder.kill()
        holder.wait()
    assert runner_alive(settings) is False


def test_a_lock_held_by_a_runner_told_to_stop_is_waited_for_though_its_process_lives(settings: Settings) -> None:
    settings.workspace_dir.mkdir(parents=True)
    holder = _hold(settings.workspace_dir / "runner.lock", "PID stopping", 0.6)  # what serve() writes on SIGTERM
    began = time.monotonic()
    try:
        assert runner_alive(settings) is False  # so ensure_runner starts one, which finds the lock free
    finally:
        holder.wait()
    assert 0.3 < time.monotonic() - began < 5


def test_a_runner_that_stops_too_slowly_counts_as_no_runner_after_the_wait(settings: Settings) -> None:
    settings.workspace_dir.mkdir(parents=True)
    holder = _hold(settings.workspace_dir / "runner.lock", "PID stopping", 30)
    try:
        began = time.monotonic()
        assert runner_alive(settings, dying_wait=0.3) is False
        assert 0.3 <= time.monotonic() - began < 5
    finally:
        holder.kill()
        holder.wait()


def test_a_new_holder_writes_its_pid_over_what_an_earlier_runner_left(tmp_path: Path) -> None:
    # The lock keeps its text after a runner exits. The next holder's pid must replace it, not follow it:
    # "1234567 stopping" followed by a pid read as one huge pid (OverflowError in every client).
    settings = Settings(home=tmp_path / "ws")
    settings.workspace_dir.mkdir(parents=True)
    lock = settings.workspace_dir / "runner.lock"
    lock.write_text("1234567 stopping")
    with runner_lock(settings) as held:
        assert held is not None
        mark_holder(held)
        assert lock.read_text() == str(os.getpid())
        assert runner_alive(settings, dying_wait=0) is True
        mark_holder(held, stopping=True)
        assert lock.read_text() == f"{os.getpid()} stopping"
