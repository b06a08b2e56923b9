"""``azureml:`` references to registered assets: ``azureml:name:version``, ``azureml:name@latest``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import model_serializer, model_validator

from thresher.errors import Problem, SpecError
from thresher.specs.fields import SpecModel

_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_SHORT = re.compile(rf"^azureml:(?P<name>{_PART})(?::(?P<version>{_PART})|@(?P<label>{_PART}))?$")
# What `az ml ... show` writes: an ARM id of a workspace asset.
_ARM = re.compile(
    rf"^azureml:/subscriptions/.+/workspaces/[^/]+/[A-Za-z]+/(?P<name>{_PART})(?:/versions/(?P<version>{_PART}))?$"
)
_LABELS = ("latest",)
_FORMS = "azureml:<name>:<version>, azureml:<name>@latest or azureml:<name>"


class Reference(SpecModel):
    """A reference to a registered asset. ``str(ref)`` gives back the ``azureml:`` form.

    >>> str(parse_reference("azureml:heart-classifier@latest"))
    'azureml:heart-classifier@latest'
    """

    name: str
    version: str | None = None
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, dict | Reference):
            return data
        if not isinstance(data, str):
            raise ValueError(f"is {data!r}; a reference must look like {_FORMS}.")
        reference = read_reference(data)
        if reference is None:
            raise ValueError(f"is '{data}'; a reference must look like {_FORMS}.")
        return {"name": reference.name, "version": reference.version, "label": reference.label}

    @model_validator(mode="after")
    def _one_of_version_or_label(self) -> Reference:
        if self.version is not None and self.label is not None:
            raise ValueError(f"gives both version '{self.version}' and label '{self.label}'; give one.")
        return self

    def __str__(self) -> str:
        if self.version is not None:
            return f"azureml:{self.name}:{self.version}"
        if self.label is not None:
            return f"azureml:{self.name}@{self.label}"
        return f"azureml:{self.name}"

    @model_serializer
    def _as_text(self) -> str:
        return str(self)


def read_reference(text: str) -> Reference | None:
    """Parse ``text`` as a reference; None if it is not one. A malformed reference raises ValueError.

    The ValueError's message is written to follow the key path: ``model is '...'; ...``.
    """
    text = text.strip()
    if text.startswith("azureml://registries/"):
        raise ValueError(
            f"is '{text}', a registry reference; registries are not reachable offline. Register the asset "
            "locally (for example: thresher model create -f model.yml) and refer to it as "
            "azureml:<name>:<version>."
        )
    if text.startswith("azureml://") or not text.startswith("azureml:"):
        return None
    match = _SHORT.match(text) or _ARM.match(text)
    if match is None:
        raise ValueError(f"is '{text}'; a reference must look like {_FORMS}.")
    parts = match.groupdict()
    label = parts.get("label")
    if label is not None and label not in _LABELS:
        raise ValueError(
            f"is '{text}'; label '@{label}' is not supported, only '@latest' is. "
            f"Give a version instead: azureml:{parts['name']}:<version>."
        )
    return Reference(name=parts["name"], version=parts.get("version"), label=label)


def parse_reference(text: str) -> Reference | None:
    """Parse an ``azureml:`` reference; None if ``text`` is not a reference (a path, a URI, a plain name).

    Accepts ``azureml:<name>:<version>``, ``azureml:<name>@latest``, ``azureml:<name>`` (the compute
    form, ``compute: azureml:batch-cluster``) and ARM ids as ``az ml ... show`` prints them.
    Registry references (``azureml://registries/...``) raise SpecError: they need Azure.
    """
    try:
        return read_reference(text)
    except ValueError as error:
        problem = Problem(source="<reference>", line=None, path="", message=f"the reference {error}")
        raise SpecError([problem], what="reference", fix="Write the reference as azureml:<name>:<version>.") from None
