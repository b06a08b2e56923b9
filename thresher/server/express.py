"""Batch-endpoint invocations answered before FastAPI's routing: the server's most frequent write.

``POST /api/v1/batch-endpoints/<name>/jobs`` is what the CLI, the SDK, CI scripts and other services send
most, and FastAPI's walk of the routes, its dependency solving and its body handling cost about as much CPU
as queueing the job (bench/NOTES.md, P9). ``Express`` sits in front of the routes and answers such a request
itself when nothing about it is unusual: a JSON body that ``InvokeBody`` validates, and a token this server
accepted lately (found in its memory, no database read) whose role may invoke. Anything else (another route,
no token, one to look up, a reader's, another content type, a body that does not validate) goes on to the
app untouched, with the body already read handed on, so every refusal is the app's own, word for word. The
work is the route's own function (``routes_jobs.invoke``) on the same thread pool, so the answers agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thresher.errors import ThresherError
from thresher.sdk.tokens import role_allows
from thresher.server.routes_jobs import InvokeBody, invoke
from thresher.server.state import ServerState

ROUTE = re.compile(r"/api/v1/batch-endpoints/([^/]+)/jobs")
NEEDED_ROLE = "contributor"  # the route's WRITE
MAX_BODY_BYTES = 1 << 20  # a larger body is the app's to read


class Express:
    """ASGI middleware: see the module docstring. ``on_error`` answers a ``ThresherError`` as the app's
    exception handler does."""

    def __init__(self, app: ASGIApp, state: ServerState, on_error: Callable[[ThresherError], Any]) -> None:
        self.app = app
        self.state = state
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or (match := ROUTE.fullmatch(scope["path"])) is None:
            await self.app(scope, receive, send)
            return
        authorization, content_type, key = _headers(scope["headers"])
        if not self._allowed(authorization) or content_type is None or not _is_json(content_type):
            await self.app(scope, receive, send)
            return
        body, more, messages = await _read(receive)
        if more:  # past the limit (or gone): the app reads the rest
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            form = InvokeBody.model_validate_json(body)
        except ValidationError:  # the app words the 422
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            response = await anyio.to_thread.run_sync(invoke, self.state, match.group(1), form, key)
        except ThresherError as error:
            response = self.on_error(error)
        self.state.expressed += 1
        await response(scope, receive, send)

    def _allowed(self, authorization: str | None) -> bool:
        if authorization is None:
            return False
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return False
        token = self.state.token_cache.kept(secret)
        return token is not None and role_allows(token.role, NEEDED_ROLE)


def _headers(raw: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None, str | None]:
    """The first Authorization, Content-Type and Idempotency-Key, as Starlette's ``Headers.get`` finds them."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        name = name.lower()
        if name in (b"authorization", b"content-type", b"idempotency-key") and name not in found:
            found[name] = value.decode("latin-1")
    return found.get(b"authorization"), found.get(b"content-type"), found.get(b"idempotency-key")


def _is_json(content_type: str) -> bool:
    mime = content_type.partition(";")[0].strip().lower()
    return mime == "application/json"


async def _read(receive: Receive) -> tuple[bytes, bool, list[Message]]:
    """The body and the messages it came in; ``True`` for "not this path's to read" (past ``MAX_BODY_BYTES``,
    or the client left)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # a disconnect: the app sees it too
            return b"", True, messages
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            return b"", True, messages
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages), False, messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that gives ``messages`` again first."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
