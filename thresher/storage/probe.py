"""The check ``datastore create`` makes: can this datastore be reached, with these credentials, and is it there?

One request per datastore (the container's properties, one object listed from the bucket), with a
short connect timeout, no library retries and a deadline for the whole check, so that a dead endpoint
fails in seconds, not after the libraries' minutes of retrying. The message names the datastore,
what is wrong and the fix; library messages are scrubbed of the credentials before they are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thresher.errors import MissingExtraError, StorageError
from thresher.specs.datastores import DatastoreSpec
from thresher.storage.backends import AZURE_TYPES, EXTRAS, datastore_root, where
from thresher.storage.credentials import scrub, secret_values
from thresher.storage.retry import Fault, classify

CONNECT_TIMEOUT = 5  # seconds
READ_TIMEOUT = 10
DEADLINE = 20  # the whole check


def check_datastore(spec: DatastoreSpec, credentials: Mapping[str, Any], *, deadline: float = DEADLINE) -> None:
    """Raise StorageError (naming the datastore, never a secret) unless its container or bucket answers."""
    if spec.type == "local":
        return
    secrets = secret_values(credentials)
    root = datastore_root(spec, credentials)
    container, _, prefix = root.url.split("://", 1)[1].partition("/")
    try:
        _probe(spec, dict(root.options), container, prefix, deadline)
    except ImportError as exc:
        package = {"azure": "adlfs", "s3": "s3fs", "gcs": "gcsfs"}[EXTRAS[spec.type]]
        raise MissingExtraError(f"Datastore '{spec.name}' (type {spec.type})", package, EXTRAS[spec.type]) from exc
    except Exception as exc:
        raise _explain(spec, container, exc, secrets, deadline) from None


def _probe(spec: DatastoreSpec, options: dict[str, Any], container: str, prefix: str, deadline: float) -> None:
    from fsspec.asyn import sync

    if spec.type in AZURE_TYPES:
        from adlfs import AzureBlobFileSystem

        azure = AzureBlobFileSystem(**options, skip_instance_cache=True)
        client = azure.service_client.get_container_client(container)
        # Per-call options: no retries (azure-core would back off for a minute on a refused connection).
        sync(
            azure.loop,
            client.get_container_properties,
            retry_total=0,
            connection_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            timeout=deadline,
        )
    elif spec.type == "s3":
        from s3fs import S3FileSystem

        config = {**options.pop("config_kwargs", {}), "connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT}
        config["retries"] = {"max_attempts": 1}
        s3 = S3FileSystem(**options, config_kwargs=config, skip_instance_cache=True)
        s3.retries = 1  # s3fs's own retry loop, on top of botocore's
        sync(s3.loop, s3._call_s3, "list_objects_v2", Bucket=container, Prefix=prefix, MaxKeys=1, timeout=deadline)
    else:
        from gcsfs import GCSFileSystem

        gcs = GCSFileSystem(**options, skip_instance_cache=True)
        sync(gcs.loop, gcs._info, container, timeout=deadline)


def _explain(
    spec: DatastoreSpec, container: str, error: BaseException, secrets: list[str], deadline: float
) -> StorageError:
    fault = classify(error)
    server = where(spec)
    reason = scrub(_first_line(error), secrets)
    name = f"Datastore '{spec.name}'"
    what = {"s3": "bucket", "gcs": "bucket"}.get(spec.type, "container")
    if spec.type in AZURE_TYPES:
        place = f"{what} '{container}' of storage account '{spec.account_name}' ({server})"
        key_fix = (
            "Check credentials: account_key must be a current key of storage account "
            f"'{spec.account_name}' (or sas_token a valid SAS token for it), and account_name must be right."
        )
        create = f"az storage container create --name {container} --account-name {spec.account_name}"
    else:
        place = f"{what} '{container}' at {server}"
        key_fix = (
            "Check credentials: access_key_id and secret_access_key must be a current key pair allowed to list "
            "the bucket."
            if spec.type == "s3"
            else "Check credentials.service_account_key: the account must be allowed to read the bucket."
        )
        create = (
            f"aws s3 mb s3://{container}" if spec.type == "s3" else f"gcloud storage buckets create gs://{container}"
        )
    if fault is Fault.AUTH:
        return StorageError(f"{name}: the {place} refused the credentials: {reason}", fix=key_fix)
    if fault is Fault.NOT_FOUND:
        key = {"azure_blob": "container_name", "azure_data_lake_gen2": "filesystem"}.get(spec.type, "url")
        return StorageError(
            f"{name}: the {place} does not exist.",
            fix=f"Create it ({create}), or correct {key} in the datastore's YAML.",
        )
    if fault.transient:
        key = "endpoint and protocol" if spec.type in AZURE_TYPES else "endpoint_url"
        if fault is Fault.TIMEOUT and type(error).__name__ == "FSTimeoutError":
            reason = f"no answer within {deadline:g} s"
        return StorageError(
            f"{name}: cannot reach {server} ({reason}).",
            fix=f"Check that the storage server is running and reachable from this machine, and the datastore's "
            f"{key}; then create the datastore again.",
        )
    return StorageError(
        f"{name}: checking the {place} failed: {type(error).__name__}: {reason}",
        fix="Check the datastore's YAML (account, container or bucket, endpoint and credentials).",
    )


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
