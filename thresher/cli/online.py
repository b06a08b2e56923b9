"""``thresher online-endpoint ...``: az ml's commands and flags for online endpoints (resources and keys).

``--local`` is accepted as az takes it (thresher serves on this machine either way), and ``--no-wait``
as every command accepts it (``arguments.py``): thresher's changes are done when the command returns.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from thresher.cli.commands import add_create
from thresher.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, YesOpt, build_spec, confirm, require, workspace
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.errors import ThresherError
from thresher.sdk import Workspace, online_endpoint_document
from thresher.specs import OnlineEndpointSpec, Spec
from thresher.store import ResourceRecord

NAME_HELP = "Name of the online endpoint."
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help=NAME_HELP)]
LocalOpt = Annotated[
    bool, typer.Option("--local", help="Accepted as az takes it; thresher serves on this machine either way.")
]
TrafficOpt = Annotated[
    str | None,
    typer.Option("--traffic", help='Live traffic per deployment, replacing the split: --traffic "blue=90 green=10".'),
]
MirrorOpt = Annotated[
    str | None,
    typer.Option("--mirror-traffic", help='Mirrored traffic, to one deployment: --mirror-traffic "green=10".'),
]
KeyTypeOpt = Annotated[
    str, typer.Option("--key-type", help="Which key to regenerate: primary or secondary.", case_sensitive=False)
]

endpoint_app = group_app("online-endpoint")
ENDPOINT_COLUMNS = ("name", "auth_mode", "traffic", "provisioning_state")
_SPLIT_ITEM = re.compile(r"^([^=\s]+)=([0-9]+)$")


def parse_split(text: str | None, flag: str) -> dict[str, int] | None:
    """``"blue=90 green=10"`` (spaces or commas between items) as ``{"blue": 90, "green": 10}``."""
    if text is None:
        return None
    split: dict[str, int] = {}
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        match = _SPLIT_ITEM.match(item)
        if match is None:
            raise ThresherError(
                f"{flag} item {item!r} is not deployment=percent (a whole number).",
                fix=f'For example: {flag} "blue=90 green=10"',
            )
        split[match.group(1)] = int(match.group(2))
    return split


def _create(ws: Workspace, spec: Spec) -> dict[str, object]:
    assert isinstance(spec, OnlineEndpointSpec)
    return online_endpoint_document(ws.online_endpoints.create(spec))


def _local_only(local: LocalOpt = False) -> dict[str, object]:
    return {}  # --local changes nothing here: it adds no field to the spec


add_create(
    endpoint_app,
    "online_endpoint",
    _create,
    NAME_HELP,
    "Create (or update) an online endpoint; a new one gets a primary and a secondary key.",
    "Example: thresher online-endpoint create --file endpoint.yml --name my-endpoint",
    _local_only,
)


@endpoint_app.command(
    "update", epilog='Example: thresher online-endpoint update -n my-endpoint --traffic "blue=90 green=10"'
)
def endpoint_update(
    name: NameOpt = None,
    file: FileOpt = None,
    traffic: TrafficOpt = None,
    mirror_traffic: MirrorOpt = None,
    sets: SetOpt = None,
    local: LocalOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Change an endpoint: its traffic split, its mirror, --set key=value, or a new YAML file."""
    split, mirror = parse_split(traffic, "--traffic"), parse_split(mirror_traffic, "--mirror-traffic")
    spec = None if file is None else build_spec("online_endpoint", file, {"name": name}, sets)
    named = spec.name if spec is not None else require(name, "--name", "thresher online-endpoint update -n NAME ...")
    with workspace() as ws:
        if isinstance(spec, OnlineEndpointSpec):
            record = ws.online_endpoints.update(named, spec=spec, traffic=split, mirror_traffic=mirror)
        else:
            record = ws.online_endpoints.update(named, sets or [], traffic=split, mirror_traffic=mirror)
        emit(online_endpoint_document(record), output, query)


@endpoint_app.command("show", epilog="Example: thresher online-endpoint show -n my-endpoint --query traffic")
def endpoint_show(
    name: NameOpt = None, local: LocalOpt = False, output: OutputOpt = OutputFormat.json, query: QueryOpt = None
) -> None:
    """Show one online endpoint (never its keys: see get-credentials)."""
    named = require(name, "--name", "thresher online-endpoint show -n NAME")
    with workspace() as ws:
        record = ws.online_endpoints.get(named)
        emit(served_document(record, ws.online_endpoints.serving(named)), output, query)


def served_document(record: ResourceRecord, serving: dict[str, Any]) -> dict[str, Any]:
    """The endpoint as az shows it, with where it is served and, when it mirrors, the mirror's diff."""
    document = online_endpoint_document(record, serving.get("scoring_uri"))
    document["swagger_uri"] = serving.get("swagger_uri")
    document["openapi_uri"] = serving.get("openapi_uri")
    if serving.get("mirror"):
        document["mirror_diff"] = serving["mirror"]
    return document


@endpoint_app.command("list", epilog="Example: thresher online-endpoint list -o table")
def endpoint_list(local: LocalOpt = False, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List online endpoints."""
    with workspace() as ws:
        documents = [online_endpoint_document(record) for record in ws.online_endpoints.list()]
        emit(documents, output, query, columns=ENDPOINT_COLUMNS)


@endpoint_app.command("delete", epilog="Example: thresher online-endpoint delete -n my-endpoint --yes")
def endpoint_delete(name: NameOpt = None, local: LocalOpt = False, yes: YesOpt = False) -> None:
    """Delete an online endpoint with its deployments and keys."""
    named = require(name, "--name", "thresher online-endpoint delete -n NAME --yes")
    with workspace() as ws:
        ws.online_endpoints.get(named)
        confirm(f"Delete online endpoint '{named}', its deployments and its keys", yes)
        ws.online_endpoints.delete(named)


@endpoint_app.command("get-credentials", epilog="Example: thresher online-endpoint get-credentials -n my-endpoint")
def endpoint_credentials(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Print the endpoint's keys (auth_mode key), or a new token that expires in an hour (aml_token)."""
    named = require(name, "--name", "thresher online-endpoint get-credentials -n NAME")
    with workspace() as ws:
        emit(dict(ws.online_endpoints.get_credentials(named)), output, query)


@endpoint_app.command(
    "regenerate-keys", epilog="Example: thresher online-endpoint regenerate-keys -n my-endpoint --key-type secondary"
)
def endpoint_regenerate_keys(name: NameOpt = None, key_type: KeyTypeOpt = "primary") -> None:
    """Replace the endpoint's primary or secondary key; the old one stops working at once."""
    named = require(name, "--name", "thresher online-endpoint regenerate-keys -n NAME --key-type primary")
    with workspace() as ws:
        ws.online_endpoints.regenerate_keys(named, key_type.lower())
