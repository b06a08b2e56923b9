"""``thresher schedule create|list|show|enable|disable|delete``, in-process against a fresh workspace."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Result, cli, home  # noqa: F401 (fixtures)
from tests.schedules.conftest import FIXTURES, write_schedule

NIGHTLY = """\
$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
name: nightly
description: count the files every night
trigger:
  type: cron
  expression: "0 3 * * *"
  time_zone: Pacific Standard Time
create_job: ./pipeline.yml
"""


def test_schedule_commands(tmp_path: Path, cli: Callable[..., Result]) -> None:  # noqa: F811
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(FIXTURES / "pipeline.yml", root / "pipeline.yml")
    (root / "data").mkdir()
    path = write_schedule(root, NIGHTLY)
    served = bool(os.environ.get("THRESHER_SERVER"))  # the "server" run: a server runs, so no note says none does
    created = cli("schedule", "create", "--file", str(path), "--set", "trigger.expression=30 4 * * *")
    assert created.code == 0, created.err
    assert created.json()["trigger"]["expression"] == "30 4 * * *"
    assert ("Schedules fire only while a thresher server runs" in created.err) is not served
    again = cli("schedule", "create", "-f", str(path))
    assert again.code != 0 and "nightly" in again.err
    other = cli("schedule", "create", "-f", str(path), "--name", "nightly-2", "-o", "none")
    assert other.code == 0, other.err
    listed = cli("schedule", "list", "--query", "[].name", "-o", "tsv")
    assert listed.out.split() == ["nightly", "nightly-2"]
    shown = cli("schedule", "show", "-n", "nightly")
    assert shown.code == 0, shown.err
    document = shown.json()
    assert document["enabled"] is True and document["fires"] == []
    assert document["next_fire"].endswith(":30:00Z") and "(America/Los_Angeles" not in document["next_fire"]
    assert document["definition"]["description"] == "count the files every night"
    assert ("Start one with: thresher server" in shown.err) is not served
    assert cli("schedule", "disable", "-n", "nightly", "--query", "enabled", "-o", "tsv").out.strip() == "False"
    shown = cli("schedule", "show", "-n", "nightly")
    assert shown.json()["next_fire"] is None and "Disabled" in shown.err
    assert cli("schedule", "enable", "-n", "nightly", "--query", "enabled", "-o", "tsv").out.strip() == "True"
    assert cli("schedule", "delete", "-n", "nightly-2", "--yes").code == 0
    assert cli("schedule", "list", "--query", "[].name", "-o", "tsv").out.split() == ["nightly"]
    missing = cli("schedule", "show", "-n", "nightly-2")
    assert missing.code != 0 and "nightly-2" in missing.err


def test_schedule_create_reports_problems_at_file_lines(tmp_path: Path, cli: Callable[..., Result]) -> None:  # noqa: F811
    root = tmp_path / "project"
    root.mkdir()
    text = (
        "name: broken\ntrigger:\n  type: cron\n  expression: every night\ncreate_job:\n  type: pipeline\n  jobs: {}\n"
    )
    result = cli("schedule", "create", "-f", str(write_schedule(root, text)))
    assert result.code != 0
    assert "schedule.yml:4: trigger.expression is 'every night'" in result.err
    assert cli("schedule", "list", "-o", "tsv").out.strip() == ""
