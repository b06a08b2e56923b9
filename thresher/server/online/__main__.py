"""``python -m thresher.server.online``: the serving process of a workspace's online endpoints."""

from __future__ import annotations

import os
import sys
import time
import traceback

from thresher.errors import ThresherError
from thresher.server.online.service import main
from thresher.settings import load_settings


def _log(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", flush=True)


def run() -> int:
    try:
        settings = load_settings()
        _log(f"online endpoints of {settings.workspace_dir}: starting (pid {os.getpid()})")
        _log(f"online endpoints: stopping: {main(settings)}")
        return 0
    except ThresherError as error:
        _log(f"online endpoints stopped: {error.message}" + (f" Fix: {error.fix}" if error.fix else ""))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception:
        _log(f"online endpoints stopped on an unexpected error:\n{traceback.format_exc()}")
        return 1


if __name__ == "__main__":
    sys.exit(run())
