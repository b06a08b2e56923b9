"""``thresher online-deployment ...``: az ml's commands and flags for the deployments of online endpoints."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thresher.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, YesOpt, build_spec, confirm, require, workspace
from thresher.cli.groups import group_app
from thresher.cli.online import LocalOpt
from thresher.cli.output import OutputFormat, emit
from thresher.sdk import deployment_document
from thresher.specs import OnlineDeploymentSpec

NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Name of the deployment.")]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint-name", "-e", help="Name of the online endpoint.")]
AllTrafficOpt = Annotated[
    bool, typer.Option("--all-traffic", help="Then send all of the endpoint's live traffic to this deployment.")
]

deployment_app = group_app("online-deployment")
DEPLOYMENT_COLUMNS = ("name", "endpoint_name", "model", "instance_count", "provisioning_state")


@deployment_app.command(
    "create", epilog="Example: thresher online-deployment create -f blue-deployment.yml -e my-endpoint --all-traffic"
)
def deployment_create(
    file: FileOpt = None,
    name: NameOpt = None,
    endpoint_name: EndpointOpt = None,
    all_traffic: AllTrafficOpt = False,
    sets: SetOpt = None,
    local: LocalOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create (or update) an online deployment; its model and environment must exist or be inline."""
    spec = build_spec("online_deployment", file, {"name": name, "endpoint_name": endpoint_name}, sets)
    assert isinstance(spec, OnlineDeploymentSpec)
    with workspace() as ws:
        record = ws.online_deployments.create(spec, endpoint_name=endpoint_name, all_traffic=all_traffic)
        emit(deployment_document(record), output, query)


@deployment_app.command(
    "update",
    epilog="Example: thresher online-deployment update -n blue -e my-endpoint --set instance_count=2",
)
def deployment_update(
    name: NameOpt = None,
    endpoint_name: EndpointOpt = None,
    file: FileOpt = None,
    sets: SetOpt = None,
    local: LocalOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Change a deployment with --set key=value (or a new YAML file)."""
    example = "thresher online-deployment update -n D -e E --set key=value"
    with workspace() as ws:
        if file is not None:
            spec = build_spec("online_deployment", file, {"name": name, "endpoint_name": endpoint_name}, sets)
            assert isinstance(spec, OnlineDeploymentSpec)
            endpoint = require(endpoint_name or spec.endpoint_name, "--endpoint-name", "-e ENDPOINT")
            record = ws.online_deployments.update(spec.name, endpoint, spec=spec)
        else:
            named = require(name, "--name", example)
            record = ws.online_deployments.update(named, require(endpoint_name, "--endpoint-name", example), sets or [])
        emit(deployment_document(record), output, query)


@deployment_app.command("show", epilog="Example: thresher online-deployment show -n blue -e my-endpoint")
def deployment_show(
    name: NameOpt = None,
    endpoint_name: EndpointOpt = None,
    local: LocalOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one online deployment."""
    named = require(name, "--name", "thresher online-deployment show -n D -e E")
    endpoint = require(endpoint_name, "--endpoint-name", "thresher online-deployment show -n D -e E")
    with workspace() as ws:
        document = deployment_document(ws.online_deployments.get(named, endpoint))
        emit(with_status(document, ws.online_deployments.status(named, endpoint)), output, query)


def with_status(document: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """A deployment's document with its provisioning_state as its serving process reports it."""
    if status.get("state"):
        document["provisioning_state"] = status["state"]
    for key in ("error", "workers", "restarts", "batching", "read_ahead"):
        if status.get(key) is not None:
            document[key] = status[key]
    return document


@deployment_app.command("list", epilog="Example: thresher online-deployment list -e my-endpoint -o table")
def deployment_list(
    endpoint_name: EndpointOpt = None,
    local: LocalOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List the deployments of an online endpoint."""
    endpoint = require(endpoint_name, "--endpoint-name", "thresher online-deployment list -e E")
    with workspace() as ws:
        records = ws.online_deployments.list(endpoint)
        emit([deployment_document(r) for r in records], output, query, columns=DEPLOYMENT_COLUMNS)


@deployment_app.command("delete", epilog="Example: thresher online-deployment delete -n green -e my-endpoint --yes")
def deployment_delete(
    name: NameOpt = None, endpoint_name: EndpointOpt = None, local: LocalOpt = False, yes: YesOpt = False
) -> None:
    """Delete an online deployment (not while it takes live or mirrored traffic)."""
    named = require(name, "--name", "thresher online-deployment delete -n D -e E --yes")
    endpoint = require(endpoint_name, "--endpoint-name", "thresher online-deployment delete -n D -e E --yes")
    with workspace() as ws:
        ws.online_deployments.get(named, endpoint)
        confirm(f"Delete online deployment '{named}' of endpoint '{endpoint}'", yes)
        ws.online_deployments.delete(named, endpoint)
