"""What the metadata store returns: frozen records, plus the kinds it knows and how users call them.

Records are built fresh for every call from what the database holds (``spec`` and ``info`` are
private deep copies), so a record never changes after it is returned and changing its dicts changes
nothing stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from thresher.store.progress import JobProgress

SaveMode = Literal["create", "update", "upsert"]
SAVE_MODES: tuple[SaveMode, ...] = ("create", "update", "upsert")

ASSET_KINDS = ("model", "environment", "code", "data")
"""Versioned assets: every ``create_asset`` adds a version."""

RESOURCE_KINDS = ("datastore", "compute", "batch_endpoint")
"""Named resources with no versions: saving one replaces its spec."""

LATEST = "latest"
"""The version label that resolves to the newest active version; it cannot be a real version."""


@dataclass(frozen=True)
class KindNames:
    """How a kind is named in messages and in the CLI command that manages it."""

    singular: str
    plural: str
    command: str  # thresher <command> list / create


KIND_NAMES: Mapping[str, KindNames] = {
    "model": KindNames("model", "models", "model"),
    "environment": KindNames("environment", "environments", "environment"),
    "code": KindNames("code asset", "code assets", "code"),
    "data": KindNames("data asset", "data assets", "data"),
    "datastore": KindNames("datastore", "datastores", "datastore"),
    "compute": KindNames("compute", "computes", "compute"),
    "batch_endpoint": KindNames("batch endpoint", "batch endpoints", "batch-endpoint"),
    "deployment": KindNames("deployment", "deployments", "batch-deployment"),
    "job": KindNames("job", "jobs", "job"),
}


@dataclass(frozen=True)
class AssetRecord:
    """One version of a versioned asset (model, environment, code or data)."""

    kind: str
    name: str
    version: str
    spec: Mapping[str, Any]  # the asset as declared (YAML or SDK), normalised by thresher.specs
    info: Mapping[str, Any]  # what thresher recorded when creating it: stored path, fingerprint, ...
    archived: bool
    created_at: datetime  # timezone-aware, UTC


@dataclass(frozen=True)
class ResourceRecord:
    """A named, unversioned resource: a datastore, a compute or a batch endpoint."""

    kind: str
    name: str
    spec: Mapping[str, Any]
    created_at: datetime  # timezone-aware, UTC
    updated_at: datetime  # timezone-aware, UTC; equals created_at until the first update


@dataclass(frozen=True)
class DeploymentRecord:
    """A deployment of a batch endpoint."""

    endpoint_name: str
    name: str
    spec: Mapping[str, Any]
    created_at: datetime  # timezone-aware, UTC
    updated_at: datetime  # timezone-aware, UTC


_INTEGER = re.compile(r"[0-9]{1,18}")  # 18 digits always fit a 64-bit integer column
_CHUNKS = re.compile(r"([0-9]+)")


def version_number(version: str) -> int | None:
    """The integer value of a version made only of digits ("3" -> 3), else None ("1.2", "v3")."""
    return int(version) if _INTEGER.fullmatch(version) else None


def version_sort_key(version: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Order versions the way people count: 1 < 1.5 < 2 < 10 < v1."""
    # split() with a capturing group alternates text (even places) and digit runs (odd places)
    parts = _CHUNKS.split(version)
    chunks = tuple((0, int(part)) if i % 2 else (1, part) for i, part in enumerate(parts) if part)
    return chunks, version


# -- jobs -----------------------------------------------------------------------------------------

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
    kind: str  # "batch_scoring"
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
