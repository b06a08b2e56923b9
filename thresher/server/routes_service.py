"""Routes of the service itself: uploads, tokens, the workspace's description, check and backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from thresher.errors import NotFoundError, ThresherError
from thresher.sdk.wire import encode
from thresher.server import uploads
from thresher.server.auth import OWN, READ, WRITE
from thresher.server.state import state_of as _state

router = APIRouter()


@router.get("/uploads/{digest}", tags=["uploads"], summary="Where an upload is, if this content was uploaded.")
def upload_found(request: Request, digest: str, _t: Any = READ) -> dict[str, str]:
    found = uploads.stored(_state(request).uploads, digest)
    if found is None:
        raise NotFoundError(f"No upload has content {digest}.", fix=f"PUT it to /api/v1/uploads/{digest}.")
    return {"path": str(found)}


@router.put(
    "/uploads/{digest}",
    tags=["uploads"],
    summary="Upload a packed file or folder (a tar named by its SHA-256); stored once per content.",
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def upload_received(request: Request, digest: str, _t: Any = WRITE) -> dict[str, str]:
    state = _state(request)
    path = await uploads.receive(state.uploads, digest, request.stream(), max_bytes=state.settings.upload_max_bytes)
    return {"path": str(path)}


class TokenBody(BaseModel):
    """A token to make."""

    name: str = Field(min_length=1, max_length=255)
    role: str = Field(default="reader", description="reader, contributor or owner")


@router.get("/tokens", tags=["tokens"], summary="List tokens (never their secrets).")
def tokens_listed(request: Request, _t: Any = OWN) -> Any:
    return encode(_state(request).tokens.list())


@router.post("/tokens", tags=["tokens"], status_code=201, summary="Make a token; its secret is in this answer only.")
def token_created(request: Request, body: TokenBody, _t: Any = OWN) -> Any:
    return encode(_state(request).tokens.create(body.name, role=body.role))


@router.post("/tokens/{name}/revoke", tags=["tokens"], summary="Revoke a token.")
def token_revoked(request: Request, name: str, _t: Any = OWN) -> Any:
    state = _state(request)
    try:
        return encode(state.tokens.revoke(name))
    finally:
        state.token_cache.forget()  # refused from the next request on (other processes: at their next refresh)


@router.get("/workspace", tags=["workspace"], summary="Where the server's workspace keeps things.")
def workspace_shown(request: Request, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.show())


@router.get("/workspace/check", tags=["workspace"], summary="Check the server's workspace (changes nothing).")
def workspace_checked(request: Request, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.check())


class BackupBody(BaseModel):
    """Where on the server to write the copy (must not exist)."""

    path: str = Field(min_length=1)


@router.post("/workspace/backup", tags=["workspace"], summary="Back up the server's SQLite database, on the server.")
def workspace_backed_up(request: Request, body: BackupBody, _t: Any = OWN) -> Any:
    if not Path(body.path).is_absolute():  # relative to what: the server's working folder is nobody's choice
        raise ThresherError(
            f"The backup path '{body.path}' is relative; a server writes backups only to absolute paths on its "
            "machine.",
            fix="Give an absolute path on the server: thresher workspace backup /var/backups/thresher.db",
        )
    return encode(_state(request).workspace.backup(body.path))


@router.get("/services", tags=["service"], summary="The servers and runners that beat recently.")
def services_listed(request: Request, _t: Any = READ) -> Any:
    from datetime import datetime, timedelta, timezone

    since = datetime.now(timezone.utc) - timedelta(seconds=30)
    store = _state(request).store
    return encode(
        {"servers": store.services("server", alive_since=since), "runners": store.services("runner", alive_since=since)}
    )
