"""Registered assets: models, environments, code snapshots and data assets (Azure ML v2 YAML shapes)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from thresher.specs.fields import (
    AssetName,
    Kind,
    LocalPath,
    Lowercase,
    ResourceSpec,
    SpecModel,
    TextDict,
    rule_error,
)

ModelType = Literal["custom_model", "mlflow_model", "triton_model"]
DataType = Literal["uri_file", "uri_folder", "mltable"]
_ENV_FILES = ("conda_file", "requirements_file", "python_env_file")


def _path_or_inline(value: Any) -> str | None:
    if isinstance(value, str):
        return "path"
    if isinstance(value, dict):
        return "inline"
    return None


CondaFile = Annotated[
    Annotated[LocalPath, Tag("path")] | Annotated[dict[str, Any], Tag("inline")],
    Discriminator(
        _path_or_inline,
        custom_error_type="spec_value",
        custom_error_message="it must be the path of a conda YAML file or an inline conda mapping.",
    ),
]
"""``conda_file``: a path to ``conda.yaml`` (resolved), or the conda document inline, as Azure allows."""


class ModelSpec(ResourceSpec):
    """A model: a folder or file registered under a name and version (``model.schema.json``)."""

    kind: ClassVar[Kind] = "model"

    name: AssetName
    version: str | None = None
    path: LocalPath
    type: Annotated[ModelType, Lowercase] = "custom_model"
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    properties: TextDict = Field(default_factory=dict)
    stage: str | None = None


class BuildContext(SpecModel):
    """``build:`` of an environment: a Docker build context. Kept; thresher builds no images."""

    path: LocalPath
    dockerfile_path: str | None = None


class EnvironmentSpec(ResourceSpec):
    """A Python environment (``environment.schema.json``).

    thresher builds it from ``conda_file``, or from its own extensions ``requirements_file`` /
    ``python_env_file``; at most one of the three. ``image`` and ``build`` are kept for Azure but unused.
    """

    kind: ClassVar[Kind] = "environment"

    name: AssetName
    version: str | None = None
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    image: str | None = None
    conda_file: CondaFile | None = None
    build: BuildContext | None = None
    os_type: Annotated[Literal["linux", "windows"], Lowercase] | None = None
    inference_config: dict[str, Any] | None = None
    requirements_file: LocalPath | None = None
    python_env_file: LocalPath | None = None

    @model_validator(mode="after")
    def _one_dependency_file(self) -> EnvironmentSpec:
        raise_if_several_env_files(type(self).__name__, self)
        return self


def raise_if_several_env_files(model: str, spec: SpecModel) -> None:
    """Reject an environment that names more than one of conda_file, requirements_file, python_env_file."""
    given = [key for key in _ENV_FILES if getattr(spec, key) is not None]
    error = rule_error(
        model,
        ((key, f"is set together with {given[0]}; give only one of {', '.join(_ENV_FILES)}.") for key in given[1:]),
    )
    if error is not None:
        raise error


class CodeSpec(ResourceSpec):
    """A code snapshot: the folder holding a scoring script (``code.schema.json``)."""

    kind: ClassVar[Kind] = "code"

    name: AssetName
    version: str | None = None
    path: LocalPath
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)


class DataSpec(ResourceSpec):
    """A data asset: a named, versioned pointer to a file, a folder or an MLTable (``data.schema.json``)."""

    kind: ClassVar[Kind] = "data"

    name: AssetName
    version: str | None = None
    type: Annotated[DataType, Lowercase] = "uri_folder"
    path: LocalPath
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
