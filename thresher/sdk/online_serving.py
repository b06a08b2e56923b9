"""The SDK's side of the process that serves a workspace's online endpoints: its doorbell and its state.

Every change to an online endpoint or deployment rings the doorbell: one byte appended to
``<workspace>/online.wake``, a file the serving process watches (its size or modification time moves)
to read the endpoints again. The serving process writes what it serves, and where, to
``<workspace>/online/state.json``; ``status()`` reads it back.

Example::

    serving = OnlineServing(settings)
    serving.changed()        # after saving an endpoint
    serving.status()         # {} until a serving process has written its state
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thresher.settings import Settings

WAKE_FILE = "online.wake"
STATE_FILE = Path("online") / "state.json"


class OnlineServing:
    """Where the SDK and the serving process of one workspace meet: the doorbell and the state file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def wake_file(self) -> Path:
        """The doorbell: appended to on every change."""
        return self.settings.workspace_dir / WAKE_FILE

    @property
    def state_file(self) -> Path:
        """What the serving process serves, as JSON."""
        return self.settings.workspace_dir / STATE_FILE

    def changed(self) -> None:
        """Tell the serving process that endpoints or deployments changed. Never fails: a process that is
        not running reads everything when it starts."""
        try:
            with open(self.wake_file, "ab") as bell:
                bell.write(b"\n")
        except OSError:
            pass

    def status(self) -> dict[str, Any]:
        """The serving process's state (its ``state.json``), or {} when it has written none (or none readable)."""
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}
