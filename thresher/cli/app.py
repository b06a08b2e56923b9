"""The ``thresher`` command: az ml's resource commands, run against a local workspace.

The root imports only typer: each command group (``groups.py``) loads when a command line names it,
so ``thresher --version`` and ``thresher --help`` start in a fraction of the time a command that
opens the workspace takes. az's argument conventions (prefixes of long options, Azure-only options
ignored, several values after ``--set``) are applied to each command's arguments (``arguments.py``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from thresher import __version__
from thresher.cli.groups import LazyGroups
from thresher.cli.runner import RUNNER_EPILOG, RUNNER_HELP, runner_command

app = typer.Typer(
    name="thresher",
    cls=LazyGroups,
    help="Batch inference for Python models, on this machine or a cluster. Speaks az ml's commands: "
    "replace 'az ml' with 'thresher' in a deploy script. The workspace is THRESHER_HOME (default ./.thresher).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


app.command("runner", help=RUNNER_HELP, epilog=RUNNER_EPILOG)(runner_command)


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False},
    help="Run an Azure ML v1 SDK script (azureml.core, azureml.pipeline) against this workspace.\n\n"
    "Its Workspace is this workspace; its compute targets, datastores, datasets and environments are thresher's; "
    "Experiment.submit(pipeline) runs the pipeline here as a pipeline job. The azureml modules it imports are "
    "thresher's shim, visible to this script only: nothing is installed.",
    epilog="Example: thresher run pipeline_driver.py --data ./data  (docs/pipelines-v1.md)",
)
def run_script(
    ctx: typer.Context,
    script: Annotated[str, typer.Argument(help="The driver script; the arguments after it are its own.")],
) -> None:
    """``thresher run``: the launcher of ``thresher.sdk.v1`` (imported only when this command runs)."""
    from thresher.sdk.v1.launcher import run_driver

    raise typer.Exit(run_driver(script, list(ctx.args)))


@app.command(
    "server",
    help="Serve this workspace over HTTP: the SDK's operations under /api/v1 (OpenAPI at /openapi.json), behind "
    "API tokens (thresher token create). Clients set THRESHER_SERVER and THRESHER_TOKEN; the CLI and Workspace() "
    "then talk to it. Schedules fire while a server runs.",
    epilog="Example: thresher token create --name admin --role owner && thresher server --port 8080  "
    "(docs/server.md: TLS, reverse proxy, runners)",
)
def server(
    host: Annotated[str, typer.Option("--host", help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    ssl_certfile: Annotated[str | None, typer.Option("--ssl-certfile", help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option("--ssl-keyfile", help="TLS private key (PEM).")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Server processes sharing the port.", min=1)] = 1,
    no_runner: Annotated[
        bool, typer.Option("--no-runner", help="Queue jobs only: separate `thresher runner` processes run them.")
    ] = False,
) -> None:
    """``thresher server``: uvicorn and FastAPI are imported only when this command runs."""
    from thresher.server.main import serve
    from thresher.settings import load_settings

    overrides: dict[str, object] = {"server": None}  # a server serves its own workspace, never another server
    if no_runner:
        overrides["server_runner"] = False
    serve(
        load_settings(**overrides),
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        workers=workers,
    )
