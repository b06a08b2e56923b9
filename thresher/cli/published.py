"""``thresher pipeline publish|list|show|enable|disable`` and ``thresher pipeline-endpoint
list|show|set-default|enable|disable|invoke``: published pipelines and the endpoints over their versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from thresher.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, require, workspace
from thresher.cli.groups import group_app
from thresher.cli.jobs import _document, _finish, _stream
from thresher.cli.output import OutputFormat, emit
from thresher.errors import ThresherError
from thresher.sdk import Workspace
from thresher.sdk.pipeline_requests import EXPERIMENT, PARAMETERS
from thresher.sdk.published import PublishedPipeline

pipeline_app = group_app("pipeline")
endpoint_app = group_app("pipeline-endpoint")
PIPELINE_COLUMNS = ("name", "version", "id", "status", "is_default", "description")
ENDPOINT_COLUMNS = ("name", "default_version", "status", "versions", "description")

NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="The pipeline endpoint (the published name).")]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="The version (default: the default one).")]
IdOpt = Annotated[str | None, typer.Option("--id", help="The published pipeline's id.")]


@pipeline_app.command(
    "publish",
    epilog="Examples:\n\n  thresher pipeline publish -f pipeline.yml --name nightly\n\n"
    "  thresher pipeline publish -f pipeline.yml --name nightly --set-default --description 'rounds to 2'\n\n"
    "  thresher pipeline publish --job-name diabetes-nightly-20261125-0412-ab12 --name nightly",
)
def pipeline_publish(
    file: FileOpt = None,
    name: NameOpt = None,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Version (default: the next).")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="What it does.")] = None,
    set_default: Annotated[
        bool, typer.Option("--set-default", help="Make it the endpoint's default (the first version always is).")
    ] = False,
    job_name: Annotated[str | None, typer.Option("--job-name", "-j", help="Publish this pipeline job.")] = None,
    sets: SetOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Publish a pipeline (a pipeline job YAML, or a pipeline job) as a new version of the pipeline endpoint
    --name. Its folder is copied now: the published version keeps running that code."""
    named = require(name, "--name", "thresher pipeline publish -f pipeline.yml --name NAME")
    if file is None and job_name is None:
        raise ThresherError("--file or --job-name is required here.", fix="thresher pipeline publish -f pipeline.yml")
    source = f"azureml:{job_name}" if job_name else str(file)
    with workspace() as ws:
        published = ws.pipeline_endpoints.publish(
            source,
            name=named,
            version=version,
            description=description,
            set_default=True if set_default else None,
            overrides=sets or [],
        )
        emit(published.to_dict(), output, query)


@pipeline_app.command("list", epilog="Example: thresher pipeline list -o table")
def pipeline_list(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List the published pipelines (every version of every name, or of --name)."""
    with workspace() as ws:
        ops = ws.pipeline_endpoints
        found = ops.pipelines(name) if name else ops.list_published()
        emit([p.to_dict() for p in found], output, query, columns=PIPELINE_COLUMNS)


def _one(ws: Workspace, id: str | None, name: str | None, version: str | None, example: str) -> PublishedPipeline:
    if id:
        return ws.pipeline_endpoints.get_published(id)
    return ws.pipeline_endpoints.get_pipeline(require(name, "--name or --id", example), version)


@pipeline_app.command("show", epilog="Example: thresher pipeline show --name nightly --version 2")
def pipeline_show(
    id: IdOpt = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one published pipeline (by --id, or --name and --version)."""
    with workspace() as ws:
        emit(_one(ws, id, name, version, "thresher pipeline show -n NAME -v 1").to_dict(), output, query)


@pipeline_app.command("disable", epilog="Example: thresher pipeline disable --name nightly --version 1")
def pipeline_disable(
    id: IdOpt = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Disable one published pipeline: submitting it is refused until it is enabled."""
    with workspace() as ws:
        found = _one(ws, id, name, version, "thresher pipeline disable -n NAME -v 1")
        emit(ws.pipeline_endpoints.disable_published(found.id).to_dict(), output, query)


@pipeline_app.command("enable", epilog="Example: thresher pipeline enable --name nightly --version 1")
def pipeline_enable(
    id: IdOpt = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Enable one published pipeline again."""
    with workspace() as ws:
        found = _one(ws, id, name, version, "thresher pipeline enable -n NAME -v 1")
        emit(ws.pipeline_endpoints.enable_published(found.id).to_dict(), output, query)


@endpoint_app.command("list", epilog="Example: thresher pipeline-endpoint list -o table")
def endpoint_list(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List the pipeline endpoints."""
    with workspace() as ws:
        emit([e.to_dict() for e in ws.pipeline_endpoints.list()], output, query, columns=ENDPOINT_COLUMNS)


@endpoint_app.command("show", epilog="Example: thresher pipeline-endpoint show --name nightly")
def endpoint_show(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show a pipeline endpoint: its versions, its default, whether it is enabled."""
    named = require(name, "--name", "thresher pipeline-endpoint show -n NAME")
    with workspace() as ws:
        emit(ws.pipeline_endpoints.get(named).to_dict(), output, query)


@endpoint_app.command("set-default", epilog="Example: thresher pipeline-endpoint set-default -n nightly -v 2")
def endpoint_set_default(
    name: NameOpt = None, version: VersionOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None
) -> None:
    """Make a version the endpoint's default."""
    named = require(name, "--name", "thresher pipeline-endpoint set-default -n NAME -v 2")
    chosen = require(version, "--version", "thresher pipeline-endpoint set-default -n NAME -v 2")
    with workspace() as ws:
        emit(ws.pipeline_endpoints.set_default(named, chosen).to_dict(), output, query)


@endpoint_app.command("disable", epilog="Example: thresher pipeline-endpoint disable --name nightly")
def endpoint_disable(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Disable a pipeline endpoint: invoking it is refused (409 over REST) until it is enabled."""
    named = require(name, "--name", "thresher pipeline-endpoint disable -n NAME")
    with workspace() as ws:
        emit(ws.pipeline_endpoints.disable(named).to_dict(), output, query)


@endpoint_app.command("enable", epilog="Example: thresher pipeline-endpoint enable --name nightly")
def endpoint_enable(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Enable a pipeline endpoint again."""
    named = require(name, "--name", "thresher pipeline-endpoint enable -n NAME")
    with workspace() as ws:
        emit(ws.pipeline_endpoints.enable(named).to_dict(), output, query)


@endpoint_app.command(
    "invoke",
    epilog="Examples:\n\n  thresher pipeline-endpoint invoke -n nightly --set round_to=2 --stream\n\n"
    "  thresher pipeline-endpoint invoke -n nightly --request-file body.json  (Azure's REST body)",
)
def endpoint_invoke(
    name: NameOpt = None,
    version: VersionOpt = None,
    request_file: Annotated[
        Path | None,
        typer.Option("--request-file", "-r", help="JSON body as Azure's REST call takes it (ExperimentName, ...)."),
    ] = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="A parameter: --set name=value (ParameterAssignments).")
    ] = None,
    experiment_name: Annotated[
        str | None, typer.Option("--experiment-name", "-e", help="Experiment (default: the pipeline's).")
    ] = None,
    follow: Annotated[bool, typer.Option("--stream", help="Follow the job until it ends.")] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Submit a pipeline endpoint (its default version, or --version) with parameters; the pipeline job."""
    named = require(name, "--name", "thresher pipeline-endpoint invoke -n NAME --set k=v")
    body = _body(request_file, sets or [], experiment_name)
    with workspace() as ws:
        job = ws.pipeline_endpoints.invoke(named, body, version=version)
        emit(_document(ws, job), output, query)
        if follow:
            _finish(_stream(ws, job.name))


def _body(file: Path | None, sets: list[str], experiment: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise ThresherError(
                f"--request-file {file} cannot be read as JSON: {exc}.",
                fix='Give a JSON object such as {"ExperimentName": "nightly", "ParameterAssignments": {"k": 1}}.',
            ) from None
        if not isinstance(loaded, dict):
            raise ThresherError(f"--request-file {file} holds {type(loaded).__name__}, not a JSON object.")
        body = loaded
    if experiment:
        body[EXPERIMENT] = experiment
    for item in sets:
        key, sign, value = item.partition("=")
        if not sign or not key.strip():
            raise ThresherError(f"--set {item!r} is not name=value.", fix="For example: --set round_to=2")
        key = key.strip().removeprefix("inputs.")
        body.setdefault(PARAMETERS, {})[key] = value
    return body
