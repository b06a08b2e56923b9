"""Revisions of metadata rows: a cheap check that what a cache built from them is still what the database holds.

``revision(refs)`` reads, in one statement, a value for each row that ``refs`` names, which changes whenever
that row is created, saved or deleted: a resource's or a deployment's ``updated_at`` (every save sets it, a
deleted row reads as None and a re-created one has a new time), and for an asset every version's id and
archived flag (versions are only added and archived, never changed, and which one is "latest" follows
from them). Two equal revisions of the same refs mean the rows read the same; a cache keeps what it built
with the revision it read *before* building, so a change that raced the build makes the next check differ.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
)

from thresher.store.arguments import check_kind
from thresher.store.engine import Database
from thresher.store.records import ASSET_KINDS, DEPLOYMENT, RESOURCE_KINDS, RowRef
from thresher.store.schema import UTCDateTime, assets, deployments, resources

Revision = tuple[tuple[Any, ...], ...]
"""One tuple per ref: what ``MetadataStore.revision`` returns, compared only for equality."""


class RevisionRows(Database):
    """The ``revision`` method of ``SqlStore`` (documented in ``MetadataStore``)."""

    def revision(self, refs: Sequence[RowRef]) -> Revision:
        with self._read() as connection:
            return revision_in(connection, refs)


def revision_in(connection: Connection, refs: Sequence[RowRef]) -> Revision:
    """``MetadataStore.revision`` inside a transaction of the caller's (``create_job``'s, to queue a job only
    if the rows it was built from still read so)."""
    if not refs:
        return ()
    params: dict[str, Any] = {}
    for index, ref in enumerate(refs):
        params[f"kind_{index}"], params[f"name_{index}"] = ref.kind, ref.name
        params[f"endpoint_{index}"] = ref.endpoint_name
    found: list[list[tuple[Any, ...]]] = [[] for _ in refs]
    for index, at, version_id, archived in connection.execute(_query(tuple(map(_shape, refs))), params):
        found[index].append((at, version_id, archived))
    return tuple(tuple(sorted(rows, key=lambda row: row[1] or 0)) for rows in found)


def _shape(ref: RowRef) -> str:
    if ref.kind == DEPLOYMENT:
        return DEPLOYMENT
    if ref.kind in ASSET_KINDS:
        return "asset"
    check_kind(ref.kind, RESOURCE_KINDS)
    return "resource"


@functools.lru_cache(maxsize=64)
def _query(shapes: tuple[str, ...]) -> CompoundSelect[Any]:
    """The union of one select per ref, of refs of these shapes (built once: building costs more than running
    it), each row as (index, updated_at, version id, archived). Only the NULLs are cast, for PostgreSQL to
    type the union's columns: an SQL cast of a SQLite timestamp would turn it into a number."""
    no_time, no_id, no_flag = (cast(null(), kind) for kind in (UTCDateTime, Integer, Boolean))
    parts: list[Select[Any]] = []
    for index, shape in enumerate(shapes):
        tag = literal(index, Integer)
        kind, name = bindparam(f"kind_{index}", type_=String), bindparam(f"name_{index}", type_=String)
        if shape == DEPLOYMENT:
            where = and_(deployments.c.endpoint_name == bindparam(f"endpoint_{index}"), deployments.c.name == name)
            parts.append(select(tag, deployments.c.updated_at, no_id, no_flag).where(where))
        elif shape == "asset":
            where = and_(assets.c.kind == kind, assets.c.name == name)
            parts.append(select(tag, no_time, assets.c.id, assets.c.archived).where(where))
        else:
            where = and_(resources.c.kind == kind, resources.c.name == name)
            parts.append(select(tag, resources.c.updated_at, no_id, no_flag).where(where))
    return union_all(*parts)
