"""The thresher server's application: the SDK's operations over HTTP, behind tokens.

``create_app`` builds a FastAPI app around one local ``Workspace``; every resource and operation of
the SDK is a route under ``/api/v1`` (``routes_*.py``), documented at ``/openapi.json``. Every route
but ``/health`` and ``/ready`` needs a bearer token whose role allows it (``auth.py``). Errors are
JSON, ``{"error": {"type", "message", "fix"}}``, with the status their kind calls for, so the remote
client raises the same error the local workspace would, and the CLI prints the same headline.

Example::

    app = create_app(load_settings(home="./.thresher"))
    # uvicorn.run(app, host="127.0.0.1", port=8080)  (thresher server does this, see main.py)
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from thresher import __version__
from thresher.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    ResourceError,
    SettingsError,
    SpecError,
    StorageError,
    StorageUnavailableError,
    StoreError,
    ThresherError,
)
from thresher.sdk.wire import error_json
from thresher.sdk.workspace import Workspace
from thresher.server import (
    routes_assets,
    routes_jobs,
    routes_online,
    routes_published,
    routes_resources,
    routes_schedules,
    routes_service,
)
from thresher.server.auth import AuthError
from thresher.server.express import Express
from thresher.server.state import ServerState
from thresher.settings import Settings

_STATUS: list[tuple[type[ThresherError], int]] = [
    # most specific first
    (NotFoundError, 404),
    (AlreadyExistsError, 409),
    (ConflictError, 409),
    (SpecError, 400),
    (ResourceError, 400),
    (SettingsError, 400),
    (StoreError, 503),
    (StorageUnavailableError, 503),
    (StorageError, 400),  # an input that does not exist or cannot be read: the request's
]


def status_for(error: ThresherError) -> int:
    """The HTTP status of a thresher error (400 for kinds with no better one)."""
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 400)


def error_response(error: ThresherError, status: int | None = None) -> JSONResponse:
    """The JSON answer for an error, with its status."""
    return JSONResponse({"error": error_json(error)}, status_code=status or status_for(error))


def create_app(settings: Settings, *, workspace: Workspace | None = None, background: bool = False) -> FastAPI:
    """The server's app for the workspace of ``settings``; ``background`` starts its heartbeat and schedule
    threads with the app (``thresher server`` does; tests of single routes need not)."""
    state = ServerState(workspace or Workspace(settings=settings), settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if background:
            state.start_background()
        try:
            yield
        finally:
            state.stop_background()

    app = FastAPI(
        title="thresher",
        version=__version__,
        description="Batch inference and ML pipelines: the thresher SDK over HTTP. Every route but /health and "
        "/ready needs `Authorization: Bearer <token>` (thresher token create).",
        lifespan=lifespan,
    )
    app.state.thresher = state

    @app.exception_handler(ThresherError)
    async def _thresher_error(_request: Request, exc: ThresherError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(AuthError)
    async def _auth_error(_request: Request, exc: AuthError) -> JSONResponse:
        response = error_response(exc, exc.status)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_describe(error) for error in exc.errors()[:10])
        return error_response(
            ThresherError(f"The request is not valid: {problems}", fix="See the route's schema at /openapi.json."),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fix = "See the routes at /openapi.json." if exc.status_code in (404, 405) else None
        return error_response(ThresherError(str(exc.detail), fix=fix), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # A bug, or a failure nobody turned into a message yet: one headline for the client, the traceback
        # in the server's log for whoever fixes it.
        traceback.print_exception(exc)
        what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
        return error_response(
            ThresherError(
                f"The server failed on an unexpected error: {what}",
                fix="This is a bug in thresher: report it with the traceback in the server's log.",
            ),
            500,
        )

    @app.get("/health", tags=["service"], summary="Whether the server process answers (no token needed).")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["service"], summary="Whether the server can reach its database (no token needed).")
    def ready() -> JSONResponse:
        problem = state.readiness()
        body = {"status": "ready" if problem is None else "unavailable", "problem": problem}
        return JSONResponse(body, status_code=200 if problem is None else 503)

    routes = (routes_assets, routes_resources, routes_online, routes_jobs, routes_published, routes_schedules)
    for module in (*routes, routes_service):
        app.include_router(module.router, prefix="/api/v1")
    app.add_middleware(Express, state=state, on_error=error_response)
    return app


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg')}"
