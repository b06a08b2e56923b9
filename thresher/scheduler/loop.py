"""The scheduling loop of one job, as named steps the runner calls in turn.

``plan_next()`` pulls mini-batches from the (streamed) plan into a bounded queue, ``dispatch()`` hands
pieces to idle workers, ``collect_finished()`` turns executor events and expired deadlines into
finished pieces and retries, and ``take_commits()`` hands finished mini-batches over for a grouped
commit. Policies (``policies.py``) decide what a failure means; the executor only runs things. When
the job must stop early, ``abort`` says why (an ``Abort``); the runner turns it into the headline.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from thresher.executors.base import (
    Executor,
    Task,
    TaskDone,
    TaskFailed,
    WorkerInitFailed,
    WorkerLost,
)
from thresher.executors.staging import STORAGE_UNAVAILABLE
from thresher.runtime.entries import displayable
from thresher.runtime.protocol import ErrorInfo
from thresher.scheduler.policies import FailureKind, MiniBatchState, Piece, RetryPolicy, Thresholds
from thresher.scheduler.staging import Prefetcher
from thresher.storage.disk import is_disk_full_errno
from thresher.store import FailedItem, JobProgress, MiniBatchRecord


class AbortKind(enum.Enum):
    """Why a job stops before every mini-batch is done."""

    THRESHOLD = "threshold"  # too many failed items or mini-batches
    INIT_FAILED = "init_failed"  # init() (or loading the script) failed on every worker
    DISK_FULL = "disk_full"  # a worker could not write: no retry helps until space is freed
    STORAGE = "storage"  # a worker's datastore stayed unreachable past the outage limit: resumable later


@dataclass(frozen=True)
class Abort:
    """The reason the loop stopped early: its kind, a sentence, and the error behind it (if any)."""

    kind: AbortKind
    reason: str
    error: ErrorInfo | None = None


@dataclass
class _InFlight:
    piece: Piece
    tries: int
    worker: str
    deadline: float


def describe_items(items: list[Any]) -> str:
    """A short, human name for a piece's items: a file, a range of files, or a file's rows."""
    if not items:
        return "no items"
    first = items[0]
    if isinstance(first, dict):
        unit = "rows" if first.get("unit") == "rows" else "bytes"
        if first.get("first_row") is not None and first.get("rows") is not None:
            unit, start, stop = "rows", first["first_row"], first["first_row"] + first["rows"]
        else:
            start, stop = first.get("start"), first.get("stop")
        text = f"{first.get('path')} {unit} {start}-{stop}"
        return displayable(text if len(items) == 1 else f"{text} and {len(items) - 1} more slices")
    if len(items) == 1:
        return displayable(str(first))
    return displayable(f"{len(items)} files from {first} to {items[-1]}")


class JobLoop:
    """One job's scheduling state. Drive it with the step methods until ``finished`` or ``abort``."""

    def __init__(
        self,
        job: str,
        executor: Executor,
        plan: Iterable[tuple[int, list[Any], dict[str, Any] | None]],
        *,
        retry: RetryPolicy,
        thresholds: Thresholds,
        timeout: float,
        workers: int,
        part_suffix: str,
        progress: JobProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
        prefetch: Prefetcher | None = None,
    ) -> None:
        self._job = job
        self._prefetch = prefetch  # a remote input: mini-batches are fetched before they are dispatched
        self._executor = executor
        self._plan: Iterator[tuple[int, list[Any], dict[str, Any] | None]] = iter(plan)
        self._plan_done = False
        self._retry = retry
        self._thresholds = thresholds
        self._timeout = timeout
        self._queue_bound = max(2 * workers, 4)
        self._part_suffix = part_suffix
        self._clock = clock
        self.progress = progress or JobProgress()
        self.pending: deque[tuple[Piece, int]] = deque()  # (piece, tries already used up)
        self.in_flight: dict[str, _InFlight] = {}
        self.states: dict[int, MiniBatchState] = {}
        self.finished_states: list[MiniBatchState] = []
        self.abort: Abort | None = None
        self.init_error: ErrorInfo | None = None
        self._task_serial = 0

    @property
    def finished(self) -> bool:
        """Every mini-batch of the plan has finished (succeeded or failed for good)."""
        return self._plan_done and not self.pending and not self.in_flight and not self.states

    # -- steps ----------------------------------------------------------------------------------

    def plan_next(self) -> None:
        """Bring mini-batches from the plan into the queue, keeping it bounded (backpressure)."""
        while not self._plan_done and len(self.pending) < self._queue_bound:
            try:
                index, items, partition = next(self._plan)
            except StopIteration:
                self._plan_done = True
                return
            state = MiniBatchState(index=index, items=items, partition=partition, open_pieces=1)
            self.states[index] = state
            self.pending.append((self._retry.whole(state), 0))
            if self._prefetch is not None:
                self._prefetch.want(index, items)

    def dispatch(self) -> None:
        """Give queued pieces to idle workers."""
        while self.pending and self.abort is None and self._executor.idle_workers() > 0:
            position, items = self._next_ready()
            if items is None:
                return  # every queued mini-batch is still being fetched
            piece, tries = self.pending[position]
            del self.pending[position]
            state = self.states[piece.mini_batch]
            if _empty_slices(state.items[piece.start : piece.stop]):
                # A table file with no data rows: nothing to score, and many scripts fail on an empty frame.
                self._close_piece(state)
                continue
            self._task_serial += 1
            task = Task(
                id=f"{piece.mini_batch}:{piece.start}-{piece.stop}:{tries + 1}:{self._task_serial}",
                mini_batch=piece.mini_batch,
                start=piece.start,
                stop=piece.stop,
                items=items[piece.start : piece.stop],
                part=f"{piece.mini_batch:09d}-{piece.start:06d}{self._part_suffix}",
                partition=state.partition,
            )
            worker = self._executor.submit(task)
            state.tasks += 1
            self.in_flight[task.id] = _InFlight(piece, tries + 1, worker, self._clock() + self._timeout)

    def _next_ready(self) -> tuple[int, list[Any] | None]:
        """The queue position of the first piece whose items are here, and its mini-batch's (local) items."""
        if self._prefetch is None:
            piece = self.pending[0][0]
            return 0, self.states[piece.mini_batch].items
        for position, (piece, _) in enumerate(self.pending):
            state = self.states[piece.mini_batch]
            local = self._prefetch.ready(state.index, state.items)
            if local is not None:
                return position, local
        return 0, None

    def collect_finished(self, wait: float) -> None:
        """Handle what the workers reported within ``wait`` seconds, and pieces past their deadline."""
        for event in self._executor.poll(wait):
            if isinstance(event, TaskDone):
                flight = self.in_flight.pop(event.task, None)
                if flight is not None:
                    self._piece_done(flight, event)
            elif isinstance(event, TaskFailed):
                flight = self.in_flight.pop(event.task, None)
                if flight is not None:
                    self._task_failed(flight, event)
            elif isinstance(event, WorkerLost):
                flight = self.in_flight.pop(event.task, None) if event.task else None
                if flight is not None:
                    self._worker_lost(flight, event)
            elif isinstance(event, WorkerInitFailed):
                if is_disk_full_errno(event.error.get("errno")):
                    self._stop(Abort(AbortKind.DISK_FULL, "a worker could not start: the disk is full", event.error))
                self.init_error = self.init_error or {**event.error, "worker": event.worker}
        now = self._clock()
        for task_id, flight in list(self.in_flight.items()):
            if flight.deadline <= now:
                del self.in_flight[task_id]
                self._executor.kill(flight.worker, f"was killed: run() exceeded the timeout of {self._timeout:g} s")
                message = f"run() did not return within retry_settings.timeout ({self._timeout:g} s)"
                self._piece_failed(flight, "timeout", {"type": "Timeout", "message": message}, self._timeout)
        if self.init_error is not None and self._executor.live_workers() == 0 and not self.finished:
            self._stop(Abort(AbortKind.INIT_FAILED, "init() failed on every worker", self.init_error))

    def take_commits(self) -> list[MiniBatchRecord]:
        """Finished mini-batches not yet committed, as records (the caller commits them)."""
        records = [self._record(state) for state in self.finished_states]
        self.finished_states = []
        return records

    # -- outcomes -------------------------------------------------------------------------------

    def _stop(self, abort: Abort) -> None:
        if self.abort is None:
            self.abort = abort

    def _task_failed(self, flight: _InFlight, event: TaskFailed) -> None:
        if event.error.get("type") == STORAGE_UNAVAILABLE:
            # The storage's fault, not the item's: stop, leaving the piece for a resume.
            self._stop(Abort(AbortKind.STORAGE, str(event.error.get("message")), event.error))
            return
        if is_disk_full_errno(event.error.get("errno")):
            # Not the item's fault, and no retry helps: stop, leaving the piece for a resume.
            self.states[flight.piece.mini_batch].seconds += event.seconds
            self._stop(Abort(AbortKind.DISK_FULL, "a worker could not write: the disk is full", event.error))
            return
        self._piece_failed(flight, "exception", event.error, event.seconds)

    def _worker_lost(self, flight: _InFlight, event: WorkerLost) -> None:
        deaths, counts = flight.piece.deaths.after(event.slot or event.worker)
        piece = replace(flight.piece, deaths=deaths)
        error: ErrorInfo = {"type": "WorkerLost", "message": f"worker {event.worker} {event.reason}"}
        tries = flight.tries if counts else flight.tries - 1
        self._piece_failed(_InFlight(piece, tries, flight.worker, flight.deadline), "lost", error, 0.0)

    def _piece_done(self, flight: _InFlight, event: TaskDone) -> None:
        state = self.states[flight.piece.mini_batch]
        state.item_count += event.items
        state.succeeded += event.succeeded
        state.failed += event.items - event.succeeded
        state.seconds += event.seconds
        state.worker = event.worker
        self.progress.rows_written += event.rows
        if event.columns and self.progress.columns is None:
            self.progress.columns = list(event.columns)
        if event.part is not None:
            state.parts[flight.piece.start] = event.part
        failed = event.items - event.succeeded
        for failure in event.failures:
            state.errors.append(
                FailedItem(
                    item=displayable(self._shown(state.index, str(failure.get("item")))),
                    mini_batch=state.index,
                    error=displayable(str(failure.get("error"))),
                    log=failure.get("log"),
                )
            )
        # An entry may stand for several failed items ("count"): a table slice, or run()'s missing results.
        unlisted = failed - sum(int(failure.get("count") or 1) for failure in event.failures)
        described = describe_items(state.items[flight.piece.start : flight.piece.stop])
        if event.failures and unlisted > 0:
            message = f"{unlisted} more items failed; their errors are in the worker's error log"
            state.errors.append(FailedItem(item=described, mini_batch=state.index, error=message))
        elif not event.failures and failed > 0:
            message = (
                f"run() returned {event.succeeded} results for {event.items} items; "
                "each missing result counts as a failed item"
            )
            state.errors.append(FailedItem(item=described, mini_batch=state.index, error=message))
        self._close_piece(state)

    def _piece_failed(self, flight: _InFlight, kind: FailureKind, error: ErrorInfo, seconds: float) -> None:
        piece = flight.piece
        state = self.states[piece.mini_batch]
        state.seconds += seconds
        state.worker = flight.worker
        following = self._retry.after_failure(piece, flight.tries, kind)
        if len(following) == 1 and (following[0].start, following[0].stop) == (piece.start, piece.stop):
            self.pending.appendleft((following[0], flight.tries))
            return
        if following:
            state.open_pieces += len(following) - 1
            for part in reversed(following):
                self.pending.appendleft((part, 0))
            return
        items = state.items[piece.start : piece.stop]
        failed = _count(items)
        state.failed += failed
        state.item_count += failed
        state.errors.append(
            FailedItem(
                item=describe_items(items),
                mini_batch=state.index,
                error=displayable(f"{error.get('type', 'Error')}: {error.get('message', '')}".strip()),
                attempts=flight.tries,
                log=error.get("log"),
            )
        )
        self._close_piece(state)

    def _shown(self, index: int, item: str) -> str:
        return item if self._prefetch is None else self._prefetch.shown(index, item)

    def _close_piece(self, state: MiniBatchState) -> None:
        state.open_pieces -= 1
        if not state.done:
            return
        del self.states[state.index]
        if self._prefetch is not None:
            self._prefetch.release(state.index)
        progress = self.progress
        progress.mini_batches_done += 1
        progress.items_succeeded += state.succeeded
        progress.items_failed += state.failed
        if state.failed:
            progress.mini_batches_failed += 1
            progress.note_failures(state.errors)
        self.finished_states.append(state)
        reason = self._thresholds.exceeded(
            progress.items_failed, progress.mini_batches_failed, progress.mini_batches_total
        )
        if reason:
            self._stop(Abort(AbortKind.THRESHOLD, reason))

    def _record(self, state: MiniBatchState) -> MiniBatchRecord:
        error = state.errors[0].error if state.errors else None
        return MiniBatchRecord(
            job=self._job,
            index=state.index,
            status="failed" if state.failed and not state.succeeded else "succeeded",
            items=state.succeeded + state.failed,
            succeeded=state.succeeded,
            failed=state.failed,
            attempts=state.tasks,
            worker=state.worker,
            seconds=round(state.seconds, 4),
            parts=state.ordered_parts(),
            error=error,
        )


def _empty_slices(items: list[Any]) -> bool:
    if not items or not isinstance(items[0], dict):  # file paths: the common case, decided by the first item
        return False
    return all(isinstance(item, dict) and item.get("rows") == 0 for item in items)


def _count(items: list[Any]) -> int:
    # Tabular slices count their rows when the plan knows them; files count one each.
    total = 0
    for item in items:
        rows = item.get("rows") if isinstance(item, dict) else None
        total += int(rows) if rows is not None else 1
    return total
