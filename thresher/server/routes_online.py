"""Routes of online endpoints and their deployments (``ws.online_endpoints``, ``ws.online_deployments``).

Readers may list and show them; an endpoint's credentials (its keys, or a new token) and regenerating its
keys need a contributor, as every change does. Keys appear in no other answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from thresher.sdk.wire import encode
from thresher.server.auth import READ, WRITE
from thresher.server.bodies import SpecBody, UpdateBody, checked_spec
from thresher.server.state import state_of as _state

router = APIRouter(tags=["online endpoints"])


class EndpointUpdateBody(UpdateBody):
    """An update of an online endpoint: --set overrides or a new spec, and a new traffic or mirror split."""

    traffic: dict[str, int] | None = Field(default=None, description="deployment -> percent of live traffic")
    mirror_traffic: dict[str, int] | None = Field(default=None, description="deployment -> percent mirrored")


class KeyTypeBody(BaseModel):
    """Which key regenerate-keys replaces (checked by the SDK, so that its message is the local one)."""

    key_type: str = Field(default="primary", description="primary or secondary")


class OnlineDeploymentBody(SpecBody):
    """An online deployment, whether it then takes all of its endpoint's live traffic, and whether the answer
    waits until its workers serve."""

    all_traffic: bool = False
    wait: bool = True


class DeploymentUpdateBody(UpdateBody):
    """An update of an online deployment, and whether the answer waits until its new workers serve."""

    wait: bool = True


@router.get("/online-endpoints", summary="List online endpoints (never their keys).")
def online_endpoints_listed(request: Request, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.online_endpoints.list())


@router.get("/online-endpoints/{name}", summary="One online endpoint (never its keys).")
def online_endpoint_shown(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.online_endpoints.get(name))


@router.post("/online-endpoints", status_code=201, summary="Create or update an online endpoint (new ones get keys).")
def online_endpoint_created(request: Request, body: SpecBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = checked_spec(state.uploads, body.spec, "online_endpoint")
    return encode(state.workspace.online_endpoints.create(spec))  # type: ignore[arg-type]


@router.patch("/online-endpoints/{name}", summary="Update an online endpoint: --set, a new spec, traffic, mirror.")
def online_endpoint_updated(request: Request, name: str, body: EndpointUpdateBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = None if body.spec is None else checked_spec(state.uploads, body.spec, "online_endpoint")
    endpoints = state.workspace.online_endpoints
    updated = endpoints.update(
        name,
        body.overrides,
        spec=spec,  # type: ignore[arg-type]
        traffic=body.traffic,
        mirror_traffic=body.mirror_traffic,
    )
    return encode(updated)


@router.delete("/online-endpoints/{name}", status_code=204, summary="Delete an online endpoint, its deployments, keys.")
def online_endpoint_deleted(request: Request, name: str, _t: Any = WRITE) -> Response:
    _state(request).workspace.online_endpoints.delete(name)
    return Response(status_code=204)


@router.get("/online-endpoints/{name}/credentials", summary="Its keys, or a new token (a contributor's token).")
def online_endpoint_credentials(request: Request, name: str, _t: Any = WRITE) -> Any:
    return encode(dict(_state(request).workspace.online_endpoints.get_credentials(name)))


@router.post("/online-endpoints/{name}/regenerate-keys", status_code=204, summary="Replace one of its keys.")
def online_endpoint_keys_regenerated(request: Request, name: str, body: KeyTypeBody, _t: Any = WRITE) -> Response:
    _state(request).workspace.online_endpoints.regenerate_keys(name, body.key_type)
    return Response(status_code=204)


@router.get("/online-endpoints/{endpoint}/deployments", summary="An online endpoint's deployments.")
def online_deployments_listed(request: Request, endpoint: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.online_deployments.list(endpoint))


@router.get("/online-endpoints/{endpoint}/deployments/{name}", summary="One online deployment.")
def online_deployment_shown(request: Request, endpoint: str, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.online_deployments.get(name, endpoint))


@router.post(
    "/online-endpoints/{endpoint}/deployments", status_code=201, summary="Create or update an online deployment."
)
def online_deployment_created(request: Request, endpoint: str, body: OnlineDeploymentBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    spec = checked_spec(state.uploads, body.spec, "online_deployment")
    deployments = state.workspace.online_deployments
    created = deployments.create(spec, endpoint_name=endpoint, all_traffic=body.all_traffic, wait=body.wait)  # type: ignore[arg-type]
    return encode(created)


@router.patch("/online-endpoints/{endpoint}/deployments/{name}", summary="Update an online deployment.")
def online_deployment_updated(
    request: Request, endpoint: str, name: str, body: DeploymentUpdateBody, _t: Any = WRITE
) -> Any:
    state = _state(request)
    spec = None if body.spec is None else checked_spec(state.uploads, body.spec, "online_deployment")
    deployments = state.workspace.online_deployments
    return encode(deployments.update(name, endpoint, body.overrides, spec=spec, wait=body.wait))  # type: ignore[arg-type]


@router.get("/online-endpoints/{name}/serving", summary="Where and how it is served: scoring_uri, states, mirror.")
def online_endpoint_serving(request: Request, name: str, _t: Any = READ) -> Any:
    return _state(request).workspace.online_endpoints.serving(name)


@router.get("/online-endpoints/{name}/logs", summary="Its last requests in the access log.")
def online_endpoint_logs(request: Request, name: str, lines: int = 100, _t: Any = READ) -> Any:
    return {"logs": _state(request).workspace.online_endpoints.get_logs(name, max(1, min(lines, 100_000)))}


@router.get("/online-endpoints/{endpoint}/deployments/{name}/serving", summary="A deployment as served now.")
def online_deployment_serving(request: Request, endpoint: str, name: str, _t: Any = READ) -> Any:
    return _state(request).workspace.online_deployments.status(name, endpoint)


@router.get("/online-endpoints/{endpoint}/deployments/{name}/logs", summary="Its workers' and error logs.")
def online_deployment_logs(request: Request, endpoint: str, name: str, lines: int = 100, _t: Any = READ) -> Any:
    logs = _state(request).workspace.online_deployments.get_logs(name, endpoint, max(1, min(lines, 100_000)))
    return {"logs": logs}


@router.delete(
    "/online-endpoints/{endpoint}/deployments/{name}",
    status_code=204,
    summary="Delete an online deployment (not while it takes live or mirrored traffic).",
)
def online_deployment_deleted(request: Request, endpoint: str, name: str, _t: Any = WRITE) -> Response:
    _state(request).workspace.online_deployments.delete(name, endpoint)
    return Response(status_code=204)
