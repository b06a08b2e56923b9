"""The job's reports, in Azure's log layout: progress overview, result, error, processed mini-batches.

Each report is written beside its name first and put in place with ``os.replace`` only after the runner
confirmed that it still holds its claim on the job (``confirm``), so a runner that was presumed dead and
wakes up after the job was taken over never replaces its successor's reports.
"""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
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
    store: SqlStore,
    name: str,
    spec: JobSpec,
    progress: JobProgress,
    headline: str,
    error: dict[str, Any] | None,
    *,
    confirm: Callable[[], object] | None = None,
) -> None:
    """Write the end-of-job files: processed mini-batches, result, error (when failed), overview line.

    ``confirm`` is called once every file is written beside its name and before any is put in place; what
    it raises (``JobTakenOverError``) leaves the job's reports as they were.
    """
    written: list[tuple[Path, Path]] = []
    try:
        with writing(spec.job_folder.logs):
            _write_reports(store, name, spec, progress, headline, error, written)
            if confirm is not None:
                confirm()
            for temporary, target in written:
                temporary.replace(target)
            with spec.job_folder.progress_overview.open("a", encoding="utf-8") as handle:
                handle.write(progress_line(progress) + "\n" + headline + "\n")
    finally:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)


def _beside(target: Path) -> Path:
    """A temporary file beside ``target``, of this call alone (two runners never write the same one)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _write_reports(
    store: SqlStore,
    name: str,
    spec: JobSpec,
    progress: JobProgress,
    headline: str,
    error: dict[str, Any] | None,
    written: list[tuple[Path, Path]],
) -> None:
    """Write each report beside its name, adding its (temporary, target) pair to ``written`` first."""
    folder = spec.job_folder
    temporary = _beside(folder.processed_mini_batches)
    written.append((temporary, folder.processed_mini_batches))
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
    result = _beside(folder.result)
    written.append((result, folder.result))
    result.write_text("\n".join(lines) + "\n", encoding="utf-8")
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
        failed = _beside(folder.error)
        written.append((failed, folder.error))
        failed.write_text("\n".join(text) + "\n", encoding="utf-8")
