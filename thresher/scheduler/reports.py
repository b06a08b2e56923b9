"""The job's reports, in Azure's log layout: progress overview, result, error, processed mini-batches."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from typing import Any

from thresher.scheduler.jobspec import JobSpec
from thresher.storage.disk import size, writing
from thresher.store import JobProgress, SqlStore

PROCESSED_COLUMNS = ["mini_batch", "items", "succeeded", "failed", "attempts", "worker", "seconds", "error"]


def progress_line(progress: JobProgress) -> str:
    """One timestamped line of ``job_progress_overview.txt``."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    total = progress.mini_batches_total if progress.mini_batches_total is not None else "?"
    return (
        f"{stamp} mini-batches: {progress.mini_batches_done:,} of {total} processed, "
        f"{progress.mini_batches_failed:,} with failures; "
        f"items: {progress.items_succeeded:,} succeeded, {progress.items_failed:,} failed"
    )


def finalize_reports(
    store: SqlStore, name: str, spec: JobSpec, progress: JobProgress, headline: str, error: dict[str, Any] | None
) -> None:
    """Write the end-of-job files: processed mini-batches, result, error (when failed), overview line."""
    with writing(spec.job_folder.logs):
        _write_reports(store, name, spec, progress, headline, error)


def _write_reports(
    store: SqlStore, name: str, spec: JobSpec, progress: JobProgress, headline: str, error: dict[str, Any] | None
) -> None:
    folder = spec.job_folder
    temporary = folder.processed_mini_batches.with_suffix(".tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PROCESSED_COLUMNS)
        for record in store.mini_batches(name):
            writer.writerow(
                [
                    record.index,
                    record.items,
                    record.succeeded,
                    record.failed,
                    record.attempts,
                    record.worker or "",
                    f"{record.seconds:.3f}",
                    record.error or "",
                ]
            )
    temporary.replace(folder.processed_mini_batches)
    job = store.get_job(name)
    elapsed = None
    if job.started_at is not None:
        elapsed = (datetime.now(timezone.utc) - job.started_at).total_seconds()
    lines = [headline, ""]
    lines.append(
        f"mini-batches: {progress.mini_batches_done:,} of {progress.mini_batches_total} processed, "
        f"{progress.mini_batches_failed:,} with failures"
    )
    lines.append(f"items: {progress.items_succeeded:,} succeeded, {progress.items_failed:,} failed")
    if spec.output_file:
        lines.append(f"rows written: {progress.rows_written:,} to {spec.output_file}")
    else:
        lines.append(f"outputs (summary_only): {spec.output_dir}")
    if elapsed:
        rate = progress.items_done / elapsed
        lines.append(f"elapsed: {elapsed:.1f} s ({rate:,.1f} items/s)")
    if progress.resources is not None:
        lines += ["", "workers (CPU and memory sampled into sys/perf/):"]
        lines += [
            f"  {w.worker}: peak memory {size(w.peak_memory_bytes)}, mean CPU {w.mean_cpu_percent:.0f} % of a core "
            f"over {w.samples} samples"
            for w in progress.resources.workers
        ]
        lines += [f"warning: {warning}" for warning in progress.resources.warnings]
    folder.result.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with folder.progress_overview.open("a", encoding="utf-8") as handle:
        handle.write(progress_line(progress) + "\n" + headline + "\n")
    if error is not None or progress.first_failures:
        failures = [
            f"- {f.item} (mini-batch {f.mini_batch}): {f.error}" + (f"\n  traceback: {f.log}" if f.log else "")
            for f in progress.first_failures
        ]
        text = [headline, *([f"Fix: {error['fix']}"] if error and error.get("fix") else []), ""]
        if error and error.get("init"):
            init = error["init"]
            text += ["init() failed:", str(init.get("traceback") or init.get("message")), f"log: {init.get('log')}", ""]
        if failures:
            text += ["First failed items:", *failures, "", f"All tracebacks: {folder.user_errors}"]
        folder.error.write_text("\n".join(text) + "\n", encoding="utf-8")
