"""Datastores for the v1 shim: look one up by its v1 name, and upload files into one."""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from thresher.errors import NotFoundError
from thresher.sdk import Workspace as ThresherWorkspace
from thresher.storage.remote_files import upload as upload_remote

from .workspace import note, user_error

FILE_STORE = "workspacefilestore"


def datastore_spec(ws: ThresherWorkspace, name: str | None) -> tuple[str, Mapping[str, Any]]:
    """The datastore's name and spec; ``workspacefilestore`` (and no name) is the default datastore."""
    default = ws.settings.default_datastore
    if name in (None, "", default):
        return default, ws.datastores.get(default).spec
    try:
        record = ws.datastores.get(str(name))
    except NotFoundError as exc:
        if name == FILE_STORE:
            note(
                f"datastore '{FILE_STORE}' (Azure Files) is the workspace's default datastore '{default}' here: "
                "thresher has one default datastore. Register another with thresher datastore create to keep "
                "them apart."
            )
            return default, ws.datastores.get(default).spec
        raise user_error(exc) from None
    return record.name, record.spec


def upload(
    ws: ThresherWorkspace,
    datastore: str,
    files: Sequence[str],
    relative_root: str | None,
    target_path: str,
    overwrite: bool,
) -> tuple[int, int]:
    """Copy ``files`` into ``target_path`` of the datastore (object storage: uploaded); returns (copied,
    already there). A file already there with other content is an error unless ``overwrite``."""
    root = Path(relative_root or os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files] or ["."]))
    instance = ws.instance
    uri = f"azureml://datastores/{datastore}/paths/{target_path.strip('/')}"
    if instance.is_remote_uri(uri):
        for name in files:
            relative = Path(name).resolve().relative_to(root.resolve()).as_posix()
            upload_remote(Path(name), instance.remote(f"{uri.rstrip('/')}/{relative}"))
        return len(files), 0
    return _copy(files, root, instance.resolve_local_path(uri), overwrite)


def _copy(files: Sequence[str], root: Path, target: Path, overwrite: bool) -> tuple[int, int]:
    copied = same = 0
    for name in files:
        source = Path(name).resolve()
        destination = target / source.relative_to(root.resolve())
        if destination.is_file() and filecmp.cmp(source, destination, shallow=False):
            same += 1  # left as it is, its modification time too: data fingerprints stay the same
            continue
        if destination.exists() and not overwrite:
            from ..exceptions import UserErrorException

            raise UserErrorException(
                f"{destination} exists in the datastore with other content; pass overwrite=True to replace it."
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        copied += 1
    return copied, same
