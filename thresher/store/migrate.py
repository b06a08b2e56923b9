"""Bringing a metadata database to the schema this thresher expects, with Alembic, from code.

No ``alembic.ini`` is needed: the config is built here with ``script_location`` pointing at the
``migrations`` folder shipped inside the package. Opening a store calls ``upgrade_to_head``. The usual
case, a database already at ``HEAD_REVISION``, is one plain read of the version table, with no lock
taken and Alembic not even imported (importing it, and the Mako and Pygments it pulls in, costs more
than the rest of opening a workspace). Only a database at another revision, or at none, loads Alembic.

Two processes may open a fresh database at the same moment. Migrating happens in one transaction
that first takes a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock,
its DDL being transactional too), and Alembic reads the current revision only after that, so the
second process finds the work done and does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import URL, Connection, Engine, inspect, text

from thresher.errors import StoreError
from thresher.store.engine import WRITE_OPTION, mask
from thresher.store.schema import VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

HEAD_REVISION = "0005"
"""The newest revision in ``migrations/versions``; a new migration script moves it (a test compares them)."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x7468726573686572  # "thresher" in ASCII: an advisory lock id no other app should use


def alembic_config() -> Config:
    """An Alembic config for thresher's migrations, built in code (no ini file)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def current_revisions(connection: Connection) -> set[str]:
    """The revisions the database is at (empty for a new database), read with plain SQL.

    The same rows Alembic reads (``MigrationContext.get_current_heads``), without importing Alembic.
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    return {str(row[0]) for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}


def upgrade_to_head(engine: Engine, url: URL) -> None:
    """Migrate the database to head if it is behind; StoreError if it is ahead of this thresher."""
    with engine.connect() as connection:
        current = current_revisions(connection)
    if current == {HEAD_REVISION}:
        return
    _upgrade(engine, url, current)


def _upgrade(engine: Engine, url: URL, current: set[str]) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    if current == heads:
        return
    unknown = current - {revision.revision for revision in script.walk_revisions()}
    if unknown:
        raise StoreError(
            f"The metadata database {mask(url)} is at schema revision {', '.join(sorted(unknown))}, "
            f"which this thresher does not know (it knows up to {', '.join(sorted(heads))}). "
            "A newer thresher has migrated it.",
            fix="Upgrade thresher (pip install -U thresher), or point THRESHER_DATABASE_URL at another database.",
        )
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
