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
from thresher.store import JobRecord, SqlStore


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
    """What deleting ``job`` would remove."""
    folder = Path(str(job.spec.get("folder") or ""))
    output = str(job.spec.get("output_dir") or "")
    outside = output and not Path(output).is_relative_to(folder)
    return JobCleanup(job.name, job.status, str(folder), folder_size(folder), output if outside else None, False)


def delete_job(store: SqlStore, job: JobRecord, *, orphaned: bool) -> JobCleanup:
    """Delete ``job``'s row (refused unless it ended or is orphaned), then its folder."""
    plan = planned_cleanup(job)
    store.delete_job(job.name, orphaned_runner=job.runner if orphaned else None)
    if plan.folder and os.path.isdir(plan.folder):
        shutil.rmtree(plan.folder)
    return JobCleanup(plan.name, plan.status, plan.folder, plan.bytes, plan.kept_output, True)
