"""``python -m thresher.runner``: the detached runner process of a workspace (started by ``invoke``).

The entry point: it builds the settings from ``THRESHER_*`` variables, opens the workspace, turns
SIGTERM and SIGINT into ``RunnerStopped`` (the job it runs goes back to the queue, with a headline
saying why), and serves the queue until it is idle. Whatever goes wrong, it ends with one line in
``runner.log`` and an exit code, never a traceback for an error thresher knows.
"""

from __future__ import annotations

import signal
import sys
import traceback
from types import FrameType

from thresher.errors import ThresherError
from thresher.instance import Instance
from thresher.pipelines.driver import PIPELINE, run_pipeline
from thresher.scheduler.launch import runner_id
from thresher.scheduler.service import log, serve
from thresher.scheduler.stop import STOP, RunnerStopped
from thresher.settings import load_settings

STOPPED_EXIT_CODE = 143  # 128 + SIGTERM, as a process killed by it would report


def _stop_on(signum: int, _frame: FrameType | None) -> None:
    # Once: cleaning up (workers, the job's status) must not be interrupted by a second signal.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    name = signal.Signals(signum).name
    STOP.set(name)  # the jobs' threads stop at their next check; the main thread stops now
    raise RunnerStopped(name)


def main() -> int:
    """Serve the workspace's queue; the process's exit code."""
    signal.signal(signal.SIGTERM, _stop_on)
    signal.signal(signal.SIGINT, _stop_on)
    instance: Instance | None = None
    try:
        settings = load_settings()
        instance = Instance(settings)
        serve(instance.store, settings, resolve=instance.remote, handlers={PIPELINE: run_pipeline})
    except RunnerStopped as stop:
        log(f"runner {runner_id()} stopped ({stop.signal_name}); its job, if any, is queued again")
        return STOPPED_EXIT_CODE
    except ThresherError as error:
        log(f"runner {runner_id()} stopped: {error.message}" + (f" Fix: {error.fix}" if error.fix else ""))
        return 1
    except Exception:  # a fault in the runner's own loop; the jobs it held are resumable
        log(f"runner {runner_id()} stopped on an unexpected error:\n{traceback.format_exc()}")
        return 1
    finally:
        if instance is not None:
            instance.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
