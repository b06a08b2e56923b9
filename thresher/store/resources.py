"""Named rows without versions: resources (datastore, compute, batch endpoint) and deployments.

Both tables are saved the same way (``save_row``): create, update or upsert, with the database's
primary key settling a race between two creators. Deployments belong to a batch endpoint: the
foreign key keeps a deployment from outliving its endpoint, and deleting an endpoint deletes its
deployments in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from thresher.errors import ResourceError
from thresher.store import messages
from thresher.store.records import DeploymentRecord, ResourceRecord, SaveMode
from thresher.store.schema import deployments, resources

Transaction = Callable[[], AbstractContextManager[Connection]]
_SAVE_ATTEMPTS = 3  # a lost race is retried once it can see the winner's row
ENDPOINT = "batch_endpoint"


def save_row(
    connection: Connection,
    table: Table,
    key: dict[str, str],
    spec: dict[str, Any],
    mode: SaveMode,
    now: datetime,
    *,
    taken: Callable[[], ResourceError],
    missing: Callable[[], ResourceError],
) -> datetime:
    """Insert or update one row by its key as ``mode`` allows; return its created_at."""
    where = and_(*(table.c[column] == value for column, value in key.items()))
    existing = connection.execute(select(table.c.created_at).where(where))
    created_at: datetime | None = existing.scalar_one_or_none()
    if created_at is None:
        if mode == "update":
            raise missing()
        connection.execute(insert(table).values(**key, spec=spec, created_at=now, updated_at=now))
        return now
    if mode == "create":
        raise taken()
    connection.execute(update(table).where(where).values(spec=spec, updated_at=now))
    return created_at


class NamedRows:
    """Reads and writes of the ``resources`` and ``deployments`` tables, one transaction each."""

    def __init__(self, read: Transaction, write: Transaction) -> None:
        self._read = read
        self._write = write

    # -- resources -------------------------------------------------------------------------------

    def save_resource(
        self, kind: str, name: str, spec: dict[str, Any], mode: SaveMode, now: datetime
    ) -> ResourceRecord:
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                with self._write() as connection:
                    created_at = save_row(
                        connection,
                        resources,
                        {"kind": kind, "name": name},
                        spec,
                        mode,
                        now,
                        taken=lambda: messages.name_taken(kind, name),
                        missing=lambda: self._missing_resource(connection, kind, name),
                    )
                return ResourceRecord(kind, name, spec, created_at, now)
            except IntegrityError:
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def get_resource(self, kind: str, name: str) -> ResourceRecord:
        with self._read() as connection:
            row = connection.execute(select(resources).where(_resource(kind, name))).first()
            if row is None:
                raise self._missing_resource(connection, kind, name)
        return _resource_record(row)

    def list_resources(self, kind: str) -> list[ResourceRecord]:
        query = select(resources).where(resources.c.kind == kind).order_by(resources.c.name)
        with self._read() as connection:
            return [_resource_record(row) for row in connection.execute(query)]

    def delete_resource(self, kind: str, name: str) -> None:
        with self._write() as connection:
            if kind == ENDPOINT:  # the foreign key cascades too; this keeps it true without the pragma
                connection.execute(delete(deployments).where(deployments.c.endpoint_name == name))
            if connection.execute(delete(resources).where(_resource(kind, name))).rowcount == 0:
                raise self._missing_resource(connection, kind, name)

    def _missing_resource(self, connection: Connection, kind: str, name: str) -> ResourceError:
        query = select(resources.c.name).where(resources.c.kind == kind).order_by(resources.c.name)
        return messages.missing_name(kind, name, list(connection.execute(query).scalars()))

    # -- deployments -----------------------------------------------------------------------------

    def save_deployment(
        self, endpoint_name: str, name: str, spec: dict[str, Any], mode: SaveMode, now: datetime
    ) -> DeploymentRecord:
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                with self._write() as connection:
                    self._require_endpoint(connection, endpoint_name)
                    created_at = save_row(
                        connection,
                        deployments,
                        {"endpoint_name": endpoint_name, "name": name},
                        spec,
                        mode,
                        now,
                        taken=lambda: messages.deployment_taken(endpoint_name, name),
                        missing=lambda: self._missing_deployment(connection, endpoint_name, name),
                    )
                return DeploymentRecord(endpoint_name, name, spec, created_at, now)
            except IntegrityError:  # the endpoint went away, or a concurrent create won
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def get_deployment(self, endpoint_name: str, name: str) -> DeploymentRecord:
        with self._read() as connection:
            self._require_endpoint(connection, endpoint_name)
            row = connection.execute(select(deployments).where(_deployment(endpoint_name, name))).first()
            if row is None:
                raise self._missing_deployment(connection, endpoint_name, name)
        return _deployment_record(row)

    def list_deployments(self, endpoint_name: str) -> list[DeploymentRecord]:
        query = select(deployments).where(deployments.c.endpoint_name == endpoint_name).order_by(deployments.c.name)
        with self._read() as connection:
            self._require_endpoint(connection, endpoint_name)
            return [_deployment_record(row) for row in connection.execute(query)]

    def delete_deployment(self, endpoint_name: str, name: str) -> None:
        with self._write() as connection:
            self._require_endpoint(connection, endpoint_name)
            if connection.execute(delete(deployments).where(_deployment(endpoint_name, name))).rowcount == 0:
                raise self._missing_deployment(connection, endpoint_name, name)

    def _require_endpoint(self, connection: Connection, endpoint_name: str) -> None:
        """Raise NotFoundError, listing the batch endpoints, unless this one exists."""
        exists = connection.execute(select(resources.c.name).where(_resource(ENDPOINT, endpoint_name)))
        if exists.first() is None:
            raise self._missing_resource(connection, ENDPOINT, endpoint_name)

    def _missing_deployment(self, connection: Connection, endpoint_name: str, name: str) -> ResourceError:
        query = (
            select(deployments.c.name).where(deployments.c.endpoint_name == endpoint_name).order_by(deployments.c.name)
        )
        return messages.missing_deployment(endpoint_name, name, list(connection.execute(query).scalars()))


def _resource(kind: str, name: str) -> ColumnElement[bool]:
    return and_(resources.c.kind == kind, resources.c.name == name)


def _deployment(endpoint_name: str, name: str) -> ColumnElement[bool]:
    return and_(deployments.c.endpoint_name == endpoint_name, deployments.c.name == name)


def _resource_record(row: Row[Any]) -> ResourceRecord:
    # row.spec was just decoded from the database's JSON: nothing else holds it
    return ResourceRecord(row.kind, row.name, row.spec, row.created_at, row.updated_at)


def _deployment_record(row: Row[Any]) -> DeploymentRecord:
    return DeploymentRecord(row.endpoint_name, row.name, row.spec, row.created_at, row.updated_at)
