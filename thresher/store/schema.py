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
    ForeignKey,
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


def _name(column: str, *, nullable: bool = False) -> Column[str]:
    """A name users or thresher give: of an asset, version, resource, deployment, job or runner."""
    return Column(column, String(NAME_LENGTH), nullable=nullable)


def _word(column: str) -> Column[str]:
    """One of a few fixed words: a kind or a status."""
    return Column(column, String(KIND_LENGTH), nullable=False)


def _json(column: str, *, nullable: bool = False) -> Column[Any]:
    return Column(column, JSON, nullable=nullable)


def _time(column: str, *, nullable: bool = False) -> Column[datetime]:
    return Column(column, UTCDateTime, nullable=nullable)


def _count(column: str) -> Column[int]:
    return Column(column, Integer, nullable=False)


assets = Table(
    "assets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _word("kind"),
    _name("name"),
    _name("version"),
    # the version as an integer when it is one: auto-increment and "latest" are computed from it
    Column("version_number", BigInteger, nullable=True),
    _json("spec"),
    _json("info"),
    Column("archived", Boolean, nullable=False, server_default=false()),
    _time("created_at"),
    UniqueConstraint("kind", "name", "version"),
)

resources = Table(
    "resources",
    metadata,
    _word("kind"),
    _name("name"),
    _json("spec"),
    _time("created_at"),
    _time("updated_at"),
    PrimaryKeyConstraint("kind", "name"),
)

deployments = Table(
    "deployments",
    metadata,
    # always 'batch_endpoint': it lets the database itself tie a deployment to its endpoint's row
    Column("endpoint_kind", String(KIND_LENGTH), nullable=False, server_default=text("'batch_endpoint'")),
    _name("endpoint_name"),
    _name("name"),
    _json("spec"),
    _time("created_at"),
    _time("updated_at"),
    PrimaryKeyConstraint("endpoint_name", "name"),
    ForeignKeyConstraint(["endpoint_kind", "endpoint_name"], ["resources.kind", "resources.name"], ondelete="CASCADE"),
    CheckConstraint("endpoint_kind = 'batch_endpoint'", name="endpoint_kind"),
)

jobs = Table(
    "jobs",
    metadata,
    _name("name"),
    _word("kind"),
    _word("status"),
    _name("endpoint_name", nullable=True),
    _name("deployment_name", nullable=True),
    _json("spec"),
    _json("progress"),
    Column("headline", Text, nullable=True),
    _json("error", nullable=True),
    _name("runner", nullable=True),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    _time("created_at"),
    _time("started_at", nullable=True),
    _time("ended_at", nullable=True),
    _time("heartbeat_at", nullable=True),
    # A pipeline's step jobs name their pipeline job; they are run by its runner, never claimed alone.
    _name("parent", nullable=True),
    # A step's cache key (SHA-256 of its readable key in ``results``): equal keys may reuse each other.
    Column("cache_key", String(64), nullable=True),
    _json("results", nullable=True),  # what a step produced: outputs (paths, content hashes), metrics, reuse
    PrimaryKeyConstraint("name"),
    Index("ix_jobs_status_created_at", "status", "created_at"),
    Index("ix_jobs_parent", "parent"),
    Index("ix_jobs_cache_key", "cache_key"),
)

job_mini_batches = Table(
    "job_mini_batches",
    metadata,
    Column("job", String(NAME_LENGTH), ForeignKey("jobs.name", ondelete="CASCADE"), nullable=False),
    _count("idx"),
    _word("status"),
    _count("items"),
    _count("succeeded"),
    _count("failed"),
    _count("attempts"),
    _name("worker", nullable=True),
    Column("seconds", Float, nullable=False),
    _json("parts"),
    Column("error", Text, nullable=True),
    PrimaryKeyConstraint("job", "idx"),
)


# -- the server (migration 0004) ------------------------------------------------------------------

api_tokens = Table(
    "api_tokens",
    metadata,
    _name("name"),
    _word("role"),  # reader, contributor or owner
    Column("secret_hash", String(64), nullable=False),  # SHA-256 of the secret: the secret is shown once
    _time("created_at"),
    _time("last_used_at", nullable=True),
    _time("revoked_at", nullable=True),
    PrimaryKeyConstraint("name"),
    UniqueConstraint("secret_hash"),
)

idempotent_requests = Table(
    "idempotent_requests",
    metadata,
    Column("key", String(NAME_LENGTH), nullable=False),  # the client's Idempotency-Key
    Column("route", String(NAME_LENGTH), nullable=False),
    Column("status_code", Integer, nullable=True),  # None while the first request is being answered
    _json("body", nullable=True),
    _time("created_at"),
    PrimaryKeyConstraint("key"),
)

schedule_fires = Table(
    "schedule_fires",
    metadata,
    _name("schedule"),
    Column("slot", String(64), nullable=False),  # the slot fired (ISO time, or a data-change key): once each
    _name("job", nullable=True),
    _json("detail", nullable=True),
    _time("fired_at"),
    PrimaryKeyConstraint("schedule", "slot"),
)

service_heartbeats = Table(
    "service_heartbeats",
    metadata,
    _name("name"),  # a server or runner, named as in its log
    _word("kind"),  # "server" or "runner"
    _json("info"),  # host, pid, url
    _time("started_at"),
    _time("heartbeat_at"),
    PrimaryKeyConstraint("name"),
)


# -- online endpoints (migration 0005) -------------------------------------------------------------

online_deployments = Table(
    "online_deployments",
    metadata,
    # always 'online_endpoint': it lets the database itself tie a deployment to its endpoint's row
    Column("endpoint_kind", String(KIND_LENGTH), nullable=False, server_default=text("'online_endpoint'")),
    _name("endpoint_name"),
    _name("name"),
    _json("spec"),
    _time("created_at"),
    _time("updated_at"),
    PrimaryKeyConstraint("endpoint_name", "name"),
    ForeignKeyConstraint(["endpoint_kind", "endpoint_name"], ["resources.kind", "resources.name"], ondelete="CASCADE"),
    CheckConstraint("endpoint_kind = 'online_endpoint'", name="endpoint_kind"),
)

endpoint_keys = Table(
    "endpoint_keys",
    metadata,
    Column("endpoint_kind", String(KIND_LENGTH), nullable=False, server_default=text("'online_endpoint'")),
    _name("endpoint_name"),
    # Each secret is a Fernet token made with the workspace key (storage/vault.py), never the secret itself.
    Column("primary_key", Text, nullable=False),
    Column("secondary_key", Text, nullable=False),
    Column("token_secret", Text, nullable=False),  # signs the endpoint's aml_token tokens
    Column("key_id", String(64), nullable=False),  # which workspace key sealed them, for messages
    _count("keys_version"),  # counts regenerations: a serving process reloads keys when it moves
    _time("updated_at"),
    PrimaryKeyConstraint("endpoint_name"),
    ForeignKeyConstraint(["endpoint_kind", "endpoint_name"], ["resources.kind", "resources.name"], ondelete="CASCADE"),
    CheckConstraint("endpoint_kind = 'online_endpoint'", name="endpoint_kind"),
)
