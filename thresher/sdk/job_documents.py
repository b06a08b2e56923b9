"""Jobs as the documents ``job show`` / ``job list`` print."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from thresher.storage.disk import size
from thresher.store import JobRecord


def job_document(job: JobRecord, *, note: str | None = None) -> dict[str, Any]:
    """A job: status, headline, counts, throughput, where outputs and logs are, and the resume command.

    ``note`` is what the status alone does not say (``JobOperations.note``: its runner is gone). An ended
    job has ``workers`` (each one's peak memory and mean CPU, from ``logs/sys/perf``) and ``warnings``
    (starved workers, memory near the machine's).
    """
    spec = job.spec
    progress = job.progress
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
        "mini_batches": progress.mini_batches_total,
        "mini_batches_done": progress.mini_batches_done,
        "mini_batches_failed": progress.mini_batches_failed,
        "items_succeeded": progress.items_succeeded,
        "items_failed": progress.items_failed,
        "rows_written": progress.rows_written,
        "elapsed_seconds": round(elapsed, 3) if elapsed is not None else None,
        "items_per_second": round(progress.items_done / elapsed, 2) if elapsed else None,
        "attempt": job.attempt,
        "runner": job.runner,
        "first_failures": [failure.to_json() for failure in progress.first_failures],
        "creation_context": {
            "created_at": job.created_at.isoformat(),
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "ended_at": job.ended_at.isoformat() if job.ended_at else None,
        },
    }
    if progress.resources is not None:
        document["workers"] = [
            {
                "worker": w.worker,
                "host": w.host,
                "samples": w.samples,
                "mean_cpu_percent": w.mean_cpu_percent,
                "peak_memory_bytes": w.peak_memory_bytes,
                "peak_memory": size(w.peak_memory_bytes),
            }
            for w in progress.resources.workers
        ]
        document["warnings"] = list(progress.resources.warnings)
    if note:
        document["note"] = note
    resumable = job.status == "Canceled" or (job.status == "Failed" and (job.error or {}).get("resumable", True))
    if resumable or note:
        document["resume"] = f"thresher job resume --name {job.name}"
    return document
