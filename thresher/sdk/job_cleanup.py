"""Deleting old jobs to free space: their folder (logs, work files, default outputs) and their rows.

A job that runs or waits to run is never deleted; a job whose runner is gone (orphaned) may be.
Outputs written to a folder of the user's own (``--output-path`` outside the job folder) are kept:
they are the user's files, not the job's.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thresher.storage.disk import folder_size
from thresher.store import TERMINAL, JobRecord, SqlStore


@dataclass(frozen=True)
class JobCleanup:
    """What deleting one job removed (or, for a dry run, would remove)."""

    name: str
    status: str
    folder: str
    bytes: int  # in the job folder
    kept_output: str | None  # an output folder outside the job folder, left in place
    deleted: bool

    def to_dict(self) -> dict[str, Any]:
        """As plain data for the CLI."""
        return asdict(self)


def planned_cleanup(job: JobRecord) -> JobCleanup:
    """What deleting ``job`` would remove. A job without a folder of its own (a pipeline job, a reused step)
    removes only its rows."""
    named = job.spec.get("folder")
    if not named:
        return JobCleanup(job.name, job.status, "", 0, None, False)
    folder = Path(str(named))
    output = str(job.spec.get("output_dir") or "")
    outside = output and not Path(output).is_relative_to(folder)
    return JobCleanup(job.name, job.status, str(folder), folder_size(folder), output if outside else None, False)


def delete_job(store: SqlStore, job: JobRecord, *, orphaned: bool) -> JobCleanup:
    """Delete ``job``'s row (refused unless it ended or is orphaned), then its folder; a pipeline job's step
    jobs (rows and folders) go first."""
    if job.kind == "pipeline":
        if job.status not in TERMINAL and not orphaned:
            store.delete_job(job.name)  # refused, saying why
        freed = 0
        for step in store.list_jobs(parent=job.name, limit=None):
            if step.status == "Queued":  # created, never started: the pipeline ended before it
                step = store.set_job_status(step.name, "Canceled", headline="Its pipeline job was deleted.")
            freed += delete_job(store, step, orphaned=True).bytes
        store.delete_job(job.name, orphaned_runner=job.runner if orphaned else None)
        return JobCleanup(job.name, job.status, "", freed, None, True)
    plan = planned_cleanup(job)
    store.delete_job(job.name, orphaned_runner=job.runner if orphaned else None)
    if plan.folder and os.path.isdir(plan.folder):
        shutil.rmtree(plan.folder)
    return JobCleanup(plan.name, plan.status, plan.folder, plan.bytes, plan.kept_output, True)
