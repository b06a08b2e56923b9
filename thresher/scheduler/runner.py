"""Running one claimed job to its end: plan, dispatch, collect, commit, finalize.

The invariant, enforced here and nowhere else: whatever happens inside a runner, ``run_job`` leaves
the job ``Completed``, ``Failed`` or ``Canceled`` with a headline (and a fix), or ``Queued`` again
with a headline saying why (the runner was told to stop), so that the next runner continues it.
An error in thresher's own code fails the job with the error as its headline and the traceback in
``logs/job_error.txt``; nothing raised inside a job escapes ``run_job`` except the request to stop.
A runner that dies outright (kill -9) leaves the job ``Running``; the next runner claims it as
orphaned and continues.

Everything a runner did is either committed in the database (a finished mini-batch and the parts
holding its rows) or is redone by the next runner; parts are named by mini-batch, piece and claim
(``-a<attempt>``), so redoing one writes a new file and no row can appear twice. Finalizing is
idempotent: the output is assembled to the same bytes every time and published only if its name is
free or already holds those bytes.

A runner holds the job under its claim's fencing token (``job.attempt``): every write to the database
carries it, and is refused once another runner took the job over. A runner that only paused (SIGSTOP, a
long GC, a lost network) and wakes up after that cannot change the job either: its workers' parts have
names of its own claim, which no commit of the new claim refers to; its partial output file is its own;
and it confirms that it still holds the claim before it plans, publishes the output, replaces the
reports or writes the error file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from thresher.environments import envs_dir, job_python
from thresher.errors import JobTakenOverError, StorageUnavailableError, ThresherError
from thresher.executors.base import Executor
from thresher.executors.staging import RemoteStaging
from thresher.runtime.entries import displayable
from thresher.runtime.protocol import WorkerConfig
from thresher.scheduler import planner
from thresher.scheduler.assembly import partial_path, publish, write_partial
from thresher.scheduler.faults import NO_FAULTS, Faults
from thresher.scheduler.jobspec import JobSpec
from thresher.scheduler.loop import Abort, AbortKind, JobLoop
from thresher.scheduler.perf_summary import summarize
from thresher.scheduler.policies import RetryPolicy, Thresholds
from thresher.scheduler.remote_plan import plan_remote
from thresher.scheduler.reports import finalize_reports, progress_line
from thresher.scheduler.slots import Slots
from thresher.scheduler.staging import Prefetcher
from thresher.scheduler.stop import STOP, RunnerStopped
from thresher.scheduler.warm import Lease, WarmPools
from thresher.settings import Settings
from thresher.storage.disk import RESERVE_FILE, DiskFullError, Reserve, disk_full, disk_full_cause
from thresher.storage.remote import RemoteURL
from thresher.storage.remote_files import RemoteFingerprint, download, remote_fingerprint, remove_tree
from thresher.storage.remote_files import publish as publish_remote
from thresher.store import JobProgress, JobRecord, JobStatus, PlanInfo, SqlStore

HEARTBEAT_SECONDS = 2.0
"""How often a running job's runner records that it is alive, at most (see ``heartbeat_seconds``)."""
# Finished mini-batches are committed in groups, every 0.25 s or every 1,024 of them, whichever comes
# first: a runner that dies loses at most that much finished work, which the next runner redoes. Cheap
# mini-batches finish thousands a second, and each transaction (a durable write) costs the runner about
# 1.3 ms on SQLite, as much as a hundred or more rows in it: groups of 64 held the control plane to
# about 15,000 mini-batches/s (bench P7), groups of 1,024 to about 25,000.
COMMIT_EVERY_SECONDS = 0.25
COMMIT_EVERY_BATCHES = 1024
OVERVIEW_EVERY_SECONDS = 10.0

# Turns a remote URI of a job (an input or output in object storage) into an fsspec URL with the
# credentials of its datastore; built above the scheduler (``Instance.remote``), which knows the secrets.
Resolver = Callable[[str], RemoteURL]
ExecutorFactory = Callable[[JobSpec], Executor]  # the executor for a job (its backend and cluster)


def heartbeat_seconds(settings: Settings) -> float:
    """How often a runner beats on its job: every ``HEARTBEAT_SECONDS``, or four times within the staleness
    after which other runners take the job over (``runner_stale_seconds``), whichever is more often."""
    return min(HEARTBEAT_SECONDS, settings.runner_stale_seconds / 4)


@dataclass(frozen=True)
class _Outcome:
    status: JobStatus  # Completed | Failed | Canceled
    headline: str
    error: dict[str, Any] | None = None


def run_job(
    store: SqlStore,
    job: JobRecord,
    runner: str,
    executor_factory: ExecutorFactory,
    *,
    settings: Settings,
    faults: Faults = NO_FAULTS,
    resolve: Resolver | None = None,
    pools: WarmPools | None = None,
    on_stop: Callable[[], None] | None = None,
    slots: Slots | None = None,
) -> JobRecord | None:
    """Run a job this runner has claimed until it ends, or is queued again; the job as it ended.

    With ``pools`` the job runs on warm workers kept from an earlier job where it can, and its own
    are kept for the next one (``thresher.scheduler.warm``); without, on new workers stopped at its end.
    ``on_stop`` is called when the runner was told to stop, before the job goes back to the queue
    (``serve`` marks the runner lock stopping, so that whoever sees the job queued again starts a new
    runner instead of waking this one); it must not raise.

    Never raises, except ``RunnerStopped``/``KeyboardInterrupt`` after the job was put back in the
    queue. Returns None when the job's end could not be recorded (the database cannot be written);
    the job then stays with this runner's name until another runner claims it as orphaned.
    """
    run = _JobRun(store, job, runner, executor_factory, settings, faults, resolve, pools, slots)
    try:
        return run.run()
    except JobTakenOverError as exc:
        _log(f"job {job.name}: {exc}")  # the other runner carries on; nothing of ours may be written
        return None
    except (RunnerStopped, KeyboardInterrupt) as stop:
        if on_stop is not None:
            on_stop()
        run.requeue(stop)
        raise
    except BaseException as exc:
        return run.fail(exc)


class _JobRun:
    """One runner's attempt at one job."""

    def __init__(
        self,
        store: SqlStore,
        job: JobRecord,
        runner: str,
        executor_factory: ExecutorFactory,
        settings: Settings,
        faults: Faults,
        resolve: Resolver | None = None,
        pools: WarmPools | None = None,
        slots: Slots | None = None,
    ) -> None:
        self.store = store
        self._slots = slots
        self._resolve = resolve
        self._pools = pools
        self._kept = False  # the job's workers were released fit for another job (warm compute)
        self.job = job
        self.name = job.name
        self.runner = runner
        self.attempt = job.attempt  # the claim's fencing token, carried by every write for the job
        self.executor_factory = executor_factory
        self.settings = settings
        self.faults = faults
        self.spec: JobSpec | None = None
        self.progress = job.progress
        self.committed: set[int] = set()  # indexes of the committed mini-batches, as last read
        self.phase = "claimed"

    def reached(self, phase: str, path: str | None = None) -> None:
        """Record the phase (for the headline of an unexpected error) and give the fault seam its chance."""
        self.phase = phase
        folder = self.spec.folder if self.spec is not None else "."
        STOP.check()  # the runner was told to stop: the job goes back to the queue from here
        self.faults.reached(phase, attempt=self.job.attempt, path=path or folder)
        STOP.check()

    def beat(self) -> JobRecord:
        """Record that this claim is alive; JobTakenOverError if another claim took the job over."""
        return self.store.heartbeat(self.name, self.runner, attempt=self.attempt)

    def _status(self, status: JobStatus, **change: Any) -> JobRecord:
        """Move the job to ``status`` under this claim (JobTakenOverError once the job was taken over)."""
        return self.store.set_job_status(self.name, status, runner=self.runner, attempt=self.attempt, **change)

    # -- the job, phase by phase ---------------------------------------------------------------

    def run(self) -> JobRecord:
        self.spec = spec = JobSpec.from_dict(dict(self.job.spec))
        self.reached("claimed")
        if self.job.status == "Finalizing":  # the previous runner died while finalizing: finalize again
            self.progress = self._committed_progress(self.job)
            return self._finalize(None)
        # The workers' environment, built first if needed (heartbeating: a first build can take minutes).
        python = job_python(
            self.store,
            envs_dir(self.settings),
            environment=spec.environment,
            files_dir=spec.environment_files_dir,
            record_to=spec.job_folder.logs / "sys" / "environment.txt",
            heartbeat=self.beat,
        )
        self.spec = spec = replace(spec, python=python or spec.python)
        self.reached("environment")
        # Workers import the script and run init() while the input is planned (or are warm already).
        config = spec.worker_config(self.name)
        deployment = "/".join(n for n in (self.job.endpoint_name, self.job.deployment_name) if n)
        held = 0
        if self._slots is not None and spec.backend != "ray":  # waits (heartbeating) until its workers fit
            held = self._slots.acquire(spec.workers, keep=deployment, beat=self.beat)
        try:
            return self._run_on_workers(spec, config, deployment)
        finally:
            if self._slots is not None and held:
                self._slots.release(held)

    def _run_on_workers(self, spec: JobSpec, config: WorkerConfig, deployment: str) -> JobRecord:
        if self._pools is not None:
            lease = self._pools.lease(spec, config, self.name, deployment)
        else:
            lease = Lease(self.executor_factory(spec), config, None)
        executor = lease.executor
        staging = self._remote_staging(spec) if getattr(executor, "stages_remote", False) else None
        if staging is not None:
            executor.use_staging(staging)  # type: ignore[attr-defined]
        try:
            self._note(lease.describe())
            executor.start(lease.config, nodes=spec.nodes, per_node=spec.per_node)
            self.reached("workers_started")
            plan = self._ensure_plan()
            self.reached("planned", str(spec.job_folder.plan))
            self.progress = self._committed_progress(self.store.get_job(self.name))
            self.progress.plan = plan
            outcome = self._dispatch_all(executor, keep=lease.pool is not None)
        finally:
            if not self._kept:
                executor.shutdown(graceful=False)  # a no-op after _dispatch_all's own shutdown
            if self._pools is not None:
                self._pools.done(lease, kept=self._kept)
        self.reached("dispatched")
        if outcome.status == "Canceled":
            self.progress.resources = summarize(spec.job_folder.logs)
            finalize_reports(self.store, self.name, spec, self.progress, outcome.headline, None, confirm=self.beat)
            return self._status("Canceled", headline=outcome.headline, progress=self.progress)
        return self._finalize(outcome)

    def _ensure_plan(self) -> PlanInfo:
        """Plan the input once; a resumed job checks that its inputs did not change since."""
        spec = self._spec
        folder = spec.job_folder
        root = Path(spec.input.path)
        # As recorded now, not at the claim: a runner that paused before planning must not plan again over
        # the plan of the runner that took the job over (its commit would be refused, its plan file not).
        recorded = self.store.get_job(self.name).progress.plan
        if folder.plan.exists() and recorded is not None:
            now = (
                remote_fingerprint(self._remote_input(), outage_limit=self.settings.storage_outage_limit)
                if spec.input.remote
                else planner.plan_fingerprint(root)
            )
            if now != recorded.fingerprint:
                raise ThresherError(
                    f"The input {spec.input.uri} changed since the job planned it (files added, removed or "
                    "modified), so resuming would mix outputs of different inputs.",
                    fix="Invoke a new job on the input as it is now.",
                )
            return recorded
        self.beat()  # still ours: the plan file is written only by the job's current claim
        if spec.input.remote:
            listed = RemoteFingerprint()
            summary = planner.write_plan(self._remote_plan(listed), folder.plan, listed=listed)
        else:
            summary = planner.write_plan(self._plan(), folder.plan, root=root)
        plan = PlanInfo(summary.mini_batches, summary.items, summary.files, summary.bytes, summary.fingerprint)
        progress = self._committed_progress(self.store.get_job(self.name))
        progress.plan = plan
        self.store.commit_mini_batches(self.name, self.runner, [], progress, attempt=self.attempt)
        return plan

    def _plan(self) -> Iterator[planner.MiniBatch]:
        spec = self._spec
        settings = spec.settings
        root = Path(spec.input.path)
        size = planner.parse_mini_batch_size(settings.mini_batch_size, tabular=spec.input.tabular)
        if settings.partition_keys:
            return planner.plan_partitions(
                root,
                settings.partition_keys,
                tabular=spec.input.tabular,
                format=spec.input.format,
                read_options=spec.input.read_options,
            )
        if spec.input.tabular:
            files = planner.iter_input_files(root)
            return planner.plan_tabular(files, size, format=spec.input.format, read_options=spec.input.read_options)
        return planner.plan_files(planner.iter_input_paths(root), size.amount)

    def _remote(self, uri: str) -> RemoteURL:
        if self._resolve is None:
            raise ThresherError(
                f"This runner was started without access to datastores, and job '{self.name}' uses {uri}.",
                fix="Start the runner with thresher's own entry point (python -m thresher.runner).",
            )
        return self._resolve(uri)

    def _remote_input(self) -> RemoteURL:
        return self._remote(self._spec.input.uri)

    def _known_remotes(self) -> list[RemoteURL]:
        """The job's remote input and output, resolved (for scrubbing their secrets out of messages)."""
        spec, found = self.spec, []
        if spec is None or self._resolve is None:
            return []
        for uri in (spec.input.uri if spec.input.remote else None, spec.output_uri):
            if uri:
                with contextlib.suppress(Exception):  # nothing to scrub with: the message stays as it is
                    found.append(self._resolve(uri))
        return found

    def _remote_parts(self, spec: JobSpec) -> RemoteURL | None:
        """Where workers on other machines put their parts: beside a remote output, in a hidden folder."""
        if spec.backend == "local" or not spec.output_uri:
            return None
        return self._remote(spec.output_uri).join(f".thresher/{self.name}/parts")

    def _remote_staging(self, spec: JobSpec) -> RemoteStaging | None:
        """What an executor's workers fetch and upload on their own nodes (None: nothing is remote)."""
        parts = self._remote_parts(spec)
        if not spec.input.remote and parts is None:
            return None
        source = self._remote_input() if spec.input.remote else None
        return RemoteStaging(source, parts, self.settings.storage_outage_limit)

    def _remote_plan(self, listed: RemoteFingerprint) -> Iterator[planner.MiniBatch]:
        spec = self._spec
        settings = spec.settings
        return plan_remote(
            self._remote_input(),
            planner.parse_mini_batch_size(settings.mini_batch_size, tabular=spec.input.tabular),
            tabular=spec.input.tabular,
            listed=listed,
            format=spec.input.format,
            read_options=spec.input.read_options,
            partition_keys=settings.partition_keys or (),
            outage_limit=self.settings.storage_outage_limit,
        )

    def _committed_progress(self, job: JobRecord) -> JobProgress:
        """The job's progress with its counts taken from what is committed (a resume starts from there);
        the committed mini-batches' indexes are kept in ``committed``."""
        progress = replace(job.progress, first_failures=list(job.progress.first_failures))
        progress.mini_batches_done = progress.mini_batches_failed = 0
        progress.items_succeeded = progress.items_failed = 0
        self.committed = set()
        for record in self.store.mini_batches(job.name):
            self.committed.add(record.index)
            progress.mini_batches_done += 1
            progress.items_succeeded += record.succeeded
            progress.items_failed += record.failed
            progress.mini_batches_failed += 1 if record.failed else 0
        return progress

    def _note(self, line: str) -> None:
        """A line in the job's progress overview and the runner's log (how the job's workers came to be)."""
        _log(f"job {self.name}: {line}")
        overview = self._spec.job_folder.progress_overview
        with contextlib.suppress(OSError), overview.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")

    def _dispatch_all(self, executor: Executor, *, keep: bool = False) -> _Outcome:
        """Run every uncommitted mini-batch on the started ``executor``, which this shuts down, or with
        ``keep`` releases for the next job when every mini-batch finished (warm compute)."""
        spec = self._spec
        settings = spec.settings
        committed = self.committed  # read by _committed_progress just before
        prefetch = (
            Prefetcher(
                self._remote_input(),
                spec.job_folder.work / "fetched",
                threads=min(8, 2 * spec.workers),
                outage_limit=self.settings.storage_outage_limit,
            )
            if spec.input.remote and not getattr(executor, "stages_remote", False)
            else None
        )
        plan = (
            (batch.index, batch.items, batch.partition)
            for batch in planner.read_plan(spec.job_folder.plan)
            if batch.index not in committed
        )
        loop = JobLoop(
            self.name,
            executor,
            plan,
            retry=RetryPolicy(settings.retry_settings.max_retries, settings.isolate_failures),
            thresholds=Thresholds(
                settings.error_threshold, settings.allowed_failed_count, settings.allowed_failed_percent
            ),
            timeout=float(settings.retry_settings.timeout),
            workers=spec.workers,
            # A part's name holds the claim: a runner taken over while its workers still write never
            # replaces a part that the new claim wrote and committed.
            part_suffix=f"-a{self.attempt}{spec.output_format.part_suffix}",
            progress=self.progress,
            prefetch=prefetch,
        )
        overview = spec.job_folder.progress_overview
        last_commit = last_beat = last_line = time.monotonic()
        beat_every = heartbeat_seconds(self.settings)
        canceled = False
        try:
            while not loop.finished and loop.abort is None:
                STOP.check()
                loop.plan_next()
                loop.dispatch()
                loop.collect_finished(0.2 if loop.in_flight else 0.05)
                now = time.monotonic()
                due = now - last_commit >= COMMIT_EVERY_SECONDS or len(loop.finished_states) >= COMMIT_EVERY_BATCHES
                if loop.finished_states and due:
                    self._commit(loop)
                    last_commit = now
                if now - last_beat >= beat_every:
                    last_beat = now
                    if self.beat().cancel_requested:
                        canceled = True
                        break
                if now - last_line >= OVERVIEW_EVERY_SECONDS:
                    last_line = now
                    with overview.open("a", encoding="utf-8") as handle:
                        handle.write(progress_line(self.progress) + "\n")
        finally:
            if keep and loop.finished and loop.abort is None and not canceled:
                self._kept = executor.release(timeout=10.0)  # type: ignore[attr-defined]
            if not self._kept:
                executor.shutdown(graceful=loop.finished, timeout=10.0)
            if prefetch is not None:
                prefetch.close()
            self._commit(loop)
        if canceled:
            total = self.progress.mini_batches_total
            return _Outcome(
                "Canceled",
                f"Job '{self.name}' was canceled after {self.progress.mini_batches_done:,} of "
                f"{total if total is not None else '?'} mini-batches. "
                f"Resume with: thresher job resume --name {self.name}",
            )
        if loop.abort is not None and loop.abort.kind is AbortKind.DISK_FULL:
            error = loop.abort.error or {}
            path = error.get("filename") or spec.job_folder.parts.as_posix()
            raise self._disk_error(OSError(errno.ENOSPC, str(error.get("message") or "No space left on device"), path))
        if loop.abort is not None and loop.abort.kind is AbortKind.STORAGE:
            raise StorageUnavailableError(loop.abort.reason, fix="Resume the job once the storage answers again.")
        if loop.abort is not None:
            return self._abort_outcome(loop.abort)
        return _Outcome("Completed", "")

    def _commit(self, loop: JobLoop) -> None:
        """Commit the finished mini-batches (and the progress) in one transaction."""
        records = loop.take_commits()
        self.store.commit_mini_batches(self.name, self.runner, records, self.progress, attempt=self.attempt)
        if records and self.phase != "committed":
            self.reached("committed")

    def _abort_outcome(self, abort: Abort) -> _Outcome:
        name = self.name
        if abort.kind is AbortKind.INIT_FAILED:
            error = abort.error or {}
            headline = (
                f"Job '{name}' failed: init() failed on every worker: {error.get('type')}: {error.get('message')}. "
                f"Traceback: {error.get('log')}. Fix init() or the model, then resume with: "
                f"thresher job resume --name {name}"
            )
            return _Outcome("Failed", headline, {"init": dict(error), "resumable": True})
        first = self.progress.first_failures[0] if self.progress.first_failures else None
        detail = f" First failure: {first.item}: {first.error}." if first else ""
        headline = (
            f"Job '{name}' failed: {abort.reason}.{detail} All failures: logs/user/error/ and logs/job_error.txt. "
            "Fix the failing inputs, or raise the threshold (thresher batch-deployment update ... --set "
            "settings.error_threshold=N), and invoke again."
        )
        return _Outcome("Failed", headline, {"reason": abort.reason, "resumable": False})

    def _finalize(self, outcome: _Outcome | None) -> JobRecord:
        """Assemble the output in input order, write the reports, and end the job (idempotent)."""
        spec, progress = self._spec, self.progress
        if self.store.get_job(self.name).status != "Finalizing":
            self._status("Finalizing")
        self.reached("finalizing")
        if outcome is None or outcome.status == "Completed":
            if progress.items_succeeded == 0:
                outcome = _Outcome("Failed", self._no_success_headline(), {"reason": "no item succeeded"})
            else:
                outcome = _Outcome("Completed", "")
        if outcome.status == "Completed" and spec.output_file:
            target = Path(spec.output_file)
            partial = partial_path(target, f"{self.name}.a{self.attempt}")  # this claim's own file
            names = [part for record in self.store.mini_batches(self.name) for part in record.parts]
            self._fetch_remote_parts(spec, names)
            parts = (spec.job_folder.parts / name for name in names)
            write_partial(parts, partial, format=spec.output_format, columns=progress.columns)
            self.reached("assembled", str(partial))
            try:
                self.beat()  # a runner taken over while it assembled publishes nothing
            except JobTakenOverError:
                partial.unlink(missing_ok=True)
                raise
            publish(partial, target)
            for earlier in target.parent.glob(f".{target.name}.{self.name}.a*.partial"):
                earlier.unlink(missing_ok=True)  # left by an attempt killed while it assembled
            self.reached("published", str(target))
        if outcome.status == "Completed" and spec.output_uri:
            self.beat()
            self._publish_remote(spec)
        if spec.output_uri and self._remote_parts(spec) is not None and outcome.status == "Completed":
            scratch = self._remote(spec.output_uri).join(f".thresher/{self.name}")
            self.beat()
            remove_tree(scratch, outage_limit=self.settings.storage_outage_limit)
        headline = outcome.headline or self._success_headline()
        progress.resources = summarize(spec.job_folder.logs)  # the workers' CPU and memory, for job show
        finalize_reports(self.store, self.name, spec, progress, headline, outcome.error, confirm=self.beat)
        self.reached("reported", str(spec.job_folder.result))
        return self._status(outcome.status, headline=headline, error=outcome.error, progress=progress)

    def _fetch_remote_parts(self, spec: JobSpec, names: list[str]) -> None:
        """Bring the parts that workers on other machines uploaded into the job folder, for assembly."""
        remote = self._remote_parts(spec)
        if remote is None:
            return
        for name in names:
            local = spec.job_folder.parts / name
            if not local.exists():
                download(remote.join(name), local, outage_limit=self.settings.storage_outage_limit)

    def _publish_remote(self, spec: JobSpec) -> None:
        """Upload every file of the job's local output folder to its remote output, each whole, never replacing."""
        assert spec.output_uri is not None
        root = self._remote(spec.output_uri)
        local = Path(spec.output_dir)
        for path in sorted(local.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                target = root.join(path.relative_to(local).as_posix())
                publish_remote(path, target, outage_limit=self.settings.storage_outage_limit)
        self.reached("published", spec.output_uri)

    # -- endings that are not the job's own ------------------------------------------------------

    def fail(self, exc: BaseException) -> JobRecord | None:
        """End the job Failed with ``exc`` as its headline; never raises."""
        headline, fix, error, trace = self._failure(exc)
        # The error may name a file that is not UTF-8: people and the database get it escaped.
        headline, fix = displayable(headline), None if fix is None else displayable(fix)
        for remote in self._known_remotes():  # a storage library may have echoed a key in its message
            headline, trace = remote.scrub(headline), None if trace is None else remote.scrub(trace)
            fix = None if fix is None else remote.scrub(fix)
        if error.get("reason") == "disk_full":  # room to write why: the database row and job_error.txt
            Reserve(self.settings.workspace_dir / RESERVE_FILE).release()
        try:
            self._confirmed_error_file(headline, fix, trace)
            return self._status("Failed", headline=headline, error=error)
        except JobTakenOverError as taken:
            _log(f"job {self.name}: {taken}")
        except BaseException as unrecorded:  # the database cannot be written: say so where we can
            _log(
                f"job {self.name}: failed ({headline}), and that could not be recorded: {unrecorded}. "
                "It stays with this runner's name; the next runner claims it as orphaned."
            )
        return None

    def requeue(self, stop: BaseException) -> None:
        """Put the job back in the queue after the runner was told to stop; never raises."""
        why = stop.signal_name if isinstance(stop, RunnerStopped) else "SIGINT"
        progress = self.progress
        total = progress.mini_batches_total
        headline = (
            f"Runner {self.runner} was stopped ({why}) while running job '{self.name}'; the job is queued again and "
            f"the next runner continues it from its committed mini-batches ({progress.mini_batches_done:,} of "
            f"{total if total is not None else '?'}). Start one with: thresher job resume --name {self.name}"
        )
        try:
            self._status("Queued", headline=headline)
        except BaseException as unrecorded:
            _log(f"job {self.name}: could not be put back in the queue ({unrecorded}); it stays orphaned.")

    def _failure(self, exc: BaseException) -> tuple[str, str | None, dict[str, Any], str | None]:
        """(headline, fix, error document, traceback to keep or None) for an error that ended the job."""
        name = self.name
        full = disk_full_cause(exc)
        if full is not None:
            fix = self._disk_fix()
            return (
                self._disk_headline(self._disk_error(full)),
                fix,
                {"reason": "disk_full", "resumable": True, "fix": fix},
                None,
            )
        if isinstance(exc, StorageUnavailableError):  # the storage's fault, not the job's: resumable
            headline = f"Job '{name}' stopped: {exc.message}"
            fix = (
                "Check that the storage is up and reachable from this machine, then resume: "
                f"thresher job resume --name {name} (committed mini-batches are kept)."
            )
            return headline, fix, {"reason": "storage_unavailable", "resumable": True, "fix": fix}, None
        if isinstance(exc, ThresherError):
            headline = f"Job '{name}' failed: {exc.message}"
            return headline, exc.fix, {"fix": exc.fix, "resumable": False}, None
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        message = str(exc).splitlines()[0] if str(exc) else ""
        headline = (
            f"Job '{name}' failed: thresher itself failed while the job was at phase '{self.phase}': "
            f"{type(exc).__name__}: {message}"
        )
        fix = (
            f"This is a fault in thresher, not in your script or data; the traceback is in "
            f"{self._error_file()}. Committed mini-batches are kept: resume with thresher job resume --name {name}"
        )
        return headline, fix, {"fix": fix, "resumable": True, "phase": self.phase}, trace

    def _disk_error(self, full: BaseException) -> DiskFullError:
        """The DiskFullError for the error in a chain that said the disk is full."""
        if isinstance(full, DiskFullError):
            return full
        folder = self.spec.folder if self.spec is not None else "."
        if isinstance(full, OSError):
            path = os.fsdecode(full.filename) if full.filename is not None else None
            return disk_full(path, full, fallback=folder, fix=self._disk_fix())
        database = _database_path(self.store.url)  # SQLite could not grow the metadata database
        return disk_full(
            database,
            "the metadata database could not be written (database or disk is full)",
            fallback=database,
            fix=self._disk_fix(),
        )

    def _disk_headline(self, full: DiskFullError) -> str:
        done, total = self.progress.mini_batches_done, self.progress.mini_batches_total
        return (
            f"Job '{self.name}' stopped: {full.message}. Its {done:,} of {total if total is not None else '?'} "
            "committed mini-batches are kept."
        )

    def _disk_fix(self) -> str:
        return (
            "Free space on that disk (thresher job prune --older-than 7d --yes removes old jobs' folders and "
            f"rows; thresher job delete --name JOB --yes removes one), then resume with: thresher job resume "
            f"--name {self.name}"
        )

    def _error_file(self) -> str:
        return str(Path(self.spec.folder) / "logs" / "job_error.txt") if self.spec else "the job's logs/job_error.txt"

    def _confirmed_error_file(self, headline: str, fix: str | None, trace: str | None) -> None:
        """``_write_error_file`` if this claim still holds the job (JobTakenOverError otherwise); a database
        that cannot be read or written does not keep the error file from being written."""
        try:
            self.beat()
        except JobTakenOverError:
            raise
        except Exception as unchecked:  # the headline must reach at least the file
            _log(f"job {self.name}: could not confirm its claim before writing the error file: {unchecked}")
        self._write_error_file(headline, fix, trace)

    def _write_error_file(self, headline: str, fix: str | None, trace: str | None) -> None:
        if self.spec is None:
            return
        text = headline + (f"\nFix: {fix}" if fix else "") + (f"\n\nTraceback:\n{trace}" if trace else "") + "\n"
        try:
            Path(self._error_file()).parent.mkdir(parents=True, exist_ok=True)
            Path(self._error_file()).write_text(text, encoding="utf-8")
        except OSError as unwritten:  # a full disk: the headline still reaches the database
            _log(f"job {self.name}: could not write {self._error_file()}: {unwritten}")

    # -- headlines ------------------------------------------------------------------------------

    @property
    def _spec(self) -> JobSpec:
        assert self.spec is not None, "the job spec is read first"
        return self.spec

    def _no_success_headline(self) -> str:
        progress = self.progress
        first = progress.first_failures[0] if progress.first_failures else None
        detail = f" First failure: {first.item}: {first.error}." if first else ""
        return (
            f"Job '{self.name}' failed: no item succeeded ({progress.items_failed:,} failed).{detail} "
            "Full tracebacks: logs/user/error/. Fix the scoring script or the inputs and invoke again."
        )

    def _success_headline(self) -> str:
        progress, spec = self.progress, self._spec
        where = spec.output_file or spec.output_dir
        if spec.output_uri:
            name = spec.settings.output_file_name
            where = f"{spec.output_uri.rstrip('/')}/{name}" if name else spec.output_uri
        failed = f", {progress.items_failed:,} failed (within the thresholds)" if progress.items_failed else ""
        return (
            f"Job '{self.name}' completed: {progress.items_succeeded:,} of {progress.items_done:,} items "
            f"succeeded{failed}. Output: {where}"
        )


def _database_path(url_or_path: str) -> str:
    """The file of a ``sqlite:///...`` URL, or the text as it is."""
    return url_or_path.split("sqlite:///", 1)[1] if url_or_path.startswith("sqlite:///") else url_or_path


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)
