"""Schedule YAML: Azure's cron and recurrence triggers, thresher's data_change, every problem at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.errors import SpecError
from thresher.specs.schedules import CronTrigger, DataChangeTrigger, RecurrenceTrigger, load_schedule


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedule.yml"
    path.write_text(text)
    return path


def test_azure_cron_and_recurrence_schedules_load_as_written(tmp_path: Path) -> None:
    cron = write(
        tmp_path,
        "$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json\n"
        "name: nightly\n"
        "trigger:\n  type: cron\n  expression: '0 3 * * *'\n  time_zone: Pacific Standard Time\n"
        "  start_time: '2024-01-01T00:00:00'\n"
        "create_job: ./pipeline.yml\n",
    )
    spec, _, _ = load_schedule(cron)
    assert isinstance(spec.trigger, CronTrigger) and spec.trigger.expression == "0 3 * * *"
    assert spec.create_job == str(tmp_path / "pipeline.yml")
    recurring = write(
        tmp_path,
        "name: weekly\ntrigger:\n  type: recurrence\n  frequency: Week\n  interval: 2\n"
        "  schedule: {hours: [4], minutes: [30], week_days: [Monday, friday]}\n"
        "create_job: azureml:score-0412\n",
    )
    spec, _, _ = load_schedule(recurring)
    assert isinstance(spec.trigger, RecurrenceTrigger)
    assert spec.trigger.frequency == "week" and spec.trigger.schedule is not None
    assert spec.trigger.schedule.week_days == ["monday", "friday"]
    assert spec.create_job == "azureml:score-0412"


def test_data_change_trigger_is_thresher_s_extension(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: on-new-files\ntrigger:\n  type: data_change\n  datastore: incoming\n  path: drops/\n"
        "  input: scoring_data\ncreate_job: ./pipeline.yml\n",
    )
    spec, _, _ = load_schedule(path)
    expected = DataChangeTrigger(datastore="incoming", path="drops/", polling_interval=5, input="scoring_data")
    assert spec.trigger == expected


def test_every_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: bad\n"
        "trigger:\n"
        "  type: recurrence\n"
        "  frequency: fortnight\n"
        "  interval: 0\n"
        "  time_zone: Mars/Olympus\n"
        "  colour: red\n"
        "create_monitor: {}\n",
    )
    with pytest.raises(SpecError) as caught:
        load_schedule(path)
    lines = {(problem.line, problem.path) for problem in caught.value.problems}
    assert lines == {
        (4, "trigger.frequency"),
        (5, "trigger.interval"),
        (6, "trigger.time_zone"),
        (7, "trigger.colour"),
        (8, "create_monitor"),
    }
    text = str(caught.value)
    assert "model monitoring schedule (create_monitor) is an Azure feature" in text
    assert "unknown key 'colour'" in text


def test_unknown_trigger_types_bad_cron_and_non_pipeline_jobs_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\ntrigger: {type: manual}\ncreate_job: {type: command, command: echo}\n")
    with pytest.raises(SpecError) as caught:
        load_schedule(path)
    assert [p.path for p in caught.value.problems] == ["trigger.type", "create_job"]
    assert "it must be cron, recurrence (Azure's) or data_change" in str(caught.value)
    path = write(tmp_path, "name: x\ntrigger: {type: cron, expression: '0 3 * *'}\ncreate_job: p.yml\n")
    with pytest.raises(SpecError, match="cron expression of 5 fields"):
        load_schedule(path)
