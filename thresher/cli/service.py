"""``thresher server`` and ``thresher token ...``: serving a workspace over HTTP, and who may call it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thresher.cli.common import OutputOpt, QueryOpt, require, workspace
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.sdk.wire import encode

token_app = group_app("token")
TOKEN_COLUMNS = ("name", "role", "created_at", "last_used_at", "revoked_at")


@token_app.command(
    "create",
    epilog="Example: thresher token create --name ci --role contributor --query secret -o tsv\n\n"
    "On the server's machine this works on its workspace folder directly (how the first owner token is made); "
    "elsewhere, with THRESHER_SERVER and an owner's THRESHER_TOKEN.",
)
def token_create(
    name: Annotated[str | None, typer.Option("--name", "-n", help="A name to know the token by.")] = None,
    role: Annotated[str, typer.Option("--role", help="reader, contributor or owner.")] = "reader",
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Make an API token. Its secret is printed now and never again (only its hash is stored)."""
    named = require(name, "--name", "thresher token create --name NAME --role reader|contributor|owner")
    with workspace() as ws:
        made = ws.tokens.create(named, role=role)
    document: dict[str, Any] = {**encode(made.token), "secret": made.secret}
    emit(document, output, query)


@token_app.command("list", epilog="Example: thresher token list -o table")
def token_list(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List tokens with their roles (never their secrets)."""
    with workspace() as ws:
        emit(encode(ws.tokens.list()), output, query, columns=TOKEN_COLUMNS)


@token_app.command("revoke", epilog="Example: thresher token revoke --name ci")
def token_revoke(
    name: Annotated[str | None, typer.Option("--name", "-n", help="The token.")] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Revoke a token: the server refuses it from now on."""
    named = require(name, "--name", "thresher token revoke --name NAME")
    with workspace() as ws:
        emit(encode(ws.tokens.revoke(named)), output, query)
