"""How each type of datastore becomes a ``RemoteURL``: the fsspec URL of its root and the options that open it.

=====================  ==========================  =========================================
type                   root URL                    library (pip extra)
=====================  ==========================  =========================================
local                  ``file:///path``            fsspec's local filesystem
azure_blob             ``abfs://<container>``      adlfs (``thresher[azure]``)
azure_data_lake_gen2   ``abfs://<filesystem>``     adlfs (``thresher[azure]``)
s3                     ``s3://bucket[/prefix]``    s3fs (``thresher[s3]``)
gcs                    ``gs://bucket[/prefix]``    gcsfs (``thresher[gcs]``)
=====================  ==========================  =========================================

Azure's ``endpoint`` is a DNS suffix (``core.windows.net``, ``core.chinacloudapi.cn``) or, for an
emulator such as Azurite, ``host:port`` or ``http://host:port[/account]`` (with ``protocol: http``):
the account's blob endpoint is then ``<protocol>://host:port/<account>``, passed in a connection string.

Example::

    root = datastore_root(spec, {"account_key": key})
    fs, path = root.join("data/part-0.csv").fs()
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from thresher.errors import StorageError
from thresher.specs.datastores import DatastoreSpec
from thresher.storage.remote import RemoteURL

AZURE_ENDPOINT = "core.windows.net"
# A server that accepted the connection but stopped answering (a paused or overloaded store) fails a request
# after this many seconds, and retrying() takes over (the libraries wait 60 s, several times over).
READ_TIMEOUT = 20
CONNECT_TIMEOUT = 10  # seconds; the libraries' defaults (20-60 s) make a dead endpoint look like a hang
AZURE_TYPES = ("azure_blob", "azure_data_lake_gen2")
EXTRAS = {"azure_blob": "azure", "azure_data_lake_gen2": "azure", "s3": "s3", "gcs": "gcs"}


def as_spec(spec: DatastoreSpec | Mapping[str, Any]) -> DatastoreSpec:
    """A datastore spec from a spec or its stored document."""
    return spec if isinstance(spec, DatastoreSpec) else DatastoreSpec.model_validate(dict(spec))


def datastore_root(spec: DatastoreSpec | Mapping[str, Any], credentials: Mapping[str, Any] | None = None) -> RemoteURL:
    """The root of a datastore as a RemoteURL; ``credentials`` are plain values (see ``credentials.resolve``).

    A local datastore's root is a ``file://`` URL: it opens with the same ``.fs()`` as the others, but
    ``is_remote`` says False for it (``LocalDatastore`` stays the way to work with local files).
    """
    spec = as_spec(spec)
    creds = dict(credentials or {})
    shown = f"azureml://datastores/{spec.name}/paths"
    if spec.type == "local":
        return RemoteURL(Path(str(spec.path)).as_uri(), {}, spec.name, shown)
    if spec.type in AZURE_TYPES:
        container = spec.container_name if spec.type == "azure_blob" else spec.filesystem
        return RemoteURL(f"abfs://{container}", _azure_options(spec, creds), spec.name, shown)
    if spec.type == "s3":
        return RemoteURL(str(spec.url).rstrip("/"), _s3_options(spec, creds), spec.name, shown)
    url = "gs://" + str(spec.url).split("://", 1)[1].rstrip("/")
    return RemoteURL(url, _gcs_options(spec, creds), spec.name, shown)


def emulator_blob_endpoint(spec: DatastoreSpec) -> str | None:
    """The account's blob endpoint when ``endpoint`` names a server (an emulator), else None."""
    endpoint = (spec.endpoint or "").strip().rstrip("/")
    if not endpoint:
        return None
    protocol = spec.protocol or "https"
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        path = parts.path.strip("/")
        return f"{parts.scheme}://{parts.netloc}/{path or spec.account_name}"
    host, _, port = endpoint.rpartition(":")
    if host and port.isdigit():
        return f"{protocol}://{endpoint}/{spec.account_name}"
    return None


def blob_endpoint(spec: DatastoreSpec) -> str:
    """The account's blob endpoint URL, for messages."""
    emulator = emulator_blob_endpoint(spec)
    if emulator:
        return emulator
    return f"{spec.protocol or 'https'}://{spec.account_name}.blob.{spec.endpoint or AZURE_ENDPOINT}"


def where(spec: DatastoreSpec) -> str:
    """The server a datastore talks to, for messages."""
    if spec.type in AZURE_TYPES:
        return blob_endpoint(spec)
    if spec.endpoint_url:
        return spec.endpoint_url
    return {"s3": "AWS S3", "gcs": "Google Cloud Storage"}.get(spec.type, str(spec.path))


def _azure_options(spec: DatastoreSpec, creds: dict[str, Any]) -> dict[str, Any]:
    # The container was checked when the datastore was created: adlfs must not probe (or create) it.
    options: dict[str, Any] = {
        "account_name": spec.account_name,
        "assume_container_exists": True,
        "connection_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
    }
    if creds.pop("anonymous", False):
        options["anon"] = True
    for unused in ("authority_url", "resource_url"):  # Azure's YAML has them; adlfs derives both
        creds.pop(unused, None)
    emulator = emulator_blob_endpoint(spec)
    if "connection_string" in creds:
        options["connection_string"] = creds.pop("connection_string")
    elif emulator:
        scheme = emulator.split("://", 1)[0]
        parts = [f"DefaultEndpointsProtocol={scheme}", f"AccountName={spec.account_name}"]
        if "account_key" in creds:
            parts.append(f"AccountKey={creds.pop('account_key')}")
        if "sas_token" in creds:
            parts.append(f"SharedAccessSignature={str(creds.pop('sas_token')).lstrip('?')}")
        parts.append(f"BlobEndpoint={emulator}")
        options["connection_string"] = ";".join(parts) + ";"
    elif spec.endpoint and spec.endpoint.strip() != AZURE_ENDPOINT:
        options["account_host"] = f"{spec.account_name}.blob.{spec.endpoint.strip()}"
    options.update(creds)  # account_key, sas_token, tenant_id, client_id, client_secret: adlfs's own names
    return options


def _s3_options(spec: DatastoreSpec, creds: dict[str, Any]) -> dict[str, Any]:
    # botocore's own retries (up to 5, backing off up to 20 s) are off: thresher's retrying() decides, so that
    # the outage limit means what it says.
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": {"max_attempts": 1, "mode": "standard"},
        }
    }
    if spec.endpoint_url:
        options["endpoint_url"] = spec.endpoint_url
    if creds.get("anonymous"):
        options["anon"] = True
    for ours, theirs in (("access_key_id", "key"), ("secret_access_key", "secret"), ("session_token", "token")):
        if ours in creds:
            options[theirs] = creds[ours]
    return options


def _gcs_options(spec: DatastoreSpec, creds: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if spec.endpoint_url:
        options["endpoint_url"] = spec.endpoint_url
    if creds.get("anonymous"):
        options["token"] = "anon"
    elif "service_account_key" in creds:
        try:
            options["token"] = json.loads(str(creds["service_account_key"]))
        except ValueError:
            raise StorageError(
                f"Datastore '{spec.name}': credentials.service_account_key is not a service account key "
                "(a JSON document).",
                fix="Point it at the key's JSON file: credentials: {service_account_key: {file: key.json}}",
            ) from None
    return options
