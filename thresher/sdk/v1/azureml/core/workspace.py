"""``azureml.core.Workspace``: every way a v1 script gets its workspace opens the thresher workspace at
``THRESHER_HOME`` (default ``./.thresher``); subscription, resource group and name are kept for show::

    ws = Workspace.from_config()               # config.json is read if present, for its names only
    ws = Workspace(subscription_id, resource_group, workspace_name)
    store = ws.get_default_datastore()         # workspaceblobstore
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thresher.sdk import Workspace as ThresherWorkspace

    from ..data.datasets import FileDataset, TabularDataset
    from .compute import ComputeTarget
    from .datastore import Datastore
    from .environment import Environment

__all__ = ["Workspace"]

_CONFIG_NAMES = ("config.json", os.path.join(".azureml", "config.json"), os.path.join("aml_config", "config.json"))


class Workspace:
    """A workspace: the thresher workspace of this process, whatever names it is given."""

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: Any = None,
        _location: str | None = None,
        _disable_service_check: bool = False,
        _workspace_id: str | None = None,
        sku: str = "basic",
        tags: dict[str, str] | None = None,
        _cloud: str = "AzureCloud",
    ) -> None:
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self._given_name = workspace_name
        self.location = _location or "local"
        self.sku = sku
        self.tags = dict(tags or {})

    @classmethod
    def from_config(
        cls, path: str | None = None, auth: Any = None, _logger: Any = None, _file_name: str | None = None
    ) -> Workspace:
        """The workspace; a ``config.json`` (here, under ``path``, or in a parent folder) gives its names."""
        config = _find_config(path, _file_name)
        data: dict[str, Any] = {}
        if config is not None:
            with open(config, encoding="utf-8") as handle:
                data = json.load(handle)
        return cls(data.get("subscription_id"), data.get("resource_group"), data.get("workspace_name"))

    @classmethod
    def get(
        cls,
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        cloud: str = "AzureCloud",
        id: str | None = None,
    ) -> Workspace:
        """The workspace (named ``name`` for show)."""
        return cls(subscription_id, resource_group, name, _location=location)

    @property
    def _thresher(self) -> ThresherWorkspace:
        from .._thresher.workspace import thresher_workspace

        return thresher_workspace()

    @property
    def name(self) -> str:
        """The name the script gave, else the workspace folder's."""
        return self._given_name or os.path.basename(str(self._thresher.settings.workspace_dir))

    def get_default_datastore(self) -> Datastore:
        """The default datastore (``workspaceblobstore``)."""
        from .datastore import Datastore

        return Datastore(self)

    @property
    def datastores(self) -> dict[str, Datastore]:
        """Every datastore, by name."""
        from .datastore import Datastore

        return {record.name: Datastore(self, record.name) for record in self._thresher.datastores.list()}

    @property
    def compute_targets(self) -> dict[str, ComputeTarget]:
        """Every registered compute, by name (``amlcompute`` ones as ``AmlCompute``)."""
        from .compute import ComputeTarget

        return {record.name: ComputeTarget._of(self, record.name) for record in self._thresher.computes.list()}

    @property
    def environments(self) -> dict[str, Environment]:
        """Every registered environment (its latest version), by name."""
        from .environment import Environment

        return {
            record.name: Environment.get(self, record.name, record.version)
            for record in self._thresher.environments.list()
        }

    @property
    def datasets(self) -> dict[str, FileDataset | TabularDataset]:
        """Every registered data asset (its latest version), by name."""
        from .dataset import Dataset

        return {record.name: Dataset.get_by_name(self, record.name) for record in self._thresher.data.list()}

    def get_details(self) -> dict[str, Any]:
        """Where the workspace is: its folder and database."""
        info = self._thresher.show()
        return {"name": self.name, "home": str(info.home), "location": self.location, "database": info.database}

    def write_config(self, path: str | None = None, file_name: str | None = None) -> None:
        """Write ``config.json`` with the workspace's names (under ``path``/.azureml)."""
        folder = os.path.join(path or ".", ".azureml")
        os.makedirs(folder, exist_ok=True)
        data = {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace_name": self.name,
        }
        with open(os.path.join(folder, file_name or "config.json"), "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)

    def __repr__(self) -> str:
        names = f"name='{self.name}', subscription_id='{self.subscription_id}'"
        return f"Workspace.create({names}, resource_group='{self.resource_group}')"


def _find_config(path: str | None, file_name: str | None) -> str | None:
    names = [file_name] if file_name else list(_CONFIG_NAMES)
    folder = os.path.abspath(path or ".")
    if os.path.isfile(folder):
        return folder
    while True:
        for name in names:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
