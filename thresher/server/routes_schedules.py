"""Routes of schedules: create (an uploaded schedule YAML, or the document), list, show, enable, disable,
delete, fires.

The server fires them itself (``ServerState._fire_schedules``); the times these routes take as now (the
creation time, from which slots count; the time of enabling; ``show``'s next fire) are the server's clock,
the same one its firing loop reads, so a test seam that moves it moves them all.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from thresher.errors import ResourceError
from thresher.sdk.wire import encode
from thresher.server.auth import READ, WRITE
from thresher.server.bodies import check_paths, server_path
from thresher.server.state import state_of as _state
from thresher.specs.schedules import parse_schedule

router = APIRouter(tags=["schedules"])


class ScheduleBody(BaseModel):
    """``schedule create``: the server's path of an uploaded schedule YAML (its folder uploaded with it),
    or the schedule's document (``ScheduleSpec.to_document()``, its files uploaded)."""

    path: str | None = Field(default=None, description="The server's path of the uploaded schedule YAML.")
    spec: dict[str, Any] | None = Field(default=None, description="The schedule document, instead of a path.")
    name: str | None = None
    overrides: list[str] = Field(default_factory=list, description="key=value items, as --set takes them")


@router.post("/schedules", status_code=201, summary="Create a schedule (its pipeline job checked first).")
def schedule_created(request: Request, body: ScheduleBody, _t: Any = WRITE) -> Any:
    state = _state(request)
    schedules = state.workspace.schedules
    if (body.path is None) == (body.spec is None):
        raise ResourceError(
            "A schedule is created from path (an uploaded schedule YAML) or spec (its document); the request "
            f"gives {'both' if body.path else 'neither'}.",
            fix="Send one of them; the thresher CLI and SDK with THRESHER_SERVER set do so.",
        )
    if body.path is not None:
        if not server_path(state.uploads, body.path):
            raise ResourceError(
                f"path is {body.path!r}, which is not an upload.",
                fix="PUT the schedule YAML's packed folder to /api/v1/uploads/{sha256} and send the path in it.",
            )
        source: Any = body.path
    else:
        assert body.spec is not None
        check_paths(state.uploads, body.spec)
        source = parse_schedule(body.spec, base_dir=state.uploads, source="<request>")
    return encode(schedules.create(source, name=body.name, overrides=body.overrides, now=state.now()))


@router.get("/schedules", summary="List the schedules.")
def schedules_listed(request: Request, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.schedules.list())


@router.get(
    "/schedule-firing",
    summary="Whether a thresher server of this workspace fires schedules now (a heartbeat in the last 30 s).",
)
def schedule_firing(request: Request, _t: Any = READ) -> dict[str, Any]:
    state = _state(request)
    return {
        "server_running": state.workspace.schedules.server_running(),
        "interval_seconds": state.settings.schedule_interval,
    }


@router.get("/schedules/{name}", summary="One schedule as stored.")
def schedule_got(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.schedules.get(name))


@router.get("/schedules/{name}/status", summary="A schedule with its next fire, its last fires and notes.")
def schedule_shown(request: Request, name: str, fires: int = Query(default=10, ge=0), _t: Any = READ) -> Any:
    state = _state(request)
    return encode(state.workspace.schedules.show(name, now=state.now(), fires=fires))


@router.get("/schedules/{name}/fires", summary="A schedule's fires, newest first (all without ?limit=), and jobs.")
def schedule_fires(request: Request, name: str, limit: int | None = Query(default=None, ge=1), _t: Any = READ) -> Any:
    return encode(_state(request).workspace.schedules.fires(name, limit=limit))


@router.post("/schedules/{name}/enable", summary="Enable a schedule (slots missed while disabled do not fire).")
def schedule_enabled(request: Request, name: str, _t: Any = WRITE) -> Any:
    state = _state(request)
    return encode(state.workspace.schedules.enable(name, now=state.now()))


@router.post("/schedules/{name}/disable", summary="Disable a schedule: it fires nothing until enabled.")
def schedule_disabled(request: Request, name: str, _t: Any = WRITE) -> Any:
    return encode(_state(request).workspace.schedules.disable(name))


@router.delete("/schedules/{name}", status_code=204, summary="Delete a schedule and its fires (its jobs stay).")
def schedule_deleted(request: Request, name: str, _t: Any = WRITE) -> Response:
    _state(request).workspace.schedules.delete(name)
    return Response(status_code=204)
