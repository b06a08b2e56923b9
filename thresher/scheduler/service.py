"""The detached local runner: claims queued (or orphaned) jobs from the metadata DB, exits when idle.

``invoke`` stores a queued job and calls ``ensure_runner`` (``launch.py``), which starts ``python -m
thresher.runner`` (the entry point, above ``instance``, that builds the settings and the store and
calls ``serve``) in its own session unless a runner of this workspace is alive (it holds
``runner.lock``), and rings the live one's doorbell otherwise. Before exiting, a runner releases the
lock and looks at the queue once more, so a job queued while it was leaving is never stranded. A
runner told to stop marks the lock stopping before it queues its job again, so that a client that sees
the job queued starts a new runner once this one has let go of the lock (``launch.runner_alive``).

``serve_queue`` is ``thresher runner``: any number of them, on any machines that reach the database and
the datastores, serve one queue without the lock. Each beats in the database (``beat``, kind
``"runner"``), claims with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, waits for work on a ``LISTEN``
connection there (the doorbell file on SQLite), and takes over the jobs of runners that died: on its
own host as soon as their process is gone, on any host once their heartbeat is older than
``runner_stale_seconds``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from thresher.executors import load_executor
from thresher.executors.base import Executor
from thresher.scheduler.faults import Faults
from thresher.scheduler.jobspec import JobSpec
from thresher.scheduler.launch import (
    WAKE_CHECK_SECONDS,
    WAKE_FILE,
    alive,
    mark_holder,
    runner_id,
    runner_lock,
    stale_before,
)
from thresher.scheduler.runner import Resolver, heartbeat_seconds, run_job
from thresher.scheduler.slots import Slots
from thresher.scheduler.stop import STOP, RunnerStopped
from thresher.scheduler.warm import WarmPools
from thresher.settings import Settings
from thresher.store import JobRecord, SqlStore

RUNNER_KIND = "runner"
"""The kind of a ``thresher runner``'s heartbeat in the database (``MetadataStore.beat``)."""

JobHandler = Callable[..., Any]
"""Runs a claimed job of one kind to its end, with ``run_job``'s signature and contract (a pipeline job's
driver lives above the scheduler and is handed to ``serve`` by the runner's entry point)."""

POLL_SECONDS = 0.2
"""How often an idle runner asks the database for a job: for jobs queued without ringing its doorbell
(by another host, or found orphaned); a client on this host rings it (``launch.wake_runner``)."""


def dead_local_runners(store: SqlStore, *, steps: bool = True) -> list[str]:
    """Runners on this host, named by running jobs (with ``steps`` False: by jobs that are not pipeline
    steps, which only their pipeline's runner claims), whose process no longer exists."""
    host = socket.gethostname()
    return [
        runner
        for runner in store.active_runners(top_level=not steps)
        if runner.startswith(host + ":") and not alive(int(runner.rsplit(":", 1)[1]))
    ]


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
            perf_interval=settings.worker_perf_interval,
        )
        return ray_executor
    executor: Executor = load_executor(spec.backend)(
        log_max_bytes=settings.worker_log_max_bytes,
        perf_interval=settings.worker_perf_interval,
        worker_template=settings.worker_template,
    )
    return executor


class Waiter(Protocol):
    """What an idle runner waits on between polls of the queue: the doorbell file, or a LISTEN connection."""

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True as soon as a job may have been queued."""
        ...

    def answer(self) -> bool:
        """Whether a job may have been queued since the last wait or answer, without waiting."""
        ...


class Doorbell:
    """The runner's side of ``runner.wake``: waiting between polls, cut short when a client rings.

    A ring is a byte appended to the file; answering it empties the file. Only the runner holding the
    lock answers, so two runners never take each other's rings.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True as soon as the doorbell rings (it is then silent again)."""
        deadline = time.monotonic() + timeout
        while not self.answer():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(WAKE_CHECK_SECONDS, left))
        return True

    def answer(self) -> bool:
        """Whether it rang since the last answer, emptying it. A ring after the check waits for the next one."""
        try:
            if self._path.stat().st_size == 0:
                return False
            os.truncate(self._path, 0)
        except OSError:
            return False  # no doorbell yet (nobody rang), or it cannot be emptied: rings go unanswered
        return True


def serve(
    store: SqlStore,
    settings: Settings,
    *,
    idle_exit: float | None = None,
    resolve: Resolver | None = None,
    handlers: Mapping[str, JobHandler] | None = None,
) -> None:
    """Claim and run jobs until the queue has been empty for ``idle_exit`` seconds (default: the
    ``runner_idle_exit`` setting) and no warm pool is left.

    Raises only what stops the process (``RunnerStopped``, ``KeyboardInterrupt``) and thresher's
    errors about the database itself (``StoreError``): every job it claimed is ended, queued again,
    or left orphaned for the next runner by ``run_job``.
    """
    runner = runner_id()
    faults = Faults.parse(settings.fault_injection)
    doorbell = Doorbell(settings.workspace_dir / WAKE_FILE)
    while True:
        with runner_lock(settings) as lock:
            if lock is None:
                return  # another runner serves this workspace
            mark_holder(lock)  # who holds it: see launch.runner_alive
            stopping = functools.partial(_mark_stopping, lock)
            pools = WarmPools(settings, functools.partial(executor_for, settings))
            try:
                idle = settings.runner_idle_exit if idle_exit is None else idle_exit
                _drain(store, runner, idle, settings, faults, resolve, doorbell, pools, handlers or {}, stopping, None)
            finally:
                # However it leaves (idle, stopped between jobs, an error), it says so before letting go of
                # the lock: a client holding this runner's process (``ensure_runner``'s ``started``) then
                # knows it may have looked at the queue for the last time, and starts another.
                stopping()
                pools.close()  # no worker outlives its runner
        # Lock released: a job queued meanwhile would have found no runner alive. Look once more.
        if store.list_jobs(statuses=("Queued",), limit=1, top_level=True) or dead_local_runners(store, steps=False):
            continue
        return


def serve_queue(
    store: SqlStore,
    settings: Settings,
    *,
    name: str | None = None,
    idle_exit: float | None = None,
    resolve: Resolver | None = None,
    handlers: Mapping[str, JobHandler] | None = None,
) -> None:
    """``thresher runner``: claim and run the queue's jobs, alongside any number of other runners, until the
    queue has been empty for ``idle_exit`` seconds (None: never) and no warm pool is left.

    ``name`` is how the runner appears in the database (default ``host:pid``, which also lets runners on
    the same host take its jobs over as soon as its process is gone). It holds no workspace lock, so
    several can run on one host beside a workspace's detached runner. Raises what ``serve`` raises.
    """
    runner = name or runner_id()
    faults = Faults.parse(settings.fault_injection)
    listener = store.job_listener()
    waiter: Waiter = listener if listener is not None else Doorbell(settings.workspace_dir / WAKE_FILE)
    pools = WarmPools(settings, functools.partial(executor_for, settings))
    beat = _ServiceBeat(store, runner, heartbeat_seconds(settings))
    try:
        beat([])
        idle = math.inf if idle_exit is None else idle_exit
        _drain(store, runner, idle, settings, faults, resolve, waiter, pools, handlers or {}, lambda: None, beat)
    finally:
        pools.close()  # no worker outlives its runner
        if listener is not None:
            listener.close()
        with contextlib.suppress(Exception):  # a runner that cannot say goodbye is found stale instead
            store.end_service(runner)


class _ServiceBeat:
    """A ``thresher runner``'s heartbeat in the database, at most every ``every`` seconds: who it is, where,
    and the jobs it runs (``thresher.store.service``)."""

    def __init__(self, store: SqlStore, runner: str, every: float) -> None:
        self._store, self._runner, self._every = store, runner, every
        self._last = -math.inf
        self._info = {"host": socket.gethostname(), "pid": os.getpid()}

    def __call__(self, jobs: Collection[str]) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        self._store.beat(self._runner, RUNNER_KIND, {**self._info, "jobs": sorted(jobs)})


def _mark_stopping(lock: IO[str]) -> None:
    """Mark the held runner lock stopping (see ``launch.runner_alive``); never raises."""
    # A full disk, or the lock file closed: clients then wait for the pid to be gone instead.
    with contextlib.suppress(OSError, ValueError):
        mark_holder(lock, stopping=True)


def _drain(
    store: SqlStore,
    runner: str,
    idle_exit: float,
    settings: Settings,
    faults: Faults,
    resolve: Resolver | None,
    waiter: Waiter,
    pools: WarmPools,
    handlers: Mapping[str, JobHandler],
    stopping: Callable[[], None],
    beat: Callable[[Collection[str]], None] | None,
) -> None:
    """Run jobs, several at once within the machine's slots, until the queue has been empty for
    ``idle_exit`` seconds, no job runs and no warm pool is left.

    Each claimed job runs in a thread of its own and waits there for the slots its workers need. Told to
    stop, the runner lets every job's thread queue its job again (``STOP``), then stops.
    """
    slots = Slots(
        settings.default_max_workers,
        parked=lambda keep: pools.idle_workers(keep=keep),
        reclaim=lambda keep: pools.evict_idle(keep=keep),
    )
    running: dict[str, threading.Thread] = {}
    idle_since = time.monotonic()
    try:
        while running or time.monotonic() - idle_since < idle_exit or pools.active():
            if beat is not None:
                beat(running)
            pools.tend()
            for name, thread in list(running.items()):
                if not thread.is_alive():
                    running.pop(name)
                    idle_since = time.monotonic()
            if running and (slots.used >= slots.capacity or slots.waiting):
                waiter.wait(POLL_SECONDS)  # every slot is taken, or a job waits for some: claim no more now
                continue
            waiter.answer()  # this claim looks at the queue anyway: a ring from before it is answered
            job = store.claim_job(
                runner,
                stale_before=stale_before(settings.runner_stale_seconds),
                dead_runners=dead_local_runners(store),
            )
            if job is None:
                waiter.wait(POLL_SECONDS)
                continue
            log(f"runner {runner} claimed job {job.name} (attempt {job.attempt})")
            handler = handlers.get(job.kind, run_job)
            work = functools.partial(
                _run_claimed, handler, store, job, runner, settings, faults, resolve, pools, stopping, slots
            )
            thread = threading.Thread(target=work, name=f"job-{job.name}", daemon=True)
            running[job.name] = thread
            thread.start()
            idle_since = time.monotonic()
    except (RunnerStopped, KeyboardInterrupt) as stop:
        if not STOP.is_set():
            STOP.set(stop.signal_name if isinstance(stop, RunnerStopped) else "SIGINT")
        for thread in running.values():
            thread.join(timeout=60)  # each puts its job back in the queue at its next check
        raise


def _run_claimed(
    handler: JobHandler,
    store: SqlStore,
    job: JobRecord,
    runner: str,
    settings: Settings,
    faults: Faults,
    resolve: Resolver | None,
    pools: WarmPools,
    stopping: Callable[[], None],
    slots: Slots,
) -> None:
    """One claimed job, in its thread; the job's handler ends it, or queues it again when the runner stops."""
    try:
        finished = handler(
            store,
            job,
            runner,
            functools.partial(executor_for, settings),
            settings=settings,
            faults=faults,
            resolve=resolve,
            pools=pools,
            on_stop=stopping,
            slots=slots,
        )
    except (RunnerStopped, KeyboardInterrupt):
        return  # queued again by its handler
    if finished is not None:
        log(f"job {job.name}: {finished.status}: {finished.headline}")


def log(message: str) -> None:
    """A line of the runner's log (``runner.log`` in the workspace)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)
