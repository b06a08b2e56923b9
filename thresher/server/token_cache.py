"""The server's memory of the API tokens it accepted, so that a request's token check reads no database.

A token's secret is 32 random bytes and the store keeps its SHA-256 (``thresher.sdk.tokens``): checking a
request's token is a hash, a lookup here and a constant-time comparison of the hashes. What is kept is only
what the database said of a live token; an unknown or revoked secret is always looked up (and never kept).

Tokens are never changed nor deleted, only revoked, so a kept answer goes stale only when a token is revoked.
A revocation made through this server process empties the memory at once (``forget``). One made by another
process (another server worker, ``thresher token revoke`` on the workspace) is seen by ``refresh``, which the
server runs every ``REFRESH_SECONDS`` from its background thread: it reads the store's ``token_revision`` (one
small statement) and empties the memory when it moved. The memory is used only while that read is recent
(``FRESH_SECONDS``): a server whose refreshes stop (no background thread, a database that does not answer)
looks every token up, as before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thresher.errors import ThresherError
from thresher.sdk.tokens import secret_hash
from thresher.store.service import TokenRecord

REFRESH_SECONDS = 0.25
"""How often a server process reads the tokens' revision: about the longest a token revoked by another process
is still accepted here (each read costs a server under load about 1% of its time)."""
FRESH_SECONDS = 4 * REFRESH_SECONDS
"""Kept answers are used only while the last refresh is at most this old."""
KEPT = 1024
"""At most this many live tokens are kept (a server has a handful)."""


@dataclass(frozen=True)
class _Kept:
    token: TokenRecord
    secret_hash: str


class TokenCache:
    """Live tokens by secret, kept while no token was revoked since they were looked up.

    Example::

        cache = TokenCache(store.token_for_secret, store.token_revision)
        token = cache.kept(secret) or cache.verify(secret)   # kept() reads nothing; verify() may
        cache.refresh()                                      # every REFRESH_SECONDS, from a background thread
    """

    def __init__(
        self,
        lookup: Callable[[str], TokenRecord | None],
        revision: Callable[[], Any],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup  # secret hash -> live token or None (the store's token_for_secret)
        self._revision = revision  # the store's token_revision
        self._clock = clock
        self._key = secrets.token_bytes(32)  # keys the memory: its lookups tell nothing of the secrets in it
        self._kept: dict[bytes, _Kept] = {}
        self._seen: Any = None  # the revision when the memory was last emptied or found current
        self._fresh_until = float("-inf")
        self._generation = 0  # moves whenever the memory is emptied: a lookup that raced it is not kept
        self._lock = threading.Lock()

    def kept(self, secret: str) -> TokenRecord | None:
        """The live token of ``secret`` if it is kept and the memory is fresh; None means: look it up."""
        if self._clock() > self._fresh_until:
            return None
        kept = self._kept.get(self._slot(secret))
        if kept is None or not hmac.compare_digest(kept.secret_hash, secret_hash(secret)):
            return None
        return kept.token

    def verify(self, secret: str) -> TokenRecord | None:
        """The live token of ``secret`` from the store (None: unknown or revoked), kept if it is live."""
        generation = self._generation
        hashed = secret_hash(secret)
        token = self._lookup(hashed)
        if token is not None:
            with self._lock:
                if generation == self._generation and len(self._kept) < KEPT:
                    self._kept[self._slot(secret)] = _Kept(token, hashed)
        return token

    def forget(self) -> None:
        """Empty the memory now (a token was revoked through this process)."""
        with self._lock:
            self._kept.clear()
            self._generation += 1

    def refresh(self) -> None:
        """Read the tokens' revision: empty the memory if a token was made or revoked since, and mark it fresh.
        A database that does not answer leaves it stale (every token is then looked up)."""
        started = self._clock()
        try:
            revision = self._revision()
        except ThresherError:
            return
        if revision != self._seen:
            self.forget()
            self._seen = revision
        self._fresh_until = started + FRESH_SECONDS

    def _slot(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()
