"""The scheduling loop of one job, as named steps the runner calls in turn.

``plan_next()`` pulls mini-batches from the (streamed) plan into a bounded queue, ``dispatch()`` hands
pieces to idle workers, ``collect_finished()`` turns executor events and expired deadlines into
finished pieces and retries, and ``take_commits()`` hands finished mini-batches over for a grouped
commit. Policies (``policies.py``) decide what a failure means; the executor only runs things.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from thresher.executors.base import (
    Executor,
    Task,
    TaskDone,
    TaskFailed,
    WorkerInitFailed,
    WorkerLost,
)
from thresher.runtime.entries import displayable, displayable_failure
from thresher.scheduler.policies import FailureKind, MiniBatchState, Piece, RetryPolicy, Thresholds
from thresher.store import MiniBatchRecord

MAX_FIRST_FAILURES = 10


@dataclass
class _InFlight:
    piece: Piece
    tries: int
    worker: str
    deadline: float


@dataclass
class Counters:
    """What the job has done so far (committed or not)."""

    mini_batches: int | None = None  # total, when known
    done: int = 0
    failed: int = 0  # mini-batches with at least one failed item
    succeeded_items: int = 0
    failed_items: int = 0
    rows: int = 0
    columns: list[str] | None = None  # of the rows written, for outputs with a header or schema
    first_failures: list[dict[str, Any]] = field(default_factory=list)

    def as_progress(self) -> dict[str, Any]:
        """The progress document stored on the job row."""
        return {
            "mini_batches": self.mini_batches,
            "mini_batches_done": self.done,
            "mini_batches_failed": self.failed,
            "items_succeeded": self.succeeded_items,
            "items_failed": self.failed_items,
            "rows": self.rows,
            "columns": self.columns,
            "first_failures": self.first_failures,
        }


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
        return text if len(items) == 1 else f"{text} and {len(items) - 1} more slices"
    if len(items) == 1:
        return str(first)
    return f"{len(items)} files from {first} to {items[-1]}"


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
        counters: Counters | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job = job
        self._executor = executor
        self._plan: Iterator[tuple[int, list[Any], dict[str, Any] | None]] = iter(plan)
        self._plan_done = False
        self._retry = retry
        self._thresholds = thresholds
        self._timeout = timeout
        self._queue_bound = max(2 * workers, 4)
        self._part_suffix = part_suffix
        self._clock = clock
        self.counters = counters or Counters()
        self.pending: deque[tuple[Piece, int]] = deque()  # (piece, tries already made)
        self.in_flight: dict[str, _InFlight] = {}
        self.states: dict[int, MiniBatchState] = {}
        self.finished_states: list[MiniBatchState] = []
        self.abort: str | None = None
        self.init_error: dict[str, Any] | None = None
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

    def dispatch(self) -> None:
        """Give queued pieces to idle workers."""
        while self.pending and self.abort is None and self._executor.idle_workers() > 0:
            piece, tries = self.pending.popleft()
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
                items=state.items[piece.start : piece.stop],
                part=f"{piece.mini_batch:09d}-{piece.start:06d}{self._part_suffix}",
                partition=state.partition,
            )
            worker = self._executor.submit(task)
            state.tasks += 1
            self.in_flight[task.id] = _InFlight(piece, tries + 1, worker, self._clock() + self._timeout)

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
                    self._piece_failed(flight, "exception", event.error, event.seconds)
            elif isinstance(event, WorkerLost):
                flight = self.in_flight.pop(event.task, None) if event.task else None
                if flight is not None:
                    error = {"type": "WorkerLost", "message": f"worker {event.worker} {event.reason}"}
                    self._piece_failed(flight, "lost", error, 0.0)
            elif isinstance(event, WorkerInitFailed):
                self.init_error = self.init_error or {**event.error, "worker": event.worker}
        now = self._clock()
        for task_id, flight in list(self.in_flight.items()):
            if flight.deadline <= now:
                del self.in_flight[task_id]
                self._executor.kill(flight.worker, f"was killed: run() exceeded the timeout of {self._timeout:g} s")
                message = f"run() did not return within retry_settings.timeout ({self._timeout:g} s)"
                self._piece_failed(flight, "timeout", {"type": "Timeout", "message": message}, self._timeout)
        if self.init_error is not None and self._executor.live_workers() == 0 and not self.finished:
            self.abort = self.abort or "init() failed on every worker"

    def take_commits(self) -> list[MiniBatchRecord]:
        """Finished mini-batches not yet committed, as records (the caller commits them)."""
        records = [self._record(state) for state in self.finished_states]
        self.finished_states = []
        return records

    # -- outcomes -------------------------------------------------------------------------------

    def _piece_done(self, flight: _InFlight, event: TaskDone) -> None:
        state = self.states[flight.piece.mini_batch]
        state.item_count += event.items
        state.succeeded += event.succeeded
        state.failed += event.items - event.succeeded
        state.seconds += event.seconds
        state.worker = event.worker
        self.counters.rows += event.rows
        if event.columns and self.counters.columns is None:
            self.counters.columns = list(event.columns)
        if event.part is not None:
            state.parts[flight.piece.start] = event.part
        failed = event.items - event.succeeded
        for failure in event.failures:
            entry = {"item": str(failure.get("item")), "mini_batch": state.index, "error": str(failure.get("error"))}
            state.errors.append({**entry, "log": failure["log"]} if failure.get("log") else entry)
        # An entry may stand for several failed items ("count"): a table slice, or run()'s missing results.
        unlisted = failed - sum(int(failure.get("count") or 1) for failure in event.failures)
        if event.failures and unlisted > 0:
            state.errors.append(
                {
                    "item": describe_items(state.items[flight.piece.start : flight.piece.stop]),
                    "mini_batch": state.index,
                    "error": f"{unlisted} more items failed; their errors are in the worker's error log",
                }
            )
        elif not event.failures and failed > 0:
            state.errors.append(
                {
                    "item": describe_items(state.items[flight.piece.start : flight.piece.stop]),
                    "mini_batch": state.index,
                    "error": f"run() returned {event.succeeded} results for {event.items} items; "
                    "each missing result counts as a failed item",
                }
            )
        self._close_piece(state)

    def _piece_failed(self, flight: _InFlight, kind: FailureKind, error: dict[str, Any], seconds: float) -> None:
        piece = flight.piece
        state = self.states[piece.mini_batch]
        state.seconds += seconds
        state.worker = flight.worker
        following = self._retry.after_failure(piece, flight.tries, kind)
        if following == [piece]:
            self.pending.appendleft((piece, flight.tries))
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
            {
                "item": describe_items(items),
                "mini_batch": state.index,
                "error": f"{error.get('type', 'Error')}: {error.get('message', '')}".strip(),
                "attempts": flight.tries,
                "log": error.get("log"),
            }
        )
        self._close_piece(state)

    def _close_piece(self, state: MiniBatchState) -> None:
        state.open_pieces -= 1
        if not state.done:
            return
        del self.states[state.index]
        counters = self.counters
        counters.done += 1
        counters.succeeded_items += state.succeeded
        counters.failed_items += state.failed
        if state.failed:
            counters.failed += 1
            room = MAX_FIRST_FAILURES - len(counters.first_failures)
            # Items keep their exact names in the plan; the database (PostgreSQL refuses lone surrogates) and
            # people get names that are not UTF-8 escaped.
            counters.first_failures.extend(displayable_failure(error) for error in state.errors[: max(room, 0)])
        self.finished_states.append(state)
        reason = self._thresholds.exceeded(counters.failed_items, counters.failed, counters.mini_batches)
        if reason and self.abort is None:
            self.abort = reason

    def _record(self, state: MiniBatchState) -> MiniBatchRecord:
        error = displayable(state.errors[0]["error"]) if state.errors else None
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
    return bool(items) and all(isinstance(item, dict) and item.get("rows") == 0 for item in items)


def _count(items: list[Any]) -> int:
    # Tabular slices count their rows when the plan knows them; files count one each.
    total = 0
    for item in items:
        rows = item.get("rows") if isinstance(item, dict) else None
        total += int(rows) if rows is not None else 1
    return total
