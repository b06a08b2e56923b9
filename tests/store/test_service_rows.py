"""The server's tables on SQLite and PostgreSQL: tokens, idempotent requests, schedule fires, heartbeats."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from thresher.errors import AlreadyExistsError, DuplicateRequestError, NotFoundError
from thresher.store import SqlStore


def test_tokens_are_found_by_their_hash_until_revoked(store: SqlStore) -> None:
    made = store.create_token("ci", "contributor", "a" * 64)
    assert (made.name, made.role, made.revoked_at) == ("ci", "contributor", None)
    with pytest.raises(AlreadyExistsError):
        store.create_token("ci", "reader", "b" * 64)
    assert store.token_for_secret("a" * 64) == made
    assert store.token_for_secret("c" * 64) is None
    revoked = store.revoke_token("ci")
    assert revoked.revoked_at is not None
    assert store.token_for_secret("a" * 64) is None
    assert store.revoke_token("ci").revoked_at == revoked.revoked_at  # revoking again keeps the first time
    with pytest.raises(NotFoundError):
        store.revoke_token("nobody")
    assert [t.name for t in store.list_tokens()] == ["ci"]


def test_a_request_key_is_claimed_once_however_many_deliveries_race(store: SqlStore) -> None:
    results: list[object] = []

    def deliver() -> None:
        results.append(store.begin_request("key-1", "invoke ep"))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(None) == 1  # one delivery does the work; the others see it being answered
    store.finish_request("key-1", 201, {"name": "job-1"})
    answered = store.begin_request("key-1", "invoke ep")
    assert answered is not None and (answered.status_code, answered.body) == (201, {"name": "job-1"})
    assert store.begin_request("key-2", "r") is None
    store.finish_request("key-2", None, None)  # nothing done: the key is let go
    assert store.begin_request("key-2", "r") is None
    assert store.prune_requests(datetime.now(timezone.utc) + timedelta(seconds=1)) == 2


def test_a_schedule_slot_fires_once(store: SqlStore) -> None:
    first = store.record_fire("nightly", "2026-11-30T02:00:00+00:00", detail={"why": "cron"})
    assert first is not None
    assert store.record_fire("nightly", "2026-11-30T02:00:00+00:00") is None
    store.update_fire("nightly", "2026-11-30T02:00:00+00:00", job="job-7")
    assert [(f.slot, f.job) for f in store.list_fires("nightly")] == [("2026-11-30T02:00:00+00:00", "job-7")]
    store.delete_fires("nightly")
    assert store.list_fires("nightly") == []


def test_heartbeats_of_servers_and_runners(store: SqlStore) -> None:
    store.beat("server:a", "server", {"url": "http://a"})
    store.beat("runner:b", "runner", {"host": "b"})
    store.beat("server:a", "server", {"url": "http://a2"})
    servers = store.services("server")
    assert [(s.name, s.info["url"]) for s in servers] == [("server:a", "http://a2")]
    future = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert store.services("runner", alive_since=future) == []
    store.end_service("server:a")
    assert store.services("server") == []


def test_a_job_queued_under_a_request_key_is_queued_once(store: SqlStore) -> None:
    first = store.create_job("job-a", spec={"x": 1}, request_key="k-1", request_route="invoke ep")
    assert first == store.get_job("job-a")  # what create_job returns is what was stored
    with pytest.raises(DuplicateRequestError) as duplicate:
        store.create_job("job-b", spec={"x": 1}, request_key="k-1", request_route="invoke ep")
    assert duplicate.value.job == "job-a"
    assert [job.name for job in store.list_jobs()] == ["job-a"]  # the second delivery queued nothing
    answered = store.get_request("k-1")
    assert answered is not None and answered.body == {"job": "job-a"}


def test_jobs_queued_at_once_from_many_threads_are_each_queued_once_and_refused_alone(store: SqlStore) -> None:
    # 8 threads deliver 4 requests twice each at the same moment (group commit puts them in shared transactions),
    # and two more name a job that exists: each key queues one job, each refusal is that delivery's alone.
    store.create_job("taken", spec={})
    outcomes: dict[str, object] = {}
    start = threading.Barrier(10)

    def deliver(label: str, name: str, key: str) -> None:
        start.wait()
        try:
            outcomes[label] = store.create_job(name, spec={"label": label}, request_key=key, request_route="invoke ep")
        except (DuplicateRequestError, AlreadyExistsError) as error:
            outcomes[label] = error

    work = [(f"{key}-{copy}", f"job-{key}-{copy}", key) for key in "abcd" for copy in (1, 2)]
    work += [("taken-1", "taken", "e"), ("taken-2", "taken", "f")]
    threads = [threading.Thread(target=deliver, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queued = {job.name for job in store.list_jobs(limit=None)} - {"taken"}
    for key in "abcd":
        first, second = outcomes[f"{key}-1"], outcomes[f"{key}-2"]
        won = first if not isinstance(first, Exception) else second
        lost = second if won is first else first
        assert not isinstance(won, Exception) and won.name in queued, (first, second)
        assert isinstance(lost, DuplicateRequestError) and lost.job == won.name
    assert len(queued) == 4
    for label in ("taken-1", "taken-2"):
        assert isinstance(outcomes[label], AlreadyExistsError)
    assert store.get_request("e") is None and store.get_request("f") is None  # the refused jobs' keys were let go
    assert store.create_job("job-e", spec={}, request_key="e").name == "job-e"


def test_the_token_revision_moves_when_a_token_is_made_or_revoked(store: SqlStore) -> None:
    first = store.token_revision()
    store.create_token("ci", "contributor", "a" * 64)
    made = store.token_revision()
    assert made != first and store.token_revision() == made  # reading moves nothing
    store.revoke_token("ci")
    revoked = store.token_revision()
    assert revoked != made
    store.revoke_token("ci")  # already revoked: nothing changes
    assert store.token_revision() == revoked
