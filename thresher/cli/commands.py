"""The commands that several resources have, each written once: ``create``, ``show``, ``list``, ``delete``.

A factory adds one command to a resource's app. What differs per resource comes in as arguments: the
SDK call, the document printed, the resource's own ``create`` flags, and its help texts and examples.

Example::

    add_show(datastore_app, DATASTORES, "Show one datastore.", "Example: thresher datastore show --name x -o tsv")
"""

# No ``from __future__ import annotations`` here: typer reads the commands' option types when the app
# is built, and these options take their help texts from the factories' arguments, which only a live
# annotation (not a string, evaluated later in this module's globals) can hold.

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import typer

from thresher.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, YesOpt, build_spec, confirm, require, workspace
from thresher.cli.output import OutputFormat, emit
from thresher.sdk import Workspace, resource_document
from thresher.specs import Kind
from thresher.store import ResourceRecord

Document = dict[str, Any]
Flags = Callable[..., dict[str, Any]]
"""A resource's own options, as keyword parameters with typer annotations, returned as spec fields."""


class NamedOperations(Protocol):
    """What the SDK offers for every named resource (``ws.datastores``, ``ws.computes``, ...)."""

    def get(self, name: str) -> ResourceRecord: ...

    def list(self) -> list[ResourceRecord]: ...

    def delete(self, name: str) -> None: ...


@dataclass(frozen=True)
class Named:
    """A kind of named resource, as its commands see it."""

    command: str  # thresher <command> show ...
    operations: Callable[[Workspace], NamedOperations]
    name_help: str  # of its --name
    document: Callable[[Workspace, ResourceRecord], Document] = lambda _ws, record: resource_document(record)


def add_create(
    app: typer.Typer,
    kind: Kind,
    create: Callable[[Workspace, Any], Document],
    name_help: str,
    help: str,
    epilog: str,
    flags: Flags | None = None,
) -> None:
    """``create``: a resource from ``--file`` (Azure's YAML), ``--name``, its own ``flags``, and ``--set``.

    ``flags`` takes the resource's own options as keyword parameters (typer annotations, shown in
    ``--help`` after ``--name``) and returns them as spec fields. ``create`` gets the spec that
    ``build_spec`` made for ``kind`` and returns the document to print.
    """

    def command(
        file: FileOpt = None,
        name: Annotated[str | None, typer.Option("--name", "-n", help=name_help)] = None,
        sets: SetOpt = None,
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
        **own: Any,
    ) -> None:
        spec = build_spec(kind, file, {"name": name, **(flags(**own) if flags else {})}, sets)
        with workspace() as ws:
            emit(create(ws, spec), output, query)

    app.command("create", help=help, epilog=epilog)(_with_options(command, 2, flags))


def add_update(
    app: typer.Typer,
    kind: Kind,
    update: Callable[..., Document],
    name_help: str,
    help: str,
    epilog: str,
    keys: Flags | None = None,
) -> None:
    """``update``: with ``--file``, the resource's spec replaced by the file's (``--name``, the ``keys``
    options and ``--set`` over its keys); without, the stored spec changed by ``--set``.

    ``update(ws, spec, sets, name=..., **keys)`` makes the change (``spec`` is None without ``--file``)
    and returns the document to print; ``keys`` declares the options, besides ``--name``, that name
    the resource (shown in ``--help`` after ``--name``).
    """

    def command(
        name: Annotated[str | None, typer.Option("--name", "-n", help=name_help)] = None,
        file: FileOpt = None,
        sets: SetOpt = None,
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
        **own: Any,
    ) -> None:
        named = {"name": name, **(keys(**own) if keys else {})}
        spec = None if file is None else build_spec(kind, file, named, sets)
        with workspace() as ws:
            emit(update(ws, spec, sets or [], **named), output, query)

    app.command("update", help=help, epilog=epilog)(_with_options(command, 1, keys))


def _with_options(command: Callable[..., None], at: int, extra: Flags | None) -> Callable[..., None]:
    """``command`` with ``extra``'s parameters in its signature at position ``at``, in place of its ``**own``.

    typer reads a command's options from its signature, so that is where a resource's own options go.
    """
    shared = list(inspect.signature(command).parameters.values())[:-1]
    own = [] if extra is None else list(inspect.signature(extra, eval_str=True).parameters.values())
    command.__signature__ = inspect.Signature([*shared[:at], *own, *shared[at:]])  # type: ignore[attr-defined]
    return command


def add_show(app: typer.Typer, resource: Named, help: str, epilog: str) -> None:
    """``show --name NAME``: one resource's document."""

    @app.command("show", help=help, epilog=epilog)
    def show(
        name: Annotated[str | None, typer.Option("--name", "-n", help=resource.name_help)] = None,
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
    ) -> None:
        with workspace() as ws:
            record = resource.operations(ws).get(require(name, "--name", f"thresher {resource.command} show -n NAME"))
            emit(resource.document(ws, record), output, query)


def add_list(app: typer.Typer, resource: Named, help: str, columns: Sequence[str]) -> None:
    """``list``: every resource's document (``-o table`` shows ``columns``)."""

    @app.command("list", help=help, epilog=f"Example: thresher {resource.command} list -o table")
    def list_(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
        with workspace() as ws:
            documents = [resource.document(ws, record) for record in resource.operations(ws).list()]
            emit(documents, output, query, columns=columns)


def add_delete(app: typer.Typer, resource: Named, help: str, epilog: str, question: str) -> None:
    """``delete --name NAME --yes``: after checking that it exists, and asking ``question`` (with ``{name}``)."""

    @app.command("delete", help=help, epilog=epilog)
    def delete(
        name: Annotated[str | None, typer.Option("--name", "-n", help=resource.name_help)] = None, yes: YesOpt = False
    ) -> None:
        named = require(name, "--name", f"thresher {resource.command} delete -n NAME --yes")
        with workspace() as ws:
            operations = resource.operations(ws)
            operations.get(named)
            confirm(question.format(name=named), yes)
            operations.delete(named)
