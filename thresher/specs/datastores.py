"""Datastores: named storage roots (a local folder, Azure Blob / ADLS Gen2, S3, GCS)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from thresher.specs.fields import (
    AssetName,
    Kind,
    LocalPath,
    Lowercase,
    ResourceSpec,
    TextDict,
    resolve_path,
    rule_error,
)

DatastoreType = Literal["local", "azure_blob", "azure_data_lake_gen2", "s3", "gcs"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "local": ("path",),
    "azure_blob": ("account_name", "container_name"),
    "azure_data_lake_gen2": ("account_name", "filesystem"),
    "s3": ("url",),
    "gcs": ("url",),
}
_URL_SCHEMES: dict[str, tuple[str, ...]] = {"s3": ("s3://",), "gcs": ("gs://", "gcs://")}
_AZURE = ("azure_blob", "azure_data_lake_gen2")

_AZURE_CREDENTIALS = (
    "account_key",
    "sas_token",
    "connection_string",
    "tenant_id",
    "client_id",
    "client_secret",
    "authority_url",
    "resource_url",
    "anonymous",
)
# The keys of `credentials` each type understands (Azure's YAML shapes, and the S3/GCS equivalents).
CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "local": (),
    "azure_blob": _AZURE_CREDENTIALS,
    "azure_data_lake_gen2": _AZURE_CREDENTIALS,
    "s3": ("access_key_id", "secret_access_key", "session_token", "anonymous"),
    "gcs": ("service_account_key", "anonymous"),
}
# Credentials that identify rather than authenticate: kept and shown as written.
PUBLIC_CREDENTIALS = frozenset({"tenant_id", "client_id", "authority_url", "resource_url", "anonymous"})
# What `show` prints in place of a stored secret; never a valid secret itself.
SECRET_SHOWN = "<secret: stored encrypted>"
# The stored forms of one value besides an inline string: a reference or an encrypted secret.
_VALUE_FORMS = ({"env"}, {"file"}, {"encrypted", "key_id"}, {"encrypted"})


class DatastoreSpec(ResourceSpec):
    """A datastore (Azure's ``azureBlob.schema.json`` and friends, plus thresher's local, s3 and gcs).

    Each type needs its own keys: local a ``path``; azure_blob ``account_name`` and ``container_name``;
    azure_data_lake_gen2 ``account_name`` and ``filesystem``; s3 and gcs a ``url``. Azure types take
    ``endpoint`` (``core.windows.net`` by default; ``host:port`` or ``http://host:port`` for an emulator)
    and ``protocol`` (https, or http for an emulator); s3 and gcs take ``endpoint_url`` for
    S3-compatible servers. ``credentials`` holds the keys of ``CREDENTIAL_KEYS`` for the type, each an
    inline string (stored encrypted), ``{env: VARIABLE}`` or ``{file: path}`` (see
    ``thresher.storage.credentials``); without it the storage library's default chain is used.
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
    protocol: Annotated[Literal["https", "http"], Lowercase] | None = None
    endpoint_url: str | None = None
    credentials: dict[str, Any] | None = Field(default=None, repr=False)  # secrets: never in a repr or log

    @field_validator("credentials")
    @classmethod
    def _files_follow_the_yaml_file(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        # {file: ./key.txt} names a file beside the YAML file, as every other relative path in a spec does.
        if not value:
            return value
        return {
            key: {"file": resolve_path(item["file"], info)}
            if isinstance(item, dict) and set(item) == {"file"} and isinstance(item["file"], str) and item["file"]
            else item
            for key, item in value.items()
        }

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
        for key in ("endpoint", "protocol"):
            if getattr(self, key) is not None and self.type not in _AZURE:
                violations.append(
                    (
                        key,
                        f"is set, but only types azure_blob and azure_data_lake_gen2 use {key}; "
                        f"type {self.type} {'takes endpoint_url' if self.type in ('s3', 'gcs') else 'does not'}.",
                    )
                )
        if self.endpoint_url is not None and self.type not in ("s3", "gcs"):
            violations.append(
                (
                    "endpoint_url",
                    f"is set, but only types s3 and gcs use endpoint_url; type {self.type} "
                    f"{'takes endpoint and protocol' if self.type in _AZURE else 'does not'}.",
                )
            )
        violations.extend(self._credential_violations())
        error = rule_error(type(self).__name__, violations)
        if error is not None:
            raise error
        return self

    def _credential_violations(self) -> list[tuple[str, str]]:
        # Messages name keys and shapes only: a credential's value is never echoed.
        allowed = CREDENTIAL_KEYS[self.type]
        violations = []
        for key, value in (self.credentials or {}).items():
            where = f"credentials.{key}"
            if key not in allowed:
                known = ", ".join(allowed) if allowed else "no credentials"
                violations.append((where, f"is not a credential of type {self.type}; it takes {known}."))
            elif key == "anonymous":
                if not isinstance(value, bool):
                    violations.append((where, "must be true or false."))
            elif isinstance(value, dict):
                if set(value) not in _VALUE_FORMS or not all(isinstance(v, str) and v for v in value.values()):
                    violations.append(
                        (
                            where,
                            "must be a string, {env: VARIABLE} (an environment variable) or {file: path} "
                            "(a file holding it).",
                        )
                    )
            elif not isinstance(value, str) or not value:
                violations.append((where, "must be a non-empty string, {env: VARIABLE} or {file: path}."))
            elif value == SECRET_SHOWN:
                violations.append(
                    (
                        where,
                        f"is {SECRET_SHOWN!r}, the marker that show prints, not the secret; write the secret "
                        "itself, or {env: VARIABLE} / {file: path}.",
                    )
                )
        return violations
