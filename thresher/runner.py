"""``python -m thresher.runner``: the detached runner process of a workspace (started by ``invoke``),
and ``run_queue``, what ``thresher runner`` runs: one of any number of runners serving the database's queue.

The entry point: it builds the settings from ``THRESHER_*`` variables, opens the workspace, turns
SIGTERM and SIGINT into ``RunnerStopped`` (the job it runs goes back to the queue, with a headline
saying why), and serves the queue until it is idle. Whatever goes wrong, it ends with one line in
``runner.log`` and an exit code, never a traceback for an error thresher knows.
"""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType

from thresher.errors import ThresherError
from thresher.instance import Instance
from thresher.pipelines.driver import PIPELINE, run_pipeline
from thresher.scheduler.launch import runner_id
from thresher.scheduler.service import log, serve, serve_queue
from thresher.scheduler.stop import STOP, RunnerStopped
from thresher.settings import Settings, load_settings

STOPPED_EXIT_CODE = 143  # 128 + SIGTERM, as a process killed by it would report


def _stop_on(signum: int, _frame: FrameType | None) -> None:
    # Once: cleaning up (workers, the job's status) must not be interrupted by a second signal.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    name = signal.Signals(signum).name
    STOP.set(name)  # the jobs' threads stop at their next check; the main thread stops now
    raise RunnerStopped(name)


def main() -> int:
    """Serve the workspace's queue until it is idle (the detached runner); the process's exit code."""

    def detached(instance: Instance, settings: Settings) -> None:
        serve(instance.store, settings, resolve=instance.remote, handlers={PIPELINE: run_pipeline})

    return _serving(load_settings, runner_id(), detached)


def run_queue(settings: Settings, *, name: str | None = None, idle_exit: float | None = None) -> int:
    """Serve the queue of the settings' database beside any number of other runners (``thresher runner``),
    until stopped (SIGTERM, SIGINT: its jobs go back to the queue) or idle for ``idle_exit`` seconds;
    the process's exit code. Call it from the main thread: it installs the signal handlers."""

    def queue(instance: Instance, settings: Settings) -> None:
        log(f"runner {who} serves the queue of {instance.store.url}")
        serve_queue(
            instance.store,
            settings,
            name=name,
            idle_exit=idle_exit,
            resolve=instance.remote,
            handlers={PIPELINE: run_pipeline},
        )
        log(f"runner {who} stops: the queue was empty for {idle_exit:g} s")

    who = name or runner_id()
    return _serving(lambda: settings, who, queue)


def _serving(settings_of: Callable[[], Settings], who: str, work: Callable[[Instance, Settings], None]) -> int:
    """Run ``work`` with the instance, turning how it ended into one log line and an exit code."""
    signal.signal(signal.SIGTERM, _stop_on)
    signal.signal(signal.SIGINT, _stop_on)
    instance: Instance | None = None
    try:
        settings = settings_of()
        instance = Instance(settings)
        work(instance, settings)
    except RunnerStopped as stop:
        log(f"runner {who} stopped ({stop.signal_name}); its jobs, if any, are queued again")
        return STOPPED_EXIT_CODE
    except ThresherError as error:
        log(f"runner {who} stopped: {error.message}" + (f" Fix: {error.fix}" if error.fix else ""))
        return 1
    except Exception:  # a fault in the runner's own loop; the jobs it held are resumable
        log(f"runner {who} stopped on an unexpected error:\n{traceback.format_exc()}")
        return 1
    finally:
        if instance is not None:
            instance.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
