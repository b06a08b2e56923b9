"""The composition root: settings in, the store and datastores out. Built by entry points, passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thresher.errors import NotFoundError, StorageError
from thresher.settings import Settings
from thresher.storage import LocalDatastore, split_datastore_uri
from thresher.storage.disk import RESERVE_FILE, Reserve
from thresher.storage.remote import RemoteURL, is_remote, parse_url
from thresher.store import SqlStore, open_store


class Instance:
    """One workspace opened for use: its settings, metadata store (opened on first use) and datastores."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: SqlStore | None = None

    @property
    def store(self) -> SqlStore:
        """The metadata store; the first use creates the workspace folder and migrates the database."""
        if self._store is None:
            try:
                self.settings.workspace_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"Cannot create the workspace folder {self.settings.workspace_dir}: {exc.strerror or exc}.",
                    fix="Point THRESHER_HOME at a folder this user can write (a file of that name is in the way "
                    "when the error says 'File exists').",
                ) from exc
            self._store = open_store(self.settings.resolved_database_url)
            self._ensure_default_datastore(self._store)
            Reserve(self.settings.workspace_dir / RESERVE_FILE).ensure()
        return self._store

    def close(self) -> None:
        """Release the database connections."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def default_datastore_spec(self) -> dict[str, Any]:
        """The spec of the workspace's built-in default datastore (a folder in the workspace)."""
        return {
            "name": self.settings.default_datastore,
            "type": "local",
            "path": str(self.settings.datastores_dir / self.settings.default_datastore),
            "description": "The workspace's default datastore: registered models, data, code and job outputs.",
        }

    def _ensure_default_datastore(self, store: SqlStore) -> None:
        name = self.settings.default_datastore
        if not any(r.name == name for r in store.list_resources("datastore")):
            store.save_resource("datastore", name, self.default_datastore_spec(), mode="upsert")

    def datastore(self, name: str | None = None) -> LocalDatastore:
        """A datastore by name (the default one when None), ready for file operations."""
        record = self.store.get_resource("datastore", name or self.settings.default_datastore)
        spec = record.spec
        if spec.get("type", "local") != "local":
            raise StorageError(
                f"Datastore '{record.name}' is of type {spec.get('type')!r}; thresher can read and write only "
                "'local' datastores so far.",
                fix="Use a local datastore (type: local, path: /some/folder) for now.",
            )
        root = Path(str(spec["path"]))
        root.mkdir(parents=True, exist_ok=True)
        return LocalDatastore(record.name, root)

    def resolve_local_path(self, path_or_uri: str) -> Path:
        """A local path for a plain path, a ``file://`` URI or an ``azureml://datastores/...`` URI."""
        if path_or_uri.startswith("file://"):
            return Path(path_or_uri[len("file://") :])
        parts = split_datastore_uri(path_or_uri)
        if parts is not None:
            name, relative = parts
            try:
                return self.datastore(name).path(relative)
            except NotFoundError as exc:
                raise NotFoundError(str(exc), fix="Create it with: thresher datastore create -f datastore.yml") from exc
        if "://" in path_or_uri:
            raise StorageError(
                f"{path_or_uri!r} is a remote location; thresher reads local paths, file:// and "
                "azureml://datastores/<name>/paths/<path> URIs so far.",
                fix="Copy the files to a local folder (or a local datastore) and use that path.",
            )
        return Path(path_or_uri).expanduser().resolve()

    def is_remote_uri(self, uri: str) -> bool:
        """Whether ``uri`` is in object storage: a remote URL, or a path of a datastore that is not local."""
        if is_remote(uri):
            return True
        parts = split_datastore_uri(uri)
        if parts is None:
            return False
        return str(self.store.get_resource("datastore", parts[0]).spec.get("type", "local")) != "local"

    def remote(self, uri: str) -> RemoteURL:
        """The fsspec URL (with the datastore's credentials) of a remote ``uri``."""
        parts = split_datastore_uri(uri)
        if parts is None:
            return parse_url(uri)
        spec = self.store.get_resource("datastore", parts[0]).spec
        options = {
            "key": spec["credentials"]["access_key_id"],
            "secret": spec["credentials"]["secret_access_key"],
            "endpoint_url": spec["endpoint"],
        }
        return RemoteURL(str(spec["url"]), options, parts[0], f"azureml://datastores/{parts[0]}/paths").join(parts[1])
