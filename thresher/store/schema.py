"""The metadata database's tables, as SQLAlchemy Core.

This module describes the schema at Alembic head; the migrations in ``migrations/versions/`` build it
(they do not import this module, so that an old migration never changes when the schema moves on).
Constraint names follow ``metadata.naming_convention`` so that later migrations can find them, also
on SQLite, where Alembic rebuilds tables to alter them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)

VERSION_TABLE = "thresher_alembic_version"
"""Alembic's bookkeeping table; named for thresher so the database can be shared with other apps."""

NAME_LENGTH = 255
KIND_LENGTH = 32

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out timezone-aware in UTC, on SQLite as on PostgreSQL.

    SQLite has no timezone type, so the value is stored as naive UTC and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no timezone; the store only keeps aware datetimes")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


assets = Table(
    "assets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(KIND_LENGTH), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("version", String(NAME_LENGTH), nullable=False),
    # the version as an integer when it is one: auto-increment and "latest" are computed from it
    Column("version_number", BigInteger, nullable=True),
    Column("spec", JSON, nullable=False),
    Column("info", JSON, nullable=False),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "name", "version"),
)

resources = Table(
    "resources",
    metadata,
    Column("kind", String(KIND_LENGTH), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("kind", "name"),
)

deployments = Table(
    "deployments",
    metadata,
    # always 'batch_endpoint': it lets the database itself tie a deployment to its endpoint's row
    Column("endpoint_kind", String(KIND_LENGTH), nullable=False, server_default=text("'batch_endpoint'")),
    Column("endpoint_name", String(NAME_LENGTH), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("endpoint_name", "name"),
    ForeignKeyConstraint(["endpoint_kind", "endpoint_name"], ["resources.kind", "resources.name"], ondelete="CASCADE"),
    CheckConstraint("endpoint_kind = 'batch_endpoint'", name="endpoint_kind"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("kind", String(KIND_LENGTH), nullable=False),
    Column("status", String(KIND_LENGTH), nullable=False),
    Column("endpoint_name", String(NAME_LENGTH), nullable=True),
    Column("deployment_name", String(NAME_LENGTH), nullable=True),
    Column("spec", JSON, nullable=False),
    Column("progress", JSON, nullable=False),
    Column("headline", Text, nullable=True),
    Column("error", JSON, nullable=True),
    Column("runner", String(NAME_LENGTH), nullable=True),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("name"),
    Index("ix_jobs_status_created_at", "status", "created_at"),
)

job_mini_batches = Table(
    "job_mini_batches",
    metadata,
    Column("job", String(NAME_LENGTH), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("status", String(KIND_LENGTH), nullable=False),
    Column("items", Integer, nullable=False),
    Column("succeeded", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("worker", String(NAME_LENGTH), nullable=True),
    Column("seconds", Float, nullable=False),
    Column("parts", JSON, nullable=False),
    Column("error", Text, nullable=True),
    PrimaryKeyConstraint("job", "idx"),
    ForeignKeyConstraint(["job"], ["jobs.name"], ondelete="CASCADE"),
)
