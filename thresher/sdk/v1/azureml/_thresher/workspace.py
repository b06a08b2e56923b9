"""The thresher workspace behind every v1 ``Workspace`` object of a process (``THRESHER_HOME``), and the
notes the shim prints when it maps an Azure notion onto a local one."""

from __future__ import annotations

import sys
from functools import cache

from thresher.errors import ThresherError
from thresher.sdk import Workspace as ThresherWorkspace

_noted: set[str] = set()


@cache
def thresher_workspace() -> ThresherWorkspace:
    """The workspace at ``THRESHER_HOME`` (default ``./.thresher``), opened once per process."""
    return ThresherWorkspace()


def close() -> None:
    """Release the workspace's database connections (the launcher calls it when the script ends)."""
    if thresher_workspace.cache_info().currsize:
        thresher_workspace().close()
        thresher_workspace.cache_clear()


def note(message: str) -> None:
    """Print ``thresher: <message>`` on stderr, once per process."""
    if message not in _noted:
        _noted.add(message)
        print(f"thresher: {message}", file=sys.stderr, flush=True)


def user_error(error: ThresherError) -> Exception:
    """A thresher error as the v1 SDK raises its errors (``UserErrorException``), with the fix."""
    from ..exceptions import UserErrorException

    text = error.message + (f" Fix: {error.fix}" if error.fix else "")
    return UserErrorException(text)
