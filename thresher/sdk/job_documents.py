"""Jobs as the documents ``job show`` / ``job list`` print."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from thresher.store import JobRecord


def job_document(job: JobRecord) -> dict[str, Any]:
    """A job: status, headline, counts, throughput, where outputs and logs are, and the resume command."""
    spec = job.spec
    progress = dict(job.progress)
    succeeded = int(progress.get("items_succeeded") or 0)
    failed = int(progress.get("items_failed") or 0)
    end = job.ended_at or datetime.now(timezone.utc)
    elapsed = (end - job.started_at).total_seconds() if job.started_at else None
    document: dict[str, Any] = {
        "name": job.name,
        "type": "batch_scoring",
        "status": job.status,
        "headline": job.headline,
        "endpoint_name": job.endpoint_name,
        "deployment_name": job.deployment_name,
        "input": (spec.get("input") or {}).get("uri"),
        "model": spec.get("model"),
        "output_path": spec.get("output_dir"),
        "output_file": spec.get("output_file"),
        "logs": f"{spec.get('folder')}/logs",
        "mini_batches": progress.get("mini_batches"),
        "mini_batches_done": int(progress.get("mini_batches_done") or 0),
        "mini_batches_failed": int(progress.get("mini_batches_failed") or 0),
        "items_succeeded": succeeded,
        "items_failed": failed,
        "rows_written": int(progress.get("rows") or 0),
        "elapsed_seconds": round(elapsed, 3) if elapsed is not None else None,
        "items_per_second": round((succeeded + failed) / elapsed, 2) if elapsed else None,
        "attempt": job.attempt,
        "runner": job.runner,
        "first_failures": progress.get("first_failures") or [],
        "creation_context": {
            "created_at": job.created_at.isoformat(),
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "ended_at": job.ended_at.isoformat() if job.ended_at else None,
        },
    }
    resumable = job.status == "Canceled" or (job.status == "Failed" and (job.error or {}).get("resumable", True))
    if resumable:
        document["resume"] = f"thresher job resume --name {job.name}"
    return document
