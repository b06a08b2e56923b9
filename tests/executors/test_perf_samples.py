"""Each worker's CPU and memory, sampled by the executor into ``logs/sys/perf/<node>/<process>.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.executors.conftest import Job, start, task, wait_for
from thresher.executors.base import Executor, TaskDone
from thresher.executors.perf import PERF_COLUMNS

BURN = """
import time

def run(mini_batch):
    end = time.process_time() + 2.5  # CPU seconds: a busy machine makes it slower, never shorter
    while time.process_time() < end:
        pass
    return mini_batch
"""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == PERF_COLUMNS
        return list(reader)


def test_every_worker_gets_a_perf_file_with_its_cpu_and_memory(job: Job, executor: Executor) -> None:
    start(executor, job.config(BURN), per_node=2)
    for item in job.input_files(2):
        executor.submit(task([item]))
    events = wait_for(executor, lambda evs: sum(isinstance(e, TaskDone) for e in evs) == 2)
    assert len({e.worker for e in events if isinstance(e, TaskDone)}) == 2
    executor.shutdown()  # sampled at the default interval (1 s) while they burned 2.5 CPU seconds each

    perf = job.logs / "sys" / "perf"
    files = sorted(perf.rglob("*.csv"))
    assert [f.relative_to(perf).as_posix() for f in files] == ["node-0/process000.csv", "node-0/process001.csv"]
    for path in files:
        rows = _rows(path)
        assert rows, f"{path} has no samples"
        assert max(float(row["cpu_percent"]) for row in rows) > 20, rows
        assert all(int(row["rss_bytes"]) > 10_000_000 for row in rows), rows
        assert all(int(row["processes"]) >= 1 and int(row["host_memory_bytes"]) > 0 for row in rows), rows
