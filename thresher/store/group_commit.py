"""Group commit: the writes that threads of one process make at the same moment, committed in one transaction.

A commit is the costly part of queueing a job: SQLite syncs its log to disk and serialises writers (a writer
that finds the lock taken sleeps 1, 2, 5, 10... ms before it tries again), and PostgreSQL syncs its log too,
after a round trip each for ``BEGIN`` and ``COMMIT``. ``GroupCommit`` lets the first thread that arrives
lead: it runs every item waiting at that moment in one call (one transaction), hands each waiting thread its
own outcome, and passes the lead to the oldest item that arrived meanwhile. Alone, a thread runs its item at
once, as if there were no group; under load the groups grow by themselves, as each transaction takes in
everything that queued while the one before committed. No thread is started, nothing waits for a timer.

Each item's outcome is its own: ``run`` returns a result or an exception per item (a duplicate is refused
alone); only a failure of the transaction itself fails the whole group, and then nothing of it was written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

GROUP_LIMIT = 128
"""The most items one transaction takes: a bound on how long its lock is held."""


@dataclass(eq=False)
class _Waiter(Generic[Item, Result]):
    item: Item
    woken: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # this thread runs the next group
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Runs the items that threads ``submit`` together: ``run(items)`` gets every item waiting at that moment
    and returns, in order, each one's result or exception.

    Example::

        inserts = GroupCommit(insert_rows)   # insert_rows(rows) -> [record or error, ...] in one transaction
        record = inserts.submit(row)         # from any thread: this row's record, or its error raised
    """

    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Result | Exception]], limit: int = GROUP_LIMIT) -> None:
        self._run = run
        self._limit = limit
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[Item, Result]] = []
        self._leading = False  # a thread is running a group (or has been handed the lead)

    def submit(self, item: Item) -> Result:
        """Run ``item`` with whatever else is waiting; its result, or its exception raised."""
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            self._waiting.append(waiter)
            if not self._leading:
                self._leading = waiter.lead = True
        while not waiter.done:
            if waiter.lead:
                self._lead()
            else:
                waiter.woken.wait()
                waiter.woken.clear()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]  # set with done, unless error is

    def _lead(self) -> None:
        """Run the group waiting now, give each its outcome, and pass the lead on (or put it down)."""
        with self._lock:
            group, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
        try:
            outcomes: Sequence[Result | BaseException] = self._run([waiter.item for waiter in group])
            if len(outcomes) != len(group):
                raise AssertionError(f"{len(outcomes)} outcomes for {len(group)} items")
        except BaseException as error:  # the transaction failed: nothing of the group was written
            outcomes = [error] * len(group)
        for waiter, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                waiter.error = outcome
            else:
                waiter.result = outcome
            waiter.done, waiter.lead = True, False
            waiter.woken.set()
        with self._lock:
            if self._waiting:
                following = self._waiting[0]
                following.lead = True
                following.woken.set()
            else:
                self._leading = False
