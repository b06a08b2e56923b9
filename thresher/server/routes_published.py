"""Routes of published pipelines and pipeline endpoints: Azure's REST calls that submit them, and the rest.

``POST /api/v1/pipelineendpoints/{name}`` and ``POST /api/v1/publishedpipelines/{id}`` take Azure's body as
a plain JSON object, as ``requests.post(published_pipeline.endpoint, json={...}, headers={"Authorization":
"Bearer <token>"})`` sends it (the v1 shim's ``.endpoint`` is exactly these URLs)::

    {"ExperimentName": "nightly", "ParameterAssignments": {"round_to": 2},
     "DataPathAssignments": {"raw_data": {"DataStoreName": "workspaceblobstore", "RelativePath": "raw/11"}}}

and answer 201 with the queued pipeline job; an ``Idempotency-Key`` header makes a retried delivery get
the first one's answer instead of a second job. A disabled endpoint or version answers 409 with its fix.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from thresher.errors import ResourceError
from thresher.sdk.wire import encode
from thresher.server.auth import READ, WRITE
from thresher.server.bodies import server_path
from thresher.server.routes_jobs import KEY
from thresher.server.state import state_of as _state

router = APIRouter(tags=["published pipelines"])
REQUEST = Body(
    default=None,
    description="Azure's REST body: ExperimentName, ParameterAssignments, DataPathAssignments, "
    "DataSetDefinitionValueAssignments, PipelineVersion (keys matched without regard to case).",
)


def _ops(request: Request) -> Any:
    return _state(request).workspace.pipeline_endpoints


# -- publishing -----------------------------------------------------------------------------------------


class PublishBody(BaseModel):
    """``pipeline publish``: the pipeline YAML (its folder uploaded first), or ``azureml:<pipeline job>``."""

    path: str = Field(description="The server's path of the uploaded pipeline YAML, or azureml:<job name>.")
    name: str
    version: str | None = None
    description: str | None = None
    set_default: bool | None = None
    overrides: list[str] = Field(default_factory=list, description="key=value items, as --set takes them")


@router.post("/pipelines", status_code=201, summary="Publish a pipeline as a new version of endpoint `name`.")
def published(request: Request, body: PublishBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    if not body.path.startswith("azureml:") and not server_path(state.uploads, body.path):
        raise ResourceError(
            f"path is {body.path!r}; the server publishes an uploaded pipeline YAML or a pipeline job "
            "(azureml:<job name>).",
            fix="Use the thresher CLI or SDK with THRESHER_SERVER set: they upload the YAML's folder first. Over "
            "plain HTTP, PUT the packed folder to /api/v1/uploads/{sha256} and send the path of the YAML in it.",
        )
    return encode(
        state.workspace.pipeline_endpoints.publish(
            body.path,
            name=body.name,
            version=body.version,
            description=body.description,
            set_default=body.set_default,
            overrides=body.overrides,
        )
    )


# -- pipeline endpoints ---------------------------------------------------------------------------------


@router.get("/pipelineendpoints", summary="List the pipeline endpoints.")
def endpoints_listed(request: Request, _t: Any = READ) -> Any:
    return encode(_ops(request).list())


@router.get("/pipelineendpoints/{name}", summary="One pipeline endpoint: its versions, default, status.")
def endpoint_shown(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_ops(request).get(name))


@router.get("/pipelineendpoints/{name}/pipelines", summary="Every published version of an endpoint, oldest first.")
def endpoint_pipelines(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_ops(request).pipelines(name))


@router.get("/pipelineendpoints/{name}/pipeline", summary="One version of an endpoint (the default without ?version=).")
def endpoint_pipeline(request: Request, name: str, version: str | None = None, _t: Any = READ) -> Any:
    return encode(_ops(request).get_pipeline(name, version))


@router.post(
    "/pipelineendpoints/{name}",
    status_code=201,
    summary="Submit a pipeline endpoint (its default version, ?version= or PipelineVersion) with Azure's body.",
)
def endpoint_invoked(
    request: Request,
    name: str,
    body: dict[str, Any] | None = REQUEST,
    version: str | None = None,
    key: str | None = KEY,
    _t: Any = WRITE,
) -> JSONResponse:
    state = _state(request)

    def queue() -> Any:
        return state.workspace.pipeline_endpoints.invoke(
            name, body, version=version, start_runner=state.settings.server_runner
        )

    return state.once(key, f"pipeline endpoint {name}", queue)


class AddBody(BaseModel):
    """``PipelineEndpoint.add``: a published pipeline (by id) as a version of the endpoint."""

    id: str
    set_default: bool | None = None


@router.post("/pipelineendpoints/{name}/add", summary="Make a published pipeline (by id) a version of the endpoint.")
def endpoint_added(request: Request, name: str, body: AddBody, _t: Any = WRITE) -> Any:
    return encode(_ops(request).add(name, body.id, set_default=body.set_default))


class DefaultBody(BaseModel):
    """The version to make the endpoint's default."""

    version: str


@router.post("/pipelineendpoints/{name}/default", summary="Make a version the endpoint's default.")
def endpoint_default(request: Request, name: str, body: DefaultBody, _t: Any = WRITE) -> Any:
    return encode(_ops(request).set_default(name, body.version))


@router.post("/pipelineendpoints/{name}/disable", summary="Disable an endpoint: submitting it answers 409.")
def endpoint_disabled(request: Request, name: str, _t: Any = WRITE) -> Any:
    return encode(_ops(request).disable(name))


@router.post("/pipelineendpoints/{name}/enable", summary="Enable an endpoint again.")
def endpoint_enabled(request: Request, name: str, _t: Any = WRITE) -> Any:
    return encode(_ops(request).enable(name))


# -- published pipelines --------------------------------------------------------------------------------


@router.get("/publishedpipelines", summary="Every published pipeline (every version of every endpoint).")
def published_listed(request: Request, _t: Any = READ) -> Any:
    return encode(_ops(request).list_published())


@router.get("/publishedpipelines/{id}", summary="One published pipeline, by id.")
def published_shown(request: Request, id: str, _t: Any = READ) -> Any:
    return encode(_ops(request).get_published(id))


@router.post(
    "/publishedpipelines/{id}", status_code=201, summary="Submit a published pipeline (by id) with Azure's body."
)
def published_invoked(
    request: Request, id: str, body: dict[str, Any] | None = REQUEST, key: str | None = KEY, _t: Any = WRITE
) -> JSONResponse:
    state = _state(request)

    def queue() -> Any:
        return state.workspace.pipeline_endpoints.invoke_published(id, body, start_runner=state.settings.server_runner)

    return state.once(key, f"published pipeline {id}", queue)


@router.post("/publishedpipelines/{id}/disable", summary="Disable one published pipeline: submitting it answers 409.")
def published_disabled(request: Request, id: str, _t: Any = WRITE) -> Any:
    return encode(_ops(request).disable_published(id))


@router.post("/publishedpipelines/{id}/enable", summary="Enable one published pipeline again.")
def published_enabled(request: Request, id: str, _t: Any = WRITE) -> Any:
    return encode(_ops(request).enable_published(id))
