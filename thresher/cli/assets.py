"""``thresher model|environment|data ...``: versioned assets, with az ml's commands and flags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from thresher.cli.commands import add_create
from thresher.cli.common import OutputOpt, QueryOpt, absolute, require, split_name_version, workspace
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.errors import ThresherError
from thresher.sdk import Workspace, asset_document
from thresher.sdk.assets import DataOperations, ModelOperations, _AssetOperations
from thresher.specs import Kind
from thresher.store import AssetRecord

NAME_HELP = "Name of the asset."
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help=NAME_HELP)]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: the next number).")]
DescriptionOpt = Annotated[str | None, typer.Option("--description", "-d", help="Description.")]

model_app = group_app("model")
environment_app = group_app("environment")
data_app = group_app("data")

COLUMNS = ("name", "version", "type", "description", "path")


def _add_read_commands(
    app: typer.Typer,
    noun: str,
    operations: Callable[[Workspace], _AssetOperations],
    describe: Callable[[Workspace, AssetRecord], dict[str, Any]] | None = None,
) -> None:
    """show / list / archive / restore, the same for every versioned asset kind.

    ``describe`` makes the document that ``show`` prints (default: ``asset_document``).
    """

    @app.command("show", epilog=f"Example: thresher {noun} show --name my-{noun} --version 1 --query path -o tsv")
    def show(
        name_arg: Annotated[
            str | None, typer.Argument(metavar="NAME[:VERSION]", help="Name, NAME:VER or NAME@latest.")
        ] = None,
        name: NameOpt = None,
        version: VersionOpt = None,
        label: Annotated[str | None, typer.Option("--label", "-l", help="'latest' for the latest version.")] = None,
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
    ) -> None:
        """Show one version (the latest when no version is given)."""
        base, ver = split_name_version(name or name_arg or "", version)
        with workspace() as ws:
            record = operations(ws).get(_named(base, noun), None if label == "latest" else ver)
            emit(describe(ws, record) if describe else asset_document(record), output, query)

    @app.command("list", epilog=f"Example: thresher {noun} list -o table")
    def list_(
        name: NameOpt = None,
        include_archived: Annotated[
            bool, typer.Option("--include-archived", help="Also list archived versions.")
        ] = False,
        output: OutputOpt = OutputFormat.json,
        query: QueryOpt = None,
    ) -> None:
        """List the latest version of every asset, or every version of --name."""
        with workspace() as ws:
            records = operations(ws).list(name, include_archived=include_archived)
            emit([asset_document(r) for r in records], output, query, columns=COLUMNS)

    archive = "Archive a version (or every version): hidden from list and @latest, still usable by version."
    _add_archiving(app, noun, operations, "archive", archive, lambda assets: assets.archive)
    _add_archiving(
        app, noun, operations, "restore", "Restore an archived version (or every version).", lambda a: a.restore
    )


def _add_archiving(
    app: typer.Typer,
    noun: str,
    operations: Callable[[Workspace], _AssetOperations],
    verb: str,
    help: str,
    change: Callable[[_AssetOperations], Callable[[str, str | None], object]],
) -> None:
    """``archive`` or ``restore`` (``verb``): ``change`` is the operation that does it."""

    @app.command(verb, help=help, epilog=f"Example: thresher {noun} {verb} --name my-{noun} --version 1")
    def command(
        name_arg: Annotated[str | None, typer.Argument(metavar="NAME[:VERSION]")] = None,
        name: NameOpt = None,
        version: VersionOpt = None,
    ) -> None:
        base, ver = split_name_version(name or name_arg or "", version)
        with workspace() as ws:
            change(operations(ws))(_named(base, noun), ver)


def _named(name: str, noun: str) -> str:
    return require(name, "--name", f"thresher {noun} show --name my-{noun}")


def _add_path_asset_create(
    app: typer.Typer,
    kind: Kind,
    operations: Callable[[Workspace], ModelOperations | DataOperations],
    help: str,
    epilog: str,
    path_help: str,
    type_help: str,
) -> None:
    """``create`` of the assets made from a file or folder (model, data): --path and --type are theirs."""

    # Default-style options: their help texts come from the arguments here, which an Annotated
    # annotation (a string in this module, read later by typer) could not see.
    def flags(
        version: VersionOpt = None,
        path: str | None = typer.Option(None, "--path", "-p", help=path_help),
        type_: str | None = typer.Option(None, "--type", "-t", help=type_help),
        description: DescriptionOpt = None,
    ) -> dict[str, Any]:
        return {"version": version, "path": absolute(path), "type": type_, "description": description}

    add_create(app, kind, lambda ws, spec: asset_document(operations(ws).create(spec)), NAME_HELP, help, epilog, flags)


_add_path_asset_create(
    model_app,
    "model",
    lambda ws: ws.models,
    "Register a model version: the files are copied into the workspace (stored once per content).",
    "Examples:\n\n  thresher model create --name mnist --type custom_model --path ./model\n\n"
    "  thresher model create -f model.yml --set version=3",
    "Model file or folder.",
    "custom_model (default) or mlflow_model.",
)


def _environment_flags(
    version: VersionOpt = None,
    conda_file: Annotated[Path | None, typer.Option("--conda-file", help="conda.yaml with a pip: list.")] = None,
    image: Annotated[str | None, typer.Option("--image", "-i", help="Docker image (recorded, not used).")] = None,
    description: DescriptionOpt = None,
) -> dict[str, Any]:
    return {
        "version": version,
        "conda_file": str(conda_file.resolve()) if conda_file else None,
        "image": image,
        "description": description,
    }


add_create(
    environment_app,
    "environment",
    lambda ws, spec: asset_document(ws.environments.create(spec)),
    NAME_HELP,
    "Register an environment version from its dependency file.",
    "Examples:\n\n  thresher environment create --name sklearn-env --conda-file environment/conda.yaml\n\n"
    "  thresher environment create -f environment.yml",
    _environment_flags,
)


@environment_app.command(
    "build",
    epilog="Examples:\n\n  thresher environment build sklearn-env:1\n\n"
    "  thresher environment build --name sklearn-env --version 1 --query python -o tsv",
)
def environment_build(
    name_arg: Annotated[
        str | None, typer.Argument(metavar="NAME[:VERSION]", help="Name, NAME:VER or NAME@latest.")
    ] = None,
    name: NameOpt = None,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Version (default: the latest).")] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Build the environment's virtualenv now, so that the first job on it starts at once.

    A built environment is reused by every job and build asking for the same packages and Python.
    """
    base, ver = split_name_version(name or name_arg or "", version)
    with workspace() as ws:
        record = ws.environments.get(_named(base, "environment"), ver)
        built = ws.environments.build(record.name, record.version)
        emit({"id": f"azureml:{record.name}:{record.version}", **built.to_dict()}, output, query)


def _environment_document(ws: Workspace, record: AssetRecord) -> dict[str, Any]:
    """An environment version with whether it is built, its size and its path (under ``build``)."""
    document = asset_document(record)
    try:
        status = ws.environments.build_status(record.name, record.version).to_dict()
    except ThresherError as exc:  # e.g. its Python version is not installed: show says why
        status = {"built": False, "error": exc.message, "fix": exc.fix}
    document["build"] = status
    return document


_add_path_asset_create(
    data_app,
    "data",
    lambda ws: ws.data,
    "Register a data asset version: the data is copied into the workspace and fingerprinted.",
    "Examples:\n\n  thresher data create --name heart-data --path ./data --type uri_folder\n\n"
    "  thresher data create -f data.yml",
    "File or folder.",
    "uri_folder (default), uri_file or mltable.",
)

_add_read_commands(model_app, "model", lambda ws: ws.models)
_add_read_commands(environment_app, "environment", lambda ws: ws.environments, _environment_document)
_add_read_commands(data_app, "data", lambda ws: ws.data)
