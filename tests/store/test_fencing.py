"""Fencing tokens, on SQLite and PostgreSQL: a claim's ``attempt`` guards every write of its runner.

A runner that was only paused (SIGSTOP, a long GC, a lost network) can wake up after its job was taken
over, even by a runner of the same name (a runner restarted with ``--name``, or its own loop claiming
the job again as orphaned): nothing it writes under its old claim may land.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from thresher.errors import JobTakenOverError
from thresher.store import JobProgress, MiniBatchRecord, SqlStore


def _now() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=1)  # every heartbeat is stale


def _long_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=60)


def _result(index: int, part: str) -> MiniBatchRecord:
    return MiniBatchRecord("j", index, "succeeded", 3, 3, 0, 1, "node-0/process000", 0.1, [part], None)


def test_a_stale_claim_of_the_same_runner_cannot_write(store: SqlStore) -> None:
    store.create_job("j", spec={})
    first = store.claim_job("runner-a", stale_before=_long_ago())
    assert first is not None and first.attempt == 1
    store.commit_mini_batches("j", "runner-a", [_result(0, "0-a1.part")], JobProgress(mini_batches_done=1), attempt=1)
    second = store.claim_job("runner-a", stale_before=_now())  # the same name claims it again, as orphaned
    assert second is not None and (second.runner, second.attempt) == ("runner-a", 2)
    store.commit_mini_batches("j", "runner-a", [_result(1, "1-a2.part")], JobProgress(mini_batches_done=2), attempt=2)
    before = store.get_job("j")

    with pytest.raises(JobTakenOverError, match="attempt 1"):
        store.heartbeat("j", "runner-a", attempt=1)
    with pytest.raises(JobTakenOverError):
        store.commit_mini_batches(
            "j", "runner-a", [_result(0, "0-a1-late.part")], JobProgress(mini_batches_done=9), attempt=1
        )
    with pytest.raises(JobTakenOverError):
        store.set_job_status("j", "Failed", runner="runner-a", attempt=1, headline="late")
    with pytest.raises(JobTakenOverError):
        store.set_job_status("j", "Queued", runner="runner-a", attempt=1, headline="stopped")

    after = store.get_job("j")
    assert (after.status, after.headline, after.progress, after.heartbeat_at) == (
        before.status,
        before.headline,
        before.progress,
        before.heartbeat_at,
    )
    assert [(m.index, m.parts) for m in store.mini_batches("j")] == [(0, ["0-a1.part"]), (1, ["1-a2.part"])]
    # The current claim writes freely.
    store.heartbeat("j", "runner-a", attempt=2)
    ended = store.set_job_status("j", "Finalizing", runner="runner-a", attempt=2)
    assert ended.status == "Finalizing"


def test_a_runner_taken_over_by_another_cannot_write(store: SqlStore) -> None:
    store.create_job("j", spec={})
    store.claim_job("host:1", stale_before=_long_ago())
    taken = store.claim_job("host:2", stale_before=_now())
    assert taken is not None and (taken.runner, taken.attempt) == ("host:2", 2)
    for attempt in (1, 2):  # the old runner, with its own token or (forged) the new one
        with pytest.raises(JobTakenOverError):
            store.heartbeat("j", "host:1", attempt=attempt)
        with pytest.raises(JobTakenOverError):
            progress = JobProgress(mini_batches_done=1)
            store.commit_mini_batches("j", "host:1", [_result(0, "x")], progress, attempt=attempt)
        with pytest.raises(JobTakenOverError):
            store.set_job_status("j", "Completed", runner="host:1", attempt=attempt, headline="late")
    assert store.mini_batches("j") == []
    job = store.get_job("j")
    assert (job.status, job.runner, job.attempt, job.headline) == ("Running", "host:2", 2, None)


def test_a_claim_queued_again_keeps_no_right_to_write(store: SqlStore) -> None:
    store.create_job("j", spec={})
    store.claim_job("r", stale_before=_long_ago())
    store.set_job_status("j", "Queued", runner="r", attempt=1, headline="stopped (SIGTERM)")
    with pytest.raises(JobTakenOverError):
        store.heartbeat("j", "r", attempt=1)
    again = store.claim_job("r", stale_before=_long_ago())
    assert again is not None and again.attempt == 2
    with pytest.raises(JobTakenOverError):
        store.set_job_status("j", "Failed", runner="r", attempt=1, headline="late")
    assert store.get_job("j").status == "Running"


@pytest.mark.postgres
def test_a_listening_runner_wakes_when_a_job_is_queued(postgres_url: str) -> None:
    with SqlStore(postgres_url) as store, SqlStore(postgres_url) as client:
        listener = store.job_listener()
        assert listener is not None
        try:
            assert listener.wait(0.05) is False  # nothing queued
            client.create_job("listened-to", spec={})
            began = time.monotonic()
            assert listener.wait(5.0) is True
            assert time.monotonic() - began < 1.0
            assert listener.answer() is False  # taken by the wait
            claimed = client.claim_job("r", stale_before=_long_ago(), name="listened-to")
            assert claimed is not None
            client.set_job_status("listened-to", "Queued", runner="r", attempt=claimed.attempt, headline="stopped")
            assert listener.wait(5.0) is True  # queued again: notified again
        finally:
            listener.close()


def test_sqlite_has_no_listener(tmp_path: Path) -> None:
    with SqlStore(f"sqlite:///{tmp_path / 'thresher.db'}") as store:
        assert store.job_listener() is None
