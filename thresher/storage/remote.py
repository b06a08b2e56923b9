"""Remote storage: object stores and web addresses on fsspec, behind one small value.

A ``RemoteURL`` is an fsspec URL (``s3://bucket/key``, ``abfs://container/path``, ``gs://bucket/key``,
``https://host/path``) with the storage options that open it (credentials included) and a label for
messages. It is what every layer above passes around; only this module knows how a datastore or a
user's URL becomes one. Storage options hold secrets: they live in memory, are handed to workers in
memory, and are never logged, stored in a job's spec or written into a job folder.

Accepted spellings (``is_remote``):

- ``s3://bucket/key``, ``gs://`` / ``gcs://bucket/key``
- ``az://container/path``, ``abfs://container/path``, and Azure's long forms
  ``abfss://container@account.dfs.core.windows.net/path``,
  ``wasbs://container@account.blob.core.windows.net/path`` (the account comes from the host)
- ``https://account.blob.core.windows.net/container/path`` (Azure's public sample inputs), and any
  other ``http(s)://`` address, read as a single file

Example::

    root = datastore_root(spec, {"account_key": key})    # from a registered datastore
    target = root.join("outputs/predictions.csv")
    fs, path = target.fs()
    with fs.open(path, "wb") as handle: ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from thresher.errors import StorageError

REMOTE_PREFIXES = (
    "s3://",
    "gs://",
    "gcs://",
    "az://",
    "abfs://",
    "abfss://",
    "wasb://",
    "wasbs://",
    "http://",
    "https://",
)
_AZURE_HOSTS = (".blob.core.windows.net", ".dfs.core.windows.net")


_PUBLIC_OPTIONS = {"account_name", "account_host", "endpoint_url", "region_name", "project"}


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names an object in remote storage (see the module docstring)."""
    return uri.lower().startswith(REMOTE_PREFIXES)


@dataclass(frozen=True)
class RemoteURL:
    """An fsspec URL, the options that open it, and what messages call it (never the options)."""

    url: str
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    datastore: str | None = None
    shown: str = ""  # the URI as the user wrote it; the URL when empty

    @property
    def label(self) -> str:
        """How messages name this place: ``datastore 'x' (azureml://...)`` or the URL."""
        where = self.shown or self.url
        return f"datastore '{self.datastore}' ({where})" if self.datastore else where

    @property
    def protocol(self) -> str:
        return self.url.partition("://")[0].lower()

    def join(self, relative: str) -> RemoteURL:
        """The URL of ``relative`` below this one."""
        relative = relative.strip("/")
        if not relative:
            return self
        base, shown = self.url.rstrip("/"), (self.shown or self.url).rstrip("/")
        return RemoteURL(f"{base}/{relative}", self.options, self.datastore, f"{shown}/{relative}")

    def fs(self) -> tuple[Any, str]:
        """The fsspec filesystem and the path in it (fsspec and the backend are imported here)."""
        import fsspec.core

        try:
            filesystem, path = fsspec.core.url_to_fs(self.url, **dict(self.options))
        except ImportError as exc:
            package = _PACKAGES.get(self.protocol, "the fsspec backend")
            raise StorageError(
                f"Cannot open {self.label}: {exc}",
                fix=f"Install {package} into thresher's environment (pip install {package}).",
            ) from exc
        if self.protocol in ("abfs", "az"):
            _no_sdk_retries(filesystem)
        elif self.protocol == "s3" and hasattr(filesystem, "retries"):
            filesystem.retries = 1  # s3fs tries 5 times on its own (a hung server: 5 read timeouts) before we hear
        return filesystem, path

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the options replaced by ``<secret>`` (libraries may echo them)."""
        for secret in self._secrets():
            text = text.replace(secret, "<secret>")
        return text

    def _secrets(self) -> list[str]:
        found = []
        for key, value in self.options.items():
            if not isinstance(value, str) or key in _PUBLIC_OPTIONS or len(value) < 4:
                continue
            found.append(value)
            if key == "connection_string":  # its key or signature may be echoed alone
                for part in value.split(";"):
                    name, _, secret = part.partition("=")
                    if name in ("AccountKey", "SharedAccessSignature") and len(secret) >= 4:
                        found.append(secret)
        return sorted(found, key=len, reverse=True)

    def to_dict(self) -> dict[str, Any]:
        """The in-memory wire form for workers and actors (it holds the credentials: never write it)."""
        return {"url": self.url, "options": dict(self.options), "datastore": self.datastore, "shown": self.shown}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RemoteURL:
        return cls(str(data["url"]), dict(data.get("options") or {}), data.get("datastore"), str(data.get("shown", "")))


_PACKAGES = {
    "s3": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "http": "aiohttp",
    "https": "aiohttp",
}


def parse_url(uri: str, options: Mapping[str, Any] | None = None, *, datastore: str | None = None) -> RemoteURL:
    """A user's remote URI as an fsspec URL; Azure's long forms name their account in ``options``."""
    options = dict(options or {})
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("abfss", "wasb", "wasbs") or (scheme == "abfs" and "@" in parts.netloc):
        container, _, host = parts.netloc.partition("@")
        account = host.split(".")[0] if host else None
        if account and "account_name" not in options and "connection_string" not in options:
            options["account_name"] = account
        return RemoteURL(f"abfs://{container}{parts.path}", options, datastore, uri)
    if scheme in ("http", "https") and parts.hostname and parts.hostname.endswith(_AZURE_HOSTS):
        # A public blob (Azure's sample inputs): read anonymously through the blob API, which lists folders.
        account = parts.hostname.split(".")[0]
        options.setdefault("account_name", account)
        options.setdefault("anon", True)
        return RemoteURL(f"abfs://{parts.path.lstrip('/')}", options, datastore, uri)
    if scheme == "gcs":
        return RemoteURL("gs://" + uri[len("gcs://") :], options, datastore, uri)
    return RemoteURL(uri, options, datastore, uri)


def _no_sdk_retries(filesystem: Any) -> None:
    """Turn off the Azure SDK's own retries (3, backing off 15 s and more) on an adlfs filesystem.

    thresher's ``retrying`` decides what is retried and for how long (the outage limit); left on, the
    SDK would sit out a minute of backoff before thresher even hears of the first failure. adlfs
    offers no option for it, so the policy object its clients share is set here, once per filesystem.
    """
    client = getattr(filesystem, "service_client", None)
    for policy in getattr(getattr(client, "_pipeline", None), "_impl_policies", ()):
        if hasattr(policy, "total_retries") and hasattr(policy, "initial_backoff"):
            policy.total_retries = 0
