"""``SqlStore``: the metadata store on SQLite or PostgreSQL, through SQLAlchemy Core.

Every method is one transaction. Writes that race another process (two "next version" inserts, a
create against a create, a deployment against its endpoint's deletion) are settled by the database's
constraints: the loser gets an IntegrityError, and the method runs again, this time seeing the
winner's row, which either gives the next number or the error a user should see.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from thresher.errors import ResourceError, StoreError
from thresher.store import messages
from thresher.store.base import MetadataStore
from thresher.store.engine import WRITE_OPTION, create_store_engine, mask, parse_url, store_error
from thresher.store.jobs import JobRows
from thresher.store.migrate import upgrade_to_head
from thresher.store.progress import JobProgress
from thresher.store.records import (
    ASSET_KINDS,
    KIND_NAMES,
    LATEST,
    RESOURCE_KINDS,
    SAVE_MODES,
    AssetRecord,
    DeploymentRecord,
    JobRecord,
    JobStatus,
    MiniBatchRecord,
    ResourceRecord,
    SaveMode,
    version_number,
    version_sort_key,
)
from thresher.store.resources import NamedRows
from thresher.store.schema import NAME_LENGTH, assets

_VERSION_ATTEMPTS = 50  # concurrent creators each lose at most once per winner


class SqlStore(MetadataStore):
    """The metadata store on SQLite or PostgreSQL; each method's documentation is in ``MetadataStore``.

    Opening it creates a SQLite file's folder and migrates the database to the current schema.
    """

    def __init__(self, url: str) -> None:
        self._url = parse_url(url)
        self._engine = create_store_engine(self._url)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        try:
            upgrade_to_head(self._engine, self._url)
        except (DBAPIError, json.JSONDecodeError) as exc:
            # opening is the first read: a damaged file or an unreachable server shows up here
            self._engine.dispose()
            raise store_error(self._url, exc) from exc
        except BaseException:
            self._engine.dispose()
            raise
        self._named = NamedRows(self._read, self._write)
        self._jobs = JobRows(self._read, self._write, skip_locked=self._url.get_backend_name() == "postgresql")

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return mask(self._url)

    def close(self) -> None:
        """Close every pooled connection. The store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._transaction(write=False) as connection:
            yield connection

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._transaction(write=True) as connection:
            yield connection

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        engine = self._writer if write else self._engine
        try:
            with engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise  # a constraint settled a race or refused a duplicate: the caller has the message
        except (DBAPIError, json.JSONDecodeError) as exc:
            # any other database error (SQLite's DatabaseError for a damaged file is not an
            # OperationalError) is the database's fault, not the caller's: one StoreError for all
            raise store_error(self._url, exc) from exc

    # -- versioned assets ---------------------------------------------------------------------

    def create_asset(
        self,
        kind: str,
        name: str,
        *,
        spec: Mapping[str, Any],
        info: Mapping[str, Any],
        version: str | None = None,
    ) -> AssetRecord:
        _check_kind(kind, ASSET_KINDS)
        _check_name(kind, "name", name)
        if version is not None:
            _check_version(kind, name, version)
        spec_data = plain_json(spec, f"{KIND_NAMES[kind].singular} {name!r} spec")
        info_data = plain_json(info, f"{KIND_NAMES[kind].singular} {name!r} info")
        for _attempt in range(_VERSION_ATTEMPTS):
            created_at = _now()
            try:
                with self._write() as connection:
                    chosen = version if version is not None else self._next_version(connection, kind, name)
                    connection.execute(
                        insert(assets).values(
                            kind=kind,
                            name=name,
                            version=chosen,
                            version_number=version_number(chosen),
                            spec=spec_data,
                            info=info_data,
                            archived=False,
                            created_at=created_at,
                        )
                    )
            except IntegrityError:
                if version is not None:
                    raise messages.version_taken(kind, name, version) from None
                continue  # another process took that number first: count again
            return AssetRecord(kind, name, chosen, spec_data, info_data, False, created_at)
        raise StoreError(
            f"Could not number a new version of {KIND_NAMES[kind].singular} {name!r}: other processes "
            f"took every number tried ({_VERSION_ATTEMPTS} attempts).",
            fix="Try again, or give the version explicitly.",
        )

    def get_asset(self, kind: str, name: str, version: str | None = None) -> AssetRecord:
        _check_kind(kind, ASSET_KINDS)
        with self._read() as connection:
            rows = self._asset_rows(connection, kind, name)
            if not rows:
                raise messages.missing_name(kind, name, self._asset_names(connection, kind))
        if version is None or version == LATEST:
            active = [row for row in rows if not row.archived]
            if not active:
                raise messages.all_archived(kind, name, _versions(rows))
            return _asset(max(active, key=_latest_key))
        for row in rows:
            if row.version == version:
                return _asset(row)
        raise messages.missing_version(kind, name, version, _versions(rows))

    def list_assets(
        self,
        kind: str,
        name: str | None = None,
        *,
        include_archived: bool = False,
        latest_only: bool = False,
    ) -> list[AssetRecord]:
        _check_kind(kind, ASSET_KINDS)
        query = select(assets).where(assets.c.kind == kind)
        if name is not None:
            query = query.where(assets.c.name == name)
        with self._read() as connection:
            rows = list(connection.execute(query))
        if latest_only:
            by_name: dict[str, list[Row[Any]]] = {}
            for row in rows:
                by_name.setdefault(row.name, []).append(row)
            # the version get_asset(name) resolves to; an all-archived name shows its newest archived one
            rows = [max(group, key=lambda r: (not r.archived, *_latest_key(r))) for group in by_name.values()]
        if not include_archived:
            rows = [row for row in rows if not row.archived]
        rows.sort(key=lambda r: (r.name, version_sort_key(r.version)))
        return [_asset(row) for row in rows]

    def set_asset_archived(self, kind: str, name: str, version: str | None, archived: bool) -> list[AssetRecord]:
        _check_kind(kind, ASSET_KINDS)
        with self._write() as connection:
            rows = self._asset_rows(connection, kind, name)
            if not rows:
                raise messages.missing_name(kind, name, self._asset_names(connection, kind))
            chosen = [row for row in rows if version is None or row.version == version]
            if not chosen:
                raise messages.missing_version(kind, name, str(version), _versions(rows))
            connection.execute(
                update(assets).where(assets.c.id.in_([row.id for row in chosen])).values(archived=archived)
            )
        updated = [_asset(row, archived=archived) for row in chosen]
        return sorted(updated, key=lambda record: version_sort_key(record.version))

    def _next_version(self, connection: Connection, kind: str, name: str) -> str:
        highest = connection.execute(
            select(func.max(assets.c.version_number)).where(assets.c.kind == kind, assets.c.name == name)
        ).scalar_one()
        return str(1 if highest is None else int(highest) + 1)

    def _asset_rows(self, connection: Connection, kind: str, name: str) -> list[Row[Any]]:
        query = select(assets).where(assets.c.kind == kind, assets.c.name == name)
        return list(connection.execute(query))

    def _asset_names(self, connection: Connection, kind: str) -> list[str]:
        query = select(assets.c.name).where(assets.c.kind == kind).distinct().order_by(assets.c.name)
        return list(connection.execute(query).scalars())

    # -- named resources and deployments (rows kept by NamedRows) ------------------------------

    def save_resource(
        self, kind: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> ResourceRecord:
        _check_kind(kind, RESOURCE_KINDS)
        _check_name(kind, "name", name)
        _check_mode(mode)
        data = plain_json(spec, f"{KIND_NAMES[kind].singular} {name!r} spec")
        return self._named.save_resource(kind, name, data, mode, _now())

    def get_resource(self, kind: str, name: str) -> ResourceRecord:
        _check_kind(kind, RESOURCE_KINDS)
        return self._named.get_resource(kind, name)

    def list_resources(self, kind: str) -> list[ResourceRecord]:
        _check_kind(kind, RESOURCE_KINDS)
        return self._named.list_resources(kind)

    def delete_resource(self, kind: str, name: str) -> None:
        _check_kind(kind, RESOURCE_KINDS)
        self._named.delete_resource(kind, name)

    def save_deployment(
        self, endpoint_name: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> DeploymentRecord:
        _check_name("deployment", "name", name)
        _check_mode(mode)
        data = plain_json(spec, f"deployment {name!r} spec")
        return self._named.save_deployment(endpoint_name, name, data, mode, _now())

    def get_deployment(self, endpoint_name: str, name: str) -> DeploymentRecord:
        return self._named.get_deployment(endpoint_name, name)

    def list_deployments(self, endpoint_name: str) -> list[DeploymentRecord]:
        return self._named.list_deployments(endpoint_name)

    def delete_deployment(self, endpoint_name: str, name: str) -> None:
        self._named.delete_deployment(endpoint_name, name)

    # -- jobs (rows kept by JobRows) -------------------------------------------------------------

    def create_job(
        self,
        name: str,
        *,
        spec: Mapping[str, Any],
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        kind: str = "batch_scoring",
    ) -> JobRecord:
        _check_name("job", "name", name)
        return self._jobs.create_job(
            name,
            kind=kind,
            spec=plain_json(spec, f"job {name!r} spec"),
            endpoint_name=endpoint_name,
            deployment_name=deployment_name,
            progress=JobProgress().to_json(),
        )

    def get_job(self, name: str) -> JobRecord:
        return self._jobs.get_job(name)

    def list_jobs(
        self,
        *,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        statuses: Collection[str] = (),
        limit: int | None = 50,
    ) -> list[JobRecord]:
        return self._jobs.list_jobs(
            endpoint_name=endpoint_name, deployment_name=deployment_name, statuses=statuses, limit=limit
        )

    def claim_job(
        self, runner: str, *, stale_before: datetime, dead_runners: Collection[str] = (), name: str | None = None
    ) -> JobRecord | None:
        return self._jobs.claim_job(runner, stale_before=stale_before, dead_runners=dead_runners, name=name)

    def heartbeat(self, name: str, runner: str) -> JobRecord:
        return self._jobs.heartbeat(name, runner)

    def set_job_status(
        self,
        name: str,
        status: JobStatus,
        *,
        runner: str | None = None,
        headline: str | None = None,
        error: Mapping[str, Any] | None = None,
        progress: JobProgress | None = None,
    ) -> JobRecord:
        return self._jobs.set_status(
            name,
            status,
            runner=runner,
            headline=headline,
            error=None if error is None else plain_json(error, f"job {name!r} error"),
            progress=None if progress is None else plain_json(progress.to_json(), f"job {name!r} progress"),
        )

    def request_cancel(self, name: str) -> JobRecord:
        return self._jobs.request_cancel(name)

    def commit_mini_batches(
        self, name: str, runner: str, results: Sequence[MiniBatchRecord], progress: JobProgress
    ) -> None:
        self._jobs.commit_mini_batches(name, runner, results, plain_json(progress.to_json(), f"job {name!r} progress"))

    def delete_job(self, name: str, *, orphaned_runner: str | None = None) -> None:
        self._jobs.delete_job(name, orphaned_runner=orphaned_runner)

    def mini_batches(self, name: str) -> list[MiniBatchRecord]:
        return self._jobs.mini_batches(name)


def open_store(url: str) -> SqlStore:
    """Open (and migrate) the metadata store at a SQLAlchemy URL, e.g. ``Settings.resolved_database_url``."""
    return SqlStore(url)


def plain_json(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A private deep copy of ``value`` as plain JSON data (tuples become lists); TypeError if not JSON."""

    def _mapping(obj: object) -> object:
        if isinstance(obj, Mapping):
            return dict(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON data")

    try:
        copied = json.loads(json.dumps(value, default=_mapping, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The {what} must be JSON data (dicts, lists, str, numbers, bools, None): {exc}") from None
    if not isinstance(copied, dict):
        raise TypeError(f"The {what} must be a mapping, not {type(value).__name__}")
    return copied


def _asset(row: Row[Any], *, archived: bool | None = None) -> AssetRecord:
    # row.spec / row.info were just decoded from the database's JSON: nothing else holds them
    return AssetRecord(
        kind=row.kind,
        name=row.name,
        version=row.version,
        spec=row.spec,
        info=row.info,
        archived=row.archived if archived is None else archived,
        created_at=row.created_at,
    )


def _latest_key(row: Row[Any]) -> tuple[bool, int, datetime, int]:
    """Highest integer version wins; among non-integer versions, the most recently created."""
    number = row.version_number
    return (number is not None, number or 0, row.created_at, row.id)


def _versions(rows: Sequence[Row[Any]]) -> list[str]:
    return sorted((row.version for row in rows), key=version_sort_key)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_kind(kind: str, allowed: tuple[str, ...]) -> None:
    if kind not in allowed:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(allowed)}")


def _check_mode(mode: str) -> None:
    if mode not in SAVE_MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(SAVE_MODES)}")


def _check_name(kind: str, field: str, value: str) -> None:
    if not value or len(value) > NAME_LENGTH:
        raise ResourceError(
            f"{KIND_NAMES[kind].singular} {field} {value!r} must be 1 to {NAME_LENGTH} characters long.",
            fix=f"Give the {KIND_NAMES[kind].singular} a {field} of 1 to {NAME_LENGTH} characters.",
        )


def _check_version(kind: str, name: str, version: str) -> None:
    _check_name(kind, "version", version)
    if version == LATEST:
        raise ResourceError(
            f"{KIND_NAMES[kind].singular} {name!r} cannot have version {LATEST!r}: "
            "the word stands for the newest version.",
            fix="Choose another version, or leave the version out to get the next number.",
        )
