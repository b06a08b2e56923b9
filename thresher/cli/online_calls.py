"""``thresher online-endpoint invoke|get-logs`` and ``thresher online-deployment get-logs``: calling a served
endpoint and reading what its serving process wrote (the resource commands are in ``online.py`` and
``online_deployments.py``; these are added to their apps here, as ``jobs.py`` adds batch endpoints' jobs).

``invoke`` prints the endpoint's answer as ``az ml online-endpoint invoke`` does; an answer that is not a
success is an error naming its status and the endpoint's own message.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from thresher.cli.common import require, workspace
from thresher.cli.online import LocalOpt, NameOpt, endpoint_app
from thresher.cli.online_deployments import EndpointOpt, deployment_app
from thresher.cli.online_deployments import NameOpt as DeploymentNameOpt
from thresher.errors import ThresherError

RequestFileOpt = Annotated[
    Path | None, typer.Option("--request-file", "-r", help="The request body: a JSON file (or CSV for /invocations).")
]
DeploymentOpt = Annotated[
    str | None,
    typer.Option("--deployment-name", "-d", help="Score on this deployment, whatever the traffic split says."),
]
LinesOpt = Annotated[int, typer.Option("--lines", "-l", help="How many of the last lines to show.", min=1)]
RouteOpt = Annotated[
    str,
    typer.Option("--route", help="The route scored: score (Azure), invocations (MLflow) or v2/models/<name>/infer."),
]

__all__ = ["deployment_app", "endpoint_app"]


@endpoint_app.command(
    "invoke", epilog="Example: thresher online-endpoint invoke -n my-endpoint --request-file sample-request.json"
)
def endpoint_invoke(
    name: NameOpt = None,
    request_file: RequestFileOpt = None,
    deployment_name: DeploymentOpt = None,
    route: RouteOpt = "score",
    local: LocalOpt = False,
) -> None:
    """Score a request on the endpoint (its primary key, or a new token) and print the answer."""
    named = require(name, "--name", "thresher online-endpoint invoke -n NAME --request-file request.json")
    path = Path(
        require(
            None if request_file is None else str(request_file),
            "--request-file",
            f"thresher online-endpoint invoke -n {named} -r request.json",
        )
    )
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise ThresherError(
            f"Cannot read the request file {path}: {exc.strerror or exc}.", fix="Pass an existing JSON file to -r."
        ) from exc
    content_type = "text/csv" if path.suffix.lower() == ".csv" else "application/json"
    with workspace() as ws:
        answer = ws.online_endpoints.invoke(
            named, body, deployment_name=deployment_name, content_type=content_type, route=route
        )
    if not 200 <= answer.status < 300:
        raise ThresherError(
            f"Online endpoint '{named}' answered {answer.status}"
            + (f" from deployment '{answer.deployment}'" if answer.deployment else "")
            + f": {answer.message()}",
            fix=_fix(answer.status, named, answer.deployment),
        )
    text = answer.body.decode("utf-8", "replace")
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text))  # az prints the answer as one JSON string
    sys.stdout.write(text + "\n")


def _fix(status: int, endpoint: str, deployment: str | None) -> str:
    logs = f"thresher online-deployment get-logs -n {deployment} -e {endpoint}" if deployment else ""
    if status == 400:
        return "Change the request so that it fits the model (the message names what does not fit)."
    if status == 401:
        return f"Get the current key: thresher online-endpoint get-credentials -n {endpoint}"
    if status == 408:
        return "Raise request_settings.request_timeout_ms of the deployment, or send fewer rows per request."
    if status == 424:
        return f"The scoring code raised; its traceback is in: {logs}"
    if status == 429:
        return "Retry later, or raise request_settings.max_concurrent_requests_per_instance or instance_count."
    return f"See: {logs}" if logs else f"See: thresher online-endpoint show -n {endpoint}"


@endpoint_app.command("get-logs", epilog="Example: thresher online-endpoint get-logs -n my-endpoint --lines 20")
def endpoint_get_logs(name: NameOpt = None, lines: LinesOpt = 100) -> None:
    """The endpoint's last requests from the access log: time, client, deployment, route, status, duration, id."""
    named = require(name, "--name", "thresher online-endpoint get-logs -n NAME")
    with workspace() as ws:
        text = ws.online_endpoints.get_logs(named, lines)
    sys.stdout.write(text + ("\n" if text else ""))


@deployment_app.command("get-logs", epilog="Example: thresher online-deployment get-logs -n blue -e my-endpoint")
def deployment_get_logs(
    name: DeploymentNameOpt = None, endpoint_name: EndpointOpt = None, lines: LinesOpt = 100
) -> None:
    """The last lines of each of the deployment's worker logs (init(), prints, logging, crashes) and of its
    error log (the tracebacks of init() and run())."""
    example = "thresher online-deployment get-logs -n D -e E"
    named = require(name, "--name", example)
    endpoint = require(endpoint_name, "--endpoint-name", example)
    with workspace() as ws:
        text = ws.online_deployments.get_logs(named, endpoint, lines)
    sys.stdout.write(text + ("\n" if text else ""))
