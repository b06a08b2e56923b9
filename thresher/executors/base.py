"""The executor interface: how the scheduler gets mini-batches run by long-lived workers.

Executors only run things. Retries, timeouts, thresholds, failure isolation and backpressure are
scheduler policies written once above this interface, identical for every backend.

An executor starts ``nodes * per_node`` workers; each imports the scoring script and calls
``init()`` once, then runs the tasks it is given one at a time, writing each task's result part
itself and reporting only small events. A worker that dies is replaced (its replacement calls
``init()`` again); a worker whose ``init()`` failed is not.

Example (what the scheduler loop does)::

    executor.start(config, nodes=1, per_node=2)
    while work_left:
        while executor.idle_workers() and tasks:
            executor.submit(tasks.pop())
        for event in executor.poll(timeout=0.5):
            handle(event)
    executor.shutdown()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from thresher.runtime.protocol import ErrorInfo, ItemFailure, Task, WorkerConfig

__all__ = [
    "Event",
    "Executor",
    "Task",
    "TaskDone",
    "TaskFailed",
    "WorkerConfig",
    "WorkerInitFailed",
    "WorkerLost",
    "WorkerReady",
]


@dataclass(frozen=True)
class WorkerReady:
    """A worker finished ``init()`` and can take tasks."""

    worker: str
    seconds: float
    warm: bool = False  # a worker kept from an earlier job (warm compute), bound to this one


@dataclass(frozen=True)
class WorkerInitFailed:
    """A worker's ``init()`` (or the script's import) raised, or its slot's workers died while starting
    3 times in a row; the worker is gone and its slot is not filled again."""

    worker: str
    error: ErrorInfo


@dataclass(frozen=True)
class TaskDone:
    """``run()`` returned. ``succeeded`` counts returned elements, capped at ``items``, or the items not
    listed in ``failures`` when ``run()`` said which items failed (``{"item", "error"}``, at most 100)."""

    task: str
    worker: str
    items: int  # input items the task covered (rows, for tabular slices)
    succeeded: int
    rows: int  # rows written to the part (0 for summary_only)
    part: str | None  # part file name written, None when nothing was written
    seconds: float
    columns: list[str] | None = None  # column names, for formats with a header or schema
    failures: list[ItemFailure] = field(default_factory=list)  # items run() reported as failed


@dataclass(frozen=True)
class TaskFailed:
    """``run()`` raised; the worker is still alive and can take the next task."""

    task: str
    worker: str
    error: ErrorInfo
    seconds: float


@dataclass(frozen=True)
class WorkerLost:
    """A worker process died (crash, ``os._exit``, kill -9, out of memory, or killed by ``kill``).

    ``task`` is the task it was running, if any (None for a worker that died while starting); a
    replacement worker is being started in the same slot.
    """

    worker: str
    task: str | None
    exit_code: int | None
    reason: str
    slot: str | None = None  # the worker slot (``node-0/1``); its replacement takes the same slot


Event = WorkerReady | WorkerInitFailed | TaskDone | TaskFailed | WorkerLost


@runtime_checkable
class Executor(Protocol):
    """Runs tasks on long-lived workers. See the module docstring for the contract and an example."""

    def start(self, config: WorkerConfig, *, nodes: int, per_node: int) -> None:
        """Start ``nodes * per_node`` workers (returns at once; readiness comes as WorkerReady events)."""

    def idle_workers(self) -> int:
        """Workers that are ready and not running a task: how many tasks ``submit`` takes now."""

    def live_workers(self) -> int:
        """Workers that are starting, ready or busy (not dead and not failed at init)."""

    def submit(self, task: Task) -> str:
        """Give the task to an idle worker; returns the worker's name. Raises RuntimeError if none is idle."""

    def poll(self, timeout: float) -> list[Event]:
        """Events since the last poll, waiting up to ``timeout`` seconds for the first one."""

    def kill(self, worker: str, reason: str) -> None:
        """Kill a worker now (e.g. its task timed out); a WorkerLost event follows and a replacement starts."""

    def shutdown(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        """Stop every worker: graceful calls ``shutdown()`` in each; otherwise they are killed at once."""
