"""Online endpoints' rows: the endpoint (a ``resources`` row) with its keys, and its deployments.

An online endpoint's keys live in ``endpoint_keys`` (migration 0005), one row per endpoint, written in
the transaction that creates the endpoint: an endpoint never exists without keys. The store holds them
only as the workspace vault sealed them (``thresher.storage.vault``); sealing and opening them is the
SDK's. Regenerating a key moves ``keys_version``, so a serving process sees that it must reload.
Deployments are saved as batch deployments are (``resources.py``), in ``online_deployments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from sqlalchemy import Connection, insert, select, update

from thresher.errors import NotFoundError
from thresher.store import messages
from thresher.store.records import DeploymentRecord, ResourceRecord, SaveMode, from_row, utc_now
from thresher.store.resources import ONLINE_ENDPOINT, NamedRows
from thresher.store.schema import endpoint_keys, resources

KeyType = Literal["primary", "secondary"]
KEY_TYPES: tuple[KeyType, ...] = ("primary", "secondary")


class SealedKeys(TypedDict):
    """An endpoint's new secrets, each sealed by the workspace vault, and the id of the key that sealed them."""

    primary_key: str
    secondary_key: str
    token_secret: str
    key_id: str


@dataclass(frozen=True)
class EndpointKeysRecord:
    """An online endpoint's keys as stored: sealed (never shown in a repr), with their version."""

    endpoint_name: str
    primary_key: str = field(repr=False)
    secondary_key: str = field(repr=False)
    token_secret: str = field(repr=False)
    key_id: str
    keys_version: int  # 1 when created; each regeneration adds 1
    updated_at: datetime


class OnlineRows(NamedRows):
    """The online endpoint methods of ``SqlStore`` (documented in ``MetadataStore``)."""

    def save_online_endpoint(
        self, name: str, spec: Mapping[str, Any], keys: SealedKeys, *, mode: SaveMode = "upsert"
    ) -> ResourceRecord:
        saved = self._save(
            resources,
            ONLINE_ENDPOINT,
            {"kind": ONLINE_ENDPOINT, "name": name},
            spec,
            mode,
            taken=lambda: messages.name_taken(ONLINE_ENDPOINT, name),
            missing=lambda connection: self._missing_resource(connection, ONLINE_ENDPOINT, name),
            then=lambda connection: _keep_keys(connection, name, keys),
        )
        return ResourceRecord(ONLINE_ENDPOINT, name, *saved)

    def get_endpoint_keys(self, name: str) -> EndpointKeysRecord:
        with self._read() as connection:
            return self._keys(connection, name)

    def rotate_endpoint_key(self, name: str, key_type: KeyType, sealed: str, key_id: str) -> EndpointKeysRecord:
        if key_type not in KEY_TYPES:
            raise ValueError(f"key_type {key_type!r} is not one of {', '.join(KEY_TYPES)}")
        with self._write() as connection:
            self._keys(connection, name)  # NotFoundError for an unknown endpoint
            connection.execute(
                update(endpoint_keys)
                .where(endpoint_keys.c.endpoint_name == name)
                .values(
                    {
                        f"{key_type}_key": sealed,
                        "key_id": key_id,
                        "keys_version": endpoint_keys.c.keys_version + 1,
                        "updated_at": utc_now(),
                    }
                )
            )
            return self._keys(connection, name)

    def save_online_deployment(
        self, endpoint_name: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> DeploymentRecord:
        return self._save_deployment_of(ONLINE_ENDPOINT, endpoint_name, name, spec, mode)

    def get_online_deployment(self, endpoint_name: str, name: str) -> DeploymentRecord:
        return self._get_deployment_of(ONLINE_ENDPOINT, endpoint_name, name)

    def list_online_deployments(self, endpoint_name: str) -> list[DeploymentRecord]:
        return self._list_deployments_of(ONLINE_ENDPOINT, endpoint_name)

    def delete_online_deployment(self, endpoint_name: str, name: str) -> None:
        self._delete_deployment_of(ONLINE_ENDPOINT, endpoint_name, name)

    def _keys(self, connection: Connection, name: str) -> EndpointKeysRecord:
        self._require_endpoint(connection, name, ONLINE_ENDPOINT)
        row = connection.execute(select(endpoint_keys).where(endpoint_keys.c.endpoint_name == name)).first()
        if row is None:  # only an endpoint saved around save_online_endpoint (save_resource) has none
            raise NotFoundError(
                f"online endpoint {name!r} has no keys.",
                fix="Create it again to make its keys: thresher online-endpoint create -f endpoint.yml",
            )
        return from_row(EndpointKeysRecord, row)


def _keep_keys(connection: Connection, name: str, keys: SealedKeys) -> None:
    """Store ``keys`` for a new endpoint; an endpoint that has keys keeps them."""
    found = connection.execute(select(endpoint_keys.c.keys_version).where(endpoint_keys.c.endpoint_name == name))
    if found.first() is None:
        connection.execute(
            insert(endpoint_keys).values(endpoint_name=name, **keys, keys_version=1, updated_at=utc_now())
        )
