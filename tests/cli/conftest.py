"""CLI tests run `thresher` in-process against a fresh workspace folder per test."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.thresher_server import ThresherServer
from thresher.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked local_only has no server variant (deselected, not skipped)."""
    dropped = [item for item in items if item.name.endswith("[server]") and item.get_closest_marker("local_only")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(params=["local", "server"])
def home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The workspace folder a test's commands work on: directly ("local"), or through a real thresher server
    process serving it ("server": the same tests are the remote client's conformance suite)."""
    workspace = tmp_path / "ws"
    monkeypatch.delenv("THRESHER_DATABASE_URL", raising=False)
    monkeypatch.delenv("THRESHER_SERVER", raising=False)
    monkeypatch.delenv("THRESHER_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    if request.param == "local" or request.node.get_closest_marker("local_only"):
        if request.param == "server":
            pytest.skip(f"local only: {request.node.get_closest_marker('local_only').args[0]}")
        monkeypatch.setenv("THRESHER_HOME", str(workspace))
        yield workspace
        return
    yield from served_workspace(tmp_path, monkeypatch)


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def served_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real thresher server over ``tmp_path/ws``, the test's CLI and SDK set to talk to it; the folder."""
    workspace = tmp_path / "ws"
    server = ThresherServer(workspace)
    server.start()
    # The client's own THRESHER_HOME is elsewhere: nothing it does may touch the served folder itself.
    monkeypatch.setenv("THRESHER_HOME", str(tmp_path / "client-home"))
    for key, value in server.client_env().items():
        monkeypatch.setenv(key, value)
    try:
        yield workspace
    finally:
        server.stop()


ScriptEnv = Callable[[Path], dict[str, str]]


@pytest.fixture(params=["local", "server"])
def script_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScriptEnv]:
    """``script_env(home)``: the environment of a shell script's ``thresher`` commands on the workspace at
    ``home``: directly, or through a real thresher server serving it (the script itself unchanged)."""
    servers: list[ThresherServer] = []

    def make(home: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN")
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        env["THRESHER_HOME"] = str(home)
        if request.param == "server":
            server = ThresherServer(home)
            server.start()
            servers.append(server)
            env.update(server.client_env())
            env["THRESHER_HOME"] = str(tmp_path / "client-home")
        return env

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
