"""``thresher job ...``, ``batch-endpoint invoke`` / ``list-jobs``, ``batch-deployment list-jobs``, ``batch score``."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from thresher.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, YesOpt, confirm, require, workspace
from thresher.cli.endpoints import deployment_app, endpoint_app
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.errors import ThresherError
from thresher.sdk import Workspace
from thresher.sdk.job_documents import job_document
from thresher.storage.disk import size
from thresher.store import JobRecord

NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Name of the job.")]
JOB_COLUMNS = ("name", "type", "status", "deployment_name", "items_succeeded", "items_failed", "elapsed_seconds")
STEP_COLUMNS = ("name", "step", "type", "status", "elapsed_seconds", "headline")
WORKER_COLUMNS = ("worker", "host", "samples", "mean_cpu_percent", "peak_memory")

job_app = group_app("job")
batch_app = group_app("batch")


def _finish(job: JobRecord) -> None:
    if job.status != "Completed":
        raise typer.Exit(1)


def _stream(ws: Workspace, name: str) -> JobRecord:
    """Follow the job with a progress bar until it ends (rich's progress is imported only to follow)."""
    from thresher.cli.progress import stream as follow
    from thresher.cli.progress import stream_command, stream_pipeline

    kind = ws.jobs.get(name).kind
    if kind == "pipeline":
        return stream_pipeline(ws, name)
    if kind == "command":
        return stream_command(ws, name)
    return follow(ws, name)


def _document(ws: Workspace, job: JobRecord) -> dict[str, Any]:
    """The job as show prints it (a pipeline with its steps)."""
    steps = ws.jobs.list(parent_job_name=job.name, limit=None) if job.kind == "pipeline" else None
    return job_document(job, note=ws.jobs.note(job), steps=steps)


def _say(message: str) -> None:
    """A line for the person at the terminal, on stderr (stdout holds the command's output)."""
    from rich.console import Console

    Console(stderr=True).print(message)


@endpoint_app.command(
    "invoke",
    epilog="Examples:\n\n  thresher batch-endpoint invoke --name mnist-batch --input ./data --stream\n\n"
    "  JOB=$(thresher batch-endpoint invoke -n mnist-batch --input azureml:digits@latest --query name -o tsv)",
)
def endpoint_invoke(
    name_arg: Annotated[str | None, typer.Argument(metavar="NAME", help="The batch endpoint.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="The batch endpoint.")] = None,
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="Folder, file, azureml:<data>:<version> or datastore URI.")
    ] = None,
    input_type: Annotated[str | None, typer.Option("--input-type", help="uri_folder or uri_file.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="YAML with inputs: and outputs: (a type: pipeline deployment's job)."),
    ] = None,
    deployment_name: Annotated[
        str | None, typer.Option("--deployment-name", "-d", help="Deployment (default: the endpoint's).")
    ] = None,
    output_path: Annotated[str | None, typer.Option("--output-path", help="Folder for the score output.")] = None,
    mini_batch_size: Annotated[str | None, typer.Option("--mini-batch-size", help="Files per mini-batch.")] = None,
    instance_count: Annotated[int | None, typer.Option("--instance-count", help="Nodes to use.")] = None,
    sets: SetOpt = None,
    job_name: Annotated[str | None, typer.Option("--job-name", help="Name for the job.")] = None,
    follow: Annotated[bool, typer.Option("--stream", help="Follow the job until it ends.")] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Queue a batch scoring job (or, for a type: pipeline deployment, a pipeline job with the inputs of --file)
    and print it; it runs in the background (follow it with --stream)."""
    endpoint = require(name or name_arg, "--name", "thresher batch-endpoint invoke -n ENDPOINT --input ./data")
    with workspace() as ws:
        job = ws.jobs.invoke(
            endpoint,
            input=input,
            inputs_file=file,
            input_type=input_type,
            deployment_name=deployment_name,
            output_path=output_path,
            mini_batch_size=mini_batch_size,
            instance_count=instance_count,
            overrides=sets or [],
            job_name=job_name,
        )
        emit(_document(ws, job), output, query)
        if follow:
            _finish(_stream(ws, job.name))


@endpoint_app.command("list-jobs", epilog="Example: thresher batch-endpoint list-jobs --name mnist-batch -o table")
def endpoint_list_jobs(
    name: Annotated[str | None, typer.Option("--name", "-n", help="The batch endpoint.")] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List the jobs of an endpoint, newest first."""
    endpoint = require(name, "--name", "thresher batch-endpoint list-jobs -n ENDPOINT")
    with workspace() as ws:
        ws.batch_endpoints.get(endpoint.lower())
        emit([job_document(j) for j in ws.jobs.list(endpoint_name=endpoint)], output, query, columns=JOB_COLUMNS)


@deployment_app.command(
    "list-jobs", epilog="Example: thresher batch-deployment list-jobs --name mnist-torch --endpoint-name mnist-batch"
)
def deployment_list_jobs(
    name: Annotated[str | None, typer.Option("--name", "-n", help="The deployment.")] = None,
    endpoint_name: Annotated[str | None, typer.Option("--endpoint-name", "-e", help="The batch endpoint.")] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List the jobs of one deployment, newest first."""
    deployment = require(name, "--name", "thresher batch-deployment list-jobs -n D -e E")
    endpoint = require(endpoint_name, "--endpoint-name", "thresher batch-deployment list-jobs -n D -e E")
    with workspace() as ws:
        ws.batch_deployments.get(deployment, endpoint)
        jobs = ws.jobs.list(endpoint_name=endpoint, deployment_name=deployment)
        emit([job_document(j) for j in jobs], output, query, columns=JOB_COLUMNS)


@job_app.command(
    "create",
    epilog="Examples:\n\n  thresher job create --file pipeline.yml --stream\n\n"
    "  thresher job create -f pipeline.yml --set inputs.raw_data.path=./data --set settings.force_rerun=true",
)
def job_create(
    file: FileOpt = None,
    sets: SetOpt = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name for the job (default: a new one).")] = None,
    experiment_name: Annotated[
        str | None, typer.Option("--experiment-name", "-e", help="Experiment (default: the YAML's, or its name).")
    ] = None,
    follow: Annotated[bool, typer.Option("--stream", help="Follow the job until it ends.")] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Submit a pipeline job from Azure's v2 YAML (type: pipeline). Every problem of the file is reported at once,
    before anything runs; unchanged steps are reused."""
    path = require(str(file) if file else None, "--file", "thresher job create --file pipeline.yml")
    with workspace() as ws:
        job = ws.pipelines.create(Path(path), overrides=sets or [], name=name, experiment_name=experiment_name)
        emit(_document(ws, job), output, query)
        if follow:
            _finish(_stream(ws, job.name))


@job_app.command("list", epilog="Example: thresher job list -o table")
def job_list(
    limit: Annotated[int, typer.Option("--max-results", "-r", help="How many jobs, newest first.")] = 50,
    parent_job_name: Annotated[
        str | None, typer.Option("--parent-job-name", "-p", help="List the step jobs of this pipeline job.")
    ] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List jobs, newest first (pipeline steps are listed with --parent-job-name)."""
    with workspace() as ws:
        jobs = ws.jobs.list(limit=limit, parent_job_name=parent_job_name)
        columns = STEP_COLUMNS if parent_job_name else JOB_COLUMNS
        emit([job_document(j) for j in jobs], output, query, columns=columns)


@job_app.command(
    "explain-reuse",
    epilog="Examples:\n\n  thresher job explain-reuse --name nightly-20261130-0100-ab12.score\n\n"
    "  thresher job explain-reuse -n nightly-20261130-0100-ab12.prep --against nightly-20261129-0100-cd34.prep",
)
def job_explain_reuse(
    name_arg: Annotated[str | None, typer.Argument(metavar="STEP_JOB", help="A step job.")] = None,
    name: NameOpt = None,
    against: Annotated[str | None, typer.Option("--against", help="Another step job to compare with.")] = None,
) -> None:
    """Say why a pipeline step was reused or ran (what changed in its cache key), or how it differs from --against."""
    named = require(name or name_arg, "--name", "thresher job explain-reuse STEP_JOB")
    with workspace() as ws:
        for line in ws.pipelines.explain_reuse(named, against=against):
            typer.echo(line)


@job_app.command("show", epilog="Example: thresher job show -n mnist-20261125-0412-ab12 --query status -o tsv")
def job_show(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show a job: status, headline, counts, throughput, first failures, outputs and logs, and once it ended,
    each worker's peak memory and mean CPU, with warnings about starved workers or memory. A pipeline job
    shows its steps: status, step job, and where a step was reused from."""
    with workspace() as ws:
        job = ws.jobs.get(require(name, "--name", "thresher job show -n JOB"))
        document = _document(ws, job)
    emit(document, output, query)
    if query is None and output is OutputFormat.table and document.get("type") == "pipeline":
        typer.echo()
        emit(document["steps"], output, columns=("step", "status", "job", "reused_from", "headline"))
    if query is None and output in (OutputFormat.table, OutputFormat.tsv):
        # Lists do not fit one table row or tsv line: the workers as a table of their own, the warnings on stderr.
        if output is OutputFormat.table and document.get("workers"):
            typer.echo()
            emit(document["workers"], output, columns=WORKER_COLUMNS)
        for warning in document.get("warnings") or []:
            typer.echo(f"WARNING: {warning}", err=True)


@job_app.command("stream", epilog="Example: thresher job stream -n mnist-20261125-0412-ab12")
def job_stream(name: NameOpt = None) -> None:
    """Follow a job with a progress bar until it ends; exits non-zero unless it completed."""
    with workspace() as ws:
        _finish(_stream(ws, require(name, "--name", "thresher job stream -n JOB")))


@job_app.command("cancel", epilog="Example: thresher job cancel -n mnist-20261125-0412-ab12")
def job_cancel(name: NameOpt = None, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Cancel a job: workers stop promptly; what finished stays recorded (resume continues it)."""
    with workspace() as ws:
        emit(job_document(ws.jobs.cancel(require(name, "--name", "thresher job cancel -n JOB"))), output, query)


@job_app.command("resume", epilog="Example: thresher job resume -n mnist-20261125-0412-ab12 --stream")
def job_resume(
    name: NameOpt = None,
    follow: Annotated[bool, typer.Option("--stream", help="Follow the job until it ends.")] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Continue a failed, canceled or interrupted job from its committed mini-batches."""
    named = require(name, "--name", "thresher job resume -n JOB")
    with workspace() as ws:
        emit(_document(ws, ws.jobs.resume(named)), output, query)
        if follow:
            _finish(_stream(ws, named))


@job_app.command("delete", epilog="Example: thresher job delete --name mnist-20261125-0412-ab12 --yes")
def job_delete(
    name: NameOpt = None, yes: YesOpt = False, output: OutputOpt = OutputFormat.json, query: QueryOpt = None
) -> None:
    """Delete an ended job: its folder (logs, work files, outputs inside it) and its rows."""
    named = require(name, "--name", "thresher job delete -n JOB --yes")
    confirm(f"Delete job '{named}' and its folder", yes)
    with workspace() as ws:
        emit(ws.jobs.delete(named).to_dict(), output, query)


@job_app.command(
    "prune",
    epilog="Examples:\n\n  thresher job prune --older-than 7d --yes\n\n"
    "  thresher job prune --older-than 12h --dry-run -o table",
)
def job_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age of the jobs to delete: 90s, 30m, 12h, 7d or 2w.")
    ] = "7d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted.")] = False,
    yes: YesOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Delete every job that ended more than --older-than ago (folders and rows; running jobs never)."""
    age = parse_age(older_than)
    if not dry_run:
        confirm(f"Delete every job that ended more than {older_than} ago", yes)
    with workspace() as ws:
        cleanups = ws.jobs.prune(age, dry_run=dry_run)
    emit([c.to_dict() for c in cleanups], output, query, columns=("name", "status", "bytes", "deleted"))
    freed = sum(c.bytes for c in cleanups)
    verb = "would free" if dry_run else "freed"
    _say(f"{len(cleanups)} jobs, {verb} {size(freed)}")


_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_AGE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    """``7d`` -> 7 days; ThresherError naming the accepted forms otherwise."""
    match = _AGE.match(text)
    if match is None:
        raise ThresherError(
            f"--older-than is {text!r}; it must be a number with a unit: s, m, h, d or w (e.g. 7d, 12h).",
            fix="For example: thresher job prune --older-than 7d --yes",
        )
    return timedelta(seconds=int(match[1]) * _AGE_SECONDS[match[2].lower()])


@job_app.command(
    "download",
    epilog="Example: thresher job download --name mnist-20261125-0412-ab12 --output-name score --download-path ./out",
)
def job_download(
    name: NameOpt = None,
    output_name: Annotated[
        str, typer.Option("--output-name", help="The output: score for a batch job; a named output of a pipeline.")
    ] = "score",
    download_path: Annotated[str, typer.Option("--download-path", "-p", help="Where to put it.")] = ".",
    everything: Annotated[bool, typer.Option("--all", help="Also download the logs.")] = False,
) -> None:
    """Copy a job's output to DOWNLOAD_PATH/named-outputs/score/ (as az ml job download does)."""
    with workspace() as ws:
        target = ws.jobs.download(
            require(name, "--name", "thresher job download -n JOB --download-path DIR"),
            download_path,
            output_name=output_name,
            all=everything,
        )
    _say(f"Downloaded to {target}")


@batch_app.command(
    "score",
    epilog="Example: thresher batch score --model ./model --code ./code --scoring-script score.py --input ./data "
    "--output ./predictions",
)
def batch_score(
    model: Annotated[str, typer.Option("--model", "-m", help="Model file or folder.")],
    input: Annotated[str, typer.Option("--input", "-i", help="Folder or file to score.")],
    code: Annotated[str | None, typer.Option("--code", help="Folder holding the scoring script.")] = None,
    scoring_script: Annotated[
        str | None,
        typer.Option("--scoring-script", help="init()/run() script; leave out for an MLflow model (built-in driver)."),
    ] = None,
    output_folder: Annotated[str | None, typer.Option("--output", help="Folder for the score output.")] = None,
    mini_batch_size: Annotated[int, typer.Option("--mini-batch-size", help="Files per mini-batch.")] = 10,
    concurrency: Annotated[int, typer.Option("--max-concurrency", help="Worker processes.")] = 1,
    output_format: Annotated[str, typer.Option("--output-format", help="azure, csv, parquet or jsonl.")] = "azure",
) -> None:
    """Score files with a model and a scoring script (none for an MLflow model) now; nothing is registered."""
    settings = {
        "mini_batch_size": mini_batch_size,
        "max_concurrency_per_instance": concurrency,
        "output_format": output_format,
    }
    with workspace() as ws:
        job = ws.jobs.score(
            model=model, input=input, code=code, scoring_script=scoring_script, output=output_folder, settings=settings
        )
        thread = ws.jobs.run_here(job.name)
        ended = _stream(ws, job.name)
        thread.join()
        _finish(ended)
