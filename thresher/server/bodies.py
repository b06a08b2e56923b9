"""Request bodies of the server's routes, and the checks on paths that come in them.

Clients upload local files and folders first (``/api/v1/uploads``) and send the server's path of the
upload in their place (``thresher.sdk.remote``). A spec that names any other absolute path of the
server's machine is refused: a token lets its holder use the workspace, not read the server's disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from thresher.errors import ResourceError
from thresher.specs import parse_spec
from thresher.specs.loader import Spec


class SpecBody(BaseModel):
    """A resource as its YAML file would declare it (paths: the server's paths of uploads)."""

    spec: dict[str, Any] = Field(description="The resource document, as thresher's SDK dumps it (to_document()).")


class UpdateBody(BaseModel):
    """An update: --set overrides, or a whole new spec."""

    overrides: list[str] = Field(default_factory=list, description="key=value items, as --set takes them")
    spec: dict[str, Any] | None = None


def checked_spec(uploads: Path, body: dict[str, Any], kind: Any, *, local_paths: bool = False) -> Spec:
    """The spec of ``kind`` from a request's document, its paths checked (``local_paths``: any path, for
    a local datastore's folder on the server). Relative paths resolve against the uploads folder, and are
    checked once resolved: ``../`` leads nowhere else."""
    if not local_paths:
        check_paths(uploads, body)
    spec = parse_spec(body, kind, base_dir=uploads, source="<request>")
    if not local_paths:
        check_paths(uploads, spec.to_document())
    return spec


def check_path_fields(uploads: Path, fields: dict[str, Any]) -> None:
    """ResourceError unless each given field (an input, a model, a YAML file) is a URI, an ``azureml:``
    reference or an upload: a client names no other file of the server's, relative or absolute."""
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if "://" in text or text.startswith("azureml:"):
            continue
        if not text.startswith("/"):
            raise ResourceError(
                f"{key} is the relative path {text[:200]!r}; the server does not read files relative to itself.",
                fix="Send a URI (azureml://datastores/<name>/paths/..., s3://...), an azureml:<name>:<version> "
                "reference, or the path of an upload (the thresher CLI and SDK upload local paths).",
            )
        check_paths(uploads, {key: text})


def check_paths(uploads: Path, value: Any, where: str = "") -> None:
    """ResourceError for any absolute path in ``value`` that is not inside ``uploads``."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_paths(uploads, item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_paths(uploads, item, f"{where}[{index}]")
    elif isinstance(value, str) and value.startswith("/") and not server_path(uploads, value):
        raise ResourceError(
            f"{where or 'The request'} names the server's path {value!r}; a client sends its files as uploads.",
            fix="Use the thresher CLI or SDK with THRESHER_SERVER set: they upload local paths first. Over "
            "plain HTTP, PUT the packed folder to /api/v1/uploads/{sha256} and send the path it returns.",
        )


def server_path(uploads: Path, value: str) -> bool:
    """Whether ``value`` is inside the server's uploads folder (``uploads``, resolved: ``ServerState.uploads``)."""
    try:
        Path(value).resolve().relative_to(uploads)
    except ValueError:
        return False
    return True
