"""Named rows without versions: resources (datastore, compute, batch endpoint) and deployments.

Both tables are saved the same way (``_save``): create, update or upsert, with the database's
primary key settling a race between two creators. Deployments belong to a batch endpoint: the
foreign key keeps a deployment from outliving its endpoint, and deleting an endpoint deletes its
deployments in the same transaction.
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
    RESOURCE_KINDS,
    DeploymentRecord,
    ResourceRecord,
    SaveMode,
    from_row,
    utc_now,
)
from thresher.store.schema import deployments, resources

_SAVE_ATTEMPTS = 3  # a lost race is retried once it can see the winner's row
ENDPOINT = "batch_endpoint"


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
            if kind == ENDPOINT:  # the foreign key cascades too; this keeps it true without the pragma
                connection.execute(delete(deployments).where(deployments.c.endpoint_name == name))
            if connection.execute(delete(resources).where(_resource(kind, name))).rowcount == 0:
                raise self._missing_resource(connection, kind, name)

    def _missing_resource(self, connection: Connection, kind: str, name: str) -> ResourceError:
        query = select(resources.c.name).where(resources.c.kind == kind).order_by(resources.c.name)
        return messages.missing_name(kind, name, list(connection.execute(query).scalars()))

    # -- deployments -----------------------------------------------------------------------------

    def save_deployment(
        self, endpoint_name: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> DeploymentRecord:
        saved = self._save(
            deployments,
            "deployment",
            {"endpoint_name": endpoint_name, "name": name},
            spec,
            mode,
            taken=lambda: messages.deployment_taken(endpoint_name, name),
            missing=lambda connection: self._missing_deployment(connection, endpoint_name, name),
            first=lambda connection: self._require_endpoint(connection, endpoint_name),
        )
        return DeploymentRecord(DEPLOYMENT, name, *saved, endpoint_name=endpoint_name)

    def get_deployment(self, endpoint_name: str, name: str) -> DeploymentRecord:
        with self._read() as connection:
            self._require_endpoint(connection, endpoint_name)
            row = connection.execute(select(deployments).where(_deployment(endpoint_name, name))).first()
            if row is None:
                raise self._missing_deployment(connection, endpoint_name, name)
        return from_row(DeploymentRecord, row, kind=DEPLOYMENT)

    def list_deployments(self, endpoint_name: str) -> list[DeploymentRecord]:
        query = select(deployments).where(deployments.c.endpoint_name == endpoint_name).order_by(deployments.c.name)
        with self._read() as connection:
            self._require_endpoint(connection, endpoint_name)
            return [from_row(DeploymentRecord, row, kind=DEPLOYMENT) for row in connection.execute(query)]

    def delete_deployment(self, endpoint_name: str, name: str) -> None:
        with self._write() as connection:
            self._require_endpoint(connection, endpoint_name)
            if connection.execute(delete(deployments).where(_deployment(endpoint_name, name))).rowcount == 0:
                raise self._missing_deployment(connection, endpoint_name, name)

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
    ) -> tuple[dict[str, Any], datetime, datetime]:
        """Insert or update the row of ``key`` (a ``kind``) as ``mode`` allows, after ``first``, a check in
        the same transaction; run again when it lost a race, to see the winner's row.

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
                        return data, now, now
                    if mode == "create":
                        raise taken()
                    connection.execute(update(table).where(where).values(spec=data, updated_at=now))
                    return data, created_at, now
            except IntegrityError:  # a concurrent create won, or (a deployment's) endpoint went away
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

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
