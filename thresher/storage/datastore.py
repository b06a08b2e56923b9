"""Datastores: named storage roots, and the content-addressed uploads kept in them.

A local datastore is a folder. Registered models, data folders and code snapshots are copied under
``LocalUpload/<content hash>/<original folder name>/``, so identical content is stored once and a
stored copy never changes after it is written (it appears by one atomic rename).

A remote datastore (``RemoteDatastore``, any fsspec backend) keeps the same layout. Object stores have
no atomic rename of a folder, so an upload is complete when its marker ``LocalUpload/<hash>/.complete``
exists, written after every file: a copy without it (an interrupted upload) is written again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thresher.errors import StorageError
from thresher.storage.fingerprint import content_hash, iter_files
from thresher.storage.remote import RemoteURL
from thresher.storage.retry import OUTAGE_LIMIT, retrying

UPLOADS = "LocalUpload"
COMPLETE = ".complete"
AZUREML_DATASTORE_PREFIX = "azureml://datastores/"


@dataclass(frozen=True)
class StoredContent:
    """Where an upload landed and what it holds."""

    path: Path  # the stored copy of the file or folder
    content_hash: str
    files: int
    bytes: int
    reused: bool  # True when identical content was already stored

    @property
    def container(self) -> Path:
        """The folder holding the copy under its original name (Azure's AZUREML_MODEL_DIR layout)."""
        return self.path.parent


@dataclass(frozen=True)
class LocalDatastore:
    """A datastore that is a folder on this machine."""

    name: str
    root: Path

    def path(self, relative: str) -> Path:
        """Absolute path of ``relative`` inside the datastore; refuses paths that escape it."""
        target = (self.root / relative.lstrip("/")).resolve()
        if target != self.root.resolve() and self.root.resolve() not in target.parents:
            raise StorageError(
                f"Path {relative!r} leaves datastore '{self.name}' ({self.root}).",
                fix="Use a path relative to the datastore's root, without '..'.",
            )
        return target

    def uri(self, relative: str) -> str:
        """The ``azureml://datastores/<name>/paths/<relative>`` URI of a path in this datastore."""
        return f"{AZUREML_DATASTORE_PREFIX}{self.name}/paths/{relative.lstrip('/')}"

    def put_content(self, source: Path, *, ignore: Callable[[str], bool] | None = None) -> StoredContent:
        """Copy a file or folder in under its content hash; reuse the stored copy if it is already there."""
        if not source.exists():
            raise StorageError(
                f"Cannot upload {source}: it does not exist.",
                fix="Check the path; relative paths in a YAML file resolve against the file's folder.",
            )
        # The copy keeps its folder name (Azure's layout), so the name is part of what is stored.
        digest = hashlib.sha256(f"{source.name}\0{content_hash(source, ignore=ignore)}".encode()).hexdigest()
        listed = [path for _, path in iter_files(source, ignore=ignore)]
        size = sum(path.stat().st_size for path in listed)
        container = self.root / UPLOADS / digest
        target = container / source.name
        if target.exists():
            return StoredContent(target, digest, len(listed), size, reused=True)
        staging = self.root / UPLOADS / f".staging-{uuid.uuid4().hex}"
        try:
            staging.mkdir(parents=True)
            if source.is_file():
                shutil.copy2(source, staging / source.name)
            else:
                _copy_tree(source, staging / source.name, ignore)
            try:
                os.rename(staging, container)
            except OSError:
                if not target.exists():  # not a lost race with an identical upload: a real failure
                    raise
        except OSError as exc:
            raise StorageError(
                f"Cannot copy {source} into datastore '{self.name}' ({self.root}): {exc}",
                fix="Check free disk space and permissions of the workspace folder (THRESHER_HOME).",
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return StoredContent(target, digest, len(listed), size, reused=False)


@dataclass(frozen=True)
class RemoteStoredContent:
    """Where an upload to a remote datastore landed and what it holds."""

    target: RemoteURL  # the stored copy of the file or folder
    content_hash: str
    files: int
    bytes: int
    reused: bool


@dataclass(frozen=True)
class RemoteDatastore:
    """A datastore in object storage (or any fsspec filesystem), opened through its root RemoteURL."""

    name: str
    root: RemoteURL
    outage_limit: float = OUTAGE_LIMIT

    def put_content(self, source: Path, *, ignore: Callable[[str], bool] | None = None) -> RemoteStoredContent:
        """Upload a file or folder under its content hash; reuse the stored copy if it is complete already.

        Transient storage errors are retried (``retrying``) for up to ``outage_limit`` seconds.
        """
        if not source.exists():
            raise StorageError(
                f"Cannot upload {source}: it does not exist.",
                fix="Check the path; relative paths in a YAML file resolve against the file's folder.",
            )
        digest = hashlib.sha256(f"{source.name}\0{content_hash(source, ignore=ignore)}".encode()).hexdigest()
        listed = list(iter_files(source, ignore=ignore))
        size = sum(path.stat().st_size for _, path in listed)
        container = self.root.join(f"{UPLOADS}/{digest}")
        target = container.join(source.name)
        fs, marker = container.join(COMPLETE).fs()
        if retrying(container.label, lambda: fs.exists(marker), outage_limit=self.outage_limit):
            return RemoteStoredContent(target, digest, len(listed), size, reused=True)
        _, base = target.fs()
        uploads = [(str(path), base if source.is_file() else f"{base}/{rel}") for rel, path in listed]
        for local, remote in uploads:
            retrying(target.label, functools.partial(fs.put_file, local, remote), outage_limit=self.outage_limit)
        retrying(container.label, lambda: fs.pipe_file(marker, digest.encode()), outage_limit=self.outage_limit)
        return RemoteStoredContent(target, digest, len(listed), size, reused=False)


def _copy_tree(source: Path, target: Path, ignore: Callable[[str], bool] | None) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for rel, path in iter_files(source, ignore=ignore):
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def split_datastore_uri(uri: str) -> tuple[str, str] | None:
    """``azureml://datastores/<ds>/paths/<p>`` -> ``(ds, p)``; None for anything else."""
    if not uri.startswith(AZUREML_DATASTORE_PREFIX):
        return None
    rest = uri[len(AZUREML_DATASTORE_PREFIX) :]
    name, sep, tail = rest.partition("/paths/")
    if not sep or not name:
        if rest.endswith("/paths") or "/" not in rest:
            return (rest.removesuffix("/paths"), "")
        return None
    return name, tail
