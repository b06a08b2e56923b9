"""The detached local runner: claims queued (or orphaned) jobs from the metadata DB, exits when idle.

``invoke`` stores a queued job and calls ``ensure_runner``, which starts ``python -m thresher.runner``
(the entry point, above ``instance``, that builds the settings and the store and calls ``serve``) in
its own session unless a runner of this workspace is alive (it holds ``runner.lock``). Before
exiting, a runner releases the lock and looks at the queue once more, so a job queued while it was
leaving is never stranded.
"""

from __future__ import annotations

import fcntl
import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from thresher.executors import load_executor
from thresher.executors.base import Executor
from thresher.scheduler.faults import Faults
from thresher.scheduler.jobspec import JobSpec
from thresher.scheduler.runner import Resolver, run_job, stale_before
from thresher.settings import Settings
from thresher.store import JobRecord, SqlStore

RUNNER_MODULE = "thresher.runner"

IDLE_EXIT_SECONDS = 3.0
POLL_SECONDS = 0.2


def runner_id() -> str:
    """This process as a runner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_local_runners(store: SqlStore) -> list[str]:
    """Runners on this host, named by running jobs, whose process no longer exists."""
    host = socket.gethostname()
    dead = []
    for job in store.list_jobs(statuses=("Running", "Finalizing"), limit=None):
        if job.runner and job.runner.startswith(host + ":") and not _alive(int(job.runner.rsplit(":", 1)[1])):
            dead.append(job.runner)
    return dead


def runner_gone(job: JobRecord) -> bool:
    """Whether a Running or Finalizing job's runner is gone: a dead process on this host, or silent too long."""
    if job.status not in ("Running", "Finalizing") or not job.runner:
        return False
    host, _, pid = job.runner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _alive(int(pid))
    return job.heartbeat_at is None or job.heartbeat_at < stale_before()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def executor_for(settings: Settings, spec: JobSpec) -> Executor:
    """A new executor for the job: the local process pool, or Ray actors on the job's Ray cluster."""
    if spec.backend == "ray":
        ray_executor: Executor = load_executor("ray")(
            address=spec.address,
            compute=spec.compute or "ray",
            cpus_per_worker=settings.ray_cpus_per_worker,
            min_nodes=spec.min_nodes,
            log_max_bytes=settings.worker_log_max_bytes,
            connect_timeout=settings.ray_connect_timeout,
        )
        return ray_executor
    executor: Executor = load_executor(spec.backend)(
        log_max_bytes=settings.worker_log_max_bytes, worker_template=settings.worker_template
    )
    return executor


DYING_WAIT_SECONDS = 10.0  # how long a killed runner's lock is waited for (see runner_alive)


def _lock_path(settings: Settings) -> Path:
    return settings.workspace_dir / "runner.lock"


@contextmanager
def _try_lock(settings: Settings) -> Iterator[IO[str] | None]:
    settings.workspace_dir.mkdir(parents=True, exist_ok=True)
    handle = _lock_path(settings).open("a+", encoding="utf-8")
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


def runner_alive(settings: Settings, *, dying_wait: float = DYING_WAIT_SECONDS) -> bool:
    """Whether a runner of this workspace holds the lock now.

    A runner killed a moment ago can still hold it: its main thread has exited (the process shows as
    a zombie) while its other threads are still being torn down, and the lock goes only with the last
    of them. Such a holder (its pid, which ``serve`` writes into the lock file, is no longer alive) is
    waited for, up to ``dying_wait`` seconds, instead of being taken for a runner that will serve.
    """
    deadline = time.monotonic() + dying_wait
    while True:
        with _try_lock(settings) as handle:
            if handle is not None:
                return False
        holder = _lock_holder(settings)
        if holder is None or _alive(holder) or time.monotonic() >= deadline:
            return True
        time.sleep(0.05)


def _lock_holder(settings: Settings) -> int | None:
    """The pid the runner holding the lock wrote into it (None: none written, as by older runners)."""
    try:
        text = _lock_path(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def ensure_runner(settings: Settings) -> None:
    """Start a detached runner for the workspace unless one is alive."""
    if runner_alive(settings):
        return
    log = (settings.workspace_dir / "runner.log").open("a", encoding="utf-8")
    environment = dict(os.environ)
    environment["THRESHER_HOME"] = str(settings.workspace_dir)
    if settings.database_url:
        environment["THRESHER_DATABASE_URL"] = settings.database_url
    subprocess.Popen(
        [sys.executable, "-m", RUNNER_MODULE],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=environment,
        close_fds=True,
    )
    log.close()


def serve(
    store: SqlStore, settings: Settings, *, idle_exit: float = IDLE_EXIT_SECONDS, resolve: Resolver | None = None
) -> None:
    """Claim and run jobs until the queue has been empty for ``idle_exit`` seconds.

    Raises only what stops the process (``RunnerStopped``, ``KeyboardInterrupt``) and thresher's
    errors about the database itself (``StoreError``): every job it claimed is ended, queued again,
    or left orphaned for the next runner by ``run_job``.
    """
    runner = runner_id()
    faults = Faults.parse(settings.fault_injection)
    while True:
        with _try_lock(settings) as lock:
            if lock is None:
                return  # another runner serves this workspace
            lock.seek(0)
            lock.truncate()
            lock.write(str(os.getpid()))  # who holds it: see runner_alive
            lock.flush()
            _drain(store, runner, idle_exit, settings, faults, resolve)
        # Lock released: a job queued meanwhile would have found no runner alive. Look once more.
        if store.list_jobs(statuses=("Queued",), limit=1) or dead_local_runners(store):
            continue
        return


def _drain(
    store: SqlStore, runner: str, idle_exit: float, settings: Settings, faults: Faults, resolve: Resolver | None
) -> None:
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < idle_exit:
        job = store.claim_job(runner, stale_before=stale_before(), dead_runners=dead_local_runners(store))
        if job is None:
            time.sleep(POLL_SECONDS)
            continue
        log(f"runner {runner} claimed job {job.name} (attempt {job.attempt})")
        executors = functools.partial(executor_for, settings)
        finished = run_job(store, job, runner, executors, settings=settings, faults=faults, resolve=resolve)
        if finished is not None:
            log(f"job {job.name}: {finished.status}: {finished.headline}")
        idle_since = time.monotonic()


def log(message: str) -> None:
    """A line of the runner's log (``runner.log`` in the workspace)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)
