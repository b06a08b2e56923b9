"""``thresher datastore|compute ...``: where files live and where workers run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thresher.cli.common import (
    FileOpt,
    OutputOpt,
    QueryOpt,
    SetOpt,
    YesOpt,
    build_spec,
    confirm,
    require,
    workspace,
)
from thresher.cli.output import OutputFormat, emit
from thresher.sdk import Workspace, resource_document
from thresher.store import ResourceRecord

NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Name of the resource.")]

datastore_app = typer.Typer(help="Named storage roots (the default one, workspaceblobstore, is in the workspace).")
compute_app = typer.Typer(help="Where workers run: local (this machine) or amlcompute (simulated nodes here).")


@datastore_app.command("create", epilog="Example: thresher datastore create -f datastore.yml")
def datastore_create(
    file: FileOpt = None,
    name: NameOpt = None,
    sets: SetOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create or update a datastore from its YAML file."""
    spec = build_spec("datastore", file, {"name": name}, sets)
    with workspace() as ws:
        emit(resource_document(ws.datastores.create(spec)), output, query)  # type: ignore[arg-type]


@datastore_app.command("show", epilog="Example: thresher datastore show --name workspaceblobstore --query path -o tsv")
def datastore_show(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show one datastore."""
    with workspace() as ws:
        emit(
            resource_document(ws.datastores.get(require(name, "--name", "thresher datastore show -n NAME"))),
            output,
            query,
        )


@datastore_app.command("list", epilog="Example: thresher datastore list -o table")
def datastore_list(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List datastores."""
    with workspace() as ws:
        emit(
            [resource_document(r) for r in ws.datastores.list()],
            output,
            query,
            columns=("name", "type", "path"),
        )


@datastore_app.command("delete", epilog="Example: thresher datastore delete --name archive --yes")
def datastore_delete(name: NameOpt = None, yes: YesOpt = False) -> None:
    """Remove a datastore from the workspace (its files are kept)."""
    named = require(name, "--name", "thresher datastore delete -n NAME --yes")
    confirm(f"Delete datastore '{named}'", yes)
    with workspace() as ws:
        ws.datastores.delete(named)


def _compute_document(ws: Workspace, record: ResourceRecord) -> dict[str, Any]:
    return resource_document(record, {"placement": ws.computes.placement(record)})


@compute_app.command(
    "create",
    epilog="Examples:\n\n  thresher compute create --name batch-cluster --type amlcompute --min-instances 0 "
    "--max-instances 5\n\n  thresher compute create --name cpu --type local --max-workers 2",
)
def compute_create(
    file: FileOpt = None,
    name: NameOpt = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="local (default), amlcompute or ray.")] = None,
    size: Annotated[str | None, typer.Option("--size", help="VM size (recorded; amlcompute).")] = None,
    min_instances: Annotated[int | None, typer.Option("--min-instances", help="Minimum nodes.")] = None,
    max_instances: Annotated[int | None, typer.Option("--max-instances", help="Maximum nodes.")] = None,
    idle_time: Annotated[
        int | None, typer.Option("--idle-time-before-scale-down", help="Seconds before idle nodes go.")
    ] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="Priority tier (recorded).")] = None,
    max_workers: Annotated[int | None, typer.Option("--max-workers", help="Workers on a local compute.")] = None,
    sets: SetOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create or update a compute."""
    flags = {
        "name": name,
        "type": type_,
        "size": size,
        "min_instances": min_instances,
        "max_instances": max_instances,
        "idle_time_before_scale_down": idle_time,
        "tier": tier,
        "max_workers": max_workers,
    }
    spec = build_spec("compute", file, flags, sets)
    with workspace() as ws:
        emit(_compute_document(ws, ws.computes.create(spec)), output, query)  # type: ignore[arg-type]


@compute_app.command("show", epilog="Example: thresher compute show --name batch-cluster --query max_instances -o tsv")
def compute_show(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show one compute and how it maps onto this machine."""
    with workspace() as ws:
        record = ws.computes.get(require(name, "--name", "thresher compute show -n NAME"))
        emit(_compute_document(ws, record), output, query)


@compute_app.command("list", epilog="Example: thresher compute list -o table")
def compute_list(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List computes."""
    with workspace() as ws:
        documents = [_compute_document(ws, r) for r in ws.computes.list()]
        emit(documents, output, query, columns=("name", "type", "size", "min_instances", "max_instances"))


@compute_app.command("delete", epilog="Example: thresher compute delete --name batch-cluster --yes")
def compute_delete(name: NameOpt = None, yes: YesOpt = False) -> None:
    """Delete a compute."""
    named = require(name, "--name", "thresher compute delete -n NAME --yes")
    confirm(f"Delete compute '{named}'", yes)
    with workspace() as ws:
        ws.computes.get(named)
        ws.computes.delete(named)
