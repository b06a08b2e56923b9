"""``thresher datastore|compute ...``: where files live and where workers run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thresher.cli.commands import Named, add_create, add_delete, add_list, add_show
from thresher.cli.common import OutputOpt, QueryOpt, require, workspace
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.sdk import Workspace, resource_document
from thresher.store import ResourceRecord

NAME_HELP = "Name of the resource."

datastore_app = group_app("datastore")
compute_app = group_app("compute")


def _compute_document(ws: Workspace, record: ResourceRecord) -> dict[str, Any]:
    pools = ws.computes.warm_pools(record.name)
    warm = {
        "pools": pools,
        "workers": sum(int(p.get("workers") or 0) for p in pools),
        "memory_mb": round(sum(int(p.get("memory_bytes") or 0) for p in pools) / 2**20, 1),
    }
    return resource_document(record, {"placement": ws.computes.placement(record), "warm_workers": warm})


def _compute_flags(
    type_: Annotated[str | None, typer.Option("--type", "-t", help="local (default), amlcompute or ray.")] = None,
    size: Annotated[str | None, typer.Option("--size", help="VM size (recorded; amlcompute).")] = None,
    min_instances: Annotated[int | None, typer.Option("--min-instances", help="Minimum nodes.")] = None,
    max_instances: Annotated[int | None, typer.Option("--max-instances", help="Maximum nodes.")] = None,
    idle_time: Annotated[
        int | None, typer.Option("--idle-time-before-scale-down", help="Seconds before idle nodes go.")
    ] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="Priority tier (recorded).")] = None,
    max_workers: Annotated[int | None, typer.Option("--max-workers", help="Workers on a local compute.")] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (ray): auto, host:port or ray://host:port.")
    ] = None,
) -> dict[str, Any]:
    return {
        "type": type_,
        "size": size,
        "min_instances": min_instances,
        "max_instances": max_instances,
        "idle_time_before_scale_down": idle_time,
        "tier": tier,
        "max_workers": max_workers,
        "address": address,
    }


DATASTORES = Named("datastore", lambda ws: ws.datastores, NAME_HELP)
COMPUTES = Named("compute", lambda ws: ws.computes, NAME_HELP, _compute_document)

add_create(
    datastore_app,
    "datastore",
    lambda ws, spec: resource_document(ws.datastores.create(spec)),
    NAME_HELP,
    "Create or update a datastore from its YAML file.",
    "Example: thresher datastore create -f datastore.yml",
)
add_show(
    datastore_app,
    DATASTORES,
    "Show one datastore.",
    "Example: thresher datastore show --name workspaceblobstore --query path -o tsv",
)
add_list(datastore_app, DATASTORES, "List datastores.", ("name", "type", "path"))
add_delete(
    datastore_app,
    DATASTORES,
    "Remove a datastore from the workspace (its files are kept).",
    "Example: thresher datastore delete --name archive --yes",
    "Delete datastore '{name}'",
)

add_create(
    compute_app,
    "compute",
    lambda ws, spec: _compute_document(ws, ws.computes.create(spec)),
    NAME_HELP,
    "Create or update a compute.",
    "Examples:\n\n  thresher compute create --name batch-cluster --type amlcompute --min-instances 0 "
    "--max-instances 5\n\n  thresher compute create --name cpu --type local --max-workers 2"
    "\n\n  thresher compute create --name ray-cluster --type ray --address ray://head:10001 --max-instances 4",
    _compute_flags,
)
add_show(
    compute_app,
    COMPUTES,
    "Show one compute and how it maps onto this machine.",
    "Example: thresher compute show --name batch-cluster --query max_instances -o tsv",
)
add_list(compute_app, COMPUTES, "List computes.", ("name", "type", "size", "min_instances", "max_instances"))
add_delete(
    compute_app,
    COMPUTES,
    "Delete a compute.",
    "Example: thresher compute delete --name batch-cluster --yes",
    "Delete compute '{name}'",
)


@compute_app.command(
    "stop",
    help="End the compute's warm workers now (those kept after jobs for idle_time_before_scale_down or "
    "min_instances); 'local' is the compute of deployments that name none.",
    epilog="Example: thresher compute stop --name batch-cluster",
)
def compute_stop(
    name: Annotated[str | None, typer.Option("--name", "-n", help=NAME_HELP)] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    with workspace() as ws:
        summary = ws.computes.stop(require(name, "--name", "thresher compute stop -n NAME"))
        emit(summary, output, query)
