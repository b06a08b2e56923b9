"""The server's memory of accepted tokens (``thresher.server.token_cache``), on a real store: a kept token is
used only while the memory is fresh, and a revocation, by this process or another, empties it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from thresher.sdk.tokens import secret_hash
from thresher.server.token_cache import FRESH_SECONDS, TokenCache
from thresher.store import SqlStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore(f"sqlite:///{tmp_path / 'thresher.db'}")
    opened.create_token("ci", "contributor", secret_hash("thr_ci-secret"))
    opened.create_token("other", "reader", secret_hash("thr_other-secret"))
    yield opened
    opened.close()


def test_a_live_token_is_kept_while_fresh_and_revocations_empty_the_memory(store: SqlStore) -> None:
    clock = Clock()
    lookups: list[str] = []

    def lookup(hashed: str) -> object:
        lookups.append(hashed)
        return store.token_for_secret(hashed)

    cache = TokenCache(lookup, store.token_revision, clock=clock)  # type: ignore[arg-type]
    token = cache.verify("thr_ci-secret")
    assert token is not None and token.name == "ci"
    assert cache.kept("thr_ci-secret") is None  # never refreshed: not fresh, so not used
    cache.refresh()
    cache.verify("thr_ci-secret")
    kept = cache.kept("thr_ci-secret")
    assert kept is not None and (kept.name, kept.role) == ("ci", "contributor")
    assert cache.kept("thr_ci-secreT") is None and cache.kept("thr_other-secret") is None  # never looked up
    assert cache.verify("thr_unknown") is None and cache.kept("thr_unknown") is None  # refusals are not kept

    store.revoke_token("ci")  # by another process: seen at the next refresh
    cache.refresh()
    assert cache.kept("thr_ci-secret") is None
    assert cache.verify("thr_ci-secret") is None

    cache.verify("thr_other-secret")
    assert cache.kept("thr_other-secret") is not None
    clock.now += FRESH_SECONDS + 0.01  # refreshes stopped (a database that does not answer): look up again
    assert cache.kept("thr_other-secret") is None
    cache.refresh()
    assert cache.kept("thr_other-secret") is not None
    cache.forget()  # a revocation through this process
    assert cache.kept("thr_other-secret") is None
    assert len(lookups) == 5


def test_a_lookup_that_raced_a_revocation_is_not_kept(store: SqlStore) -> None:
    cache: TokenCache

    def lookup(hashed: str) -> object:
        found = store.token_for_secret(hashed)  # live when read...
        store.revoke_token("ci")  # ... revoked before the answer is kept
        cache.refresh()
        return found

    cache = TokenCache(lookup, store.token_revision)  # type: ignore[arg-type]
    cache.refresh()
    assert cache.verify("thr_ci-secret") is not None  # this request was checked before the revocation
    assert cache.kept("thr_ci-secret") is None  # the next one is looked up again
