"""Datastores: named storage roots (a local folder, Azure Blob / ADLS Gen2, S3, GCS)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from thresher.specs.fields import AssetName, Kind, LocalPath, Lowercase, ResourceSpec, TextDict, rule_error

DatastoreType = Literal["local", "azure_blob", "azure_data_lake_gen2", "s3", "gcs"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "local": ("path",),
    "azure_blob": ("account_name", "container_name"),
    "azure_data_lake_gen2": ("account_name", "filesystem"),
    "s3": ("url",),
    "gcs": ("url",),
}
_URL_SCHEMES: dict[str, tuple[str, ...]] = {"s3": ("s3://",), "gcs": ("gs://", "gcs://")}


class DatastoreSpec(ResourceSpec):
    """A datastore (Azure's ``azureBlob.schema.json`` and friends, plus thresher's local, s3 and gcs).

    Each type needs its own keys: local a ``path``; azure_blob ``account_name`` and ``container_name``;
    azure_data_lake_gen2 ``account_name`` and ``filesystem``; s3 and gcs a ``url``.
    ``credentials`` is free-form and passed to the storage backend.
    """

    kind: ClassVar[Kind] = "datastore"

    name: AssetName
    type: Annotated[DatastoreType, Lowercase] = "local"
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    path: LocalPath | None = None
    url: str | None = None
    account_name: str | None = None
    container_name: str | None = None
    filesystem: str | None = None
    endpoint: str | None = None
    protocol: str | None = None
    credentials: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _keys_of_type(self) -> DatastoreSpec:
        needed = _REQUIRED[self.type]
        violations = [
            (key, f"required key '{key}' is missing; type {self.type} needs {' and '.join(needed)}.")
            for key in needed
            if getattr(self, key) is None
        ]
        if self.path is not None and self.type != "local":
            violations.append(("path", f"is '{self.path}', but only type local uses path; type {self.type} does not."))
        schemes = _URL_SCHEMES.get(self.type)
        if schemes and self.url is not None and not self.url.startswith(schemes):
            violations.append(
                (
                    "url",
                    f"is '{self.url}'; for type {self.type} it must start with {' or '.join(schemes)}.",
                )
            )
        error = rule_error(type(self).__name__, violations)
        if error is not None:
            raise error
        return self
