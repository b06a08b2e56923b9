"""The scheduling loop's policies against a fake executor (the declared seam): retries, isolation,
timeouts, lost workers, thresholds and backpressure. Real processes are tested elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from thresher.executors.base import (
    Event,
    Task,
    TaskDone,
    TaskFailed,
    WorkerConfig,
    WorkerInitFailed,
    WorkerLost,
    WorkerReady,
)
from thresher.scheduler.loop import JobLoop
from thresher.scheduler.policies import RetryPolicy, Thresholds
from thresher.store import PlanInfo

Behaviour = Callable[[Task], Event | None]  # None: the task hangs


class FakeExecutor:
    """Runs tasks by calling ``behaviour`` synchronously; records what it was given."""

    def __init__(self, behaviour: Behaviour, workers: int = 2, init_fails: bool = False) -> None:
        self.behaviour = behaviour
        self.workers = {f"node-0/process{i:03d}": None for i in range(workers)}
        self.init_fails = init_fails
        self.events: list[Event] = []
        self.submitted: list[Task] = []
        self.killed: list[str] = []
        self.max_busy = 0
        for name in self.workers:
            self.events.append(
                WorkerInitFailed(name, {"type": "E", "message": "no"}) if init_fails else WorkerReady(name, 0.0)
            )
        if init_fails:
            self.workers = {}

    def start(self, config: WorkerConfig, *, nodes: int, per_node: int) -> None:
        pass

    def idle_workers(self) -> int:
        return sum(1 for task in self.workers.values() if task is None)

    def live_workers(self) -> int:
        return len(self.workers)

    def submit(self, task: Task) -> str:
        worker = next(name for name, busy in self.workers.items() if busy is None)
        self.workers[worker] = task.id
        self.submitted.append(task)
        self.max_busy = max(self.max_busy, sum(1 for t in self.workers.values() if t))
        outcome = self.behaviour(task)
        if outcome is not None:
            self.events.append(_as_from(outcome, worker))
            self.workers[worker] = None
        return worker

    def poll(self, timeout: float) -> list[Event]:
        events, self.events = self.events, []
        return events

    def kill(self, worker: str, reason: str) -> None:
        self.killed.append(worker)
        task = self.workers.pop(worker)
        self.events.append(WorkerLost(worker, task, -9, reason))
        self.workers[worker + "r"] = None

    def shutdown(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        pass


def _as_from(event: Event, worker: str) -> Event:
    if isinstance(event, TaskDone | TaskFailed):
        return replace(event, worker=worker)
    return event


def ok(task: Task) -> Event:
    n = len(task.items)
    return TaskDone(task.id, "", n, n, n, task.part, 0.01)


def raise_on(bad: set[str]) -> Behaviour:
    def behaviour(task: Task) -> Event:
        hit = [item for item in task.items if item in bad]
        if hit:
            return TaskFailed(task.id, "", {"type": "ValueError", "message": f"bad {hit[0]}"}, 0.01)
        return ok(task)

    return behaviour


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_loop(
    executor: FakeExecutor,
    batches: list[list[Any]],
    *,
    max_retries: int = 3,
    isolate: bool = True,
    error_threshold: int = -1,
    failed_count: int = -1,
    clock: Clock | None = None,
) -> JobLoop:
    loop = JobLoop(
        "job",
        executor,
        ((i, items, None) for i, items in enumerate(batches)),
        retry=RetryPolicy(max_retries, isolate),
        thresholds=Thresholds(error_threshold, failed_count, 100.0),
        timeout=30.0,
        workers=2,
        part_suffix=".part",
        clock=clock or Clock(),
    )
    loop.progress.plan = PlanInfo(len(batches), None, 0, 0, "")
    return loop


def run(loop: JobLoop, clock: Clock | None = None, rounds: int = 10_000) -> None:
    for _ in range(rounds):
        if loop.finished or loop.abort:
            return
        loop.plan_next()
        loop.dispatch()
        if clock is not None:
            clock.now += 10
        loop.collect_finished(0)
    raise AssertionError("loop did not finish")


def files(n: int, prefix: str = "f") -> list[str]:
    return [f"/{prefix}{i:03d}" for i in range(n)]


def test_all_good_mini_batches_commit_once_with_their_parts() -> None:
    executor = FakeExecutor(ok)
    loop = make_loop(executor, [files(3), files(3, "g"), files(2, "h")])
    run(loop)
    records = loop.take_commits()
    assert sorted(r.index for r in records) == [0, 1, 2]
    assert all(r.status == "succeeded" and r.failed == 0 and r.attempts == 1 for r in records)
    assert {r.index: r.parts for r in records}[1] == ["000000001-000000.part"]
    assert loop.progress.items_succeeded == 8


def test_a_bad_item_is_isolated_and_the_good_ones_succeed() -> None:
    batch = files(8)
    executor = FakeExecutor(raise_on({batch[5]}))
    loop = make_loop(executor, [batch], max_retries=2)
    run(loop)
    (record,) = loop.take_commits()
    assert (record.succeeded, record.failed) == (7, 1)
    assert loop.progress.first_failures[0].item == batch[5]
    assert "bad /f005" in loop.progress.first_failures[0].error
    # whole batch: 3 tries; halves 1 each, quarters 1 each, single items 3 tries for the bad one.
    whole = [t for t in executor.submitted if (t.start, t.stop) == (0, 8)]
    singles = [t for t in executor.submitted if t.stop - t.start == 1]
    assert len(whole) == 3
    assert [(t.start, t.stop) for t in singles] == [(4, 5), (5, 6), (5, 6), (5, 6)]
    # Every good item's rows come from exactly one successful piece, in item order.
    assert record.parts == ["000000000-000000.part", "000000000-000004.part", "000000000-000006.part"]


def test_isolation_off_fails_the_whole_mini_batch_like_azure() -> None:
    batch = files(4)
    executor = FakeExecutor(raise_on({batch[0]}))
    loop = make_loop(executor, [batch], max_retries=1, isolate=False)
    run(loop)
    (record,) = loop.take_commits()
    assert (record.status, record.succeeded, record.failed, record.attempts) == ("failed", 0, 4, 2)


def test_error_threshold_aborts_as_soon_as_exceeded() -> None:
    bad = {f"/b{i:03d}" for i in range(10)}
    batches = [[f"/b{i:03d}"] for i in range(10)] + [files(1, "ok")] * 5
    executor = FakeExecutor(raise_on(bad))
    loop = make_loop(executor, batches, max_retries=0, error_threshold=2)
    run(loop)
    assert loop.abort is not None and loop.abort.reason == "3 items failed, over error_threshold 2"
    # Nothing is dispatched after the abort; only what was already in flight (2 workers) reports back.
    assert len(executor.submitted) <= 4
    assert 3 <= loop.progress.items_failed <= 4


def test_allowed_failed_count_counts_mini_batches() -> None:
    bad = {"/f000", "/g000"}
    loop = make_loop(
        FakeExecutor(raise_on(bad)), [files(2), files(2, "g"), files(2, "h")], max_retries=0, failed_count=1
    )
    run(loop)
    assert loop.abort is not None and "allowed_failed_count 1" in loop.abort.reason


def test_a_hanging_run_is_killed_at_the_timeout_and_retried() -> None:
    attempts: list[Task] = []

    def hang_first_batch(task: Task) -> Event | None:
        attempts.append(task)
        return None if task.mini_batch == 0 else ok(task)

    clock = Clock()
    executor = FakeExecutor(hang_first_batch)
    loop = make_loop(executor, [files(2), files(2, "g"), files(2, "h")], max_retries=2, clock=clock)
    run(loop, clock)
    records = {r.index: r for r in loop.take_commits()}
    assert records[0].status == "failed" and records[0].attempts == 3
    assert records[1].status == records[2].status == "succeeded"
    assert len(executor.killed) == 3
    assert "timeout" in loop.progress.first_failures[0].error


def test_a_lost_worker_fails_only_its_attempt() -> None:
    lost_once: set[int] = set()

    def die_once(task: Task) -> Event:
        if task.mini_batch == 1 and 1 not in lost_once:
            lost_once.add(1)
            return WorkerLost("", task.id, -9, "was killed by signal 9")
        return ok(task)

    executor = FakeExecutor(die_once)
    loop = make_loop(executor, [files(2), files(2, "g")])
    run(loop)
    records = {r.index: r for r in loop.take_commits()}
    assert records[1].status == "succeeded" and records[1].attempts == 2


def test_init_failing_everywhere_aborts_at_once() -> None:
    loop = make_loop(FakeExecutor(ok, init_fails=True), [files(2)])
    loop.plan_next()
    loop.dispatch()
    loop.collect_finished(0)
    assert loop.abort is not None and loop.abort.reason == "init() failed on every worker"
    assert loop.init_error is not None and loop.init_error["message"] == "no"


def test_backpressure_keeps_the_queue_bounded() -> None:
    executor = FakeExecutor(lambda task: None)  # nothing ever finishes
    loop = make_loop(executor, [files(1, f"x{i}") for i in range(1000)])
    for _ in range(5):
        loop.plan_next()
        loop.dispatch()
    assert len(loop.states) <= 4 + 2
    assert len(executor.submitted) == 2
