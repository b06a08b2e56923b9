"""``azureml.pipeline.core.PublishedPipeline``: a pipeline frozen at ``Pipeline.publish``, submitted later with
parameters, as often as wanted, by ``submit`` or by its REST endpoint::

    published = pipeline.publish(name="nightly-scoring", description="scores last night's files")
    run = published.submit(ws, "nightly", pipeline_parameters={"round_to": 2})
    published.disable()  # submitting it is refused until published.enable()
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thresher.sdk.published import PipelineEndpointOperations
    from thresher.sdk.published import PublishedPipeline as Published

    from ...core.workspace import Workspace
    from .run import PipelineRun


def _publish() -> Any:
    """The publishing side of the shim (it needs thresher; a step script importing this module does not)."""
    from ..._thresher import publish

    return publish


__all__ = ["PublishedPipeline"]

ROUTE = "/api/v1/publishedpipelines/{id}"


class PublishedPipeline:
    """One published pipeline: ``id``, ``name``, ``version``, ``status`` (Active or Disabled), ``endpoint``."""

    def __init__(self, workspace: Workspace, record: Published) -> None:
        self._workspace = workspace
        self._record = record

    @property
    def id(self) -> str:
        """Its id (a UUID), the last part of its REST URL."""
        return self._record.id

    @property
    def name(self) -> str:
        """The name it was published under."""
        return self._record.name

    @property
    def version(self) -> str:
        """Its version under that name."""
        return self._record.version

    @property
    def description(self) -> str | None:
        """What it does."""
        return self._record.description

    @property
    def status(self) -> str:
        """``Active`` or ``Disabled``."""
        return self._ops().get_published(self.id).status

    @property
    def endpoint(self) -> str:
        """The REST URL that submits it (on the thresher server named by ``THRESHER_SERVER``)."""
        url: str = _publish().rest_url(ROUTE.format(id=self.id))
        return url

    @staticmethod
    def get(
        workspace: Workspace, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> PublishedPipeline:
        """The published pipeline ``id``."""
        return PublishedPipeline(
            workspace, _publish().call(lambda: workspace._thresher.pipeline_endpoints.get_published(id))
        )

    @staticmethod
    def list(
        workspace: Workspace, active_only: bool = True, _service_endpoint: Any = None
    ) -> builtins.list[PublishedPipeline]:
        """The published pipelines of the workspace (the active ones unless ``active_only=False``)."""
        found = _publish().call(lambda: workspace._thresher.pipeline_endpoints.list_published())
        return [PublishedPipeline(workspace, p) for p in found if not active_only or p.status == "Active"]

    def submit(
        self,
        workspace: Workspace,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        parent_run_id: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> PipelineRun:
        """Queue a run of it in ``experiment_name``; ``pipeline_parameters`` as its REST call's assignments."""
        body = _publish().request_body(experiment_name, pipeline_parameters)
        job = _publish().call(lambda: workspace._thresher.pipeline_endpoints.invoke_published(self.id, body))
        run: PipelineRun = _publish().started(workspace, experiment_name, job.name)
        return run

    def disable(self) -> None:
        """Refuse every submit of it until ``enable()``."""
        self._record = _publish().call(lambda: self._ops().disable_published(self.id))

    def enable(self) -> None:
        """Accept submits again."""
        self._record = _publish().call(lambda: self._ops().enable_published(self.id))

    def _ops(self) -> PipelineEndpointOperations:
        return self._workspace._thresher.pipeline_endpoints

    def __repr__(self) -> str:
        return f"PublishedPipeline(Name: {self.name}, Id: {self.id}, Version: {self.version})"
