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
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs to know, as plain JSON-able data (it is sent to the worker process)."""

    job: str
    script: str | None  # absolute path of the scoring script; None: the built-in MLflow driver
    code_dir: str | None  # the snapshot folder holding the script (made importable)
    model_dir: str | None  # AZUREML_MODEL_DIR: holds the model under its registered folder name
    output_dir: str  # AZUREML_BI_OUTPUT_PATH: the job's `score` output folder
    parts_dir: str  # where workers write result parts, one file per task
    logs_dir: str  # the job's logs/ folder (Azure's layout below it)
    output_action: str = "append_row"  # or "summary_only"
    output_format: str = "azure"  # azure | csv | parquet | jsonl | mlflow
    logging_level: str = "info"
    environment_variables: dict[str, str] = field(default_factory=dict)
    program_arguments: list[str] = field(default_factory=list)
    python: str | None = None  # interpreter that runs workers; None: the current one
    input_kind: str = "files"  # files | tabular

    def to_dict(self) -> dict[str, Any]:
        """As plain data."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Task:
    """One attempt at (part of) a mini-batch.

    ``items`` are absolute file paths for file inputs, or tabular slices (dicts, see
    ``thresher.scheduler.planner``) for tabular inputs. ``part`` is the file name, inside
    ``WorkerConfig.parts_dir``, that the worker writes the result rows to (atomically); a retry of
    the same piece writes the same name, so a piece's rows can never appear twice.
    """

    id: str
    mini_batch: int
    start: int  # this piece covers items[start:stop] of the mini-batch
    stop: int
    items: list[Any]
    part: str
    partition: dict[str, Any] | None = None  # partition_keys value, passed as mini_batch_context


@dataclass(frozen=True)
class WorkerReady:
    """A worker finished ``init()`` and can take tasks."""

    worker: str
    seconds: float


@dataclass(frozen=True)
class WorkerInitFailed:
    """A worker's ``init()`` (or the script's import) raised; the worker is gone and not replaced."""

    worker: str
    error: dict[str, Any]  # {"type", "message", "traceback", "log"}


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
    failures: list[dict[str, Any]] = field(default_factory=list)  # items run() reported as failed


@dataclass(frozen=True)
class TaskFailed:
    """``run()`` raised; the worker is still alive and can take the next task."""

    task: str
    worker: str
    error: dict[str, Any]  # {"type", "message", "traceback", "log"}
    seconds: float


@dataclass(frozen=True)
class WorkerLost:
    """A worker process died (crash, ``os._exit``, kill -9, out of memory, or killed by ``kill``).

    ``task`` is the task it was running, if any; a replacement worker is being started.
    """

    worker: str
    task: str | None
    exit_code: int | None
    reason: str


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
