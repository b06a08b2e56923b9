"""``Pipeline.publish``, ``PublishedPipeline`` and ``PipelineEndpoint`` over thresher's published pipelines
(``Workspace.pipeline_endpoints``): a submit becomes Azure's REST body, run as the REST call would run it."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from thresher.errors import ThresherError

from .translate import translate
from .workspace import user_error

if TYPE_CHECKING:
    from thresher.sdk.pipeline_requests import InputKind
    from thresher.sdk.published import PublishedPipeline as Published

    from ..core.workspace import Workspace
    from ..pipeline.core.pipeline import Pipeline
    from ..pipeline.core.run import PipelineRun

T = TypeVar("T")
SERVER = "THRESHER_SERVER"


def call(action: Callable[[], T]) -> T:
    """``action()``, a thresher error raised as the v1 SDK's ``UserErrorException`` (with the fix)."""
    try:
        return action()
    except ThresherError as exc:
        raise user_error(exc) from None


def publish(
    pipeline: Pipeline,
    name: str,
    description: str | None,
    version: str | None,
    continue_on_step_failure: bool | None,
    *,
    set_default: bool | None = None,
) -> Published:
    """Snapshot the pipeline's steps and store it as a published pipeline named ``name``; every problem of the
    pipeline at once (``UserErrorException``) when it has any."""
    from ..data.datasets import AbstractDataset
    from ..exceptions import UserErrorException

    translation = translate(pipeline, name, {}, snapshot=True)
    if translation.pipeline is None:
        listed = "\n".join(f"  - {problem}" for problem in translation.problems)
        raise UserErrorException(f"Pipeline '{name}' cannot be published:\n{listed}\nNothing was published.")
    definition = translation.pipeline
    if continue_on_step_failure is not None:
        definition = dataclasses.replace(definition, continue_on_step_failure=bool(continue_on_step_failure))
    kinds: dict[str, InputKind] = {
        n: ("data" if isinstance(v, AbstractDataset) else "literal") for n, v in translation.parameters.items()
    }
    defaults = {n: (str(v) if isinstance(v, AbstractDataset) else v) for n, v in translation.parameters.items()}
    ws = pipeline._workspace._thresher
    return call(
        lambda: ws.pipeline_endpoints.publish_definition(
            dataclasses.replace(definition, experiment_name=None, display_name=name),
            name=name,
            parameters=kinds,
            defaults=defaults,
            version=version,
            description=description,
            set_default=set_default,
        )
    )


def request_body(
    experiment_name: str | None, pipeline_parameters: dict[str, Any] | None, version: str | None = None
) -> dict[str, Any]:
    """Azure's REST body for a submit with ``pipeline_parameters`` (values, or registered datasets)."""
    from ..data.datasets import AbstractDataset

    body: dict[str, Any] = {}
    if experiment_name:
        body["ExperimentName"] = experiment_name
    for key, value in (pipeline_parameters or {}).items():
        if isinstance(value, AbstractDataset):
            if not value.name:
                raise ValueError(
                    f"pipeline_parameters[{key!r}] is a dataset that is not registered; a published pipeline takes "
                    "registered datasets (dataset.register(workspace, name)) or values."
                )
            reference = {"SavedDataSetReference": {"Id": f"{value.name}:{value.version}"}}
            body.setdefault("DataSetDefinitionValueAssignments", {})[key] = reference
        else:
            body.setdefault("ParameterAssignments", {})[key] = value
    if version is not None:
        body["PipelineVersion"] = str(version)
    return body


def started(workspace: Workspace, experiment: str, job_name: str) -> PipelineRun:
    """The v1 run of a queued pipeline job, announced as ``Experiment.submit`` announces it."""
    from ..pipeline.core.run import PipelineRun

    print(f"Submitted PipelineRun {job_name}")
    print(f"Follow it with: thresher job stream --name {job_name}", flush=True)
    return PipelineRun(workspace, experiment, job_name)


def rest_url(path: str) -> str:
    """The REST URL of ``path`` on the thresher server (``THRESHER_SERVER``); without one, a sentence saying
    there is none."""
    server = os.environ.get(SERVER)
    if server:
        return server.rstrip("/") + path
    return f"(no thresher server: set {SERVER} to the server's URL to call POST {path}; or use .submit())"
