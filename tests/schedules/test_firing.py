"""Firing under a controlled clock: ``fire_due(now=...)`` is the seam a thresher server calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schedules.conftest import utc, write_schedule
from thresher import Workspace
from thresher.errors import SpecError
from thresher.pipelines.driver import PIPELINE

HOURLY = """\
$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
name: hourly
display_name: Hourly count
trigger:
  type: cron
  expression: "0 * * * *"
create_job: ./pipeline.yml
"""


def test_a_cron_schedule_fires_each_slot_once_and_a_missed_window_once(ws: Workspace, project: Path) -> None:
    ws.schedules.create(write_schedule(project, HOURLY), now=utc("2024-03-01T00:10:00"))
    assert ws.schedules.fire_due(utc("2024-03-01T00:59:59"), start_runner=False) == []
    fired = ws.schedules.fire_due(utc("2024-03-01T01:00:05"), start_runner=False)
    assert [(f.slot, f.job is not None) for f in fired] == [("2024-03-01T01:00:00Z", True)]
    job = ws.jobs.get(fired[0].job)  # type: ignore[arg-type]
    assert job.kind == PIPELINE and job.spec["schedule"] == "hourly"
    assert ws.schedules.fire_due(utc("2024-03-01T01:30:00"), start_runner=False) == []
    # down from 01:30 to 05:20: slots 02:00 .. 05:00 were missed; only 05:00 fires, once
    again = ws.schedules.fire_due(utc("2024-03-01T05:20:00"), start_runner=False)
    assert [f.slot for f in again] == ["2024-03-01T05:00:00Z"]
    assert ws.schedules.fire_due(utc("2024-03-01T05:21:00"), start_runner=False) == []
    fires = ws.schedules.fires("hourly")
    assert [f.slot for f in fires] == ["2024-03-01T05:00:00Z", "2024-03-01T01:00:00Z"]
    assert all(f.job for f in fires)
    assert len(ws.jobs.list()) == 2


def test_a_recurrence_in_a_time_zone_fires_on_its_wall_clock(ws: Workspace, project: Path) -> None:
    text = """\
name: morning
trigger:
  type: recurrence
  frequency: day
  interval: 1
  schedule: {hours: [6], minutes: [30]}
  time_zone: W. Europe Standard Time
create_job: ./pipeline.yml
"""
    ws.schedules.create(write_schedule(project, text), now=utc("2024-03-29T12:00:00"))
    assert ws.schedules.fire_due(utc("2024-03-30T05:29:00"), start_runner=False) == []
    first = ws.schedules.fire_due(utc("2024-03-30T05:31:00"), start_runner=False)  # 06:30 CET is 05:30 UTC
    assert [f.slot for f in first] == ["2024-03-30T05:30:00Z"]
    assert ws.schedules.fire_due(utc("2024-03-31T04:29:00"), start_runner=False) == []
    second = ws.schedules.fire_due(utc("2024-03-31T04:31:00"), start_runner=False)  # CEST from 2024-03-31
    assert [f.slot for f in second] == ["2024-03-31T04:30:00Z"]
    shown = ws.schedules.show("morning", now=utc("2024-03-31T05:00:00"))
    assert shown.next_fire == utc("2024-04-01T04:30:00")


def test_disabled_schedules_do_not_fire_and_enabling_skips_what_was_missed(ws: Workspace, project: Path) -> None:
    ws.schedules.create(write_schedule(project, HOURLY), now=utc("2024-03-01T00:10:00"))
    ws.schedules.disable("hourly")
    assert ws.schedules.fire_due(utc("2024-03-01T03:00:00"), start_runner=False) == []
    assert not ws.schedules.get("hourly").enabled
    ws.schedules.enable("hourly", now=utc("2024-03-01T03:10:00"))
    assert ws.schedules.fire_due(utc("2024-03-01T03:20:00"), start_runner=False) == []  # 03:00 was missed
    fired = ws.schedules.fire_due(utc("2024-03-01T04:00:00"), start_runner=False)
    assert [f.slot for f in fired] == ["2024-03-01T04:00:00Z"]


def test_a_schedule_can_fire_the_definition_of_an_existing_pipeline_job(ws: Workspace, project: Path) -> None:
    original = ws.pipelines.create(project / "pipeline.yml", start_runner=False)
    text = f"name: again\ntrigger: {{type: cron, expression: '*/30 * * * *'}}\ncreate_job: azureml:{original.name}\n"
    ws.schedules.create(write_schedule(project, text), now=utc("2024-03-01T00:10:00"))
    fired = ws.schedules.fire_due(utc("2024-03-01T00:30:00"), start_runner=False)
    assert len(fired) == 1 and fired[0].job not in (None, original.name)
    job = ws.jobs.get(fired[0].job)  # type: ignore[arg-type]
    assert job.spec["pipeline"]["steps"].keys() == original.spec["pipeline"]["steps"].keys()


def test_a_fire_whose_job_cannot_be_created_is_recorded_with_the_error(ws: Workspace, project: Path) -> None:
    ws.schedules.create(write_schedule(project, HOURLY), now=utc("2024-03-01T00:10:00"))
    (project / "data").rename(project / "gone")  # the pipeline's input folder disappears
    fired = ws.schedules.fire_due(utc("2024-03-01T01:00:00"), start_runner=False)
    assert len(fired) == 1 and fired[0].job is None
    assert "does not exist" in str(fired[0].detail["error"])  # type: ignore[index]
    shown = ws.schedules.show("hourly", now=utc("2024-03-01T01:00:01"))
    assert [f.job for f in shown.fires] == [None]
    assert any("created no job" in note and "does not exist" in note for note in shown.notes)
    # the failed slot is not retried; the next one fires when the folder is back
    (project / "gone").rename(project / "data")
    assert ws.schedules.fire_due(utc("2024-03-01T01:30:00"), start_runner=False) == []
    assert ws.schedules.fire_due(utc("2024-03-01T02:00:00"), start_runner=False)[0].job is not None


def test_show_says_when_no_server_runs(ws: Workspace, project: Path) -> None:
    ws.schedules.create(write_schedule(project, HOURLY), now=utc("2024-03-01T00:10:00"))
    shown = ws.schedules.show("hourly", now=utc("2024-03-01T00:20:00"))
    assert shown.next_fire == utc("2024-03-01T01:00:00")
    assert not shown.server_running
    assert any("Schedules fire only while a thresher server runs" in note for note in shown.notes)
    ws.instance.store.beat("server-1", "server", {"pid": 1})
    shown = ws.schedules.show("hourly")
    assert shown.server_running and not any("thresher server" in note for note in shown.notes)


def test_an_inline_job_is_checked_at_the_schedule_file_s_lines_and_fires(ws: Workspace, project: Path) -> None:
    text = """\
name: inline
trigger: {type: cron, expression: "0 * * * *"}
create_job:
  type: pipeline
  inputs:
    data: {type: uri_folder, path: ./data}
  jobs:
    count:
      type: command
      command: python -c "print(1)" ${{inputs.data}}
      inputs: {data: "${{parent.inputs.data}}"}
      colour: red
"""
    with pytest.raises(SpecError) as caught:
        ws.schedules.create(write_schedule(project, text), now=utc("2024-03-01T00:10:00"))
    assert [(p.source, p.line) for p in caught.value.problems] == [("schedule.yml", 12)]
    assert ws.schedules.list() == []
    ws.schedules.create(
        write_schedule(project, text.replace("      colour: red\n", "")), now=utc("2024-03-01T00:10:00")
    )
    fired = ws.schedules.fire_due(utc("2024-03-01T01:00:00"), start_runner=False)
    assert len(fired) == 1 and fired[0].job is not None
