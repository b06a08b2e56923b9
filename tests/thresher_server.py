"""A real ``thresher server`` process for tests, on 127.0.0.1 on a free port, over a workspace folder.

The first owner token is made on the workspace directly (as an operator does on the server's machine);
``client_env()`` is what a remote client sets. ``kill()`` is SIGKILL, ``start()`` again restarts it on
the same port, as a crashed and restarted service would be.

    server = ThresherServer(home); server.start()
    os.environ.update(server.client_env())        # the CLI and Workspace() now talk to it
    server.stop()
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.servers import ServerError, free_port
from thresher.settings import load_settings

START_TIMEOUT = 30.0


class ThresherServer:
    """One ``thresher server`` process."""

    def __init__(self, home: Path, *, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self.log = home.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.token = self._owner_token()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("THRESHER_SERVER", "THRESHER_TOKEN")}
        env.update(self.extra_env)
        env["THRESHER_HOME"] = str(self.home)
        return env

    def _owner_token(self) -> str:
        return self.token_for("owner", f"owner-{self.port}")

    def token_for(self, role: str, name: str | None = None) -> str:
        """A new token of ``role``, made on the workspace directly (as on the server's machine)."""
        from thresher.sdk import Workspace

        database = self.extra_env.get("THRESHER_DATABASE_URL") or os.environ.get("THRESHER_DATABASE_URL")
        settings = load_settings(home=self.home, server=None, database_url=database)
        with Workspace(settings=settings) as ws:
            return ws.tokens.create(name or f"{role}-{time.monotonic_ns()}", role=role).secret

    def start(self, *args: str) -> None:
        """Start it and wait until /health answers."""
        with open(self.log, "ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "thresher", "server", "--port", str(self.port), *args],
                env=self._env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"thresher server exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                unverified = ssl._create_unverified_context()  # a test's self-signed certificate: only liveness here
                with urllib.request.urlopen(self.url + "/health", timeout=1, context=unverified) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise ServerError(f"thresher server did not answer in {START_TIMEOUT} s:\n{self.log.read_text()}")

    def client_env(self) -> dict[str, str]:
        """What a client of this server sets."""
        return {"THRESHER_SERVER": self.url, "THRESHER_TOKEN": self.token}

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
