"""No-code MLflow deployments: what a job without a scoring script needs, checked before it is queued.

A deployment (or ``batch score``) without a scoring script runs the built-in MLflow driver
(``thresher.runtime.mlflow_driver``), which needs an MLflow model with the ``python_function``
flavor, a signature the driver can feed from files, and input files it can read. Its output format
``azure`` means what Azure's MLflow driver writes (``row,prediction,file_name``, comma-separated), so
the job's workers write ``mlflow`` there (``JobSpec.output_format``); csv, parquet and jsonl stay as
chosen. Unless the deployment names an environment, the workers run in the model's own (its
python_env.yaml, conda.yaml or requirements.txt).
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

from thresher.errors import ThresherError
from thresher.runtime.mlflow_driver import SUPPORTED_EXTENSIONS
from thresher.runtime.signature import InputSignature, SignatureError
from thresher.scheduler.input_files import iter_input_files
from thresher.scheduler.jobspec import JobInput
from thresher.storage import find_mlmodel, read_mlmodel
from thresher.store import AssetRecord

FILES_CHECKED = 10_000  # input files whose extensions are checked at invoke; the driver fails the rest alone
_SCRIPT_FIX = "Add code_configuration: {code: <folder>, scoring_script: <script.py>} to the deployment."


def registered_model_folder(model: AssetRecord, deployment: str) -> Path:
    """The stored folder holding the registered model's ``MLmodel``, checked for the built-in driver."""
    label = f"azureml:{model.name}:{model.version}"
    mlflow = model.info.get("mlflow")
    if mlflow is None:
        raise ThresherError(
            f"Deployment '{deployment}' has no scoring script, and model {label} is not an MLflow model (it has "
            "no MLmodel file), so a scoring script is needed to score with it.",
            fix=_SCRIPT_FIX + " Or deploy an MLflow model (registered with --type mlflow_model).",
        )
    if model.spec.get("type") != "mlflow_model":
        raise ThresherError(
            f"Deployment '{deployment}' has no scoring script, and model {label} holds an MLflow model but is "
            f"registered as {model.spec.get('type')}; only mlflow_model models are deployed without code.",
            fix=f"Register the folder again with --type mlflow_model (thresher model create -n {model.name} "
            "--type mlflow_model --path ...), or add a scoring script.",
        )
    _check_model(label, mlflow.get("flavors") or [], (mlflow.get("signature") or {}).get("inputs"))
    stored = Path(str(model.info["path"]))
    mlmodel = find_mlmodel(stored)
    return mlmodel.parent if mlmodel is not None else stored


def model_folder_at(path: Path) -> Path:
    """An MLflow model folder given by path (``batch score --model``), checked for the built-in driver."""
    mlmodel = find_mlmodel(path)
    if mlmodel is None:
        raise ThresherError(
            f"--model {path} is not an MLflow model (no MLmodel file), so batch score needs --scoring-script.",
            fix="Pass --code DIR --scoring-script score.py, or --model an MLflow model folder.",
        )
    info = read_mlmodel(mlmodel)
    _check_model(str(path), info.flavors, info.signature_inputs)
    return mlmodel.parent


def _check_model(label: str, flavors: list[str], inputs: list[dict[str, Any]] | None) -> None:
    if "python_function" not in flavors:
        raise ThresherError(
            f"MLflow model {label} has the flavors {', '.join(flavors) or 'none'} but not python_function, which "
            "the built-in MLflow driver loads models with (mlflow.pyfunc.load_model).",
            fix="Save the model with a flavor that writes python_function (mlflow.sklearn, mlflow.pytorch, "
            "mlflow.pyfunc, ...), or deploy it with a scoring script.",
        )
    try:
        InputSignature(inputs)
    except SignatureError as exc:
        raise ThresherError(f"MLflow model {label}: {exc}", fix=_SCRIPT_FIX) from None


def check_input(job_input: JobInput) -> None:
    """The built-in driver reads files of known types; refuse tables and other files before queueing."""
    if job_input.tabular:
        raise ThresherError(
            f"--input {job_input.uri} is a tabular (mltable) data asset; the built-in MLflow driver scores files.",
            fix="Pass the folder of files (uri_folder) instead, or deploy the model with a scoring script.",
        )
    unsupported: Counter[str] = Counter()
    examples: dict[str, Path] = {}
    for path in itertools.islice(iter_input_files(Path(job_input.path)), FILES_CHECKED):
        extension = path.suffix.lower()
        if extension not in SUPPORTED_EXTENSIONS:
            unsupported[extension] += 1
            examples.setdefault(extension, path)
    if unsupported:
        kinds = ", ".join(
            f"{count} {extension or 'extensionless'} file{'s' if count > 1 else ''} (e.g. {examples[extension]})"
            for extension, count in unsupported.most_common()
        )
        raise ThresherError(
            f"--input {job_input.uri} holds files the built-in MLflow driver cannot read: {kinds}. It reads "
            f"{' '.join(SUPPORTED_EXTENSIONS)}.",
            fix="Move the other files out of the input folder (or point --input at a folder of data files), "
            "or deploy the model with a scoring script that reads them.",
        )
