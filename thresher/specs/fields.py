"""The frozen model every spec is built from, and the field types the specs share.

Specs are validated with a context ``{"base_dir": Path}``; relative local paths resolve against it
(the folder of the YAML file), URIs and ``azureml:`` references are kept as they are written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

Kind = Literal[
    "model",
    "environment",
    "code",
    "data",
    "datastore",
    "compute",
    "batch_endpoint",
    "batch_deployment",
    "online_endpoint",
    "online_deployment",
]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,31}$")


class SpecModel(BaseModel):
    """A frozen part of a spec that rejects unknown keys (Azure's YAML is strict in the same way)."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `tags:` or `settings:` with nothing after it reads as null in YAML: take the default.
        if not isinstance(data, dict) or all(value is not None for value in data.values()):
            return data
        fields = cls.model_fields
        return {
            key: value
            for key, value in data.items()
            if value is not None or key not in fields or fields[key].is_required()
        }


class ResourceSpec(SpecModel):
    """A whole spec, as read from one YAML file: a model, an environment, a deployment, ..."""

    kind: ClassVar[Kind]

    def to_document(self) -> dict[str, Any]:
        """The spec as a JSON-able dict that ``parse_spec`` turns back into an equal spec."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


def is_uri(text: str) -> bool:
    """True for ``scheme://...`` (``s3://``, ``azureml://``, ``file://``): such paths are not resolved."""
    return bool(_URI.match(text))


def base_dir(info: ValidationInfo) -> Path:
    """The folder relative paths resolve against: the YAML file's folder, else the working directory."""
    context = info.context if isinstance(info.context, Mapping) else {}
    folder = context.get("base_dir")
    return Path(folder) if folder is not None else Path.cwd()


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Make a relative local path absolute against the spec's folder; keep URIs and references."""
    if not value.strip():
        raise ValueError("is empty; it must be a local path or a URI such as s3://bucket/folder.")
    if is_uri(value) or value.startswith("azureml:"):
        return value
    return os.path.normpath(base_dir(info).absolute() / os.path.expanduser(value))


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _text_values(value: Any) -> Any:
    # Azure writes tags such as `device_batching: 16`; keep what the user wrote, as text.
    if not isinstance(value, Mapping):
        return value
    return {key: _as_text(item) for key, item in value.items()}


def _as_text(item: Any) -> Any:
    if isinstance(item, bool):
        return "true" if item else "false"
    if item is None:
        return ""
    if isinstance(item, int | float):
        return str(item)
    return item


def _asset_name(value: str) -> str:
    if not _ASSET_NAME.match(value):
        raise ValueError(
            f"is '{value}'; a name must start with a letter or digit and contain only letters, digits, "
            "'-', '_' and '.' (at most 255 characters)."
        )
    return value


def _endpoint_name(value: str) -> str:
    if not _ENDPOINT_NAME.match(value):
        raise ValueError(
            f"is '{value}'; an endpoint name must start with a letter, be 3 to 32 characters long and "
            "contain only letters, digits and '-'."
        )
    return value.lower()


LocalPath = Annotated[str, AfterValidator(resolve_path)]
"""A local path (resolved to an absolute path) or a URI (kept)."""

TextDict = Annotated[dict[str, str], BeforeValidator(_text_values)]
"""A str -> str mapping; numbers and booleans are accepted and kept as the text the user wrote."""

AssetName = Annotated[str, AfterValidator(_asset_name)]
EndpointName = Annotated[str, AfterValidator(_endpoint_name)]


Lowercase = BeforeValidator(_lower)
"""Metadata for ``Annotated[Literal[...], Lowercase]``: any letter case accepted, stored lowercase."""


def rule_error(model: str, violations: Iterable[tuple[str | tuple[str | int, ...], str]]) -> ValidationError | None:
    """A ValidationError for cross-field rules: ``(field, message)``, the message written to follow the path.

    Raised from a model's after-validator, so every broken rule of one model is reported at once.
    ``field`` is a field name, or a key path below the model (``("traffic", "blue")``). A field whose
    message starts with ``required key`` is reported as a missing key.
    """
    details = [
        InitErrorDetails(
            type=PydanticCustomError("spec_missing" if message.startswith("required") else "spec_rule", message),
            loc=(field,) if isinstance(field, str) else field,
            input=None,
        )
        for field, message in violations
    ]
    return ValidationError.from_exception_data(model, details) if details else None
