"""``azureml.core``: the workspace and what a v1 driver script registers and submits in it.

``Run`` (what a step script imports) is standard library only; the rest opens the thresher workspace
when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from .compute import ComputeTarget
    from .dataset import Dataset
    from .datastore import Datastore
    from .environment import Environment
    from .experiment import Experiment
    from .run import Run
    from .runconfig import RunConfiguration
    from .workspace import Workspace

__all__ = [
    "ComputeTarget",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Run",
    "RunConfiguration",
    "Workspace",
]

VERSION = "1.60.0"
"""The azureml-core release whose API this shim follows."""

__getattr__ = exports(
    __name__,
    {
        "ComputeTarget": ".compute",
        "Dataset": ".dataset",
        "Datastore": ".datastore",
        "Environment": ".environment",
        "Experiment": ".experiment",
        "Run": ".run",
        "RunConfiguration": ".runconfig",
        "Workspace": ".workspace",
    },
    {
        "ScriptRunConfig": "Run the script as a PythonScriptStep of a one-step Pipeline "
        "(Experiment(ws, name).submit(Pipeline(ws, [step]))).",
        "Model": "Register models with thresher model create; a scoring script's Model.get_model_path works in "
        "batch deployments.",
        "Webservice": "thresher has no v1 web services; deploy with thresher batch-deployment create.",
        "ScriptRun": "Run scripts as PythonScriptSteps of a Pipeline.",
        "Keyvault": "Store secrets as datastore credentials ({env: VARIABLE} or {file: path}).",
    },
)
