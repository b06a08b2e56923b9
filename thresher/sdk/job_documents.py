"""Jobs as the documents ``job show`` / ``job list`` print."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from thresher.storage.disk import size
from thresher.store import JobRecord


def job_document(job: JobRecord, *, note: str | None = None, steps: list[JobRecord] | None = None) -> dict[str, Any]:
    """A job: status, headline, counts, throughput, where outputs and logs are, and the resume command.

    ``note`` is what the status alone does not say (``JobOperations.note``: its runner is gone). An ended
    job has ``workers`` (each one's peak memory and mean CPU, from ``logs/sys/perf``) and ``warnings``
    (starved workers, memory near the machine's). A pipeline job lists its ``steps`` (its step jobs).
    """
    if job.kind == "pipeline":
        return _pipeline_document(job, steps or [], note)
    if job.kind == "command":
        return _command_document(job, note)
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
        "logs": f"{spec['folder']}/logs" if spec.get("folder") else None,  # a reused step ran nothing
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
    _step_parts(job, document)
    return _ending(job, document, note)


def _ending(job: JobRecord, document: dict[str, Any], note: str | None) -> dict[str, Any]:
    if note:
        document["note"] = note
    resumable = job.status == "Canceled" or (job.status == "Failed" and (job.error or {}).get("resumable", True))
    if resumable or note:
        document["resume"] = f"thresher job resume --name {job.name}"
    return document


def _times(job: JobRecord) -> dict[str, Any]:
    end = job.ended_at or datetime.now(timezone.utc)
    elapsed = (end - job.started_at).total_seconds() if job.started_at else None
    return {
        "elapsed_seconds": round(elapsed, 3) if elapsed is not None else None,
        "creation_context": {
            "created_at": job.created_at.isoformat(),
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "ended_at": job.ended_at.isoformat() if job.ended_at else None,
        },
    }


def _step_parts(job: JobRecord, document: dict[str, Any]) -> None:
    """What a pipeline's step job adds: its pipeline, step, cache-key digest, reuse, outputs and metrics."""
    results = job.results or {}
    if job.parent is None and not results:
        return
    document["parent_job_name"] = job.parent
    document["step"] = results.get("step")
    document["component"] = results.get("component")
    document["cache_key"] = job.cache_key
    document["reuse"] = results.get("reuse")
    document["inputs"] = results.get("inputs")
    document["outputs"] = {name: o.get("path") for name, o in (results.get("outputs") or {}).items()} or results.get(
        "planned_outputs"
    )
    if results.get("metrics"):
        document["metrics"] = results["metrics"]
    if results.get("snapshot_id"):
        document["snapshot_id"] = results["snapshot_id"]
    if results.get("environment"):
        document["environment"] = results["environment"]
    if results.get("environment_note"):
        document["environment_note"] = results["environment_note"]


def _command_document(job: JobRecord, note: str | None) -> dict[str, Any]:
    results = job.results or {}
    folder = job.spec.get("folder")
    document: dict[str, Any] = {
        "name": job.name,
        "type": "command",
        "status": job.status,
        "headline": job.headline,
        "command": results.get("command"),
        "logs": f"{folder}/user_logs/std_log.txt" if folder else None,  # a reused step ran nothing
        "attempt": job.attempt,
        "runner": job.runner,
        **_times(job),
    }
    _step_parts(job, document)
    return _ending(job, document, note)


def _pipeline_document(job: JobRecord, steps: list[JobRecord], note: str | None) -> dict[str, Any]:
    pipeline = job.spec.get("pipeline") or {}
    results = job.results or {}
    latest: dict[str, JobRecord] = {}
    for step in steps:
        latest[(step.results or {}).get("step") or step.name] = step
    ended = results.get("steps") or {}
    rows = []
    for name in pipeline.get("steps", {}):
        record = latest.get(name)
        reuse = (record.results or {}).get("reuse") if record is not None else None
        rows.append(
            {
                "step": name,
                "type": pipeline["steps"][name].get("type"),
                "status": record.status if record is not None else "NotStarted",
                "job": record.name if record is not None else None,
                "reused_from": (reuse or {}).get("from") if (reuse or {}).get("reused") else None,
                "headline": record.headline if record is not None else (ended.get(name) or {}).get("why"),
            }
        )
    document: dict[str, Any] = {
        "name": job.name,
        "type": "pipeline",
        "status": job.status,
        "headline": job.headline,
        "display_name": pipeline.get("display_name"),
        "experiment_name": job.spec.get("experiment_name"),
        "source": job.spec.get("source_path") or pipeline.get("source"),
        "steps": rows,
        "steps_completed": sum(1 for r in rows if r["status"] == "Completed"),
        "steps_reused": sum(1 for r in rows if r["reused_from"]),
        "outputs": {name: o.get("path") for name, o in (results.get("outputs") or {}).items()},
        "inputs": {
            name: b.get("value") if b.get("kind") == "literal" else b.get("asset") or b.get("path")
            for name, b in (pipeline.get("inputs") or {}).items()
        },
        "lineage": job.spec.get("lineage"),
        "attempt": job.attempt,
        "runner": job.runner,
        **_times(job),
    }
    return _ending(job, document, note)
