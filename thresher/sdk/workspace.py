"""``thresher.Workspace``: the Python SDK. The CLI is a thin layer over it, so both behave the same."""

from __future__ import annotations

import functools
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from thresher.instance import Instance
from thresher.sdk.assets import DataOperations, EnvironmentOperations, ModelOperations
from thresher.sdk.endpoints import BatchDeploymentOperations, BatchEndpointOperations
from thresher.sdk.health import WorkspaceCheck, WorkspaceInfo, backup_workspace, check_workspace, describe_workspace
from thresher.sdk.infra import ComputeOperations, DatastoreOperations
from thresher.sdk.jobs import JobOperations
from thresher.sdk.online import OnlineDeploymentOperations, OnlineEndpointOperations
from thresher.sdk.online_serving import OnlineServing
from thresher.sdk.tokens import TokenOperations
from thresher.settings import Settings, load_settings
from thresher.store.backup import BackupRecord

if TYPE_CHECKING:
    from thresher.sdk.pipelines import ComponentOperations, PipelineJobOperations
    from thresher.sdk.published import PipelineEndpointOperations
    from thresher.sdk.schedules import ScheduleOperations


def is_server_url(home: str) -> bool:
    """Whether a workspace named ``home`` is a thresher server's address rather than a folder."""
    return home.startswith(("http://", "https://"))


class Workspace:
    """A thresher workspace: the metadata database and default datastore, with one attribute per resource.

    ``Workspace("https://host:8080", token=...)`` (or ``Workspace()`` with THRESHER_SERVER and
    THRESHER_TOKEN set) is the same workspace served by a thresher server: the same operations, sent
    over HTTP (``thresher.sdk.remote``).

    Example::

        from thresher import Workspace
        from thresher.specs import load_spec

        ws = Workspace("./.thresher")
        model = ws.models.create(load_spec("model.yml", "model"))
        ws.batch_endpoints.create(load_spec("endpoint.yml", "batch_endpoint"))
        ws.batch_deployments.create(load_spec("deployment.yml", "batch_deployment"), set_default=True)
        print([m.name for m in ws.models.list()])
    """

    def __new__(
        cls,
        home: str | Path | None = None,
        *,
        database_url: str | None = None,
        settings: Settings | None = None,
        token: str | None = None,
    ) -> Workspace:
        if cls is Workspace and database_url is None:
            named = home is not None and is_server_url(str(home))
            if named or (home is None and (settings or load_settings()).server):
                from thresher.sdk.remote import RemoteWorkspace

                return object.__new__(RemoteWorkspace)
        return object.__new__(cls)

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        database_url: str | None = None,
        settings: Settings | None = None,
        token: str | None = None,
    ) -> None:
        if settings is None:
            overrides: dict[str, object] = {}
            if home is not None:
                overrides["home"] = Path(home)
            if database_url is not None:
                overrides["database_url"] = database_url
            settings = load_settings(**overrides)
        self.settings = settings
        self.instance = Instance(settings)
        self.models = ModelOperations(self.instance)
        self.environments = EnvironmentOperations(self.instance)
        self.data = DataOperations(self.instance)
        self.datastores = DatastoreOperations(self.instance)
        self.computes = ComputeOperations(self.instance)
        self.batch_endpoints = BatchEndpointOperations(self.instance)
        self.batch_deployments = BatchDeploymentOperations(
            self.instance, self.batch_endpoints, self.models, self.environments, self.computes
        )
        serving = OnlineServing(settings)
        self.online_endpoints = OnlineEndpointOperations(self.instance, serving)
        self.online_deployments = OnlineDeploymentOperations(
            self.instance, self.online_endpoints, self.models, self.environments, serving
        )
        self.jobs = JobOperations(self.instance)
        self.tokens = TokenOperations(self.instance)

    # Pipelines, components, schedules and pipeline endpoints are made when first used: importing them took
    # 80 ms of a CLI command's 0.75 s, and most commands never touch them.
    @functools.cached_property
    def pipelines(self) -> PipelineJobOperations:
        from thresher.sdk.pipelines import PipelineJobOperations

        return PipelineJobOperations(self.instance)

    @functools.cached_property
    def components(self) -> ComponentOperations:
        from thresher.sdk.pipelines import ComponentOperations

        return ComponentOperations(self.instance)

    @functools.cached_property
    def schedules(self) -> ScheduleOperations:
        from thresher.sdk.schedules import ScheduleOperations

        return ScheduleOperations(self.instance)

    @functools.cached_property
    def pipeline_endpoints(self) -> PipelineEndpointOperations:
        from thresher.sdk.published import PipelineEndpointOperations

        return PipelineEndpointOperations(self.instance)

    def check(self) -> WorkspaceCheck:
        """Check the workspace without changing it; works when the database cannot be opened.

        Checked: the database's integrity (SQLite), schema revision and tables, and the default
        datastore's folder. Each failed check says what is wrong and its fix.

        Example::

            report = Workspace("./.thresher").check()
            if not report.ok:
                print([check.summary for check in report.checks if not check.ok])
        """
        return check_workspace(self.settings)

    def backup(self, path: str | Path) -> BackupRecord:
        """Copy the workspace's SQLite database to ``path`` while it is in use; the copy is checked.

        ``path`` must not exist. PostgreSQL workspaces are backed up with ``pg_dump`` instead (the
        StoreError raised says the command). Example: ``ws.backup("backups/thresher-2026-11-29.db")``
        """
        return backup_workspace(self.settings, path)

    def show(self) -> WorkspaceInfo:
        """Where the workspace keeps things: home, database (password hidden), schema revision, datastore."""
        return describe_workspace(self.settings)

    def close(self) -> None:
        """Release the database connections."""
        self.instance.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
