"""A runner's compute slots: how many workers may run on its machine at once (local: ``max_workers``).

A batch job takes ``instance_count × max_concurrency_per_instance`` of them, a pipeline's command step one
and its parallel step as many as a batch job; a job that does not fit waits (Running, heartbeating).
Warm workers parked after a job hold their slots until a job needs them: then they give them up
(``WarmPools.evict_idle``), except the pool the waiting job's own deployment is about to reuse. Jobs on a
Ray cluster use the cluster's capacity, not these.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from thresher.scheduler.stop import STOP

WAIT_SECONDS = 0.2


def _none(keep: str) -> int:
    return 0


class Slots:
    """Counted slots shared by the threads of one runner.

    ``parked(keep)`` is how many slots parked warm workers hold (less deployment ``keep``'s), and
    ``reclaim(keep)`` ends them; both default to none.
    """

    def __init__(
        self,
        capacity: int,
        *,
        parked: Callable[[str], int] = _none,
        reclaim: Callable[[str], int] = _none,
    ) -> None:
        self.capacity = max(1, capacity)
        self._used = 0
        self._waiting = 0
        self._parked = parked
        self._reclaim = reclaim
        self._condition = threading.Condition()

    @property
    def used(self) -> int:
        """Slots held by running jobs and steps now."""
        with self._condition:
            return self._used

    @property
    def waiting(self) -> int:
        """Requests waiting for slots now (the runner claims no more jobs meanwhile)."""
        with self._condition:
            return self._waiting

    def fit(self, count: int) -> int:
        """What a request of ``count`` gets: never more than the capacity, at least one."""
        return max(1, min(count, self.capacity))

    def try_acquire(self, count: int, *, keep: str = "") -> int:
        """Take ``fit(count)`` slots if they are free now (parked workers give theirs up if that is what it
        takes); how many were taken, 0 for none."""
        wanted = self.fit(count)
        if self._take(wanted, keep):
            return wanted
        with self._condition:
            if self._used + wanted > self.capacity:
                return 0  # running work holds them: parked workers giving theirs up would not help
        self._reclaim(keep)
        return wanted if self._take(wanted, keep) else 0

    def _take(self, wanted: int, keep: str) -> bool:
        with self._condition:
            if self._used + wanted > self.capacity - self._parked(keep):
                return False
            self._used += wanted
            return True

    def acquire(self, count: int, *, keep: str = "", beat: Callable[[], object] | None = None) -> int:
        """Take ``fit(count)`` slots, waiting until they are free; ``beat`` is called every two seconds while
        waiting. Raises ``RunnerStopped`` if the runner is told to stop meanwhile."""
        taken = self.try_acquire(count, keep=keep)
        if taken:
            return taken
        beaten = time.monotonic()
        with self._condition:
            self._waiting += 1
        try:
            while True:
                STOP.check()
                taken = self.try_acquire(count, keep=keep)
                if taken:
                    return taken
                with self._condition:
                    self._condition.wait(WAIT_SECONDS)
                if beat is not None and time.monotonic() - beaten >= 2.0:
                    beat()
                    beaten = time.monotonic()
        finally:
            with self._condition:
                self._waiting -= 1

    def release(self, count: int) -> None:
        """Give back ``count`` slots."""
        with self._condition:
            self._used = max(0, self._used - count)
            self._condition.notify_all()
