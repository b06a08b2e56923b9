"""What the metadata store returns of jobs: their status machine, the job, and its committed mini-batches.

Like every record, these are frozen and built fresh for every call; their timestamps are
timezone-aware, in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from thresher.store.progress import JobProgress

JobStatus = Literal["Queued", "Running", "Finalizing", "Completed", "Failed", "Canceled"]
"""Azure's job status names (``az ml job show --query status -o tsv`` prints them)."""

TERMINAL: tuple[JobStatus, ...] = ("Completed", "Failed", "Canceled")

TRANSITIONS: Mapping[JobStatus, tuple[JobStatus, ...]] = {
    # The one table of legal status changes.
    #
    #   Queued      waiting for a runner: new, resumed, or put back by a runner that was stopped
    #               (SIGTERM/SIGINT), whose headline then says so; the next runner continues it.
    #   Running     a runner owns it (heartbeats). If the runner dies (kill -9, reboot) it stays
    #               Running until another runner claims it as orphaned (stale heartbeat or dead
    #               local pid) and continues from the committed mini-batches; `job show` says so.
    #   Finalizing  outputs are assembled and published; idempotent, so an orphaned Finalizing job
    #               is simply finalized again.
    #   Completed | Failed | Canceled   ended, with a headline. `job resume` puts a Failed or
    #               Canceled job back in the queue (a Failed one whose error says resumable: false
    #               would fail the same way; the headline says what to do instead).
    "Queued": ("Running", "Canceled", "Failed"),
    "Running": ("Finalizing", "Failed", "Canceled", "Queued"),
    "Finalizing": ("Completed", "Failed", "Canceled", "Queued"),
    "Completed": (),
    "Failed": ("Queued",),
    "Canceled": ("Queued",),
}


@dataclass(frozen=True)
class JobRecord:
    """One batch scoring job: what to run (``spec``), where it stands, and how far it got."""

    name: str
    kind: str  # "batch_scoring", "pipeline" or "command" (a pipeline's command step)
    status: JobStatus
    endpoint_name: str | None
    deployment_name: str | None
    spec: Mapping[str, Any]  # everything the runner needs: settings, input, output, worker config
    progress: JobProgress  # the plan and the counts so far (a private copy)
    headline: str | None  # why it failed or was canceled, or its one-line summary when done
    error: Mapping[str, Any] | None  # first failures, thresholds, where the logs are
    runner: str | None  # "host:pid" of the runner working on it
    attempt: int  # 1 for the first run, +1 per resume
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    heartbeat_at: datetime | None
    parent: str | None = None  # the pipeline job of a step job
    cache_key: str | None = None  # a step job's cache key (a SHA-256), for reuse
    results: Mapping[str, Any] | None = None  # a step job's outputs, metrics and reuse record


@dataclass(frozen=True)
class MiniBatchRecord:
    """The committed outcome of one mini-batch: its rows are in ``parts`` (in item order)."""

    job: str
    index: int
    status: Literal["succeeded", "failed"]  # failed: every item of it failed
    items: int
    succeeded: int
    failed: int
    attempts: int
    worker: str | None
    seconds: float
    parts: list[str]
    error: str | None  # the headline of its (first) error
