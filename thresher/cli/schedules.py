"""``thresher schedule create|list|show|enable|disable|delete``: az ml's schedule commands.

Schedules fire while a ``thresher server`` runs; ``show`` says so (on standard error, and in ``notes``)
when none has been seen for the workspace.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from thresher.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, require, workspace
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit

schedule_app = group_app("schedule")
SCHEDULE_COLUMNS = ("name", "enabled", "trigger.type", "create_job")
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="The schedule.")]


@schedule_app.command("create", epilog="Example: thresher schedule create --file nightly.yml")
def schedule_create(
    file: FileOpt = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (default: the file's name:).")] = None,
    set_: SetOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create a schedule from its YAML (Azure's schedule.schema.json; its pipeline job is checked first)."""
    path = require(str(file) if file else None, "--file", "thresher schedule create --file schedule.yml")
    with workspace() as ws:
        record = ws.schedules.create(path, name=name, overrides=set_ or ())
        emit(record.to_dict(), output, query)
        if not ws.schedules.server_running():
            _note(ws.schedules.show(record.name).notes[-1])


@schedule_app.command("list", epilog="Example: thresher schedule list -o table")
def schedule_list(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List the schedules."""
    with workspace() as ws:
        emit([record.to_dict() for record in ws.schedules.list()], output, query, columns=SCHEDULE_COLUMNS)


@schedule_app.command("show", epilog="Example: thresher schedule show --name nightly")
def schedule_show(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show a schedule: its definition, whether it is enabled, its next fire time and its last fires."""
    named = require(name, "--name", "thresher schedule show --name NAME")
    with workspace() as ws:
        status = ws.schedules.show(named)
        emit(status.to_dict(), output, query)
        for note in status.notes:
            _note(note)


@schedule_app.command("enable", epilog="Example: thresher schedule enable --name nightly")
def schedule_enable(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Enable a schedule (the slots it missed while disabled do not fire)."""
    named = require(name, "--name", "thresher schedule enable --name NAME")
    with workspace() as ws:
        emit(ws.schedules.enable(named).to_dict(), output, query)


@schedule_app.command("disable", epilog="Example: thresher schedule disable --name nightly")
def schedule_disable(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Disable a schedule: it fires nothing until enabled."""
    named = require(name, "--name", "thresher schedule disable --name NAME")
    with workspace() as ws:
        emit(ws.schedules.disable(named).to_dict(), output, query)


@schedule_app.command("delete", epilog="Example: thresher schedule delete --name nightly")
def schedule_delete(
    name: NameOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Accepted for az compatibility.")] = False,
) -> None:
    """Delete a schedule and its record of fires (the jobs it created stay)."""
    named = require(name, "--name", "thresher schedule delete --name NAME")
    with workspace() as ws:
        ws.schedules.delete(named)


def _note(text: str) -> None:
    sys.stderr.write(f"Note: {text}\n")
