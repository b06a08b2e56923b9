"""Who may call a route: bearer tokens with a role (reader < contributor < owner).

Each route declares the role it needs with ``Depends(needs("contributor"))``; the dependency reads
``Authorization: Bearer <secret>``, finds the live token whose hash matches, and refuses with 401 (no
token, or not a live one) or 403 (a live token whose role is too low, naming the role needed). A token the
server accepted lately is found in its memory (``token_cache.py``) without a database read or a thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from thresher.errors import ThresherError
from thresher.sdk.tokens import role_allows
from thresher.server.token_cache import TokenCache
from thresher.store.service import TokenRecord

_bearer = HTTPBearer(auto_error=False, description="A thresher API token: thresher token create --name N --role R")


class AuthError(ThresherError):
    """A request without a valid token (401), or with one whose role may not do this (403)."""

    def __init__(self, message: str, *, status: int, fix: str) -> None:
        super().__init__(message, fix=fix)
        self.status = status


def needs(role: str) -> Callable[..., Awaitable[TokenRecord]]:
    """A dependency that admits tokens allowed to act as ``role`` and returns the caller's token."""

    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> TokenRecord:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise AuthError(
                "This route needs an API token, and the request has none.",
                status=401,
                fix="Send 'Authorization: Bearer <token>'; the CLI and SDK send THRESHER_TOKEN. Make a token "
                "with: thresher token create --name NAME --role reader|contributor|owner",
            )
        cache: TokenCache = request.app.state.thresher.token_cache
        token = cache.kept(credentials.credentials)
        if token is None:  # the database, from a thread: the event loop never waits for it
            token = await anyio.to_thread.run_sync(cache.verify, credentials.credentials)
        if token is None:
            raise AuthError(
                "The API token sent is not valid: it is unknown, or it was revoked.",
                status=401,
                fix="Ask an owner for a token (thresher token create), and set THRESHER_TOKEN to it.",
            )
        if not role_allows(token.role, role):
            raise AuthError(
                f"Token '{token.name}' has role {token.role}; this route needs {role} or higher.",
                status=403,
                fix=f"Use a token with role {role} (an owner makes one with: thresher token create --name NAME "
                f"--role {role}).",
            )
        return token

    return check


READ = Depends(needs("reader"))
WRITE = Depends(needs("contributor"))
OWN = Depends(needs("owner"))
