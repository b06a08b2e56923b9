"""Schedules fired by a real ``thresher server`` under its test clock (``THRESHER_CLOCK_FILE``, read every
``THRESHER_SCHEDULE_INTERVAL`` seconds), driven by the CLI against it: a cron schedule fires its slot and its
job runs; three missed slots at once fire once; a data-change schedule fires when a file lands.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.schedules.conftest import FIXTURES
from tests.server.test_published_routes import Run, run  # noqa: F401 (fixture)
from tests.thresher_server import ThresherServer
from thresher.sdk import Workspace
from thresher.specs import DatastoreSpec

HOURLY = """\
name: hourly
trigger: {type: cron, expression: "0 * * * *"}
create_job: ./pipeline.yml
"""
ON_DROP = """\
name: on-drop
trigger: {type: data_change, datastore: incoming, path: drops, polling_interval: 1, input: data}
create_job: ./pipeline.yml
"""


class Clock:
    """The served server's clock: the file it reads as now."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, iso: str) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_text(iso)
        partial.replace(self.path)  # never half a time


@pytest.fixture
def clocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ThresherServer, Clock]]:
    """A server that fires schedules every 0.2 s at the clock file's time; the CLI and Workspace() use it."""
    for key in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("THRESHER_HOME", str(tmp_path / "client-home"))
    clock = Clock(tmp_path / "clock.txt")
    clock.set("2024-03-01T00:10:00+00:00")
    env = {"THRESHER_CLOCK_FILE": str(clock.path), "THRESHER_SCHEDULE_INTERVAL": "0.2"}
    server = ThresherServer(tmp_path / "ws", env=env)
    server.start()
    for key, value in server.client_env().items():
        monkeypatch.setenv(key, value)
    try:
        yield server, clock
    finally:
        server.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A pipeline job (one step printing its ``data`` input) beside its data folder."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(FIXTURES / "pipeline.yml", root / "pipeline.yml")
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("x\n1\n")
    return root


def until(found: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``found`` until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def stays(holds: Callable[[], bool], seconds: float) -> bool:
    """Whether ``holds`` stays true while the server's loop goes round several times."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not holds():
            return False
        time.sleep(0.1)
    return True


def show(run: Run, name: str) -> tuple[dict[str, Any], str]:  # noqa: F811
    code, out, err = run("schedule", "show", "-n", name)
    assert code == 0, err
    return json.loads(out), err


def test_a_cron_schedule_fires_on_the_server_s_clock_and_three_missed_slots_fire_once(
    clocked: tuple[ThresherServer, Clock],
    project: Path,
    run: Run,  # noqa: F811
) -> None:
    _, clock = clocked
    (project / "hourly.yml").write_text(HOURLY)
    code, out, err = run("schedule", "create", "-f", str(project / "hourly.yml"))
    assert code == 0, err
    assert json.loads(out)["since"].startswith("2024-03-01T00:10:00")  # the server's clock, not the time now
    assert "thresher server" not in err  # one runs: no note says none does
    shown, err = show(run, "hourly")
    assert shown["server_running"] is True and shown["notes"] == [] and err == ""
    assert (shown["next_fire"], shown["fires"]) == ("2024-03-01T01:00:00Z", [])

    with Workspace() as ws:
        clock.set("2024-03-01T01:00:30+00:00")
        (fire,) = until(lambda: [f for f in ws.schedules.fires("hourly") if f.job], "the 01:00 fire and its job")
        assert fire.slot == "2024-03-01T01:00:00Z"
        assert ws.jobs.wait(fire.job, timeout=60).status == "Completed"

        clock.set("2024-03-01T04:30:00+00:00")  # 02:00, 03:00 and 04:00 missed at once: the latest fires, once
        until(lambda: len(ws.schedules.fires("hourly")) > 1, "a fire after the clock moved")
        assert stays(lambda: len(ws.schedules.fires("hourly")) == 2, seconds=1.5)
        assert [f.slot for f in ws.schedules.fires("hourly")] == ["2024-03-01T04:00:00Z", "2024-03-01T01:00:00Z"]

    assert run("schedule", "list", "--query", "[].name", "-o", "tsv")[1].split() == ["hourly"]
    assert run("schedule", "disable", "-n", "hourly", "--query", "enabled", "-o", "tsv")[1].strip() == "False"
    shown, err = show(run, "hourly")
    assert shown["next_fire"] is None and "Disabled" in err
    clock.set("2024-03-01T06:00:00+00:00")
    assert run("schedule", "enable", "-n", "hourly", "--query", "since", "-o", "tsv")[1].startswith("2024-03-01T06")
    assert show(run, "hourly")[0]["next_fire"] == "2024-03-01T07:00:00Z"  # 05:00 and 06:00 fell while disabled
    assert run("schedule", "delete", "-n", "hourly", "--yes")[0] == 0
    assert run("schedule", "list", "-o", "tsv")[1].strip() == ""


def test_a_data_change_schedule_fires_when_a_file_lands_in_the_watched_folder(
    clocked: tuple[ThresherServer, Clock],
    project: Path,
    tmp_path: Path,
    run: Run,  # noqa: F811
) -> None:
    _, clock = clocked
    landing = tmp_path / "landing"
    (landing / "drops").mkdir(parents=True)
    (landing / "drops" / "old.csv").write_text("x\n0\n")
    with Workspace() as ws:
        ws.datastores.create(DatastoreSpec(name="incoming", type="local", path=str(landing)))
        (project / "on-drop.yml").write_text(ON_DROP)
        code, _, err = run("schedule", "create", "-f", str(project / "on-drop.yml"), "-o", "none")
        assert code == 0, err
        (landing / "drops" / "new.csv").write_text("x\n1\n")
        clock.set("2024-03-01T00:12:00+00:00")  # past the 1-minute polling interval (old.csv was there before)
        (fire,) = until(lambda: [f for f in ws.schedules.fires("on-drop") if f.job], "the fire for new.csv")
        assert (fire.detail or {}).get("changed") == ["new.csv"]
        assert ws.jobs.get(str(fire.job)).spec["pipeline"]["inputs"]["data"]["path"] == str(landing / "drops")
        assert ws.jobs.wait(str(fire.job), timeout=60).status == "Completed"
        assert stays(lambda: len(ws.schedules.fires("on-drop")) == 1, seconds=1.0)
