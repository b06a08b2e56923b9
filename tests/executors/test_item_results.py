"""A real worker reports the items run() said failed, each with its own short error."""

from __future__ import annotations

from tests.executors.conftest import Job, run_task, start, task
from thresher.executors.base import Executor, TaskDone


def test_a_worker_reports_failed_items_and_counts_the_others(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        from thresher.runtime.results import ItemResults

        def run(mini_batch):
            rows, failures = [], []
            for path in mini_batch:
                text = open(path).read().strip()
                if text.endswith("3"):
                    failures.append({"item": path, "error": ValueError(f"{text} is unlucky")})
                else:
                    rows.append(text)
            return ItemResults(rows=rows, failures=failures)
        """,
        output_format="csv",
    )
    start(executor, config)
    inputs = job.input_files(5)
    done = run_task(executor, task(inputs))
    assert isinstance(done, TaskDone)
    assert (done.items, done.succeeded, done.rows) == (5, 4, 4)
    assert done.failures == [{"item": inputs[3], "error": "ValueError: x3 is unlucky"}]
    assert done.part is not None and (job.parts / done.part).read_text().split() == ["x0", "x1", "x2", "x4"]
    plain = run_task(executor, task(inputs[:2]))
    assert isinstance(plain, TaskDone) and plain.failures == []
