"""Named rows without versions: resources (datastore, compute, endpoints, ...) and deployments.

Resources and deployments are saved the same way (``_save``): create, update or upsert, with the
database's primary key settling a race between two creators. Deployments belong to an endpoint, batch
(table ``deployments``) or online (``online_deployments``, used by ``online.py``): the foreign key keeps
a deployment from outliving its endpoint, and deleting an endpoint deletes its deployments (and an online
endpoint's keys) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from thresher.errors import ResourceError
from thresher.store import messages
from thresher.store.arguments import check_kind, check_mode, check_name, plain_json
from thresher.store.engine import Database
from thresher.store.records import (
    DEPLOYMENT,
    KIND_NAMES,
    ONLINE_DEPLOYMENT,
    RESOURCE_KINDS,
    DeploymentRecord,
    ResourceRecord,
    SaveMode,
    from_row,
    utc_now,
)
from thresher.store.schema import deployments, endpoint_keys, online_deployments, resources

_SAVE_ATTEMPTS = 3  # a lost race is retried once it can see the winner's row
ENDPOINT = "batch_endpoint"
ONLINE_ENDPOINT = "online_endpoint"
_DEPLOYMENTS: dict[str, tuple[Table, str]] = {
    ENDPOINT: (deployments, DEPLOYMENT),
    ONLINE_ENDPOINT: (online_deployments, ONLINE_DEPLOYMENT),
}
"""Per kind of endpoint: the table of its deployments, and their kind."""
_HELD: dict[str, tuple[Table, ...]] = {ENDPOINT: (deployments,), ONLINE_ENDPOINT: (online_deployments, endpoint_keys)}
"""Per kind of resource: the tables whose rows it holds, deleted with it."""


class NamedRows(Database):
    """The resource and deployment methods of ``SqlStore`` (documented in ``MetadataStore``), on the
    ``resources`` and ``deployments`` tables."""

    # -- resources -------------------------------------------------------------------------------

    def save_resource(
        self, kind: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> ResourceRecord:
        check_kind(kind, RESOURCE_KINDS)
        saved = self._save(
            resources,
            kind,
            {"kind": kind, "name": name},
            spec,
            mode,
            taken=lambda: messages.name_taken(kind, name),
            missing=lambda connection: self._missing_resource(connection, kind, name),
        )
        return ResourceRecord(kind, name, *saved)

    def get_resource(self, kind: str, name: str) -> ResourceRecord:
        check_kind(kind, RESOURCE_KINDS)
        with self._read() as connection:
            row = connection.execute(select(resources).where(_resource(kind, name))).first()
            if row is None:
                raise self._missing_resource(connection, kind, name)
        # row.spec was just decoded from the database's JSON: nothing else holds it
        return from_row(ResourceRecord, row)

    def list_resources(self, kind: str) -> list[ResourceRecord]:
        check_kind(kind, RESOURCE_KINDS)
        query = select(resources).where(resources.c.kind == kind).order_by(resources.c.name)
        with self._read() as connection:
            return [from_row(ResourceRecord, row) for row in connection.execute(query)]

    def delete_resource(self, kind: str, name: str) -> None:
        check_kind(kind, RESOURCE_KINDS)
        with self._write() as connection:
            for table in _HELD.get(kind, ()):  # the foreign keys cascade too; this keeps it true without the pragma
                connection.execute(delete(table).where(table.c.endpoint_name == name))
            if connection.execute(delete(resources).where(_resource(kind, name))).rowcount == 0:
                raise self._missing_resource(connection, kind, name)

    def _missing_resource(self, connection: Connection, kind: str, name: str) -> ResourceError:
        query = select(resources.c.name).where(resources.c.kind == kind).order_by(resources.c.name)
        return messages.missing_name(kind, name, list(connection.execute(query).scalars()))

    # -- deployments -----------------------------------------------------------------------------

    def save_deployment(
        self, endpoint_name: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> DeploymentRecord:
        return self._save_deployment_of(ENDPOINT, endpoint_name, name, spec, mode)

    def get_deployment(self, endpoint_name: str, name: str) -> DeploymentRecord:
        return self._get_deployment_of(ENDPOINT, endpoint_name, name)

    def list_deployments(self, endpoint_name: str) -> list[DeploymentRecord]:
        return self._list_deployments_of(ENDPOINT, endpoint_name)

    def delete_deployment(self, endpoint_name: str, name: str) -> None:
        self._delete_deployment_of(ENDPOINT, endpoint_name, name)

    # The deployments of either kind of endpoint (batch or online), each kind in its own table.

    def _save_deployment_of(
        self, endpoint_kind: str, endpoint_name: str, name: str, spec: Mapping[str, Any], mode: SaveMode
    ) -> DeploymentRecord:
        table, kind = _DEPLOYMENTS[endpoint_kind]
        saved = self._save(
            table,
            kind,
            {"endpoint_name": endpoint_name, "name": name},
            spec,
            mode,
            taken=lambda: messages.deployment_taken(endpoint_name, name, endpoint_kind),
            missing=lambda connection: self._missing_deployment(connection, endpoint_kind, endpoint_name, name),
            first=lambda connection: self._require_endpoint(connection, endpoint_name, endpoint_kind),
        )
        return DeploymentRecord(kind, name, *saved, endpoint_name=endpoint_name)

    def _get_deployment_of(self, endpoint_kind: str, endpoint_name: str, name: str) -> DeploymentRecord:
        table, kind = _DEPLOYMENTS[endpoint_kind]
        with self._read() as connection:
            self._require_endpoint(connection, endpoint_name, endpoint_kind)
            row = connection.execute(select(table).where(_deployment(table, endpoint_name, name))).first()
            if row is None:
                raise self._missing_deployment(connection, endpoint_kind, endpoint_name, name)
        return from_row(DeploymentRecord, row, kind=kind)

    def _list_deployments_of(self, endpoint_kind: str, endpoint_name: str) -> list[DeploymentRecord]:
        table, kind = _DEPLOYMENTS[endpoint_kind]
        query = select(table).where(table.c.endpoint_name == endpoint_name).order_by(table.c.name)
        with self._read() as connection:
            self._require_endpoint(connection, endpoint_name, endpoint_kind)
            return [from_row(DeploymentRecord, row, kind=kind) for row in connection.execute(query)]

    def _delete_deployment_of(self, endpoint_kind: str, endpoint_name: str, name: str) -> None:
        table, _ = _DEPLOYMENTS[endpoint_kind]
        with self._write() as connection:
            self._require_endpoint(connection, endpoint_name, endpoint_kind)
            if connection.execute(delete(table).where(_deployment(table, endpoint_name, name))).rowcount == 0:
                raise self._missing_deployment(connection, endpoint_kind, endpoint_name, name)

    def _save(
        self,
        table: Table,
        kind: str,
        key: dict[str, str],
        spec: Mapping[str, Any],
        mode: SaveMode,
        *,
        taken: Callable[[], ResourceError],
        missing: Callable[[Connection], ResourceError],
        first: Callable[[Connection], None] = lambda _connection: None,
        then: Callable[[Connection], None] = lambda _connection: None,
    ) -> tuple[dict[str, Any], datetime, datetime]:
        """Insert or update the row of ``key`` (a ``kind``) as ``mode`` allows, after ``first``, a check in
        the same transaction, and before ``then``, a write that goes with it; run again when it lost a race,
        to see the winner's row.

        Returns what the record holds besides its key: the spec as stored, created_at and updated_at.
        """
        check_name(kind, "name", key["name"])
        check_mode(mode)
        data = plain_json(spec, f"{KIND_NAMES[kind].singular} {key['name']!r} spec")
        now = utc_now()
        where = and_(*(table.c[column] == value for column, value in key.items()))
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                with self._write() as connection:
                    first(connection)
                    created_at = connection.execute(select(table.c.created_at).where(where)).scalar_one_or_none()
                    if created_at is None:
                        if mode == "update":
                            raise missing(connection)
                        connection.execute(insert(table).values(**key, spec=data, created_at=now, updated_at=now))
                        then(connection)
                        return data, now, now
                    if mode == "create":
                        raise taken()
                    connection.execute(update(table).where(where).values(spec=data, updated_at=now))
                    then(connection)
                    return data, created_at, now
            except IntegrityError:  # a concurrent create won, or (a deployment's) endpoint went away
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _require_endpoint(self, connection: Connection, endpoint_name: str, endpoint_kind: str = ENDPOINT) -> None:
        """Raise NotFoundError, listing the endpoints of that kind, unless this one exists."""
        exists = connection.execute(select(resources.c.name).where(_resource(endpoint_kind, endpoint_name)))
        if exists.first() is None:
            raise self._missing_resource(connection, endpoint_kind, endpoint_name)

    def _missing_deployment(
        self, connection: Connection, endpoint_kind: str, endpoint_name: str, name: str
    ) -> ResourceError:
        table, _ = _DEPLOYMENTS[endpoint_kind]
        query = select(table.c.name).where(table.c.endpoint_name == endpoint_name).order_by(table.c.name)
        existing = list(connection.execute(query).scalars())
        return messages.missing_deployment(endpoint_name, name, existing, endpoint_kind)


def _resource(kind: str, name: str) -> ColumnElement[bool]:
    return and_(resources.c.kind == kind, resources.c.name == name)


def _deployment(table: Table, endpoint_name: str, name: str) -> ColumnElement[bool]:
    return and_(table.c.endpoint_name == endpoint_name, table.c.name == name)
