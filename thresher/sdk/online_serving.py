"""The online serving process seen from outside: is it running, start it, ring it, read what it serves.

The workspace's online endpoints are served by one process (``python -m thresher.server.online``)
that holds ``online.lock``. A client that changed an endpoint or a deployment appends a byte to
``online.wake``; the process reads the database again at once. The process writes what it serves
(its port, each deployment's state and error, the mirror's diff) to ``online/state.json``, which
``show`` reads and ``wait_for`` polls. This module imports none of the serving code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from thresher.settings import Settings

SERVING_MODULE = "thresher.server.online"
LOCK_FILE = "online.lock"
WAKE_FILE = "online.wake"
STATE_FOLDER = "online"
STATE_FILE = "state.json"
LOG_FILE = "online.log"
STARTING_FILE = "online.starting"  # the pid of the serving process a client started last


def revision(spec: dict[str, Any]) -> str:
    """A deployment's revision: it changes whenever its stored spec does (``wait_for`` waits for one)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def endpoint_revision(spec: dict[str, Any], keys_version: int) -> str:
    """An endpoint's revision: it changes with its spec (traffic, mirror, auth mode) and its keys."""
    return revision({"spec": spec, "keys_version": keys_version})


def wait_for_endpoint(settings: Settings, endpoint: str, wanted: str, timeout: float) -> bool:
    """Wait until the serving process serves the endpoint at revision ``wanted`` (its traffic, mirror and keys
    as stored now); False when it did not within ``timeout`` (no serving process, or a slow one)."""
    deadline = time.monotonic() + timeout
    while True:
        entry = (live_state(settings).get("endpoints") or {}).get(endpoint) or {}
        if entry.get("revision") == wanted:
            return True
        if time.monotonic() >= deadline or serving_pid(settings) is None:
            return False
        time.sleep(0.02)


def state_dir(settings: Settings) -> Path:
    """``online/`` in the workspace: state.json, access.log, the workers' logs."""
    return settings.workspace_dir / STATE_FOLDER


def lock_path(settings: Settings) -> Path:
    return settings.workspace_dir / LOCK_FILE


def wake_path(settings: Settings) -> Path:
    return settings.workspace_dir / WAKE_FILE


def read_state(settings: Settings) -> dict[str, Any]:
    """What the serving process last wrote ({} when it never ran)."""
    try:
        return dict(json.loads((state_dir(settings) / STATE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def live_state(settings: Settings) -> dict[str, Any]:
    """What the serving process running now wrote ({} when none runs, or it has not written yet: a state left
    by a process that was killed says nothing of the one that replaced it)."""
    state = read_state(settings)
    pid = serving_pid(settings)
    if pid is None or state.get("pid") != pid or not state.get("serving"):
        return {}
    return state


def write_state(settings: Settings, document: dict[str, Any]) -> None:
    """Replace state.json atomically (readers never see half of it)."""
    folder = state_dir(settings)
    temporary = folder / f".{STATE_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(document, default=str), encoding="utf-8")
    os.replace(temporary, folder / STATE_FILE)


def last_port(settings: Settings) -> int:
    """The port the serving process had last time (0: none)."""
    return int(read_state(settings).get("port") or 0)


def serving_pid(settings: Settings) -> int | None:
    """The pid of the process serving this workspace's endpoints now, or None."""
    path = lock_path(settings)
    if not path.exists():
        return None
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _starting_pid(settings: Settings) -> int | None:
    """The serving process started last by a client, while it is alive (it may not hold the lock yet:
    its imports take a moment, and a second client must not start another meanwhile)."""
    try:
        text = (settings.workspace_dir / STARTING_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
        with open(f"/proc/{pid}/stat", "rb") as handle:
            zombie = handle.read().split(b") ", 1)[1][:1] == b"Z"
    except (OSError, IndexError):
        return None
    return pid if SERVING_MODULE.encode() in command and not zombie else None


def ensure_serving(settings: Settings) -> None:
    """Start the serving process unless one runs (or is starting), and ring it so it reads the database now."""
    ring(settings)
    if serving_pid(settings) is not None or _starting_pid(settings) is not None:
        return
    settings.workspace_dir.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ)
    environment["THRESHER_HOME"] = str(settings.workspace_dir)
    if settings.database_url:
        environment["THRESHER_DATABASE_URL"] = settings.database_url
    for name in ("THRESHER_SERVER", "THRESHER_TOKEN"):
        environment.pop(name, None)
    with (settings.workspace_dir / LOG_FILE).open("a", encoding="utf-8") as log:
        started = subprocess.Popen(
            [sys.executable, "-m", SERVING_MODULE],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment,
            close_fds=True,
        )
    with contextlib.suppress(OSError):
        (settings.workspace_dir / STARTING_FILE).write_text(str(started.pid), encoding="ascii")


def ring(settings: Settings) -> None:
    """Tell the serving process that endpoints or deployments changed."""
    with contextlib.suppress(OSError), wake_path(settings).open("ab") as bell:
        bell.write(b"\n")


def scoring_base(settings: Settings) -> str | None:
    """``http://host:port`` of the serving process (None when it has never run)."""
    state = read_state(settings)
    if not state.get("port"):
        return None
    host = str(state.get("host") or settings.online_host)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{state['port']}"


def wait_for(settings: Settings, key: str, revision: str | None, timeout: float) -> dict[str, Any]:
    """Wait until the deployment ``endpoint/deployment`` serves ``revision`` (or any, when None) or failed
    starting it; its state entry (``{}`` if the wait ran out first)."""
    deadline = time.monotonic() + timeout
    while True:
        entry = dict((live_state(settings).get("deployments") or {}).get(key) or {})
        done = entry.get("state") in ("Succeeded", "Failed") and not entry.get("wanted")
        if entry and done and (revision is None or entry.get("revision") == revision or entry.get("state") == "Failed"):
            return entry
        if time.monotonic() >= deadline:
            return entry
        time.sleep(0.05)


def record_key(record: Any) -> str:
    """``endpoint/deployment``: how state.json names a deployment record."""
    return f"{record.endpoint_name}/{record.name}"


def serving_report(settings: Settings, endpoint: str) -> dict[str, Any]:
    """What ``online-endpoint show`` adds to an endpoint from the serving process: where it is served,
    each deployment's state, the mirror's diff."""
    state = live_state(settings)
    live = bool(state)
    base = scoring_base(settings) if live else None
    prefix = f"{base}/endpoints/{endpoint}" if base else None
    deployments = {
        key.split("/", 1)[1]: entry
        for key, entry in (state.get("deployments") or {}).items()
        if key.split("/", 1)[0] == endpoint
    }
    return {
        "served": live,
        "scoring_uri": f"{prefix}/score" if prefix else None,
        "swagger_uri": f"{prefix}/swagger.json" if prefix else None,
        "openapi_uri": f"{prefix}/swagger.json?version=3" if prefix else None,
        "deployments": deployments,
        "mirror": ((state.get("endpoints") or {}).get(endpoint) or {}).get("mirror"),
    }


class OnlineServing:
    """Where the SDK and the serving process of one workspace meet: the doorbell, the state file, and
    starting the process when an endpoint changes (unless ``online_autostart`` is off)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def wake_file(self) -> Path:
        """The doorbell: appended to on every change."""
        return wake_path(self.settings)

    @property
    def state_file(self) -> Path:
        """What the serving process serves, as JSON."""
        return state_dir(self.settings) / STATE_FILE

    def changed(self) -> None:
        """Endpoints or deployments changed: ring the serving process, and start it when none runs (and
        ``online_autostart`` is on). Never fails: a process started later reads everything anyway."""
        if self.settings.online_autostart:
            with contextlib.suppress(OSError):
                ensure_serving(self.settings)
        else:
            ring(self.settings)

    def status(self) -> dict[str, Any]:
        """What the serving process last wrote ({} when it never ran)."""
        return read_state(self.settings)
