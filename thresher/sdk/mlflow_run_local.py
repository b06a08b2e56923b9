"""``mlflow deployments run-local -t thresher``: a model served online from a throwaway workspace until Ctrl-C.

MLflow's plugin interface asks for ``run_local`` beside the client, "for testing deployment by deploying a
model locally", and calls it as ``run_local(name, model_uri, flavor, config)``. Like ``mlflow models serve``,
it serves in the foreground and leaves nothing behind: the workspace is a temporary folder unless
``-C workspace=DIR`` names one, and the deployment (with the endpoint made for it) is deleted on exit.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from types import FrameType
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from thresher.sdk.mlflow_target_config import SCHEME, TargetType, read_config
from thresher.sdk.online_serving import serving_pid

WORKSPACE = "workspace"  # the one config key of run-local's own
SERVING_EXIT_WAIT = 30.0  # seconds the serving process gets to leave after its last endpoint


def run_local(name: str, model_uri: str, flavor: str | None = None, config: Mapping[str, Any] | None = None) -> None:
    """Deploy ``model_uri`` as online deployment ``name``, print where it answers and its key, serve until
    Ctrl-C (SIGINT) or SIGTERM, then delete it. ``config``: the online keys of ``create``, and ``workspace``."""
    from thresher.sdk.mlflow_target import ThresherDeploymentClient  # that module exports this function

    settings = {str(k): v for k, v in (config or {}).items()}
    home = settings.pop(WORKSPACE, None)
    if read_config(settings).type is not TargetType.ONLINE:
        raise MlflowException("run-local serves online deployments: leave type out.", INVALID_PARAMETER_VALUE)
    scratch = None if home else tempfile.mkdtemp(prefix="thresher-run-local-")
    client = ThresherDeploymentClient(f"{SCHEME}:{home or scratch}")
    created = False
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up as Ctrl-C does
    try:
        deployment = client.create_deployment(name, model_uri, flavor, settings)
        created = True
        key = client.workspace.online_endpoints.get_credentials(deployment["endpoint"]).get("primaryKey")
        print(
            f"Serving deployment '{name}' at {deployment['invocations_uri']} (MLflow bodies) and "
            f"{deployment['scoring_uri']} (Azure bodies), header Authorization: Bearer {key}\n"
            "Press Ctrl-C to stop it and delete it.",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if created:  # never a deployment of the same name that was there before
            client.delete_deployment(name, endpoint=name)
        workspace_settings = client.workspace.settings
        client.workspace.close()
        deadline = time.monotonic() + SERVING_EXIT_WAIT
        while serving_pid(workspace_settings) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
