"""Items that run() itself reported as failed: counted per item, each with its own error entry."""

from __future__ import annotations

from tests.scheduler.test_loop import FakeExecutor, files, make_loop, run
from thresher.executors.base import Event, Task, TaskDone


def reports(bad: set[str], *, listed: int | None = None) -> FakeExecutor:
    """A worker whose run() returns for every item and lists the bad ones (at most ``listed``) as failed."""

    def behaviour(task: Task) -> Event:
        failed = [item for item in task.items if item in bad]
        failures = [{"item": item, "error": f"ValueError: {item} is bad"} for item in failed][:listed]
        n = len(task.items)
        return TaskDone(task.id, "", n, n - len(failed), n - len(failed), task.part, 0.01, failures=failures)

    return FakeExecutor(behaviour)


def test_listed_failures_fail_their_items_alone_without_retries() -> None:
    batch = files(5)
    executor = reports({batch[1], batch[3]})
    loop = make_loop(executor, [batch, files(2, "g")])
    run(loop)
    records = {r.index: r for r in loop.take_commits()}
    assert (records[0].succeeded, records[0].failed, records[0].attempts) == (3, 2, 1)
    assert records[0].status == "succeeded" and records[0].parts == ["000000000-000000.part"]
    assert records[0].error == "ValueError: /f001 is bad"
    assert [(f.item, f.mini_batch, f.error) for f in loop.progress.first_failures] == [
        ("/f001", 0, "ValueError: /f001 is bad"),
        ("/f003", 0, "ValueError: /f003 is bad"),
    ]
    assert (loop.progress.items_succeeded, loop.progress.items_failed) == (5, 2)
    assert len(executor.submitted) == 2  # a failed item is the script's answer, not a reason to retry


def test_failures_beyond_the_listed_ones_still_count() -> None:
    batch = files(6)
    loop = make_loop(reports(set(batch[:4]), listed=1), [batch])
    run(loop)
    (record,) = loop.take_commits()
    assert (record.succeeded, record.failed) == (2, 4)
    assert [f.error for f in loop.progress.first_failures] == [
        "ValueError: /f000 is bad",
        "3 more items failed; their errors are in the worker's error log",
    ]


def test_listed_failures_count_against_the_error_threshold() -> None:
    loop = make_loop(reports({"/f000", "/f001"}), [files(3), files(3, "g")], error_threshold=1)
    run(loop)
    assert loop.abort is not None and loop.abort.reason == "2 items failed, over error_threshold 1"


def test_plain_results_keep_the_generic_message() -> None:
    def short(task: Task) -> Event:
        n = len(task.items)
        return TaskDone(task.id, "", n, n - 1, n - 1, task.part, 0.01)

    loop = make_loop(FakeExecutor(short), [files(3)])
    run(loop)
    assert loop.progress.first_failures[0].error.startswith("run() returned 2 results for 3 items")
