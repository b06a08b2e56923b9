"""How far a job got, as one typed record: its plan, and what its finished mini-batches did.

The runner keeps one ``JobProgress`` up to date while the job runs and commits it with each group of
finished mini-batches; ``job show``, the progress bar and the end-of-job reports read it. Counts
name their unit: ``mini_batches_*`` count mini-batches, ``items_*`` count input items (files, or
rows of tabular inputs), ``rows_written`` counts output rows.

At the end of a job the runner adds ``resources``: each worker's peak memory and mean CPU, read from
its samples in ``logs/sys/perf``, and the warnings they call for.

Stored as JSON on the job row. ``from_json`` also reads what older thresher versions stored
(``rows`` for ``rows_written``, the plan's total as ``mini_batches``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MAX_FIRST_FAILURES = 10  # failed items kept on the job row; every failure is in the logs


@dataclass(frozen=True)
class PlanInfo:
    """What the job's persisted plan holds, and the fingerprint of the inputs it was cut from."""

    mini_batches: int
    items: int | None  # files, or rows when every tabular slice's rows are known
    files: int
    bytes: int
    fingerprint: str


@dataclass(frozen=True)
class FailedItem:
    """One failed input item (or a range of them), as ``job show`` lists it."""

    item: str  # the item, displayable (undecodable bytes of a file name are backslash-escaped)
    mini_batch: int
    error: str  # "Type: message"
    log: str | None = None  # the worker error log holding its traceback
    attempts: int | None = None

    def to_json(self) -> dict[str, Any]:
        """As plain data, without the fields that are not set."""
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class WorkerUsage:
    """One worker's CPU and memory over its samples in this job (``logs/sys/perf/<node>/<process>.csv``)."""

    worker: str  # node-0/process000
    host: str
    samples: int
    mean_cpu_percent: float  # the mean of its samples; 100 = one full core
    peak_memory_bytes: int  # its largest resident memory (children included)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerUsage:
        """Back from ``asdict``."""
        return cls(
            worker=str(data.get("worker")),
            host=str(data.get("host") or ""),
            samples=int(data.get("samples") or 0),
            mean_cpu_percent=float(data.get("mean_cpu_percent") or 0.0),
            peak_memory_bytes=int(data.get("peak_memory_bytes") or 0),
        )


@dataclass(frozen=True)
class ResourceUsage:
    """The workers' CPU and memory at the end of a job, and what they warn of (starved workers, memory)."""

    workers: tuple[WorkerUsage, ...]
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """As plain data for the job row."""
        return {"workers": [asdict(worker) for worker in self.workers], "warnings": list(self.warnings)}

    @classmethod
    def from_json(cls, data: Any) -> ResourceUsage | None:
        """Back from ``to_json`` (None for rows without it)."""
        if not isinstance(data, dict):
            return None
        workers = tuple(WorkerUsage.from_json(w) for w in data.get("workers") or [] if isinstance(w, dict))
        return cls(workers, tuple(str(w) for w in data.get("warnings") or []))


@dataclass
class JobProgress:
    """The running counts of one job (mutable: the runner updates its own copy)."""

    plan: PlanInfo | None = None
    mini_batches_done: int = 0
    mini_batches_failed: int = 0  # mini-batches with at least one failed item
    items_succeeded: int = 0
    items_failed: int = 0
    rows_written: int = 0
    columns: list[str] | None = None  # of the rows written, for outputs with a header or schema
    first_failures: list[FailedItem] = field(default_factory=list)
    resources: ResourceUsage | None = None  # set when the job ends

    @property
    def mini_batches_total(self) -> int | None:
        """Mini-batches in the plan; None until the job is planned."""
        return self.plan.mini_batches if self.plan is not None else None

    @property
    def items_done(self) -> int:
        """Items finished so far, succeeded or failed."""
        return self.items_succeeded + self.items_failed

    def note_failures(self, failures: list[FailedItem]) -> None:
        """Keep the first ``MAX_FIRST_FAILURES`` failures for the job row."""
        room = MAX_FIRST_FAILURES - len(self.first_failures)
        self.first_failures.extend(failures[: max(room, 0)])

    def to_json(self) -> dict[str, Any]:
        """As plain data for the job row."""
        return {
            "plan": asdict(self.plan) if self.plan is not None else None,
            "mini_batches_total": self.mini_batches_total,
            "mini_batches_done": self.mini_batches_done,
            "mini_batches_failed": self.mini_batches_failed,
            "items_succeeded": self.items_succeeded,
            "items_failed": self.items_failed,
            "rows_written": self.rows_written,
            "columns": self.columns,
            "first_failures": [failure.to_json() for failure in self.first_failures],
            "resources": self.resources.to_json() if self.resources is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> JobProgress:
        """Back from the job row (rows of older versions included); missing counts are zero."""
        data = data or {}
        plan = data.get("plan")
        failures = [
            FailedItem(
                item=str(entry.get("item")),
                mini_batch=int(entry.get("mini_batch") or 0),
                error=str(entry.get("error")),
                log=entry.get("log"),
                attempts=entry.get("attempts"),
            )
            for entry in data.get("first_failures") or []
            if isinstance(entry, dict)
        ]
        return cls(
            plan=PlanInfo(**{k: plan[k] for k in PlanInfo.__dataclass_fields__}) if isinstance(plan, dict) else None,
            mini_batches_done=int(data.get("mini_batches_done") or 0),
            mini_batches_failed=int(data.get("mini_batches_failed") or 0),
            items_succeeded=int(data.get("items_succeeded") or 0),
            items_failed=int(data.get("items_failed") or 0),
            rows_written=int(data.get("rows_written", data.get("rows")) or 0),
            columns=list(data["columns"]) if data.get("columns") else None,
            first_failures=failures,
            resources=ResourceUsage.from_json(data.get("resources")),
        )
