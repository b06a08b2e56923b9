"""The composition root: settings in, the store and datastores out. Built by entry points, passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thresher.errors import NotFoundError, StorageError
from thresher.settings import Settings
from thresher.specs import DatastoreSpec
from thresher.storage import LocalDatastore, split_datastore_uri
from thresher.storage.backends import as_spec, datastore_root
from thresher.storage.credentials import resolve
from thresher.storage.disk import RESERVE_FILE, Reserve
from thresher.storage.remote import RemoteURL, is_remote, parse_url
from thresher.storage.vault import Vault
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

    @property
    def vault(self) -> Vault:
        """Encrypts and decrypts datastore secrets with the workspace key (never stored in the database)."""
        return Vault(self.settings.secret_key_file, self.settings.secret_key)

    def datastore_root(self, name: str | None = None) -> RemoteURL:
        """The root of a datastore (the default one when None) as a RemoteURL, its secrets decrypted.

        The options hold plain credentials: keep the value in memory, never log or write it.
        """
        spec = self._datastore_spec(name)
        return datastore_root(spec, resolve(spec.credentials, self.vault, datastore=spec.name))

    def remote(self, uri: str) -> RemoteURL:
        """A RemoteURL for ``azureml://datastores/<ds>/paths/<p>`` or a remote URL (``s3://``, ``abfss://``,
        ``wasbs://``, ``az://``, ``gs://``, ``https://``).

        A remote URL inside a registered datastore's root (the datastore ``s3://bucket``, the URL
        ``s3://bucket/x``) opens with that datastore's credentials and endpoint; any other opens with
        none: the storage library's default chain, or anonymously for public ``https://`` blobs. A local
        datastore's path comes back as a ``file://`` URL.
        """
        parts = split_datastore_uri(uri)
        if parts is not None:
            name, relative = parts
            root = self.datastore_root(name).join(relative)
            return RemoteURL(root.url, root.options, root.datastore, uri)
        if not is_remote(uri):
            raise StorageError(
                f"{uri!r} is not a remote URL; remote URLs start with s3://, gs://, az://, abfss://, wasbs:// or "
                "https://, and datastore URIs with azureml://datastores/<name>/paths/.",
                fix="Use a URL of one of those forms; local paths are read as they are.",
            )
        target = parse_url(uri)
        spec = self._datastore_holding(target)
        if spec is None:
            return target
        root = datastore_root(spec, resolve(spec.credentials, self.vault, datastore=spec.name))
        joined = root.join(_comparable(target.url)[len(_comparable(root.url)) :])
        return RemoteURL(joined.url, joined.options, spec.name, uri)

    def is_remote_uri(self, uri: str) -> bool:
        """Whether ``uri`` is in object storage: a remote URL, or a path of a datastore that is not local."""
        if is_remote(uri):
            return True
        parts = split_datastore_uri(uri)
        if parts is None:
            return False
        return self._datastore_spec(parts[0]).type != "local"

    def _datastore_spec(self, name: str | None) -> DatastoreSpec:
        try:
            record = self.store.get_resource("datastore", name or self.settings.default_datastore)
        except NotFoundError as exc:
            raise NotFoundError(str(exc), fix="Create it with: thresher datastore create -f datastore.yml") from exc
        return as_spec(record.spec)

    def _datastore_holding(self, target: RemoteURL) -> DatastoreSpec | None:
        """The registered remote datastore whose root holds ``target`` (the longest such root), if any."""
        best: tuple[int, DatastoreSpec] | None = None
        url = _comparable(target.url)
        for record in self.store.list_resources("datastore"):
            if record.spec.get("type", "local") == "local":
                continue
            spec = as_spec(record.spec)
            root = datastore_root(spec)
            base = _comparable(root.url)
            if url != base and not url.startswith(base + "/"):
                continue
            account = target.options.get("account_name")
            if account and root.options.get("account_name") not in (None, account):
                continue
            if best is None or len(base) > best[0]:
                best = (len(base), spec)
        return None if best is None else best[1]

    def datastore(self, name: str | None = None) -> LocalDatastore:
        """A datastore by name (the default one when None), ready for file operations."""
        record = self.store.get_resource("datastore", name or self.settings.default_datastore)
        spec = record.spec
        if spec.get("type", "local") != "local":
            raise StorageError(
                f"Datastore '{record.name}' is of type {spec.get('type')!r}: it is not a folder on this machine.",
                fix="Use a local datastore (type: local, path: /some/folder) here; remote datastores are opened "
                "as RemoteURLs (Instance.remote).",
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


_SPELLINGS = (("az://", "abfs://"), ("abfss://", "abfs://"), ("gcs://", "gs://"))


def _comparable(url: str) -> str:
    """``url`` with one spelling per protocol and no trailing slash, to compare roots with URLs."""
    for alias, canonical in _SPELLINGS:
        if url.lower().startswith(alias):
            url = canonical + url[len(alias) :]
    return url.rstrip("/")
