"""Remote I/O done on the workers' own nodes: fetching a remote input's items, uploading parts.

An executor whose workers run on other machines (``ray``) is handed a ``RemoteStaging`` before it
starts. Each worker slot then fetches its task's items from the input's object store into a cache
on its own node just before the task runs (the script gets local paths), and uploads each part it
writes to ``parts`` in the job's output datastore, so that nothing depends on a disk shared with the
runner. The local executor needs none of this: its workers share the runner's disk, and the runner
fetches ahead of them (``thresher.scheduler.staging``).

A ``RemoteStaging`` holds credentials: it travels in memory only (as an actor's constructor
argument), never in Ray's ``runtime_env``, logs or job metadata.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import StorageUnavailableError
from thresher.executors.base import TaskDone
from thresher.runtime.protocol import ErrorInfo, Task
from thresher.storage.remote import RemoteURL
from thresher.storage.remote_files import fetch_items, fetched_names, upload
from thresher.storage.retry import OUTAGE_LIMIT

STORAGE_UNAVAILABLE = "StorageUnavailableError"  # the error type of a task whose storage was down too long


@dataclass(frozen=True)
class RemoteStaging:
    """The remote input to fetch from and where parts go (None: that side is local); see the module docstring."""

    input: RemoteURL | None = None
    parts: RemoteURL | None = None
    outage_limit: float = OUTAGE_LIMIT

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": None if self.input is None else self.input.to_dict(),
            "parts": None if self.parts is None else self.parts.to_dict(),
            "outage_limit": self.outage_limit,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemoteStaging:
        return cls(
            None if data.get("input") is None else RemoteURL.from_dict(data["input"]),
            None if data.get("parts") is None else RemoteURL.from_dict(data["parts"]),
            float(data.get("outage_limit", OUTAGE_LIMIT)),
        )


class SlotStaging:
    """One worker slot's side of a ``RemoteStaging``: its fetch cache and its parts folder on this node."""

    def __init__(self, staging: RemoteStaging, scratch: Path) -> None:
        self.staging = staging
        self.cache = scratch / "fetched"
        self.parts_dir = scratch / "parts"
        self._names: dict[str, dict[str, str]] = {}  # task id -> local path -> URL

    def stage_in(self, task: Task) -> Task:
        """The task with its items fetched into this node's cache (unchanged for a local input)."""
        if self.staging.input is None:
            return task
        folder = self._folder(task.id)
        local = fetch_items(self.staging.input, task.items, folder, outage_limit=self.staging.outage_limit)
        self._names[task.id] = fetched_names(local, task.items)
        return Task(**{**vars(task), "items": local})

    def stage_out(self, done: TaskDone) -> TaskDone:
        """Upload the task's part (when parts are remote) and name failed items by their URLs."""
        if self.staging.parts is not None and done.part is not None:
            local = self.parts_dir / done.part
            upload(local, self.staging.parts.join(done.part), outage_limit=self.staging.outage_limit)
            local.unlink(missing_ok=True)
        names = self._names.get(done.task)
        if names and done.failures:
            failures = [
                {**failure, "item": names.get(str(failure.get("item")), failure.get("item"))}
                for failure in done.failures
            ]
            done = TaskDone(**{**vars(done), "failures": failures})
        return done

    def finished(self, task: str | None) -> None:
        """The task ended (done, failed or lost): its fetched files go."""
        if task is not None:
            self._names.pop(task, None)
            shutil.rmtree(self._folder(task), ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)
        shutil.rmtree(self.parts_dir, ignore_errors=True)

    def _folder(self, task: str) -> Path:
        return self.cache / task.replace(":", "_").replace(os.sep, "_")


def unavailable_error(exc: StorageUnavailableError) -> ErrorInfo:
    """The error of a task whose storage stayed down: the runner stops the job, resumable, on it."""
    return {"type": STORAGE_UNAVAILABLE, "message": exc.message, "traceback": ""}
