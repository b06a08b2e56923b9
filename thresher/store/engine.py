"""Connecting to the metadata database: URL checks, engine settings per backend, and the error a user
sees when the database cannot be used.

SQLite gets WAL (readers never wait for a writer), a 30 s busy timeout, foreign keys, and
``BEGIN IMMEDIATE`` for write transactions: a writer takes the lock before it reads, so two processes
computing "the next version" one after the other cannot both read the same maximum and then
deadlock on upgrading their locks.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from thresher.errors import MissingExtraError, StoreError

BUSY_TIMEOUT_S = 30
WRITE_OPTION = "thresher_write"
"""Execution option marking a write transaction (SQLite: ``BEGIN IMMEDIATE``)."""

_POSTGRES_ALIASES = ("postgres", "postgresql")  # no driver named: use psycopg 3, the one we ship


def parse_url(url: str) -> URL:
    """Parse a database URL, choosing psycopg for PostgreSQL; StoreError for anything else."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"THRESHER_DATABASE_URL {url!r} is not a database URL.",
            fix="Use sqlite:////abs/path/thresher.db or postgresql+psycopg://user:password@host:5432/db",
        ) from None
    if parsed.drivername in _POSTGRES_ALIASES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"Database URL {mask(parsed)} uses {parsed.get_backend_name()}; "
            "the metadata store runs on SQLite or PostgreSQL.",
            fix="Use sqlite:////abs/path/thresher.db or postgresql+psycopg://user:password@host:5432/db",
        )
    return parsed


def mask(url: URL) -> str:
    """The URL as text with its password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def unusable(url: URL, exc: BaseException) -> StoreError:
    """The StoreError for a database that cannot be opened or used, naming the URL and the fix."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if url.get_backend_name() == "sqlite":
        fix = (
            "Check that the database file's folder exists and is writable, or point THRESHER_HOME or "
            "THRESHER_DATABASE_URL somewhere else."
        )
    else:
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        fix = (
            f"Check that PostgreSQL is running and reachable at {where}, and that the user, password "
            f"and database {url.database!r} in THRESHER_DATABASE_URL are right."
        )
    return StoreError(f"Cannot use the metadata database {mask(url)}: {reason}", fix=fix)


def create_store_engine(url: URL) -> Engine:
    """An engine configured for the metadata store; creates a SQLite file's folder."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    try:
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except ImportError:
        raise MissingExtraError("A PostgreSQL metadata database", "psycopg", "postgres") from None


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unusable(url, exc) from exc
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control away from the sqlite3 module: _on_begin says how to BEGIN
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            _enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL, waiting for other connections doing the same.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once, without its
    busy timeout, when two connections race to switch a new database; the switch is stored in the
    file, so once it is done every later connection finds WAL and returns immediately.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
