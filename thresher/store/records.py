"""What the metadata store returns of its registry: frozen records, plus the kinds it knows and how users
call them; and the making of records from rows (``job_records.py`` has the jobs' records).

Records are built fresh for every call from what the database holds (``spec`` and ``info`` are
private deep copies), so a record never changes after it is returned and changing its dicts changes
nothing stored. Every timestamp in them is timezone-aware, in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")

SaveMode = Literal["create", "update", "upsert"]
SAVE_MODES: tuple[SaveMode, ...] = ("create", "update", "upsert")

ASSET_KINDS = ("model", "environment", "code", "data", "component", "pipeline")
"""Versioned assets: every ``create_asset`` adds a version."""

RESOURCE_KINDS = ("datastore", "compute", "batch_endpoint", "online_endpoint", "pipeline_endpoint", "schedule")
"""Named resources with no versions: saving one replaces its spec."""

LATEST = "latest"
"""The version label that resolves to the newest active version; it cannot be a real version."""


@dataclass(frozen=True)
class KindNames:
    """How a kind is named in messages and in the CLI command that manages it."""

    singular: str
    plural: str
    command: str  # thresher <command> list / create


KIND_NAMES: Mapping[str, KindNames] = {
    "model": KindNames("model", "models", "model"),
    "environment": KindNames("environment", "environments", "environment"),
    "code": KindNames("code asset", "code assets", "code"),
    "data": KindNames("data asset", "data assets", "data"),
    "component": KindNames("component", "components", "component"),
    "datastore": KindNames("datastore", "datastores", "datastore"),
    "compute": KindNames("compute", "computes", "compute"),
    "batch_endpoint": KindNames("batch endpoint", "batch endpoints", "batch-endpoint"),
    "deployment": KindNames("deployment", "deployments", "batch-deployment"),
    "online_endpoint": KindNames("online endpoint", "online endpoints", "online-endpoint"),
    "online_deployment": KindNames("online deployment", "online deployments", "online-deployment"),
    "job": KindNames("job", "jobs", "job"),
    "pipeline": KindNames("published pipeline", "published pipelines", "pipeline"),
    "pipeline_endpoint": KindNames("pipeline endpoint", "pipeline endpoints", "pipeline-endpoint"),
    "schedule": KindNames("schedule", "schedules", "schedule"),
    "token": KindNames("token", "tokens", "token"),
}


@dataclass(frozen=True)
class AssetRecord:
    """One version of a versioned asset (model, environment, code or data)."""

    kind: str
    name: str
    version: str
    spec: Mapping[str, Any]  # the asset as declared (YAML or SDK), normalised by thresher.specs
    info: Mapping[str, Any]  # what thresher recorded when creating it: stored path, fingerprint, ...
    archived: bool
    created_at: datetime


@dataclass(frozen=True)
class ResourceRecord:
    """A named, unversioned resource: a datastore, a compute or a batch endpoint."""

    kind: str
    name: str
    spec: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime  # equals created_at until the first update


DEPLOYMENT = "deployment"
ONLINE_DEPLOYMENT = "online_deployment"


@dataclass(frozen=True)
class DeploymentRecord(ResourceRecord):
    """A deployment that one endpoint holds: of kind ``deployment`` for a batch endpoint, ``online_deployment``
    for an online one."""

    endpoint_name: str = ""


@dataclass(frozen=True)
class RowRef:
    """Names metadata rows whose changes a cache follows (``MetadataStore.revision``): a resource (``kind``
    one of RESOURCE_KINDS), a batch endpoint's deployment (kind ``deployment``, with ``endpoint_name``), or
    every version of an asset (``kind`` one of ASSET_KINDS)."""

    kind: str
    name: str
    endpoint_name: str | None = None


_INTEGER = re.compile(r"[0-9]{1,18}")  # 18 digits always fit a 64-bit integer column
_CHUNKS = re.compile(r"([0-9]+)")


def from_row(record: type[Record], row: object, **values: Any) -> Record:
    """A record from a database row: each field from the row's column of that name, unless ``values``
    gives it (a converted value, or a field whose column has another name)."""
    named = {name: getattr(row, name) for name in _field_names(record) if name not in values}
    return record(**named, **values)


@cache
def _field_names(record: type[Any]) -> tuple[str, ...]:
    # dataclasses.fields() costs more than the rest of from_row; a job's mini-batches are read by the thousand
    return tuple(field.name for field in fields(record))


def utc_now() -> datetime:
    """The time now, as every record's timestamps are: timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def version_number(version: str) -> int | None:
    """The integer value of a version made only of digits ("3" -> 3), else None ("1.2", "v3")."""
    return int(version) if _INTEGER.fullmatch(version) else None


def version_sort_key(version: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Order versions the way people count: 1 < 1.5 < 2 < 10 < v1."""
    # split() with a capturing group alternates text (even places) and digit runs (odd places)
    parts = _CHUNKS.split(version)
    chunks = tuple((0, int(part)) if i % 2 else (1, part) for i, part in enumerate(parts) if part)
    return chunks, version
