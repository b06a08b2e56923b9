"""Routes of versioned assets: models, environments, data assets and components."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from thresher.sdk.wire import encode
from thresher.server.auth import READ, WRITE
from thresher.server.bodies import SpecBody, check_path_fields, checked_spec
from thresher.server.state import state_of as _state

router = APIRouter(tags=["assets"])

ASSETS = {"models": "model", "environments": "environment", "data": "data", "components": "component"}
"""The URL segment of each asset kind, and the SDK's kind."""


def _operations(request: Request, collection: str) -> Any:
    workspace = _state(request).workspace
    return {
        "models": workspace.models,
        "environments": workspace.environments,
        "data": workspace.data,
        "components": workspace.components,
    }[collection]


def _add(collection: str) -> None:
    kind = ASSETS[collection]

    @router.get(f"/{collection}", summary=f"List {collection} (latest versions, or every version of ?name=).")
    def listed(request: Request, name: str | None = None, include_archived: bool = False, _t: Any = READ) -> Any:
        operations = _operations(request, collection)
        if collection == "components":
            return encode(operations.list(name))
        return encode(operations.list(name, include_archived=include_archived))

    @router.get(f"/{collection}/{{name}}", summary=f"One version of a {kind} (the latest without ?version=).")
    def shown(request: Request, name: str, version: str | None = None, _t: Any = READ) -> Any:
        return encode(_operations(request, collection).get(name, version))

    if collection != "components":

        @router.post(f"/{collection}", status_code=201, summary=f"Register a {kind} version.")
        def created(request: Request, body: SpecBody, _t: Any = WRITE) -> Any:
            spec = checked_spec(_state(request).uploads, body.spec, kind)
            return encode(_operations(request, collection).create(spec))

        @router.post(
            f"/{collection}/{{name}}/archive", summary=f"Archive a {kind} version (every one without ?version=)."
        )
        def archived(request: Request, name: str, version: str | None = None, _t: Any = WRITE) -> Any:
            return encode(_operations(request, collection).archive(name, version))

        @router.post(f"/{collection}/{{name}}/restore", summary=f"Restore an archived {kind} version.")
        def restored(request: Request, name: str, version: str | None = None, _t: Any = WRITE) -> Any:
            return encode(_operations(request, collection).restore(name, version))


for _collection in ASSETS:
    _add(_collection)


class ComponentBody(BaseModel):
    """A component YAML (uploaded with its folder) to register."""

    path: str
    name: str | None = None
    version: str | None = None


@router.post("/components", status_code=201, summary="Register a component YAML (its folder uploaded first).")
def component_created(request: Request, body: ComponentBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    check_path_fields(state.uploads, {"path": body.path})
    return encode(state.workspace.components.create(body.path, name=body.name, version=body.version))


@router.post("/environments/{name}/build", summary="Build an environment version (uv), or reuse its cached build.")
def environment_built(request: Request, name: str, version: str | None = None, _t: Any = WRITE) -> Any:
    return encode(_state(request).workspace.environments.build(name, version))


@router.get("/environments/{name}/build", summary="Whether an environment version is built, and where.")
def environment_build_status(request: Request, name: str, version: str | None = None, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.environments.build_status(name, version))
