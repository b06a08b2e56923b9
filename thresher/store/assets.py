"""Versioned assets in the metadata database: every create adds a version, numbered by the database.

A new version without an explicit one gets 1 + the highest integer version of its name. Two processes
may count at once: the unique (kind, name, version) constraint lets one insert win, and the other
counts again, now seeing the winner's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from thresher.errors import StoreError
from thresher.store import messages
from thresher.store.arguments import check_kind, check_name, check_version, plain_json
from thresher.store.base import AssetListing, NewAsset
from thresher.store.engine import Database
from thresher.store.records import (
    ASSET_KINDS,
    KIND_NAMES,
    LATEST,
    AssetRecord,
    from_row,
    utc_now,
    version_number,
    version_sort_key,
)
from thresher.store.schema import assets

if TYPE_CHECKING:
    from typing import Unpack

_VERSION_ATTEMPTS = 50  # concurrent creators each lose at most once per winner


class AssetRows(Database):
    """The asset methods of ``SqlStore`` (documented in ``MetadataStore``), on the ``assets`` table."""

    def create_asset(self, kind: str, name: str, **asset: Unpack[NewAsset]) -> AssetRecord:
        check_kind(kind, ASSET_KINDS)
        check_name(kind, "name", name)
        version = asset.get("version")
        if version is not None:
            check_version(kind, name, version)
        spec = plain_json(asset["spec"], f"{KIND_NAMES[kind].singular} {name!r} spec")
        info = plain_json(asset["info"], f"{KIND_NAMES[kind].singular} {name!r} info")
        for _attempt in range(_VERSION_ATTEMPTS):
            created_at = utc_now()
            try:
                with self._write() as connection:
                    chosen = version if version is not None else self._next_version(connection, kind, name)
                    connection.execute(
                        insert(assets).values(
                            kind=kind,
                            name=name,
                            version=chosen,
                            version_number=version_number(chosen),
                            spec=spec,
                            info=info,
                            archived=False,
                            created_at=created_at,
                        )
                    )
            except IntegrityError:
                if version is not None:
                    raise messages.version_taken(kind, name, version) from None
                continue  # another process took that number first: count again
            return AssetRecord(kind, name, chosen, spec, info, False, created_at)
        raise StoreError(
            f"Could not number a new version of {KIND_NAMES[kind].singular} {name!r}: other processes "
            f"took every number tried ({_VERSION_ATTEMPTS} attempts).",
            fix="Try again, or give the version explicitly.",
        )

    def get_asset(self, kind: str, name: str, version: str | None = None) -> AssetRecord:
        check_kind(kind, ASSET_KINDS)
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

    def list_assets(self, kind: str, name: str | None = None, **listing: Unpack[AssetListing]) -> list[AssetRecord]:
        check_kind(kind, ASSET_KINDS)
        query = select(assets).where(assets.c.kind == kind)
        if name is not None:
            query = query.where(assets.c.name == name)
        with self._read() as connection:
            rows = list(connection.execute(query))
        if listing.get("latest_only", False):
            by_name: dict[str, list[Row[Any]]] = {}
            for row in rows:
                by_name.setdefault(row.name, []).append(row)
            # the version get_asset(name) resolves to; an all-archived name shows its newest archived one
            rows = [max(group, key=lambda r: (not r.archived, *_latest_key(r))) for group in by_name.values()]
        if not listing.get("include_archived", False):
            rows = [row for row in rows if not row.archived]
        rows.sort(key=lambda r: (r.name, version_sort_key(r.version)))
        return [_asset(row) for row in rows]

    def set_asset_archived(self, kind: str, name: str, version: str | None, archived: bool) -> list[AssetRecord]:
        check_kind(kind, ASSET_KINDS)
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


def _asset(row: Row[Any], *, archived: bool | None = None) -> AssetRecord:
    # row.spec / row.info were just decoded from the database's JSON: nothing else holds them
    return from_row(AssetRecord, row, archived=row.archived if archived is None else archived)


def _latest_key(row: Row[Any]) -> tuple[bool, int, datetime, int]:
    """Highest integer version wins; among non-integer versions, the most recently created."""
    number = row.version_number
    return (number is not None, number or 0, row.created_at, row.id)


def _versions(rows: Sequence[Row[Any]]) -> list[str]:
    return sorted((row.version for row in rows), key=version_sort_key)
