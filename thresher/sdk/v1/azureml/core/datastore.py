"""``azureml.core.Datastore``: a thresher datastore by name. ``workspaceblobstore`` is thresher's default
datastore; ``workspacefilestore`` (Azure Files) maps onto it too, with a note::

    store = Datastore(ws, "workspaceblobstore")
    store.upload(src_dir="./data", target_path="raw/", overwrite=True)
    files = Dataset.File.from_files([(store, "raw/")])
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["Datastore"]

FILE_STORE = "workspacefilestore"
_TYPES = {"local": "AzureBlob", "azure_blob": "AzureBlob", "azure_data_lake_gen2": "AzureDataLakeGen2"}


class Datastore:
    """A named storage root of the workspace (the default one when no name is given)."""

    def __init__(self, workspace: Workspace, name: str | None = None) -> None:
        from .._thresher.datastores import datastore_spec

        self.workspace = workspace
        self.name, spec = datastore_spec(workspace._thresher, name)
        kind = str(spec.get("type", "local"))
        self.datastore_type = _TYPES.get(kind, kind)
        self.container_name = spec.get("container_name") or spec.get("bucket") or self.name
        self.account_name = spec.get("account_name") or "local"
        self._spec: dict[str, Any] = dict(spec)

    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        """A datastore by name."""
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        """The default datastore."""
        return Datastore(workspace)

    def uri(self, path: str = "") -> str:
        """``azureml://datastores/<name>/paths/<path>``."""
        return "azureml://datastores/{}/paths/{}".format(self.name, path.lstrip("/"))

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> Any:
        """Not supported: DataReference is the v1 SDK's oldest data API."""
        from .._lazy import NotSupported

        raise NotSupported(
            "Datastore.path() (DataReference) is not supported by thresher. Use Dataset.File.from_files"
            "([(datastore, '%s')]) as the step input instead." % (path or "folder/")
        )

    def upload(
        self,
        src_dir: str,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> None:
        """Copy the files under ``src_dir`` to ``target_path`` in the datastore (identical files are skipped)."""
        files = []
        for folder, _, names in os.walk(src_dir):
            files += [os.path.join(folder, name) for name in sorted(names)]
        self.upload_files(files, src_dir, target_path, overwrite, show_progress)

    def upload_files(
        self,
        files: list[str],
        relative_root: str | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> None:
        """Copy ``files`` (paths relative to ``relative_root`` kept) to ``target_path`` in the datastore."""
        from .._thresher.datastores import upload

        uploaded = upload(self.workspace._thresher, self.name, files, relative_root, target_path or "", overwrite)
        if show_progress:
            copied, same = uploaded
            print(f"Uploaded {copied} files ({same} already there) to {self.uri(target_path or '')}")

    def __repr__(self) -> str:
        return f"{{'name': '{self.name}', 'datastore_type': '{self.datastore_type}'}}"
