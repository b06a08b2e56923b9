"""P9. Claim latency: from a job queued to a runner holding it, with several ``thresher runner``s on PostgreSQL.

``runners`` processes each serve the queue of one database (``serve_queue``, what ``thresher runner``
runs), idle, on a durable PostgreSQL server started for the benchmark on 127.0.0.1 (``tests/pg.py``,
``fsync`` and ``synchronous_commit`` on). Then ``jobs`` jobs are queued one at a time, a few
milliseconds apart, each of a kind whose handler ends it at once (no planning, no workers), so that
what is measured is the queue alone: the job's ``created_at`` (set as it is inserted, before the
insert's durable commit) to its ``started_at`` (set by the runner that claimed it). Runners wake on
``LISTEN thresher_jobs``; their poll of the database (every 0.2 s) is only the fallback.

    python -m bench.p9_claims --jobs 200 --runners 4 --reps 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NOOP_KIND = "bench_noop"
"""The kind of the benchmark's jobs: their handler ends them at once."""

QUEUE_GAP_SECONDS = 0.01  # between two jobs queued: each is claimed by an idle runner, not from a backlog


def _finish_at_once(store: Any, job: Any, runner: str, *_args: Any, **_options: Any) -> Any:
    """A job handler (``serve``'s contract) that ends its job Completed as soon as it is claimed."""
    store.set_job_status(job.name, "Finalizing", runner=runner, attempt=job.attempt)
    return store.set_job_status(job.name, "Completed", runner=runner, attempt=job.attempt, headline="done")


def _serve(url: str, home: str, name: str) -> None:
    """One runner process: serve the queue until terminated."""
    from thresher.scheduler.service import serve_queue
    from thresher.settings import load_settings
    from thresher.store import SqlStore

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the runner's log lines, one per claim: not the benchmark's
    settings = load_settings(home=Path(home), database_url=url, idle_time_before_scale_down=0)
    with SqlStore(url) as store:
        serve_queue(store, settings, name=name, handlers={NOOP_KIND: _finish_at_once})


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def measure_claims(jobs: int = 200, runners: int = 4, *, url: str | None = None) -> dict[str, Any]:
    """Claim latency (ms) of ``jobs`` jobs queued one at a time to ``runners`` idle runners: p50 and p99.

    On a throwaway durable PostgreSQL server, or on the empty database at ``url``.
    """
    from bench.p7_control_plane import start_postgres
    from thresher.store import TERMINAL, SqlStore
    from thresher.store.service import ServiceRecord

    server = None
    if url is None:
        server, skipped = start_postgres()
        if server is None:
            raise RuntimeError(skipped)
        url = server.create_database("p9")
    context = multiprocessing.get_context("spawn")
    processes: list[Any] = []
    try:
        with tempfile.TemporaryDirectory(prefix="thresher-p9-") as home, SqlStore(url) as store:
            names = [f"p9-runner-{index}" for index in range(runners)]
            for name in names:
                process = context.Process(target=_serve, args=(url, home, name), daemon=True)
                process.start()
                processes.append(process)
            deadline = time.monotonic() + 60
            alive: list[ServiceRecord] = []
            while len(alive) < runners:  # every runner started, listening and idle
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(alive)} of {runners} runners started within 60 s")
                time.sleep(0.1)
                alive = store.services("runner")
            time.sleep(0.5)
            queued = [f"p9-{index:05d}" for index in range(jobs)]
            for name in queued:
                store.create_job(name, spec={}, kind=NOOP_KIND)
                time.sleep(QUEUE_GAP_SECONDS)
            deadline = time.monotonic() + 60
            while True:
                records = [store.get_job(name) for name in queued]
                if all(record.status in TERMINAL for record in records):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the jobs were not all claimed within 60 s")
                time.sleep(0.1)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)
        if server is not None:
            server.stop()
    latencies = [
        (record.started_at - record.created_at).total_seconds() * 1000
        for record in records
        if record.started_at is not None
    ]
    return {
        "claim_p50_ms": round(statistics.median(latencies), 2),
        "claim_p99_ms": round(_percentile(latencies, 0.99), 2),
        "runners": runners,
        "jobs": jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--runners", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3, help="runs; the median of each figure is printed last")
    options = parser.parse_args()
    results = []
    for rep in range(options.reps):
        result = measure_claims(options.jobs, options.runners)
        results.append(result)
        print(f"run {rep + 1}: {result}", file=sys.stderr, flush=True)
    median = {
        **results[0],
        "claim_p50_ms": round(statistics.median(r["claim_p50_ms"] for r in results), 2),
        "claim_p99_ms": round(statistics.median(r["claim_p99_ms"] for r in results), 2),
        "reps": options.reps,
    }
    print(median)


if __name__ == "__main__":
    main()
