"""``thresher batch-endpoint|batch-deployment ...``: az ml's commands and flags for batch serving."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thresher.cli.commands import Named, add_create, add_delete, add_list, add_show, add_update
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
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.sdk import Workspace, deployment_document, resource_document
from thresher.specs import BatchDeploymentSpec, BatchEndpointSpec, Spec

NAME_HELP = "Name."
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help=NAME_HELP)]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint-name", "-e", help="Name of the batch endpoint.")]

endpoint_app = group_app("batch-endpoint")
deployment_app = group_app("batch-deployment")

ENDPOINT_COLUMNS = ("name", "description", "provisioning_state")
DEPLOYMENT_COLUMNS = ("name", "endpoint_name", "model", "compute", "provisioning_state")
ENDPOINTS = Named("batch-endpoint", lambda ws: ws.batch_endpoints, NAME_HELP)

add_create(
    endpoint_app,
    "batch_endpoint",
    lambda ws, spec: resource_document(ws.batch_endpoints.create(spec)),
    NAME_HELP,
    "Create (or update) a batch endpoint.",
    "Example: thresher batch-endpoint create --file endpoint.yml --name mnist-batch",
)


def _update_endpoint(ws: Workspace, spec: Spec | None, sets: list[str], name: str | None) -> dict[str, Any]:
    if spec is not None:
        assert isinstance(spec, BatchEndpointSpec)
        return resource_document(ws.batch_endpoints.update(spec.name, spec=spec))
    named = require(name, "--name", "thresher batch-endpoint update -n NAME --set defaults.deployment_name=D")
    return resource_document(ws.batch_endpoints.update(named, sets))


add_update(
    endpoint_app,
    "batch_endpoint",
    _update_endpoint,
    NAME_HELP,
    "Change an endpoint with --set key=value (or a new YAML file).",
    "Example: thresher batch-endpoint update --name mnist-batch --set defaults.deployment_name=mnist-torch",
)
add_show(
    endpoint_app,
    ENDPOINTS,
    "Show one batch endpoint.",
    "Example: thresher batch-endpoint show --name mnist-batch --query defaults -o json",
)
add_list(endpoint_app, ENDPOINTS, "List batch endpoints.", ENDPOINT_COLUMNS)
add_delete(
    endpoint_app,
    ENDPOINTS,
    "Delete a batch endpoint and its deployments.",
    "Example: thresher batch-endpoint delete --name mnist-batch --yes",
    "Delete batch endpoint '{name}' and its deployments",
)


@deployment_app.command(
    "create",
    epilog="Example: thresher batch-deployment create --file deployment.yml --endpoint-name mnist-batch --set-default",
)
def deployment_create(
    file: FileOpt = None,
    name: NameOpt = None,
    endpoint_name: EndpointOpt = None,
    set_default: Annotated[
        bool, typer.Option("--set-default", help="Make it the endpoint's default deployment.")
    ] = False,
    sets: SetOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create (or update) a batch deployment; its model, environment and compute must exist or be inline."""
    spec = build_spec("batch_deployment", file, {"name": name, "endpoint_name": endpoint_name}, sets)
    assert isinstance(spec, BatchDeploymentSpec)
    with workspace() as ws:
        record = ws.batch_deployments.create(spec, endpoint_name=endpoint_name, set_default=set_default)
        emit(deployment_document(record), output, query)


def _endpoint_key(endpoint_name: EndpointOpt = None) -> dict[str, Any]:
    return {"endpoint_name": endpoint_name}


def _update_deployment(
    ws: Workspace, spec: Spec | None, sets: list[str], name: str | None, endpoint_name: str | None
) -> dict[str, Any]:
    if spec is not None:
        assert isinstance(spec, BatchDeploymentSpec)
        endpoint = require(endpoint_name or spec.endpoint_name, "--endpoint-name", "-e ENDPOINT")
        return deployment_document(ws.batch_deployments.update(spec.name, endpoint, spec=spec))
    named = require(name, "--name", "thresher batch-deployment update -n D -e E --set key=value")
    endpoint = require(endpoint_name, "--endpoint-name", "thresher batch-deployment update -n D -e E ...")
    return deployment_document(ws.batch_deployments.update(named, endpoint, sets))


add_update(
    deployment_app,
    "batch_deployment",
    _update_deployment,
    NAME_HELP,
    "Change a deployment with --set key=value (or a new YAML file).",
    "Example: thresher batch-deployment update -n mnist-torch -e mnist-batch --set settings.mini_batch_size=20",
    _endpoint_key,
)


@deployment_app.command(
    "show",
    epilog="Example: thresher batch-deployment show --name mnist-torch --endpoint-name mnist-batch "
    "--query settings -o json",
)
def deployment_show(
    name: NameOpt = None,
    endpoint_name: EndpointOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one batch deployment."""
    named = require(name, "--name", "thresher batch-deployment show -n D -e E")
    endpoint = require(endpoint_name, "--endpoint-name", "thresher batch-deployment show -n D -e E")
    with workspace() as ws:
        emit(deployment_document(ws.batch_deployments.get(named, endpoint)), output, query)


@deployment_app.command("list", epilog="Example: thresher batch-deployment list --endpoint-name mnist-batch -o table")
def deployment_list(
    endpoint_name: EndpointOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None
) -> None:
    """List the deployments of an endpoint."""
    endpoint = require(endpoint_name, "--endpoint-name", "thresher batch-deployment list -e E")
    with workspace() as ws:
        records = ws.batch_deployments.list(endpoint)
        emit([deployment_document(r) for r in records], output, query, columns=DEPLOYMENT_COLUMNS)


@deployment_app.command(
    "delete", epilog="Example: thresher batch-deployment delete -n mnist-torch -e mnist-batch --yes"
)
def deployment_delete(name: NameOpt = None, endpoint_name: EndpointOpt = None, yes: YesOpt = False) -> None:
    """Delete a batch deployment (not the endpoint's default one)."""
    named = require(name, "--name", "thresher batch-deployment delete -n D -e E --yes")
    endpoint = require(endpoint_name, "--endpoint-name", "thresher batch-deployment delete -n D -e E --yes")
    with workspace() as ws:
        ws.batch_deployments.get(named, endpoint)
        confirm(f"Delete batch deployment '{named}' of endpoint '{endpoint}'", yes)
        ws.batch_deployments.delete(named, endpoint)
