"""Running one claimed job to its end: plan, dispatch, collect, commit, finalize.

The runner can be killed at any moment. Everything it did is either committed in the database (a
finished mini-batch and the parts holding its rows) or is redone by the next runner; parts are named
by mini-batch and piece, so redoing one rewrites the same file and no row can appear twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from thresher.environments import envs_dir, job_python
from thresher.errors import ConflictError, ThresherError
from thresher.executors.base import Executor
from thresher.runtime.entries import displayable
from thresher.scheduler import planner
from thresher.scheduler.jobspec import JobSpec
from thresher.scheduler.loop import Counters, JobLoop
from thresher.scheduler.policies import RetryPolicy, Thresholds
from thresher.scheduler.reports import finalize_reports, progress_line
from thresher.settings import Settings, load_settings
from thresher.store import JobRecord, JobStatus, SqlStore

HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0  # a Running job whose runner has not been heard of for this long is orphaned
COMMIT_EVERY_SECONDS = 0.25
COMMIT_EVERY_BATCHES = 64

ExecutorFactory = Callable[[], Executor]


@dataclass
class _Outcome:
    status: JobStatus  # Completed | Failed | Canceled
    headline: str
    error: dict[str, Any] | None = None


def stale_before() -> datetime:
    """Heartbeats older than this mark a job's runner as gone."""
    return datetime.now(timezone.utc) - timedelta(seconds=STALE_SECONDS)


def run_job(
    store: SqlStore,
    job: JobRecord,
    runner: str,
    executor_factory: ExecutorFactory,
    *,
    settings: Settings | None = None,
) -> JobRecord:
    """Run a job this runner has claimed until it is Completed, Failed or Canceled.

    ``settings`` locate the workspace's built environments (default: read from THRESHER_* variables).
    """
    spec = JobSpec.from_dict(dict(job.spec))
    folder = spec.job_folder
    try:
        if job.status == "Finalizing":  # the previous runner died while assembling: just finish
            return _finalize(store, job.name, runner, spec, _committed_counters(store, job), None)
        # The workers' environment, built first if needed (heartbeating: a first build can take minutes).
        python = job_python(
            store, envs_dir(settings or load_settings()), spec, heartbeat=lambda: store.heartbeat(job.name, runner)
        )
        spec = replace(spec, python=python or spec.python)
        # Workers import the script and run init() while the input is planned.
        executor = executor_factory()
        executor.start(spec.worker_config(job.name), nodes=spec.nodes, per_node=spec.per_node)
        try:
            plan_info = _ensure_plan(store, job, runner, spec)
        except BaseException:
            executor.shutdown(graceful=False)
            raise
        job = store.get_job(job.name)  # with the plan recorded in its progress
        counters = _committed_counters(store, job)
        counters.mini_batches = plan_info["mini_batches"]
        outcome = _dispatch_all(store, job, runner, spec, counters, executor)
    except ConflictError:
        raise  # another runner owns the job now: leave everything to it
    except ThresherError as exc:
        headline = displayable(f"Job '{job.name}' failed: {exc.message}")  # it may name a file that is not UTF-8
        error = {"fix": exc.fix, "resumable": False}
        store.set_job_status(job.name, "Failed", runner=runner, headline=headline, error=error)
        folder.error.write_text(headline + ("\n" + exc.fix if exc.fix else "") + "\n", encoding="utf-8")
        return store.get_job(job.name)
    if outcome.status == "Canceled":
        finalize_reports(store, job.name, spec, counters, outcome.headline, None)
        return store.set_job_status(job.name, "Canceled", runner=runner, headline=outcome.headline)
    return _finalize(store, job.name, runner, spec, counters, outcome)


def _ensure_plan(store: SqlStore, job: JobRecord, runner: str, spec: JobSpec) -> dict[str, Any]:
    """Plan the input once; a resumed job checks that its inputs did not change since."""
    folder = spec.job_folder
    progress = dict(job.progress)
    root = Path(spec.input.path)
    if folder.plan.exists() and progress.get("plan"):
        recorded = progress["plan"]
        current = planner.plan_fingerprint(root)
        if current != recorded["fingerprint"]:
            raise ThresherError(
                f"The input {spec.input.uri} changed since the job planned it (files added, removed or "
                "modified), so resuming would mix outputs of different inputs.",
                fix="Invoke a new job on the input as it is now.",
            )
        return dict(recorded)
    batches = _plan(spec)
    summary = planner.write_plan(batches, folder.plan, root=root)
    plan_info = {
        "mini_batches": summary.mini_batches,
        "items": summary.items,
        "files": summary.files,
        "bytes": summary.bytes,
        "fingerprint": summary.fingerprint,
    }
    progress["plan"] = plan_info
    progress["mini_batches"] = summary.mini_batches
    store.commit_mini_batches(job.name, runner, [], progress)
    return plan_info


def _plan(spec: JobSpec) -> Iterator[planner.MiniBatch]:
    settings = spec.settings
    root = Path(spec.input.path)
    size = planner.parse_mini_batch_size(settings.get("mini_batch_size", 10), tabular=spec.input.tabular)
    keys = settings.get("partition_keys")
    if keys:
        return planner.plan_partitions(
            root, keys, tabular=spec.input.tabular, format=spec.input.format, read_options=spec.input.read_options
        )
    files = planner.iter_input_files(root)
    if spec.input.tabular:
        return planner.plan_tabular(files, size, format=spec.input.format, read_options=spec.input.read_options)
    return planner.plan_files(files, size.amount)


def _committed_counters(store: SqlStore, job: JobRecord) -> Counters:
    counters = Counters()
    progress = job.progress
    counters.columns = progress.get("columns")
    counters.rows = int(progress.get("rows") or 0)
    for record in store.mini_batches(job.name):
        counters.done += 1
        counters.succeeded_items += record.succeeded
        counters.failed_items += record.failed
        if record.failed:
            counters.failed += 1
    counters.first_failures = list(progress.get("first_failures") or [])
    return counters


def _dispatch_all(
    store: SqlStore,
    job: JobRecord,
    runner: str,
    spec: JobSpec,
    counters: Counters,
    executor: Executor,
) -> _Outcome:
    """Run every uncommitted mini-batch on the started ``executor``, which this shuts down."""
    settings = spec.settings
    retry_settings = settings.get("retry_settings") or {}
    committed = {record.index for record in store.mini_batches(job.name)}
    plan = (
        (batch.index, batch.items, batch.partition)
        for batch in planner.read_plan(spec.job_folder.plan)
        if batch.index not in committed
    )
    workers = spec.nodes * spec.per_node
    loop = JobLoop(
        job.name,
        executor,
        plan,
        retry=RetryPolicy(int(retry_settings.get("max_retries", 3)), bool(settings.get("isolate_failures", True))),
        thresholds=Thresholds(
            int(settings.get("error_threshold", -1)),
            int(settings.get("allowed_failed_count", -1)),
            float(settings.get("allowed_failed_percent", 100)),
        ),
        timeout=float(retry_settings.get("timeout", 30)),
        workers=workers,
        part_suffix=spec.part_suffix,
        counters=counters,
    )
    overview = spec.job_folder.progress_overview
    last_commit = last_beat = last_line = time.monotonic()
    canceled = False
    try:
        while not loop.finished and loop.abort is None:
            loop.plan_next()
            loop.dispatch()
            loop.collect_finished(0.2 if loop.in_flight else 0.05)
            now = time.monotonic()
            due = now - last_commit >= COMMIT_EVERY_SECONDS or len(loop.finished_states) >= COMMIT_EVERY_BATCHES
            if loop.finished_states and due:
                store.commit_mini_batches(job.name, runner, loop.take_commits(), _progress(job, counters))
                last_commit = now
            if now - last_beat >= HEARTBEAT_SECONDS:
                last_beat = now
                if store.heartbeat(job.name, runner).cancel_requested:
                    canceled = True
                    break
            if now - last_line >= 10:
                last_line = now
                with overview.open("a", encoding="utf-8") as handle:
                    handle.write(progress_line(counters) + "\n")
    finally:
        executor.shutdown(graceful=loop.finished, timeout=10.0)
        store.commit_mini_batches(job.name, runner, loop.take_commits(), _progress(job, counters))
    if canceled:
        return _Outcome(
            "Canceled",
            f"Job '{job.name}' was canceled after {counters.done:,} of {counters.mini_batches or '?'} mini-batches. "
            f"Resume with: thresher job resume --name {job.name}",
        )
    if loop.abort is not None:
        return _abort_outcome(job.name, loop, counters)
    return _Outcome("Completed", "")


def _progress(job: JobRecord, counters: Counters) -> dict[str, Any]:
    progress = dict(job.progress)
    progress.update(counters.as_progress())
    return progress


def _abort_outcome(name: str, loop: JobLoop, counters: Counters) -> _Outcome:
    if loop.init_error is not None and loop.abort == "init() failed on every worker":
        error = loop.init_error
        headline = (
            f"Job '{name}' failed: init() failed on every worker: {error.get('type')}: {error.get('message')}. "
            f"Traceback: {error.get('log')}. Fix init() or the model, then resume with: "
            f"thresher job resume --name {name}"
        )
        return _Outcome("Failed", headline, {"init": error, "resumable": True})
    first = counters.first_failures[0] if counters.first_failures else None
    detail = f" First failure: {first['item']}: {first['error']}." if first else ""
    headline = (
        f"Job '{name}' failed: {loop.abort}.{detail} All failures: logs/user/error/ and logs/job_error.txt. "
        "Fix the failing inputs, or raise the threshold (thresher batch-deployment update ... --set "
        "settings.error_threshold=N), and invoke again."
    )
    return _Outcome("Failed", headline, {"reason": loop.abort, "resumable": False})


def _finalize(
    store: SqlStore, name: str, runner: str, spec: JobSpec, counters: Counters, outcome: _Outcome | None
) -> JobRecord:
    """Assemble the output in input order, write the reports, and end the job."""
    job = store.get_job(name)
    if job.status != "Finalizing":
        store.set_job_status(name, "Finalizing", runner=runner)
    if outcome is None or outcome.status == "Completed":
        if counters.succeeded_items == 0:
            outcome = _Outcome("Failed", _no_success_headline(name, counters), {"reason": "no item succeeded"})
        else:
            outcome = _Outcome("Completed", "")
    if outcome.status == "Completed" and spec.output_file:
        _assemble(store, name, runner, spec, counters)
    headline = outcome.headline or _success_headline(name, spec, counters)
    finalize_reports(store, name, spec, counters, headline, outcome.error)
    return store.set_job_status(
        name,
        outcome.status,
        runner=runner,
        headline=headline,
        error=outcome.error,
    )


def _assemble(store: SqlStore, name: str, runner: str, spec: JobSpec, counters: Counters) -> None:
    from thresher.scheduler.assembly import assemble

    target = Path(str(spec.output_file))
    parts_dir = spec.job_folder.parts
    job = store.get_job(name)
    if target.exists() and job.progress.get("assembled"):
        return  # assembled by a runner that died just after
    parts = (parts_dir / part for record in store.mini_batches(name) for part in record.parts)
    fmt = spec.settings.get("output_format", "azure")
    assemble(parts, target, format=fmt, columns=counters.columns)
    store.commit_mini_batches(name, runner, [], {**_progress(job, counters), "assembled": True})


def _no_success_headline(name: str, counters: Counters) -> str:
    first = counters.first_failures[0] if counters.first_failures else None
    detail = f" First failure: {first['item']}: {first['error']}." if first else ""
    return (
        f"Job '{name}' failed: no item succeeded ({counters.failed_items:,} failed).{detail} "
        "Full tracebacks: logs/user/error/. Fix the scoring script or the inputs and invoke again."
    )


def _success_headline(name: str, spec: JobSpec, counters: Counters) -> str:
    total = counters.succeeded_items + counters.failed_items
    where = spec.output_file or spec.output_dir
    failed = f", {counters.failed_items:,} failed (within the thresholds)" if counters.failed_items else ""
    return f"Job '{name}' completed: {counters.succeeded_items:,} of {total:,} items succeeded{failed}. Output: {where}"
