"""The jobs half of the store, on SQLite and PostgreSQL: queue, status machine, ownership, commits."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from thresher.errors import AlreadyExistsError, ConflictError, NotFoundError
from thresher.store import FailedItem, JobProgress, MiniBatchRecord, SqlStore


def _later() -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=60)


def _result(job: str, index: int, parts: list[str] | None = None) -> MiniBatchRecord:
    return MiniBatchRecord(
        job, index, "succeeded", 3, 3, 0, 1, "node-0/process000", 0.1, parts or [f"{index}.part"], None
    )


def test_create_get_and_list_newest_first(store: SqlStore) -> None:
    store.create_job("a", spec={"x": 1}, endpoint_name="e", deployment_name="d")
    store.create_job("b", spec={"x": 2}, endpoint_name="e", deployment_name="other")
    job = store.get_job("a")
    assert (job.status, job.attempt, job.spec) == ("Queued", 0, {"x": 1})
    assert [j.name for j in store.list_jobs()] == ["b", "a"]
    assert [j.name for j in store.list_jobs(deployment_name="d")] == ["a"]
    with pytest.raises(AlreadyExistsError):
        store.create_job("a", spec={})
    with pytest.raises(NotFoundError) as missing:
        store.get_job("zzz")
    assert "b, a" in str(missing.value)


def test_claim_takes_the_oldest_queued_job_once(store: SqlStore) -> None:
    store.create_job("first", spec={})
    store.create_job("second", spec={})
    claimed = store.claim_job("host:1", stale_before=_later())
    assert claimed is not None and claimed.name == "first"
    assert (claimed.status, claimed.runner, claimed.attempt) == ("Running", "host:1", 1)
    assert claimed.started_at is not None
    other = store.claim_job("host:2", stale_before=_later())
    assert other is not None and other.name == "second"
    assert store.claim_job("host:3", stale_before=_later()) is None


def test_orphaned_job_is_taken_over_and_the_old_runner_is_locked_out(store: SqlStore) -> None:
    store.create_job("j", spec={})
    store.claim_job("host:1", stale_before=_later())
    assert store.claim_job("host:2", stale_before=_later()) is None  # fresh heartbeat: not orphaned
    taken = store.claim_job("host:2", stale_before=_later(), dead_runners=["host:1"])
    assert taken is not None and (taken.runner, taken.attempt, taken.status) == ("host:2", 2, "Running")
    with pytest.raises(ConflictError):
        store.heartbeat("j", "host:1")
    with pytest.raises(ConflictError):
        store.commit_mini_batches("j", "host:1", [_result("j", 0)], JobProgress(mini_batches_done=1))
    with pytest.raises(ConflictError):
        store.set_job_status("j", "Failed", runner="host:1", headline="late")
    assert store.get_job("j").status == "Running"
    stale = store.claim_job("host:3", stale_before=datetime.now(timezone.utc) + timedelta(seconds=1))
    assert stale is not None and stale.runner == "host:3"


def test_concurrent_claimers_never_share_a_job(store: SqlStore) -> None:
    for index in range(6):
        store.create_job(f"job-{index}", spec={})
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(runner: str) -> None:
        while (job := store.claim_job(runner, stale_before=_later())) is not None:
            with lock:
                claimed.append(job.name)

    threads = [threading.Thread(target=claim, args=(f"host:{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == [f"job-{i}" for i in range(6)]


def test_status_machine(store: SqlStore) -> None:
    store.create_job("j", spec={})
    with pytest.raises(ConflictError) as illegal:
        store.set_job_status("j", "Completed")
    assert "Queued" in str(illegal.value) and "Completed" in str(illegal.value)
    store.claim_job("r", stale_before=_later())
    store.set_job_status("j", "Finalizing", runner="r")
    done = store.set_job_status("j", "Completed", runner="r", headline="3 of 3 items succeeded")
    assert done.ended_at is not None and done.headline == "3 of 3 items succeeded"
    with pytest.raises(ConflictError):
        store.set_job_status("j", "Queued")


def test_resume_requeues_a_failed_job_cleanly(store: SqlStore) -> None:
    store.create_job("j", spec={})
    store.claim_job("r", stale_before=_later())
    store.set_job_status("j", "Failed", runner="r", headline="boom", error={"first": "x"})
    again = store.set_job_status("j", "Queued")
    assert (again.status, again.runner, again.headline, again.error, again.ended_at) == (
        "Queued",
        None,
        None,
        None,
        None,
    )
    reclaimed = store.claim_job("r2", stale_before=_later())
    assert reclaimed is not None and reclaimed.attempt == 2


def test_cancel(store: SqlStore) -> None:
    store.create_job("queued", spec={})
    assert store.request_cancel("queued").status == "Canceled"
    store.create_job("running", spec={})
    store.claim_job("r", stale_before=_later())
    flagged = store.request_cancel("running")
    assert flagged.status == "Running" and flagged.cancel_requested
    with pytest.raises(ConflictError):
        store.request_cancel("queued")


def test_commits_are_idempotent_and_ordered(store: SqlStore) -> None:
    store.create_job("j", spec={})
    store.claim_job("r", stale_before=_later())
    store.commit_mini_batches("j", "r", [_result("j", 2), _result("j", 0)], JobProgress(mini_batches_done=2))
    progress = JobProgress(mini_batches_done=3, items_failed=1, first_failures=[FailedItem("/a\\xe9.csv", 1, "E: x")])
    store.commit_mini_batches("j", "r", [_result("j", 2, ["2.a", "2.b"]), _result("j", 1)], progress)
    committed = store.mini_batches("j")
    assert [m.index for m in committed] == [0, 1, 2]
    assert committed[2].parts == ["2.a", "2.b"]
    assert store.get_job("j").progress == progress


def test_a_stopped_runner_puts_its_job_back_in_the_queue_saying_why(store: SqlStore) -> None:
    store.create_job("j", spec={})
    store.claim_job("r", stale_before=_later())
    queued = store.set_job_status("j", "Queued", runner="r", headline="Runner r was stopped (SIGTERM)")
    assert (queued.status, queued.runner, queued.headline) == ("Queued", None, "Runner r was stopped (SIGTERM)")
    again = store.claim_job("r2", stale_before=_later())
    assert again is not None and (again.status, again.attempt) == ("Running", 2)


def test_only_ended_or_orphaned_jobs_can_be_deleted(store: SqlStore) -> None:
    store.create_job("done", spec={})
    store.claim_job("r", stale_before=_later())
    store.commit_mini_batches("done", "r", [_result("done", 0)], JobProgress(mini_batches_done=1))
    store.set_job_status("done", "Failed", runner="r", headline="x")
    store.delete_job("done")
    with pytest.raises(NotFoundError):
        store.get_job("done")
    assert store.mini_batches("done") == []
    store.create_job("waiting", spec={})
    with pytest.raises(ConflictError, match="only a job that ended"):
        store.delete_job("waiting")
    store.claim_job("r2", stale_before=_later())
    with pytest.raises(ConflictError):
        store.delete_job("waiting")  # Running, and its runner was not found gone
    with pytest.raises(ConflictError):
        store.delete_job("waiting", orphaned_runner="someone-else")
    store.delete_job("waiting", orphaned_runner="r2")
    assert [job.name for job in store.list_jobs()] == []


def test_step_jobs_are_claimed_only_by_name_and_found_by_cache_key(store: SqlStore) -> None:
    store.create_job("p", spec={}, kind="pipeline")
    pipeline = store.claim_job("host:1", stale_before=_later())
    assert pipeline is not None and pipeline.name == "p"
    store.create_job("p.a", spec={}, kind="command", parent="p", cache_key="k1", results={"step": "a"})
    store.create_job(
        "p.b",
        spec={},
        kind="command",
        parent="p",
        cache_key="k1",
        status="Completed",
        headline="Reused.",
        results={"step": "b", "reused_from": "x"},
    )
    assert store.claim_job("host:2", stale_before=_later()) is None  # a step waits for its pipeline's runner
    step = store.claim_job("host:1", stale_before=_later(), name="p.a")
    assert step is not None and (step.status, step.parent, step.cache_key) == ("Running", "p", "k1")
    reused = store.get_job("p.b")
    assert (reused.status, reused.headline, reused.results) == (
        "Completed",
        "Reused.",
        {"step": "b", "reused_from": "x"},
    )
    assert reused.started_at is not None and reused.ended_at is not None
    assert [j.name for j in store.list_jobs(parent="p")] == ["p.a", "p.b"]
    assert [j.name for j in store.list_jobs(top_level=True)] == ["p"]
    assert [j.name for j in store.list_jobs(kind="pipeline")] == ["p"]
    assert [j.name for j in store.list_jobs(cache_key="k1", statuses=("Completed",))] == ["p.b"]
    assert sorted(store.active_runners()) == ["host:1"]
    assert store.active_runners(top_level=True) == ["host:1"]
    store.set_job_status("p.a", "Finalizing", runner="host:1")
    store.set_job_status("p.a", "Completed", runner="host:1", results={"step": "a", "outputs": {"o": {"hash": "h"}}})
    assert store.get_job("p.a").results == {"step": "a", "outputs": {"o": {"hash": "h"}}}
