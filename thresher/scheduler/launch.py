"""The detached runner seen from outside: is it alive, start it, wake it, is a job's runner gone.

What ``invoke``, ``resume``, ``job show`` and ``job stream`` need of the runner, without importing
the runner's own code (``service.py``: the scheduling loop, executors, planning), so a command that
only asks pays for none of it.

A runner holds ``runner.lock`` in the workspace (an ``flock``) while it serves, with its pid written
in it, and ``<pid> stopping`` once it was told to stop (before it queues its job again; see
``runner_alive``). ``ensure_runner`` starts ``python -m thresher.runner`` in its own session when no
runner holds the lock, or only a stopping or dying one (once it has let go), and otherwise rings the
runner's doorbell, ``runner.wake``: a client appends a byte to it after queueing a job, and the idle
runner, which looks at the file's size every ``WAKE_CHECK_SECONDS``, claims the job at once instead of
at its next poll of the database. The doorbell is a plain file (no FIFO or socket that copying a
workspace would trip on); a lost ring only costs the runner's regular poll.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING

from thresher.settings import Settings

if TYPE_CHECKING:
    from thresher.store import JobRecord

RUNNER_MODULE = "thresher.runner"
LOCK_FILE = "runner.lock"
LOG_FILE = "runner.log"
WAKE_FILE = "runner.wake"
WAKE_CHECK_SECONDS = 0.01
"""How often an idle runner looks at its doorbell (a ``stat``: microseconds)."""

STALE_SECONDS: float = Settings.model_fields["runner_stale_seconds"].default
"""A Running job whose runner has not been heard of for this long is orphaned (the setting's default)."""
DYING_WAIT_SECONDS = 10.0  # how long a killed or stopping runner's lock is waited for (see runner_alive)
STOPPING = "stopping"
"""Written after its pid into the lock by a runner that was told to stop (``mark_holder``)."""


def runner_id() -> str:
    """This process as a runner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def stale_before(seconds: float = STALE_SECONDS) -> datetime:
    """Heartbeats older than this mark a job's runner as gone (``seconds``: ``Settings.runner_stale_seconds``)."""
    return datetime.now(timezone.utc) - timedelta(seconds=seconds)


def runner_gone(job: JobRecord, *, stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether a Running or Finalizing job's runner is gone: a dead process on this host, or silent too long."""
    if job.status not in ("Running", "Finalizing") or not job.runner:
        return False
    host, _, pid = job.runner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not alive(int(pid))
    return job.heartbeat_at is None or job.heartbeat_at < stale_before(stale_seconds)


def alive(pid: int) -> bool:
    """Whether the process ``pid`` exists on this host and has not exited (a zombie has)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; no pid that large
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def lock_path(settings: Settings) -> Path:
    """The workspace's runner lock."""
    return settings.workspace_dir / LOCK_FILE


@contextmanager
def runner_lock(settings: Settings) -> Iterator[IO[str] | None]:
    """The runner lock held for the block (its open file), or None when another process holds it."""
    settings.workspace_dir.mkdir(parents=True, exist_ok=True)
    # Read-write without O_APPEND (created if missing): mark_holder writes over the old text in place,
    # which an append-mode file would add to the end of instead.
    handle = os.fdopen(os.open(lock_path(settings), os.O_RDWR | os.O_CREAT, 0o644), "r+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        yield None
        return
    try:
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def mark_holder(lock: IO[str], *, stopping: bool = False) -> None:
    """Write into the held lock who holds it (this process's pid) and, once it was told to stop, ``stopping``."""
    lock.seek(0)
    # Written over the old text and cut after, not cut first: the pid alone is a prefix of the stopping
    # mark, so a reader never finds the file empty (an empty lock reads as a live runner).
    lock.write(f"{os.getpid()} {STOPPING}" if stopping else str(os.getpid()))
    lock.truncate()
    lock.flush()


def runner_alive(settings: Settings, *, dying_wait: float = DYING_WAIT_SECONDS) -> bool:
    """Whether a runner of this workspace holds the lock now, and will go on serving.

    A runner killed a moment ago can still hold it: its main thread has exited (the process shows as
    a zombie) while its other threads are still being torn down, and the lock goes only with the last
    of them. Such a holder (its pid, which ``serve`` writes into the lock file, is no longer alive) is
    waited for, up to ``dying_wait`` seconds, instead of being taken for a runner that will serve.

    A runner told to stop (SIGTERM, SIGINT) marks the lock ``stopping`` before it queues its job
    again, and lets go of the lock only after stopping its workers: a client that sees the job queued
    in that window and rang the exiting runner's doorbell would leave it queued for good. Such a holder
    is waited for too, up to ``dying_wait`` seconds, so that a runner started next finds the lock free;
    it is no runner that will serve, so the answer is False either way.
    """
    deadline = time.monotonic() + dying_wait
    while True:
        with runner_lock(settings) as handle:
            if handle is not None:
                return False
        holder, stopping = _lock_holder(settings)
        if stopping:
            if time.monotonic() >= deadline:
                return False
        elif holder is None or alive(holder) or time.monotonic() >= deadline:
            return True
        time.sleep(0.05)


def _lock_holder(settings: Settings) -> tuple[int | None, bool]:
    """(the pid the runner holding the lock wrote into it, or None: none written, as by older runners;
    whether it marked itself stopping)."""
    try:
        text = lock_path(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return None, False
    pid, _, mark = text.partition(" ")
    return (int(pid) if pid.isdigit() and len(pid) <= 9 else None), mark == STOPPING


def ensure_runner(
    settings: Settings, *, started: subprocess.Popen[bytes] | None = None
) -> subprocess.Popen[bytes] | None:
    """Have a runner look at the workspace's queue now: wake the one that is alive, or start one.

    Returns the runner process it started (None when it woke one). Cheap when a runner is alive (an
    ``flock`` attempt and a one-byte append), so ``invoke`` calls it before its slower checks (the
    runner's start then overlaps them) and again after queueing the job, passing what the first call
    started as ``started``: that runner counts as alive while its process runs, though it may not hold
    the lock yet (it will, and claim the job; or it finds another runner serving, which will).
    """
    if (started is not None and started.poll() is None and not _leaving(settings, started.pid)) or runner_alive(
        settings
    ):
        wake_runner(settings)
        return None
    with (settings.workspace_dir / LOG_FILE).open("a", encoding="utf-8") as log:
        environment = dict(os.environ)
        environment["THRESHER_HOME"] = str(settings.workspace_dir)
        if settings.database_url:
            environment["THRESHER_DATABASE_URL"] = settings.database_url
        return subprocess.Popen(
            [sys.executable, "-m", RUNNER_MODULE],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment,
            close_fds=True,
        )


def _leaving(settings: Settings, pid: int) -> bool:
    """Whether the runner process ``pid`` has served and is on its way out: it marked the lock stopping,
    and may have looked at the queue for the last time before the job now queued (a runner that idles
    out while ``invoke`` checks a slow input). One that has not taken the lock yet will see the job."""
    holder, stopping = _lock_holder(settings)
    return holder == pid and stopping


def wake_runner(settings: Settings) -> None:
    """Ring the doorbell: an idle runner claims within ``WAKE_CHECK_SECONDS`` rather than at its next poll."""
    try:
        with (settings.workspace_dir / WAKE_FILE).open("ab") as bell:
            bell.write(b"\n")
    except OSError:
        pass  # a read-only or vanished workspace folder: the runner's regular poll still finds the job
