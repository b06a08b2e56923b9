"""The SDK's tests run against a workspace folder and against a real thresher server serving one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.thresher_server import ThresherServer
from thresher import Workspace

OpenWorkspace = Callable[[Path], Workspace]


@pytest.fixture(params=["local", "server"])
def open_workspace(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenWorkspace]:
    """``open_workspace(home)``: the workspace at ``home``, opened directly, or through a server serving it
    (started on first use; the CLI in the test then talks to that server too)."""
    for key in ("THRESHER_SERVER", "THRESHER_TOKEN", "THRESHER_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    servers: dict[Path, ThresherServer] = {}

    def opened(home: Path) -> Workspace:
        if request.param == "local":
            return Workspace(home)
        if home not in servers:
            servers[home] = server = ThresherServer(home)
            server.start()
            for key, value in server.client_env().items():
                monkeypatch.setenv(key, value)
        server = servers[home]
        return Workspace(server.url, token=server.token)

    try:
        yield opened
    finally:
        for server in servers.values():
            server.stop()
