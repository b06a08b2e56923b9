"""What loading a pipeline needs from the workspace, as one small interface (``Sources``).

The loaders resolve ``azureml:`` references (components, data, models, environments), datastore
URIs and code folders through it; the SDK implements it over the workspace's store and datastores.
Each method raises ``LookupError`` with a message for a reference that cannot be resolved; the loader
turns it into a problem at the reference's file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredCode:
    """A code folder (or file) snapshotted into the datastore: where, its hash and its files' hashes."""

    path: str
    digest: str
    files: Mapping[str, str]


@dataclass(frozen=True)
class ResolvedData:
    """A data input: a local path (or a remote URI) and the asset version it came from."""

    path: str
    type: str
    asset: str | None = None  # name:version


@dataclass(frozen=True)
class ComponentDocument:
    """A component's YAML document, where it came from, and (registered) its name:version."""

    data: Mapping[str, Any]
    source: str  # file name or "azureml:name:version"
    base_dir: Path  # relative paths in it resolve against this folder
    label: str
    lines: Any = None  # LineMap when read from a file


class Sources(Protocol):
    """The workspace as the pipeline loaders see it."""

    def component(self, name: str, version: str | None) -> ComponentDocument:
        """A registered component (version None: the latest)."""
        ...

    def data(self, name: str, version: str | None) -> ResolvedData:
        """A registered data asset (version None: the latest)."""
        ...

    def model(self, name: str, version: str | None) -> ResolvedData:
        """A registered model's folder (version None: the latest)."""
        ...

    def datastore_path(self, uri: str) -> ResolvedData:
        """An ``azureml://datastores/<name>/paths/<path>`` URI as a local path or remote URI."""
        ...

    def environment(self, reference: str | Mapping[str, Any], base_dir: Path) -> tuple[str | None, str | None]:
        """An environment reference or inline definition as ``(azureml:name:version, note)``; registers
        inline ones and curated Azure ones (the note says how a curated one was resolved)."""
        ...

    def environment_hash(self, reference: str) -> str:
        """What identifies a registered environment's content (its files' hash)."""
        ...

    def snapshot(self, folder: Path) -> StoredCode:
        """Snapshot a code folder into the datastore (content-addressed)."""
        ...

    def uploaded(self, path: Path) -> bool:
        """Whether a local path is inside a remote client's upload (its place changes with every upload of the
        folder it came in, so only its bytes can tell one version of it from another)."""
        ...
