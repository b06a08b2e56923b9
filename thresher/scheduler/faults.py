"""A declared test seam: making a runner fail at a named phase of a job, to prove that every phase
ends the job well (terminal with a headline, or resumable and saying so).

``THRESHER_FAULT_INJECTION`` (``Settings.fault_injection``) holds ``phase=action`` pairs separated by
commas; the entry point parses it into ``Faults`` and passes it down to the runner, which calls
``reached(phase)`` at each phase. Actions:

    raise      an unexpected RuntimeError, as a bug in thresher would raise
    kill       SIGKILL of the runner process (a crash, a reboot)
    stop       SIGTERM of the runner process (a service manager stopping it)
    diskfull   an OSError "No space left on device" naming the phase's path
    pause      SIGSTOP of the runner process (paused, as by a debugger, a long GC or a frozen VM),
               until someone sends it SIGCONT

A fault fires on a job's first attempt only, so that resuming the job runs clean. Unset (the
default), ``reached`` does nothing.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field

from thresher.errors import SettingsError
from thresher.scheduler.stop import STOP

PHASES = (
    "claimed",  # the runner owns the job
    "environment",  # the workers' environment is built (or found)
    "workers_started",  # worker processes are starting
    "planned",  # the plan is persisted
    "committed",  # the first group of mini-batches is committed
    "dispatched",  # every mini-batch has finished; workers are shut down
    "finalizing",  # the job is Finalizing
    "assembled",  # the output is written beside its final name
    "published",  # the output has its final name
    "reported",  # the end-of-job reports are written; the final status is next
)
ACTIONS = ("raise", "kill", "stop", "diskfull", "pause")


@dataclass(frozen=True)
class Faults:
    """Which phase fails how (see the module docstring)."""

    plan: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> Faults:
        """``"planned=raise,published=kill"`` -> Faults; SettingsError naming a bad phase or action."""
        plan: dict[str, str] = {}
        for pair in filter(None, (part.strip() for part in (text or "").split(","))):
            phase, _, action = pair.partition("=")
            if phase not in PHASES or action not in ACTIONS:
                raise SettingsError(
                    f"THRESHER_FAULT_INJECTION has {pair!r}; each entry must be phase=action with a phase of "
                    f"{', '.join(PHASES)} and an action of {', '.join(ACTIONS)}.",
                    fix="Correct it, or unset THRESHER_FAULT_INJECTION (it is a test seam).",
                )
            plan[phase] = action
        return cls(plan)

    def reached(self, phase: str, *, attempt: int, path: str) -> None:
        """Fail here if the plan says so for this phase (first attempts only); ``path`` names the phase's file."""
        action = self.plan.get(phase)
        if action is None or attempt != 1:
            return
        if action == "raise":
            raise RuntimeError(f"fault injected at phase {phase!r} (THRESHER_FAULT_INJECTION)")
        if action == "diskfull":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        if action == "pause":
            os.kill(os.getpid(), signal.SIGSTOP)  # returns once continued (SIGCONT)
            return
        os.kill(os.getpid(), signal.SIGKILL if action == "kill" else signal.SIGTERM)
        STOP.wait(5.0)  # the main thread handles the signal a moment later; the job stops at its next check


NO_FAULTS = Faults()
