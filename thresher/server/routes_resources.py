"""Routes of named resources: datastores, computes, batch endpoints and their deployments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from thresher.sdk.wire import encode
from thresher.server.auth import READ, WRITE
from thresher.server.bodies import SpecBody, UpdateBody, checked_spec
from thresher.server.state import state_of as _state

router = APIRouter(tags=["resources"])


# -- datastores and computes -------------------------------------------------------------------------


class DatastoreBody(SpecBody):
    """A datastore, and whether to check that its storage answers first."""

    check: bool = True


@router.get("/datastores", summary="List datastores (secrets never shown).")
def datastores_listed(request: Request, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.datastores.list())


@router.get("/datastores/{name}", summary="One datastore (secrets never shown).")
def datastore_shown(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.datastores.get(name))


@router.post("/datastores", status_code=201, summary="Create or update a datastore (checked unless check=false).")
def datastore_created(request: Request, body: DatastoreBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = checked_spec(state.uploads, body.spec, "datastore", local_paths=True)
    return encode(state.workspace.datastores.create(spec, check=body.check))  # type: ignore[arg-type]


@router.delete("/datastores/{name}", status_code=204, summary="Remove a datastore (its files stay).")
def datastore_deleted(request: Request, name: str, _t: Any = WRITE) -> Response:
    _state(request).workspace.datastores.delete(name)
    return Response(status_code=204)


@router.get("/computes", summary="List computes.")
def computes_listed(request: Request, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.computes.list())


@router.get("/computes/{name}", summary="One compute.")
def compute_shown(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.computes.get(name))


@router.get("/computes/{name}/placement", summary="Where a compute's workers run.")
def compute_placement(request: Request, name: str, _t: Any = READ) -> Any:
    computes = _state(request).workspace.computes
    return encode(computes.placement(computes.get(name)))


@router.get("/computes/{name}/warm-pools", summary="The warm workers a compute keeps.")
def compute_warm_pools(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.computes.warm_pools(name))


@router.post("/computes", status_code=201, summary="Create or update a compute.")
def compute_created(request: Request, body: SpecBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    return encode(state.workspace.computes.create(checked_spec(state.uploads, body.spec, "compute")))  # type: ignore[arg-type]


@router.post("/computes/{name}/stop", summary="Stop a compute's warm workers.")
def compute_stopped(request: Request, name: str, timeout: float = 30.0, _t: Any = WRITE) -> Any:
    return encode(_state(request).workspace.computes.stop(name, timeout=min(max(timeout, 0.0), 300.0)))


@router.delete("/computes/{name}", status_code=204, summary="Delete a compute.")
def compute_deleted(request: Request, name: str, _t: Any = WRITE) -> Response:
    _state(request).workspace.computes.delete(name)
    return Response(status_code=204)


# -- batch endpoints and deployments -----------------------------------------------------------------


@router.get("/batch-endpoints", summary="List batch endpoints.")
def endpoints_listed(request: Request, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.batch_endpoints.list())


@router.get("/batch-endpoints/{name}", summary="One batch endpoint.")
def endpoint_shown(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.batch_endpoints.get(name))


@router.post("/batch-endpoints", status_code=201, summary="Create or update a batch endpoint.")
def endpoint_created(request: Request, body: SpecBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = checked_spec(state.uploads, body.spec, "batch_endpoint")
    return encode(state.workspace.batch_endpoints.create(spec))  # type: ignore[arg-type]


@router.patch("/batch-endpoints/{name}", summary="Update a batch endpoint (--set overrides or a new spec).")
def endpoint_updated(request: Request, name: str, body: UpdateBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = None if body.spec is None else checked_spec(state.uploads, body.spec, "batch_endpoint")
    return encode(state.workspace.batch_endpoints.update(name, body.overrides, spec=spec))  # type: ignore[arg-type]


@router.delete("/batch-endpoints/{name}", status_code=204, summary="Delete a batch endpoint and its deployments.")
def endpoint_deleted(request: Request, name: str, _t: Any = WRITE) -> Response:
    _state(request).workspace.batch_endpoints.delete(name)
    return Response(status_code=204)


class DeploymentBody(SpecBody):
    """A deployment, and whether it becomes its endpoint's default."""

    set_default: bool = False


@router.get("/batch-endpoints/{endpoint}/deployments", summary="An endpoint's deployments.")
def deployments_listed(request: Request, endpoint: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.batch_deployments.list(endpoint))


@router.get("/batch-endpoints/{endpoint}/deployments/{name}", summary="One deployment.")
def deployment_shown(request: Request, endpoint: str, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.batch_deployments.get(name, endpoint))


@router.post("/batch-endpoints/{endpoint}/deployments", status_code=201, summary="Create or update a deployment.")
def deployment_created(request: Request, endpoint: str, body: DeploymentBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = checked_spec(state.uploads, body.spec, "batch_deployment")
    deployments = state.workspace.batch_deployments
    return encode(deployments.create(spec, endpoint_name=endpoint, set_default=body.set_default))  # type: ignore[arg-type]


@router.patch("/batch-endpoints/{endpoint}/deployments/{name}", summary="Update a deployment.")
def deployment_updated(request: Request, endpoint: str, name: str, body: UpdateBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = None if body.spec is None else checked_spec(state.uploads, body.spec, "batch_deployment")
    return encode(state.workspace.batch_deployments.update(name, endpoint, body.overrides, spec=spec))  # type: ignore[arg-type]


@router.delete("/batch-endpoints/{endpoint}/deployments/{name}", status_code=204, summary="Delete a deployment.")
def deployment_deleted(request: Request, endpoint: str, name: str, _t: Any = WRITE) -> Response:
    _state(request).workspace.batch_deployments.delete(name, endpoint)
    return Response(status_code=204)
