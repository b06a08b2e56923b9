"""Data-change schedules: a new or changed file in a datastore folder fires once, its path passed to the job."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.schedules.conftest import utc, write_schedule
from thresher import Workspace
from thresher.errors import SpecError
from thresher.specs import DatastoreSpec

START = utc("2024-03-01T00:00:00")


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def data_path(ws: Workspace, job: str | None) -> str:
    assert job is not None
    inputs = ws.jobs.get(job).spec["pipeline"]["inputs"]
    return str(inputs["data"]["path"])


@pytest.fixture
def landing(ws: Workspace, tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    ws.datastores.create(DatastoreSpec(name="incoming", type="local", path=str(folder)))
    (folder / "drops" / "sub").mkdir(parents=True)
    (folder / "drops" / "old.csv").write_text("x\n0\n")
    return folder / "drops"


def test_each_new_or_changed_file_fires_once_with_its_path(ws: Workspace, project: Path, landing: Path) -> None:
    text = """\
name: on-drop
trigger: {type: data_change, datastore: incoming, path: drops, polling_interval: 5, input: data}
create_job:
  type: pipeline
  job: ./pipeline.yml
  inputs:
    data: {type: uri_file, path: ./data/a.csv}
"""
    ws.schedules.create(write_schedule(project, text), now=START)
    assert ws.schedules.fire_due(START, start_runner=False) == []  # old.csv was there before
    (landing / "new.csv").write_text("x\n1\n")
    (landing / "sub" / "deeper.csv").write_text("x\n9\n")  # subfolders are not watched (as in v1)
    assert ws.schedules.fire_due(START + minutes(1), start_runner=False) == []  # polled less than 5 min ago
    fired = ws.schedules.fire_due(START + minutes(5), start_runner=False)
    assert [(f.detail or {}).get("changed") for f in fired] == [["new.csv"]]
    assert data_path(ws, fired[0].job) == str(landing / "new.csv")
    assert ws.schedules.fire_due(START + minutes(10), start_runner=False) == []  # nothing changed since
    (landing / "new.csv").write_text("x\n1\n2\n")
    (landing / "other.csv").write_text("x\n3\n")
    fired = ws.schedules.fire_due(START + minutes(15), start_runner=False)
    assert sorted(data_path(ws, f.job) for f in fired) == [str(landing / "new.csv"), str(landing / "other.csv")]
    assert ws.schedules.fire_due(START + minutes(20), start_runner=False) == []
    assert len(ws.schedules.fires("on-drop")) == 3


def test_a_folder_input_receives_the_watched_folder_once_per_change(
    ws: Workspace, project: Path, landing: Path
) -> None:
    text = "name: on-drop\ntrigger: {type: data_change, datastore: incoming, path: drops, input: data}\n"
    ws.schedules.create(write_schedule(project, text + "create_job: ./pipeline.yml\n"), now=START)
    (landing / "one.csv").write_text("1")
    (landing / "two.csv").write_text("2")
    fired = ws.schedules.fire_due(START + minutes(5), start_runner=False)
    assert len(fired) == 1 and (fired[0].detail or {}).get("changed") == ["one.csv", "two.csv"]
    assert data_path(ws, fired[0].job) == str(landing)
    ws.schedules.disable("on-drop")
    (landing / "three.csv").write_text("3")
    assert ws.schedules.fire_due(START + minutes(10), start_runner=False) == []
    ws.schedules.enable("on-drop", now=START + minutes(11))  # three.csv arrived while disabled: not fired
    assert ws.schedules.fire_due(START + minutes(15), start_runner=False) == []
    (landing / "four.csv").write_text("4")
    fired = ws.schedules.fire_due(START + minutes(20), start_runner=False)
    assert [(f.detail or {}).get("changed") for f in fired] == [["four.csv"]]
    assert json.dumps([f.job for f in ws.schedules.fires("on-drop")]).count("on-drop") == 2


def test_a_data_change_trigger_must_name_a_pipeline_input_and_a_datastore(ws: Workspace, project: Path) -> None:
    text = "name: bad\ntrigger:\n  type: data_change\n  datastore: nowhere\n  input: scoring\n"
    text += "create_job: ./pipeline.yml\n"
    with pytest.raises(SpecError) as caught:
        ws.schedules.create(write_schedule(project, text))
    where = {(p.line, p.path) for p in caught.value.problems}
    assert where == {(4, "trigger.datastore"), (5, "trigger.input")}
    assert "not an input of the pipeline job (its inputs: data)" in str(caught.value)
    assert ws.schedules.list() == []
