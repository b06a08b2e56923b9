"""``thresher component create|list|show``: Azure v2 components (command, parallel, pipeline)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thresher.cli.common import FileOpt, OutputOpt, QueryOpt, require, workspace
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.sdk.documents import asset_document
from thresher.store import AssetRecord

component_app = group_app("component")
COMPONENT_COLUMNS = ("name", "version", "type", "description")


def _document(record: AssetRecord) -> dict[str, Any]:
    return asset_document(record)


@component_app.command("create", epilog="Example: thresher component create --file prep.yml")
def component_create(
    file: FileOpt = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (default: the file's name:).")] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Version (default: the file's, or next).")
    ] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Register a component from its YAML (checked first; its code folder is recorded)."""
    path = require(str(file) if file else None, "--file", "thresher component create --file component.yml")
    with workspace() as ws:
        emit(_document(ws.components.create(path, name=name, version=version)), output, query)


@component_app.command("list", epilog="Example: thresher component list -o table")
def component_list(
    name: Annotated[str | None, typer.Option("--name", "-n", help="Every version of this component.")] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List components (the latest version of each), or every version of --name."""
    with workspace() as ws:
        emit([_document(r) for r in ws.components.list(name)], output, query, columns=COMPONENT_COLUMNS)


@component_app.command("show", epilog="Example: thresher component show --name prep --version 1")
def component_show(
    name: Annotated[str | None, typer.Option("--name", "-n", help="The component.")] = None,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Version (default: latest).")] = None,
    label: Annotated[str | None, typer.Option("--label", "-l", help="latest")] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one version of a component."""
    named = require(name, "--name", "thresher component show --name NAME --version V")
    with workspace() as ws:
        emit(_document(ws.components.get(named, version or label)), output, query)
