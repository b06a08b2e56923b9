"""Reading an MLflow model folder's ``MLmodel`` file without importing MLflow.

Registration records what the file says (flavors, signature, environment files) so that ``show``
can print the signature and deployments can check inputs against it before any worker starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.errors import StorageError

MLMODEL = "MLmodel"
ENV_FILES = ("python_env.yaml", "conda.yaml", "requirements.txt")


@dataclass(frozen=True)
class MlflowModelInfo:
    """What an ``MLmodel`` file declares."""

    flavors: list[str]
    loader_module: str | None
    python_version: str | None
    mlflow_version: str | None
    signature_inputs: list[dict[str, Any]] | None
    signature_outputs: list[dict[str, Any]] | None
    signature_params: list[dict[str, Any]] | None
    environment_files: list[str] = field(default_factory=list)

    @property
    def has_pyfunc(self) -> bool:
        """Whether the model can be loaded with ``mlflow.pyfunc.load_model`` (the no-code driver needs it)."""
        return "python_function" in self.flavors

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON-able data, in the shape ``thresher model show`` prints."""
        return {
            "flavors": self.flavors,
            "loader_module": self.loader_module,
            "python_version": self.python_version,
            "mlflow_version": self.mlflow_version,
            "signature": {
                "inputs": self.signature_inputs,
                "outputs": self.signature_outputs,
                "params": self.signature_params,
            },
            "environment_files": self.environment_files,
        }


def find_mlmodel(path: Path) -> Path | None:
    """The ``MLmodel`` file of a model folder (at its top, or one folder down as Azure lays models out)."""
    if path.is_file():
        return path if path.name == MLMODEL else None
    direct = path / MLMODEL
    if direct.is_file():
        return direct
    nested = sorted(path.glob(f"*/{MLMODEL}"))
    return nested[0] if len(nested) == 1 else None


def read_mlmodel(mlmodel: Path) -> MlflowModelInfo:
    """Parse an ``MLmodel`` file; raise StorageError naming the file when it is not valid."""
    from ruamel.yaml import YAML  # here: only MLflow models have the file, and the import costs every start
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe").load(mlmodel.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise StorageError(
            f"Cannot read MLflow model file {mlmodel}: {exc}",
            fix="Save the model again with mlflow.<flavor>.save_model so that MLmodel is valid YAML.",
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("flavors"), dict):
        raise StorageError(
            f"{mlmodel} has no 'flavors' mapping, so it is not an MLflow model file.",
            fix="Save the model with mlflow.<flavor>.save_model, or register it with --type custom_model.",
        )
    flavors: dict[str, Any] = document["flavors"]
    pyfunc = flavors.get("python_function") or {}
    signature = document.get("signature") or {}
    folder = mlmodel.parent
    return MlflowModelInfo(
        flavors=sorted(flavors),
        loader_module=pyfunc.get("loader_module"),
        python_version=_str_or_none(pyfunc.get("python_version")),
        mlflow_version=_str_or_none(document.get("mlflow_version")),
        signature_inputs=_schema(signature.get("inputs"), mlmodel, "inputs"),
        signature_outputs=_schema(signature.get("outputs"), mlmodel, "outputs"),
        signature_params=_schema(signature.get("params"), mlmodel, "params"),
        environment_files=[name for name in ENV_FILES if (folder / name).is_file()],
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _schema(raw: Any, mlmodel: Path, part: str) -> list[dict[str, Any]] | None:
    # MLflow stores each part of the signature as a JSON string inside the YAML.
    if raw is None:
        return None
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise StorageError(
            f"{mlmodel}: signature.{part} is not valid JSON ({exc.msg} at char {exc.pos}).",
            fix="Save the model again with a signature built by mlflow.models.infer_signature.",
        ) from exc
    if not isinstance(parsed, list):
        raise StorageError(
            f"{mlmodel}: signature.{part} must be a JSON list of column or tensor specs, got {type(parsed).__name__}.",
            fix="Save the model again with a signature built by mlflow.models.infer_signature.",
        )
    return parsed
