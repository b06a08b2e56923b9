"""``azureml.pipeline.core.PipelineEndpoint``: a stable name over versions of published pipelines, submitted at
its default version or a chosen one::

    endpoint = PipelineEndpoint.publish(ws, name="nightly", pipeline=published, description="nightly scoring")
    endpoint.add_default(pipeline.publish(name="nightly-v2"))
    run = endpoint.submit("nightly", pipeline_parameters={"round_to": 2})
    run = endpoint.submit("nightly", pipeline_version="1")

A version of an endpoint is a published pipeline of the endpoint's name: one published under another name is
stored again under it (the same frozen pipeline, its own version and id).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .pipeline import Pipeline
from .published_pipeline import PublishedPipeline

if TYPE_CHECKING:
    from thresher.sdk.published import PipelineEndpoint as Endpoint
    from thresher.sdk.published import PipelineEndpointOperations

    from ...core.workspace import Workspace
    from .run import PipelineRun


def _publish() -> Any:
    """The publishing side of the shim (it needs thresher; a step script importing this module does not)."""
    from ..._thresher import publish

    return publish


__all__ = ["PipelineEndpoint"]

ROUTE = "/api/v1/pipelineendpoints/{name}"


class PipelineEndpoint:
    """A pipeline endpoint: ``name``, ``default_version``, ``status``, ``endpoint``."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self._workspace = workspace
        self._name = name

    @property
    def name(self) -> str:
        """Its name."""
        return self._name

    @property
    def id(self) -> str:
        """Its id (its name: names are unique in a workspace)."""
        return self._name

    @property
    def description(self) -> str | None:
        """What it does."""
        return self._get().description

    @property
    def default_version(self) -> str:
        """The version a submit without ``pipeline_version`` runs."""
        return self._get().default_version

    @property
    def status(self) -> str:
        """``Active`` or ``Disabled``."""
        return self._get().status

    @property
    def endpoint(self) -> str:
        """The REST URL that submits it (on the thresher server named by ``THRESHER_SERVER``)."""
        url: str = _publish().rest_url(ROUTE.format(name=self._name))
        return url

    @staticmethod
    def publish(
        workspace: Workspace,
        name: str,
        description: str | None,
        pipeline: Pipeline | PublishedPipeline,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        **kwargs: Any,
    ) -> PipelineEndpoint:
        """Create endpoint ``name`` with ``pipeline`` (a Pipeline is published first) as its default version."""
        endpoint = PipelineEndpoint(workspace, name)
        endpoint._add(pipeline, True, description)
        return endpoint

    @staticmethod
    def get(workspace: Workspace, id: str | None = None, name: str | None = None, **kwargs: Any) -> PipelineEndpoint:
        """The endpoint ``name`` (or ``id``, which is its name)."""
        chosen = name or id
        if not chosen:
            raise ValueError("PipelineEndpoint.get needs name= (or id=).")
        _publish().call(lambda: workspace._thresher.pipeline_endpoints.get(chosen))
        return PipelineEndpoint(workspace, chosen)

    @staticmethod
    def list(workspace: Workspace, active_only: bool = True, **kwargs: Any) -> builtins.list[PipelineEndpoint]:
        """The endpoints of the workspace (the active ones unless ``active_only=False``)."""
        found = _publish().call(lambda: workspace._thresher.pipeline_endpoints.list())
        return [PipelineEndpoint(workspace, e.name) for e in found if not active_only or e.status == "Active"]

    def add(self, pipeline: Pipeline | PublishedPipeline) -> None:
        """Add ``pipeline`` as a new version (not the default)."""
        self._add(pipeline, None, None)

    def add_default(self, pipeline: Pipeline | PublishedPipeline) -> None:
        """Add ``pipeline`` as a new version and make it the default."""
        self._add(pipeline, True, None)

    def set_default_version(self, version: str | int) -> None:
        """Make ``version`` the default."""
        _publish().call(lambda: self._ops().set_default(self._name, str(version)))

    def get_default_version(self) -> str:
        """The default version."""
        return self.default_version

    def get_pipeline(self, version: str | int | None = None) -> PublishedPipeline:
        """Version ``version`` (the default when None) as a PublishedPipeline."""
        chosen = None if version is None else str(version)
        return PublishedPipeline(self._workspace, _publish().call(lambda: self._ops().get_pipeline(self._name, chosen)))

    def list_pipelines(self, active_only: bool = True) -> builtins.list[PublishedPipeline]:
        """Every version, oldest first."""
        found = _publish().call(lambda: self._ops().pipelines(self._name))
        return [PublishedPipeline(self._workspace, p) for p in found if not active_only or p.status == "Active"]

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        pipeline_version: str | int | None = None,
        **kwargs: Any,
    ) -> PipelineRun:
        """Queue a run of the default version (or ``pipeline_version``) in ``experiment_name``."""
        version = None if pipeline_version is None else str(pipeline_version)
        body = _publish().request_body(experiment_name, pipeline_parameters)
        job = _publish().call(lambda: self._ops().invoke(self._name, body, version=version))
        run: PipelineRun = _publish().started(self._workspace, experiment_name, job.name)
        return run

    def disable(self) -> None:
        """Refuse every submit until ``enable()``."""
        _publish().call(lambda: self._ops().disable(self._name))

    def enable(self) -> None:
        """Accept submits again."""
        _publish().call(lambda: self._ops().enable(self._name))

    def _add(self, pipeline: Pipeline | PublishedPipeline, set_default: bool | None, description: Any) -> None:
        if isinstance(pipeline, Pipeline):
            _publish().publish(pipeline, self._name, description, None, None, set_default=set_default)
        elif isinstance(pipeline, PublishedPipeline):
            _publish().call(lambda: self._ops().add(self._name, pipeline.id, set_default=set_default))
        else:
            raise TypeError(f"pipeline must be a Pipeline or a PublishedPipeline, not {pipeline!r}.")

    def _get(self) -> Endpoint:
        found: Endpoint = _publish().call(lambda: self._ops().get(self._name))
        return found

    def _ops(self) -> PipelineEndpointOperations:
        return self._workspace._thresher.pipeline_endpoints

    def __repr__(self) -> str:
        return f"PipelineEndpoint(Name: {self._name})"
