"""The ``local`` executor: workers are OS processes on this machine, spoken to with JSON lines over pipes.

Each worker is ``python -m thresher.runtime.worker`` in a session of its own, with a task pipe and an
event pipe (protocol: ``thresher.runtime.protocol``) and its stdout/stderr appended to Azure's log
files. ``poll`` waits on the event pipes and, on Linux, on a pidfd per worker, so a worker that dies
(even one whose children still hold its pipes) is noticed at once; no threads, no busy loop. Between
events the same loop samples each worker's CPU and memory into ``logs/sys/perf`` (``perf``).

    executor = LocalExecutor()
    executor.start(config, nodes=1, per_node=2)     # workers node-0/process000, node-0/process001
    ...                                             # submit / poll as in thresher.executors.base
    executor.shutdown()
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import signal
import time
from typing import cast

from thresher.executors.base import (
    Event,
    Task,
    TaskDone,
    TaskFailed,
    WorkerConfig,
    WorkerInitFailed,
    WorkerLost,
    WorkerReady,
)
from thresher.executors.perf import DEFAULT_INTERVAL, PerfSampler
from thresher.executors.worker_logs import DEFAULT_MAX_BYTES
from thresher.executors.worker_process import WorkerProcess, exit_cause, exit_reason, spawn_worker
from thresher.runtime import protocol
from thresher.runtime.protocol import ItemFailure

_FALLBACK_CHECK_SECONDS = 0.05  # without pidfds, how often exits are looked for
STARTUP_DEATHS = 3  # workers of a slot that die while starting, in a row, before the slot counts as init-failed


class LocalExecutor:
    """Runs tasks on worker processes on this machine (see the module docstring)."""

    def __init__(
        self,
        *,
        eof_grace: float = 5.0,
        log_max_bytes: int = DEFAULT_MAX_BYTES,
        first_number: int = 0,
        number_step: int = 1,
        worker_template: bool = True,
        perf_interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._config: WorkerConfig | None = None
        self._workers: dict[str, WorkerProcess] = {}
        self._idle: dict[str, None] = {}  # insertion-ordered set: the longest idle is used first
        self._numbers: dict[str, int] = {}
        self._startup_deaths: dict[str, int] = {}  # slot -> workers that died starting, in a row
        self._selector = selectors.DefaultSelector()
        self._stopping = False
        self._eof_grace = eof_grace
        self._log_max = log_max_bytes
        # Worker numbers per node: first_number, then + number_step (the ray executor runs one slot per
        # pool and numbers each slot's workers apart, so that names never repeat on a node).
        self._first_number, self._number_step = first_number, number_step
        self._woken = False
        self._template = worker_template  # fork workers from a template where correct (executors.templates)
        self._released = False  # the last job's work ended; the workers wait for the next job (release())
        self._vacant: list[str] = []  # slots whose released worker died: refilled by the next rebind()
        self._held: list[Event] = []  # events found while binding a new job, handed out by the next poll
        # CPU and memory of each worker every perf_interval seconds into logs/sys/perf (0: never).
        self._perf = PerfSampler.create() if perf_interval > 0 else None
        self._perf_interval = perf_interval
        self._next_sample = math.inf

    # -- the Executor interface -----------------------------------------------------------------

    def start(self, config: WorkerConfig, *, nodes: int, per_node: int) -> None:
        """Start ``nodes * per_node`` workers; each reports ``WorkerReady`` after its ``init()``."""
        self.start_slots(config, [f"node-{node}/{index}" for node in range(nodes) for index in range(per_node)])

    def start_slots(self, config: WorkerConfig, slots: list[str]) -> None:
        """Start one worker in each of ``slots`` (``node-2/1``): ``start`` with the slots named.

        On an executor whose workers were released (``release``), with the same identity, this binds
        them to the new job instead (warm compute): see ``rebind``."""
        if self._released and self._config is not None and config.identity == self._config.identity:
            self.rebind(config)
            return
        if self._config is not None:
            raise RuntimeError("LocalExecutor.start() was already called; use a new executor per job.")
        self._config = config
        os.makedirs(config.binding.output_dir, exist_ok=True)
        for slot in slots:
            self._spawn(slot)
        if self._perf is not None:
            self._next_sample = time.monotonic() + self._perf_interval

    def wake_on(self, fd: int) -> None:
        """Make ``poll`` return early (maybe with no events) whenever ``fd`` is readable; ``poll`` drains it.

        Lets another thread interrupt a long ``poll`` to submit or kill (the ray executor's actors)."""
        os.set_blocking(fd, False)
        self._selector.register(fd, selectors.EVENT_READ, (None, "wake"))

    def idle_workers(self) -> int:
        """Workers that are ready and have no task."""
        return len(self._idle)

    def live_workers(self) -> int:
        """Workers starting, ready or busy (a lost worker counts until its replacement is started)."""
        return sum(1 for w in self._workers.values() if not w.init_failed)

    def submit(self, task: Task, *, worker: str | None = None) -> str:
        """Send ``task`` to the worker idle the longest (or to ``worker``, which must be idle); its name."""
        if not self._idle or (worker is not None and worker not in self._idle):
            raise RuntimeError("No idle worker: submit at most idle_workers() tasks between polls.")
        name = worker or next(iter(self._idle))
        del self._idle[name]
        process = self._workers[name]
        process.state, process.task = "busy", task.id
        with contextlib.suppress(OSError):  # it died: poll() reports WorkerLost with this task
            process.send({"op": "run", "task": vars(task)})
        return name

    def poll(self, timeout: float) -> list[Event]:
        """Events since the last poll, waiting up to ``timeout`` seconds for the first one."""
        events, self._held = self._held, []
        deadline = time.monotonic() + timeout
        while True:
            self._wait(max(0.0, deadline - time.monotonic()), events)
            if events or self._woken or time.monotonic() >= deadline:
                self._woken = False
                return events

    def kill(self, worker: str, reason: str) -> None:
        """SIGKILL the worker (and its process group); ``WorkerLost`` with ``reason`` follows."""
        process = self._workers.get(worker)
        if process is None or process.finished:
            return
        process.kill_reason = process.kill_reason or reason
        process.state = "exiting"
        self._idle.pop(worker, None)
        process.signal_group(signal.SIGKILL)

    def shutdown(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        """Graceful: ask every worker to run ``shutdown()`` and wait up to ``timeout``; then kill the rest.

        Calling it again does nothing."""
        if self._stopping:
            return
        self._stopping = True
        if graceful:
            for process in self._workers.values():
                if not process.finished and process.kill_reason is None:
                    with contextlib.suppress(OSError):
                        process.send({"op": "shutdown"})
            deadline = time.monotonic() + timeout
            while self._workers and time.monotonic() < deadline:
                self._wait(deadline - time.monotonic(), [])
        for name in list(self._workers):
            self.kill(name, "was stopped: the executor shut down")
        for process in list(self._workers.values()):
            self._finish(process, [])
        self._selector.close()

    # -- warm compute: one pool of workers, several jobs in turn ---------------------------------

    def release(self, *, timeout: float = 10.0) -> bool:
        """End the job's work on every worker but keep them: each runs the script's ``shutdown()`` (if any)
        and closes the job's log files. True when every worker is idle and released within ``timeout``
        seconds; otherwise the pool is not fit for another job (shut it down)."""
        if self._stopping or self._config is None:
            return False
        deadline = time.monotonic() + timeout
        lost: list[Event] = []
        # Workers still in init() (the job was short) are waited for: they are as good as the others.
        while any(p.state == "starting" for p in self._workers.values()) and time.monotonic() < deadline:
            self._wait(deadline - time.monotonic(), lost)
            if any(not isinstance(event, WorkerReady) for event in lost):
                return False
        workers = [p for p in self._workers.values() if not p.finished and p.kill_reason is None]
        if any(p.state != "idle" for p in workers) or len(workers) != len(self._workers) or not workers:
            return False
        for process in workers:
            process.state = "releasing"
            self._idle.pop(process.name, None)
            try:
                process.send({"op": "release"})
            except OSError:
                return False
        lost = []
        while any(p.state == "releasing" for p in workers) and time.monotonic() < deadline:
            self._wait(deadline - time.monotonic(), lost)
            if lost:
                return False
        if any(p.state != "released" for p in workers):
            return False
        for process in workers:
            process.close_logs()
        self._released = True
        return True

    def rebind(self, config: WorkerConfig) -> None:
        """Bind the released workers to the next job (same identity): its log files, and a ``bind`` message
        to each; each answers ``ready`` (``WorkerReady``) once ``init()`` ran again, when it has to."""
        assert self._config is not None and config.identity == self._config.identity
        self._config, self._released = config, False
        os.makedirs(config.binding.output_dir, exist_ok=True)
        released = [p for p in self._workers.values() if p.state == "released"]
        for process in released:
            process.open_logs(config.binding.logs_dir, self._log_max)
        self._wait(0.0, self._held)  # a worker that died while the pool waited: reported, and replaced
        vacant, self._vacant = self._vacant, []
        for slot in vacant:
            self._spawn(slot)
        for process in released:
            if process.finished or process.state != "released":
                continue
            process.state = "starting"
            if self._perf is not None:
                self._perf.rebased(process.name, process.popen.pid)
            try:
                process.send({"op": "bind", "binding": config.binding.to_dict()})
            except OSError:
                self.kill(process.name, "could not be given the next job (its task pipe is closed), so it was killed")

    def worker_pids(self) -> dict[str, int]:
        """The live workers' process ids by name (warm pools report their memory with them)."""
        return {name: p.popen.pid for name, p in self._workers.items() if not p.finished}

    def pid(self, worker: str) -> int | None:
        """The worker's process id, while it runs (tests kill workers from outside with it)."""
        process = self._workers.get(worker)
        return None if process is None or process.finished else process.popen.pid

    # -- processes ------------------------------------------------------------------------------

    def _spawn(self, slot: str) -> None:
        assert self._config is not None
        node = slot.partition("/")[0]
        number = self._numbers.get(node, self._first_number)
        self._numbers[node] = number + self._number_step
        name = protocol.worker_name(node, number)
        process = spawn_worker(self._config, name, slot, log_max_bytes=self._log_max, template=self._template)
        self._workers[process.name] = process
        if self._perf is not None:
            self._perf.started(process.name)
        self._selector.register(process.events_fd, selectors.EVENT_READ, (process, "events"))
        for fd in process.output:
            self._selector.register(fd, selectors.EVENT_READ, (process, "output"))
        if process.exit_fd is not None:
            self._selector.register(process.exit_fd, selectors.EVENT_READ, (process, "exit"))

    def _wait(self, timeout: float, events: list[Event]) -> None:
        """One wait on the pipes and exits, handling whatever became ready."""
        now = time.monotonic()
        # Wake up for a worker whose pipe closed but which has not exited, and (without pidfds) to look for exits.
        wakeups = [
            p.eof_at + self._eof_grace - now
            for p in self._workers.values()
            if p.eof_at is not None and p.kill_reason is None
        ]
        if any(p.exit_fd is None for p in self._workers.values()):
            wakeups.append(_FALLBACK_CHECK_SECONDS)
        sample_in = math.inf if self._released else self._next_sample - now  # none between jobs
        timeout = min([timeout, sample_in, *wakeups])
        for key, _ in self._selector.select(max(0.0, timeout)):
            process, kind = key.data
            if kind == "wake":
                with contextlib.suppress(BlockingIOError):
                    os.read(key.fd, 4096)
                self._woken = True
                continue
            if process.finished:
                continue  # its fd was closed (and maybe reused) earlier in this round
            if kind == "events":
                self._read(process, events)
            elif kind == "output":
                if process.pump(key.fd):
                    self._selector.unregister(key.fd)
            else:
                self._finish(process, events)
        now = time.monotonic()
        for process in list(self._workers.values()):
            if process.exit_fd is None and process.popen.poll() is not None:
                self._finish(process, events)
            elif process.eof_at is not None and process.kill_reason is None and now - process.eof_at >= self._eof_grace:
                self.kill(process.name, "closed its event pipe without exiting, so it was killed")
        if now >= self._next_sample and not self._released:  # a pool between jobs has no job to log to
            self._sample(now)

    def _sample(self, now: float) -> None:
        """Append each live worker's CPU and memory to its perf file, in the logs of its current job."""
        assert self._perf is not None and self._config is not None
        self._next_sample = now + self._perf_interval  # late (a long event burst): the next one is not hurried
        live = [(p.name, p.popen.pid) for p in self._workers.values() if not p.finished and p.popen.returncode is None]
        self._perf.sample(live, self._config.binding.logs_dir)

    def _read(self, process: WorkerProcess, events: list[Event]) -> None:
        for line in process.read_lines():
            self._message(process, line, events)
        if process.eof_at is not None and process.events_fd >= 0:
            self._selector.unregister(process.events_fd)
            process.close_events()
            self._idle.pop(process.name, None)
            if process.state in ("idle", "busy"):
                process.state = "exiting"

    def _message(self, process: WorkerProcess, line: bytes, events: list[Event]) -> None:
        if process.kill_reason is not None:
            return  # killed: whatever it still says does not count
        try:
            message = json.loads(line)
            kind = message["event"]
        except (ValueError, KeyError, TypeError):
            self.kill(process.name, f"sent an unreadable message {line[:200]!r}, so it was killed")
            return
        name = process.name
        if kind == "ready":
            self._startup_deaths.pop(process.slot, None)
            process.state = "idle"
            self._idle[name] = None
            events.append(WorkerReady(worker=name, seconds=message["seconds"], warm=bool(message.get("warm"))))
        elif kind == "released":
            process.state = "released"
        elif kind in ("done", "failed"):
            process.state, process.task = "idle", None
            self._idle[name] = None
            if kind == "done":
                fields = ("items", "succeeded", "rows", "part", "seconds", "columns")
                values = {f: message.get(f) for f in fields}
                failures = [cast(ItemFailure, f) for f in message.get("failures") or [] if isinstance(f, dict)]
                events.append(TaskDone(task=message["task"], worker=name, **values, failures=failures))
            else:
                events.append(TaskFailed(message["task"], name, message["error"], message["seconds"]))
        elif kind == "init_failed":
            process.init_failed, process.state = True, "exiting"
            events.append(WorkerInitFailed(worker=name, error=message["error"]))
        elif kind == "bye":
            process.state = "exiting"

    def _finish(self, process: WorkerProcess, events: list[Event]) -> None:
        """The process exited (or is being reaped at shutdown): read its last words, reap, report, replace."""
        if process.finished:
            return
        if process.events_fd >= 0:
            self._read(process, events)
            if process.events_fd >= 0:
                self._selector.unregister(process.events_fd)
        if process.exit_fd is not None:
            self._selector.unregister(process.exit_fd)
        for fd in process.output:
            self._selector.unregister(fd)
        code = process.reap()
        self._workers.pop(process.name, None)
        if self._perf is not None:
            self._perf.forget(process.name)
        self._idle.pop(process.name, None)
        if self._stopping or process.init_failed:
            return
        if self._released:  # between jobs: the next job's binding starts its replacement
            self._vacant.append(process.slot)
            return
        reason = exit_reason(process, code)
        if process.state == "starting" and process.kill_reason is None:
            # Died while importing the script or in init(): a segfault, os._exit, or a kill from outside
            # (which looks the same as the OOM killer). Only a slot whose workers keep dying is given up.
            deaths = self._startup_deaths.get(process.slot, 0) + 1
            self._startup_deaths[process.slot] = deaths
            if deaths >= STARTUP_DEATHS:
                error = process.crash_error(exit_cause(code), deaths)
                events.append(WorkerInitFailed(worker=process.name, error=error))
                return
        events.append(
            WorkerLost(worker=process.name, task=process.task, exit_code=code, reason=reason, slot=process.slot)
        )
        self._spawn(process.slot)
