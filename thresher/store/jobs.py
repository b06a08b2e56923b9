"""Jobs in the metadata database: the queue, the status machine and the committed mini-batches.

The database is the queue. A runner claims a job in one write transaction (PostgreSQL: ``FOR UPDATE
SKIP LOCKED``, so several runners never take the same job; SQLite: the write lock serialises
claimers). Every later write by the runner names it and its claim's fencing token (the job's
``attempt``, which each claim increments), and is refused once another claim took the job over, so a
runner that was presumed dead (killed, paused by SIGSTOP or a long GC, cut off from the network) can never
write over its successor's work, not even a runner of the same name that claimed the job again.

On PostgreSQL, queueing a job (``create_job``, or a job put back in the queue) sends a ``NOTIFY`` on
``JOBS_CHANNEL`` in the same transaction, so idle runners that ``LISTEN`` claim it at once instead of at
their next poll; SQLite runners have the doorbell file of their workspace instead.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Insert, Row, Table, delete, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from thresher.errors import (
    AlreadyExistsError,
    ConflictError,
    DuplicateRequestError,
    JobTakenOverError,
    NotFoundError,
    RevisionMovedError,
)
from thresher.store.arguments import check_name, plain_json
from thresher.store.base import BATCH_SCORING, JOBS_LISTED, JobFilter, NewJob, StatusChange
from thresher.store.engine import Database
from thresher.store.group_commit import GroupCommit
from thresher.store.job_records import TERMINAL, TRANSITIONS, JobRecord, JobStatus, MiniBatchRecord
from thresher.store.progress import JobProgress
from thresher.store.records import RowRef, from_row, utc_now
from thresher.store.revisions import Revision, revision_in
from thresher.store.schema import idempotent_requests, job_mini_batches, jobs

if TYPE_CHECKING:
    from typing import Unpack


@dataclass(frozen=True)
class _NewRow:
    """A job to insert (``create_job``'s column values) with the idempotency key of its request."""

    values: dict[str, Any]
    request_key: str | None
    route: str
    expect: tuple[Sequence[RowRef], Revision] | None = None


_ACTIVE: tuple[JobStatus, ...] = ("Running", "Finalizing")

JOBS_CHANNEL = "thresher_jobs"
"""The PostgreSQL channel notified (with the job's name) whenever a job is queued."""


class JobRows(Database):
    """The job methods of ``SqlStore`` (documented in ``MetadataStore``), on the ``jobs`` and
    ``job_mini_batches`` tables."""

    def create_job(self, name: str, **job: Unpack[NewJob]) -> JobRecord:
        check_name("job", "name", name)
        spec = plain_json(job["spec"], f"job {name!r} spec")
        results = job.get("results")
        status = job.get("status", "Queued")
        now = utc_now()
        ended = {"started_at": now, "ended_at": now} if status == "Completed" else {}
        values: dict[str, Any] = {
            "name": name,
            "kind": job.get("kind", BATCH_SCORING),
            "status": status,
            "endpoint_name": job.get("endpoint_name"),
            "deployment_name": job.get("deployment_name"),
            "spec": spec,
            "headline": job.get("headline"),
            "error": None,
            "runner": None,
            "attempt": 0,
            "cancel_requested": False,
            "created_at": now,
            "started_at": ended.get("started_at"),
            "ended_at": ended.get("ended_at"),
            "heartbeat_at": None,
            "parent": job.get("parent"),
            "cache_key": job.get("cache_key"),
            "results": None if results is None else plain_json(results, f"job {name!r} results"),
        }
        row = _NewRow(values, job.get("request_key"), job.get("request_route", "create job"), job.get("expect"))
        return self._job_inserts.submit(row)

    @functools.cached_property
    def _job_inserts(self) -> GroupCommit[_NewRow, JobRecord]:
        """Jobs queued by this process's threads at the same moment, inserted in one transaction."""
        return GroupCommit(self._insert_jobs)

    def _insert_jobs(self, rows: Sequence[_NewRow]) -> list[JobRecord | Exception]:
        """Insert each job with its idempotency key in one transaction; a duplicate is refused alone."""
        revisions: dict[tuple[RowRef, ...], Revision] = {}  # read once per group: its jobs share their rows
        with self._write() as connection:
            return [self._insert_job(connection, row, revisions) for row in rows]

    def _insert_job(
        self, connection: Connection, row: _NewRow, revisions: dict[tuple[RowRef, ...], Revision]
    ) -> JobRecord | Exception:
        values, key = row.values, row.request_key
        now, name = values["created_at"], values["name"]
        if row.expect is not None:
            refs, expected = tuple(row.expect[0]), row.expect[1]
            if refs not in revisions:
                revisions[refs] = revision_in(connection, refs)
            if revisions[refs] != expected:
                return RevisionMovedError(name)
        if key is not None:  # first: a second delivery is refused here, before its job is inserted
            entry = {"key": key, "route": row.route, "status_code": 201, "body": {"job": name}, "created_at": now}
            if not self._insert_new(connection, idempotent_requests, entry):
                earlier = connection.execute(select(idempotent_requests).where(idempotent_requests.c.key == key))
                body = next(iter(earlier), None)
                job_name = body.body.get("job") if body is not None and isinstance(body.body, dict) else None
                return DuplicateRequestError(key, job_name)
        if not self._insert_new(connection, jobs, {"progress": JobProgress().to_json(), **values}):
            if key is not None:
                connection.execute(delete(idempotent_requests).where(idempotent_requests.c.key == key))
            return AlreadyExistsError(
                f"A job named '{name}' already exists.",
                fix="Leave --job-name out to get a fresh name, or choose another one.",
            )
        if values["status"] == "Queued":
            self._notify_queued(connection, name)
        # The record of what was inserted, without reading it back (invocations are the server's hot path);
        # its spec and results are the private copies made by create_job.
        return JobRecord(progress=JobProgress(), **values)

    def _insert_new(self, connection: Connection, table: Table, values: dict[str, Any]) -> bool:
        """Insert a row unless one with its primary key exists (then nothing, and False): a refused duplicate
        that leaves the transaction usable for the rest of its group."""
        return connection.execute(_insert_new(self._url.get_backend_name(), table), values).first() is not None

    def get_job(self, name: str) -> JobRecord:
        with self._read() as connection:
            row = connection.execute(select(jobs).where(jobs.c.name == name)).first()
            if row is None:
                recent = connection.execute(select(jobs.c.name).order_by(jobs.c.created_at.desc()).limit(5))
                names = list(recent.scalars())
                listed = ", ".join(names) if names else "none yet"
                raise NotFoundError(
                    f"Job '{name}' does not exist. Most recent jobs: {listed}.",
                    fix="List jobs with: thresher job list",
                )
        return _job(row)

    def list_jobs(self, **where: Unpack[JobFilter]) -> list[JobRecord]:
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.name.desc())
        endpoint_name, deployment_name = where.get("endpoint_name"), where.get("deployment_name")
        if endpoint_name is not None:
            query = query.where(jobs.c.endpoint_name == endpoint_name)
        if deployment_name is not None:
            query = query.where(jobs.c.deployment_name == deployment_name)
        statuses = where.get("statuses", ())
        parent, cache_key = where.get("parent"), where.get("cache_key")
        if statuses:
            # Looking up steps by cache key or pipeline, the status index must not be the one used: it would
            # walk every job of that status (all Completed ones) for the few of one key (|| '' hides it).
            status = jobs.c.status.concat("") if parent is not None or cache_key is not None else jobs.c.status
            query = query.where(status.in_(list(statuses)))
        if parent is not None:  # a pipeline's steps, in the order they were created
            query = query.where(jobs.c.parent == parent).order_by(None).order_by(jobs.c.created_at, jobs.c.name)
        if where.get("top_level"):
            query = query.where(jobs.c.parent.is_(None))
        if cache_key is not None:
            query = query.where(jobs.c.cache_key == cache_key)
        if where.get("kind") is not None:
            query = query.where(jobs.c.kind == where.get("kind"))
        limit = where.get("limit", JOBS_LISTED)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as connection:
            return [_job(row) for row in connection.execute(query)]

    def active_runners(self, *, top_level: bool = False) -> list[str]:
        query = select(jobs.c.runner).where(jobs.c.status.in_(list(_ACTIVE)), jobs.c.runner.is_not(None)).distinct()
        if top_level:
            query = query.where(jobs.c.parent.is_(None))
        with self._read() as connection:
            return [str(runner) for runner in connection.execute(query).scalars()]

    def claim_job(
        self, runner: str, *, stale_before: datetime, dead_runners: Collection[str] = (), name: str | None = None
    ) -> JobRecord | None:
        orphaned = jobs.c.status.in_(list(_ACTIVE)) & or_(
            jobs.c.heartbeat_at.is_(None),
            jobs.c.heartbeat_at < stale_before,
            jobs.c.runner.in_(list(dead_runners)) if dead_runners else jobs.c.runner.is_(None),
        )
        query = select(jobs).where(or_(jobs.c.status == "Queued", orphaned)).order_by(jobs.c.created_at).limit(1)
        # A step job is run by the runner of its pipeline job, which claims it by name.
        query = query.where(jobs.c.name == name) if name is not None else query.where(jobs.c.parent.is_(None))
        if self._url.get_backend_name() == "postgresql":  # SQLite: the write lock serialises claimers
            query = query.with_for_update(skip_locked=True)
        now = utc_now()
        with self._write() as connection:
            row = connection.execute(query).first()
            if row is None:
                return None
            values: dict[str, Any] = {"runner": runner, "heartbeat_at": now, "attempt": row.attempt + 1}
            if row.status == "Queued":
                values["status"] = "Running"
                values["started_at"] = row.started_at or now
            connection.execute(update(jobs).where(jobs.c.name == row.name).values(**values))
        return self.get_job(row.name)

    def heartbeat(self, name: str, runner: str, *, attempt: int | None = None) -> JobRecord:
        with self._write() as connection:
            result = connection.execute(
                update(jobs).where(*_held(name, runner, attempt)).values(heartbeat_at=utc_now())
            )
            if result.rowcount == 0:
                raise _lost(name, runner, attempt)
        return self.get_job(name)

    def job_listener(self) -> JobListener | None:
        """A listener that wakes when a job is queued (PostgreSQL), or None (SQLite: no notifications)."""
        if self._url.get_backend_name() != "postgresql":
            return None
        raw = self._engine.raw_connection()
        connection = raw.driver_connection
        raw.detach()  # the listener's own connection for as long as it listens, never back in the pool
        return JobListener(connection)

    def _notify_queued(self, connection: Connection, name: str) -> None:
        """Tell the runners listening on PostgreSQL that ``name`` is queued (delivered when the transaction
        commits, never if it rolls back)."""
        if self._url.get_backend_name() == "postgresql":
            connection.execute(text("SELECT pg_notify(:channel, :name)"), {"channel": JOBS_CHANNEL, "name": name})

    def set_job_status(self, name: str, status: JobStatus, **change: Unpack[StatusChange]) -> JobRecord:
        runner, attempt, headline = change.get("runner"), change.get("attempt"), change.get("headline")
        given_error, given_progress = change.get("error"), change.get("progress")
        given_results = change.get("results")
        error = None if given_error is None else plain_json(given_error, f"job {name!r} error")
        progress = None if given_progress is None else _progress_json(name, given_progress)
        now = utc_now()
        with self._write() as connection:
            current = connection.execute(select(jobs).where(jobs.c.name == name)).first()
            if current is None:
                raise NotFoundError(f"Job '{name}' does not exist.", fix="List jobs with: thresher job list")
            stale = attempt is not None and current.attempt != attempt
            if runner is not None and (current.runner != runner or stale):
                raise _lost(name, runner, attempt)
            if status != current.status and status not in TRANSITIONS[cast(JobStatus, current.status)]:
                raise ConflictError(
                    f"Job '{name}' is {current.status}; it cannot become {status}.",
                    fix="See its state with: thresher job show -n " + name,
                )
            values: dict[str, Any] = {"status": status}
            if headline is not None:
                values["headline"] = headline
            if error is not None:
                values["error"] = error
            if progress is not None:
                values["progress"] = progress
            new_spec = change.get("spec")
            if new_spec is not None:
                values["spec"] = plain_json(new_spec, f"job {name!r} spec")
            if given_results is not None:
                values["results"] = plain_json(given_results, f"job {name!r} results")
            if status in TERMINAL:
                values["ended_at"] = now
            if status == "Queued":  # back in the queue: a fresh start for the next runner
                values.update(runner=None, heartbeat_at=None, ended_at=None, cancel_requested=False)
                values.setdefault("headline", None)  # the reason it was queued again, when one is given
                values["error"] = error
            guard = _held(name, runner, attempt) if runner is not None else (jobs.c.name == name,)
            if connection.execute(update(jobs).where(*guard).values(**values)).rowcount == 0:
                raise _lost(name, runner or "", attempt)  # taken over between the read and the write
            if status == "Queued":
                self._notify_queued(connection, name)
        return self.get_job(name)

    def request_cancel(self, name: str) -> JobRecord:
        job = self.get_job(name)
        if job.status in TERMINAL:
            raise ConflictError(f"Job '{name}' is already {job.status}.", fix="Nothing to cancel.")
        if job.status == "Queued":
            return self.set_job_status(name, "Canceled", headline="Canceled before it started.")
        with self._write() as connection:
            connection.execute(update(jobs).where(jobs.c.name == name).values(cancel_requested=True))
        return self.get_job(name)

    def commit_mini_batches(
        self,
        name: str,
        runner: str,
        results: Sequence[MiniBatchRecord],
        progress: JobProgress,
        *,
        attempt: int | None = None,
    ) -> None:
        with self._write() as connection:
            # The job's row is written (and so locked) first: a takeover waits for this commit, or this
            # commit finds the job taken over and writes nothing.
            owned = connection.execute(
                update(jobs)
                .where(*_held(name, runner, attempt))
                .values(progress=_progress_json(name, progress), heartbeat_at=utc_now())
            )
            if owned.rowcount == 0:
                raise _lost(name, runner, attempt)
            if not results:
                return
            latest = {result.index: result for result in results}  # one row per index, the last given
            connection.execute(
                self._upsert_mini_batches(),
                [
                    {
                        "job": name,
                        "idx": r.index,
                        "status": r.status,
                        "items": r.items,
                        "succeeded": r.succeeded,
                        "failed": r.failed,
                        "attempts": r.attempts,
                        "worker": r.worker,
                        "seconds": r.seconds,
                        "parts": list(r.parts),
                        "error": r.error,
                    }
                    for r in latest.values()
                ],
            )

    def _upsert_mini_batches(self) -> Insert:
        """``INSERT ... ON CONFLICT (job, idx) DO UPDATE``: idempotent, a mini-batch committed twice (a
        duplicated delivery) keeps one row, the latest.

        An upsert, not a DELETE of the indexes then an INSERT: on PostgreSQL that DELETE grew slower as the
        table grew (42 ms per group of 64 on average over a job of 100,000 mini-batches, bench P7), and it
        was a second statement per commit on both databases.
        """
        key = [job_mini_batches.c.job, job_mini_batches.c.idx]
        columns = [column.name for column in job_mini_batches.columns if column.name not in ("job", "idx")]
        # The dialect's module here, not at the top: the engine loads the one in use, and importing
        # PostgreSQL's (with its drivers' modules) would cost every command on SQLite 30 ms or more.
        if self._url.get_backend_name() == "postgresql":
            from sqlalchemy.dialects import postgresql

            on_postgres = postgresql.insert(job_mini_batches)
            return on_postgres.on_conflict_do_update(
                index_elements=key, set_={column: on_postgres.excluded[column] for column in columns}
            )
        from sqlalchemy.dialects import sqlite

        on_sqlite = sqlite.insert(job_mini_batches)
        return on_sqlite.on_conflict_do_update(
            index_elements=key, set_={column: on_sqlite.excluded[column] for column in columns}
        )

    def delete_job(self, name: str, *, orphaned_runner: str | None = None) -> None:
        with self._write() as connection:
            current = connection.execute(select(jobs.c.status, jobs.c.runner).where(jobs.c.name == name)).first()
            if current is None:
                raise NotFoundError(f"Job '{name}' does not exist.", fix="List jobs with: thresher job list")
            orphaned = current.status in _ACTIVE and orphaned_runner is not None and current.runner == orphaned_runner
            if current.status not in TERMINAL and not orphaned:
                raise ConflictError(
                    f"Job '{name}' is {current.status}; only a job that ended (or whose runner is gone) can be "
                    "deleted, never one that runs or waits to run.",
                    fix=f"Cancel it first (thresher job cancel --name {name}), then delete it.",
                )
            connection.execute(delete(job_mini_batches).where(job_mini_batches.c.job == name))
            connection.execute(delete(jobs).where(jobs.c.name == name))

    def mini_batches(self, name: str) -> list[MiniBatchRecord]:
        query = select(job_mini_batches).where(job_mini_batches.c.job == name).order_by(job_mini_batches.c.idx)
        with self._read() as connection:
            return [_mini_batch(row) for row in connection.execute(query)]


class JobListener:
    """A dedicated PostgreSQL connection that ``LISTEN``s on ``JOBS_CHANNEL``: an idle runner waits on it
    and claims as soon as a job is queued (a notification), instead of at its next poll.

    It stands in for the doorbell file of SQLite runners (``wait``/``answer``). A broken connection (the
    server restarted) is not an error: the listener then waits out each timeout, and the runner's regular
    poll still finds every job.
    """

    def __init__(self, connection: Any) -> None:
        self._connection: Any = connection  # a psycopg 3 connection
        try:
            connection.rollback()  # out of any transaction the pool's checks began, to listen outside one
            connection.autocommit = True
            connection.execute(f"LISTEN {JOBS_CHANNEL}")
        except Exception:
            self.close()
            raise

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True as soon as a job was queued (every pending notification is
        taken)."""
        if self._connection is None:
            time.sleep(timeout)
            return False
        try:
            woke = any(True for _ in self._connection.notifies(timeout=timeout, stop_after=1))
        except Exception:  # the connection broke: fall back to polling
            self.close()
            return False
        return self.answer() or woke

    def answer(self) -> bool:
        """Whether a job was queued since the last ``wait`` or ``answer``, taking the notifications."""
        if self._connection is None:
            return False
        try:
            return any(True for _ in self._connection.notifies(timeout=0))
        except Exception:
            self.close()
            return False

    def close(self) -> None:
        """Close the connection; ``wait`` then only waits."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()


def _held(name: str, runner: str, attempt: int | None) -> tuple[Any, ...]:
    """The conditions under which ``runner`` still holds its claim (``attempt``, when given) on the job."""
    held = (jobs.c.name == name, jobs.c.runner == runner)
    return held if attempt is None else (*held, jobs.c.attempt == attempt)


def _lost(name: str, runner: str, attempt: int | None = None) -> JobTakenOverError:
    claim = f"{runner} (attempt {attempt})" if attempt is not None else runner
    return JobTakenOverError(
        f"Job '{name}' is no longer run by {claim}: another runner took it over.",
        fix="Nothing to do: the other runner carries on from the committed mini-batches.",
    )


def _progress_json(name: str, progress: JobProgress) -> dict[str, Any]:
    return plain_json(progress.to_json(), f"job {name!r} progress")


@functools.cache
def _insert_new(backend: str, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING 1`` into ``table`` (a row back: inserted), its values given
    when run; built once per table. (psycopg counts no rows for it: RETURNING says what happened.)"""
    insert_new = postgresql_insert if backend == "postgresql" else sqlite_insert
    return insert_new(table).on_conflict_do_nothing().returning(literal_column("1"))


def _job(row: Row[Any]) -> JobRecord:
    progress = JobProgress.from_json(row.progress)
    return from_row(JobRecord, row, progress=progress, cancel_requested=bool(row.cancel_requested))


def _mini_batch(row: Row[Any]) -> MiniBatchRecord:
    return from_row(MiniBatchRecord, row, index=row.idx, parts=list(row.parts))
