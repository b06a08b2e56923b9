"""The runner was asked to stop (SIGTERM, SIGINT): a flag every thread of the runner looks at.

A signal reaches the main thread only; the runner runs its jobs in threads of their own, so the entry
point's handler sets ``STOP`` before it raises ``RunnerStopped`` in the main thread, and each job's thread
raises ``RunnerStopped`` at its next phase or loop turn (``STOP.check()``), queueing its job again.
"""

from __future__ import annotations

import threading
import time


class RunnerStopped(BaseException):
    """The runner process was asked to stop (SIGTERM, SIGINT): jobs go back to the queue.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopFlag:
    """Set once, when the process is told to stop; never cleared (the process is ending)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name = ""

    def set(self, signal_name: str) -> None:
        """Record the request (the signal's name, for headlines)."""
        self.signal_name = signal_name
        self._event.set()

    def is_set(self) -> bool:
        """Whether the process was told to stop."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise ``RunnerStopped`` if the process was told to stop."""
        if self._event.is_set():
            raise RunnerStopped(self.signal_name)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the request (a signal this process sent itself is handled by the
        main thread a moment later); whether it came."""
        deadline = time.monotonic() + timeout
        while not self._event.is_set() and time.monotonic() < deadline:
            self._event.wait(0.01)
        return self._event.is_set()


STOP = StopFlag()
"""This process's stop request (set by the runner's signal handler)."""
