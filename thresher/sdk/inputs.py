"""Resolving a job's ``--input`` into a local path and an input kind.

Accepted: a local file or folder, ``file://``, ``azureml://datastores/<ds>/paths/<p>``, a registered
data asset ``azureml:<name>:<version>`` / ``azureml:<name>@latest``, and objects in remote storage
(``s3://``, ``gs://``, ``az://``, ``abfss://``, ``wasbs://``, public ``https://`` blob URLs, and the
``azureml://datastores/...`` paths of remote datastores): those are checked here and listed by the
runner. A data asset of type ``mltable`` is tabular: its ``MLTable`` file says the format
(``read_delimited``, ``read_parquet``, ``read_json_lines``) and ``run()`` receives DataFrames.
"""

from __future__ import annotations

from pathlib import Path

from thresher.errors import StorageError, StorageUnavailableError, ThresherError
from thresher.instance import Instance
from thresher.scheduler.jobspec import JobInput
from thresher.specs import Reference, parse_reference
from thresher.storage.mltable import MLTABLE, parse_mltable, read_mltable
from thresher.storage.retry import not_answering, retrying


def resolve_input(instance: Instance, uri: str, input_type: str | None) -> JobInput:
    """The local input a job will read, checked: it exists and its type matches ``--input-type``."""
    if input_type not in (None, "uri_folder", "uri_file"):
        raise ThresherError(
            f"--input-type is {input_type!r}; it must be uri_folder or uri_file.",
            fix="Use --input-type uri_folder for a folder, uri_file for one file.",
        )
    reference = parse_reference(uri) if uri.startswith("azureml:") and not uri.startswith("azureml://") else None
    if reference is not None:
        return _data_asset(instance, uri, reference)
    if instance.is_remote_uri(uri):
        return _remote_input(instance, uri, input_type)
    path = instance.resolve_local_path(uri)
    if not path.exists():
        raise StorageError(
            f"--input {uri!r} does not exist (looked at {path}).",
            fix="Pass an existing file or folder, or a data asset as azureml:<name>@latest.",
        )
    kind = "uri_file" if path.is_file() else "uri_folder"
    if input_type is not None and input_type != kind:
        raise ThresherError(
            f"--input-type is {input_type} but {path} is a {'file' if path.is_file() else 'folder'}.",
            fix=f"Use --input-type {kind}, or leave --input-type out.",
        )
    return JobInput(uri=uri, path=str(path), type=kind)


def _remote_input(instance: Instance, uri: str, input_type: str | None) -> JobInput:
    """A remote input, looked at once: it exists, this machine may read it, and it is a file or a folder."""
    target = instance.remote(uri)
    fs, path = target.fs()
    try:
        info = retrying(target.label, lambda: fs.info(path), outage_limit=instance.settings.storage_outage_limit)
    except FileNotFoundError:
        raise StorageError(
            f"--input {target.label} does not exist.",
            fix="Check the path, and the container or bucket of the datastore; list it with your storage's tools.",
        ) from None
    except StorageUnavailableError as exc:
        raise not_answering(exc, "--input") from exc
    except StorageError:
        raise
    except Exception as exc:  # access denied, a bad key, ...: never retried
        raise StorageError(
            f"Cannot read --input {target.label}: {type(exc).__name__}: {target.scrub(str(exc))[:300]}",
            fix="Check the datastore's credentials and that they may list and read this path.",
        ) from exc
    kind = "uri_folder" if info.get("type") == "directory" else "uri_file"
    if input_type is not None and input_type != kind:
        raise ThresherError(
            f"--input-type is {input_type} but {target.label} is a {'folder' if kind == 'uri_folder' else 'file'}.",
            fix=f"Use --input-type {kind}, or leave --input-type out.",
        )
    return JobInput(uri=uri, path=uri, type=kind, remote=True)


def _data_asset(instance: Instance, uri: str, reference: Reference) -> JobInput:
    record = instance.store.get_asset("data", reference.name, reference.version)
    location = str(record.info.get("path") or record.spec.get("path"))
    kind = str(record.spec.get("type", "uri_folder"))
    if instance.is_remote_uri(location):
        if kind != "mltable":
            return _remote_input(instance, location, kind if kind in ("uri_file", "uri_folder") else None)
        _remote_input(instance, location, "uri_folder")  # it exists, and is a folder this machine may read
        target = instance.remote(location).join(MLTABLE)
        fs, file = target.fs()
        limit = instance.settings.storage_outage_limit
        try:
            text = retrying(target.label, lambda: fs.cat_file(file), outage_limit=limit).decode("utf-8")
        except FileNotFoundError:
            raise StorageError(
                f"Data asset {uri} has type mltable but {target.label} does not exist.",
                fix="Add an MLTable file describing the tables, or register the folder as uri_folder.",
            ) from None
        fmt, options = parse_mltable(text, target.label)
        return JobInput(
            uri=location, path=location, type="mltable", tabular=True, format=fmt, read_options=options, remote=True
        )
    path = Path(location)
    if kind != "mltable":
        return JobInput(uri=uri, path=str(path), type=kind)
    fmt, options = read_mltable(path / "MLTable")
    return JobInput(uri=uri, path=str(path), type="mltable", tabular=True, format=fmt, read_options=options)
