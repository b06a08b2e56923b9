"""The ``thresher`` command: az ml's resource commands, run against a local workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from thresher import __version__
from thresher.cli.assets import data_app, environment_app, model_app
from thresher.cli.endpoints import deployment_app, endpoint_app
from thresher.cli.infra import compute_app, datastore_app
from thresher.cli.jobs import batch_app, job_app
from thresher.cli.workspace import workspace_app

app = typer.Typer(
    name="thresher",
    help="Batch inference for Python models, on this machine or a cluster. Speaks az ml's commands: "
    "replace 'az ml' with 'thresher' in a deploy script. The workspace is THRESHER_HOME (default ./.thresher).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(model_app, name="model")
app.add_typer(environment_app, name="environment")
app.add_typer(data_app, name="data")
app.add_typer(datastore_app, name="datastore")
app.add_typer(compute_app, name="compute")
app.add_typer(endpoint_app, name="batch-endpoint")
app.add_typer(deployment_app, name="batch-deployment")
app.add_typer(job_app, name="job")
app.add_typer(batch_app, name="batch")
app.add_typer(workspace_app, name="workspace")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"thresher {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """thresher: self-hosted batch inference and ML pipelines."""
