"""Connecting to the metadata database: URL checks, engine settings per backend, and the error a user
sees when the database cannot be used.

SQLite gets WAL (readers never wait for a writer), a 30 s busy timeout, foreign keys, and
``BEGIN IMMEDIATE`` for write transactions: a writer takes the lock before it reads, so two processes
computing "the next version" one after the other cannot both read the same maximum and then
deadlock on upgrading their locks.

Every failure of the database itself becomes a ``StoreError`` here (``store_error``): a database that
cannot be reached or opened (``unusable``), and one whose content is damaged (``damaged``: a truncated
or overwritten SQLite file, a missing table), whose fix points to ``thresher workspace check`` and to a
backup. An ``IntegrityError`` is not among them: it means a constraint settled a race or refused a
duplicate, and the store's methods turn it into their own message.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

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


def store_error(url: URL, exc: BaseException) -> StoreError:
    """The StoreError for any failure of the database itself: damaged content, or unusable."""
    cause = _cause(exc)
    if isinstance(cause, json.JSONDecodeError):
        return damaged(url, f"a stored JSON value does not parse ({cause})")
    if is_damage(cause):
        return damaged(url, _first_line(cause))
    return unusable(url, exc)


def unusable(url: URL, exc: BaseException) -> StoreError:
    """The StoreError for a database that cannot be opened or used, naming the URL and the fix."""
    reason = _first_line(_cause(exc))
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None and path.is_dir():
            return folder_in_place(path)
        fix = (
            "Check that the database file and its folder exist and are readable and writable, or point "
            "THRESHER_HOME or THRESHER_DATABASE_URL somewhere else."
        )
    else:
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        fix = (
            f"Check that PostgreSQL is running and reachable at {where}, and that the user, password "
            f"and database {url.database!r} in THRESHER_DATABASE_URL are right."
        )
    return StoreError(f"Cannot use the metadata database {mask(url)}: {reason}", fix=fix)


def folder_in_place(path: Path) -> StoreError:
    """The StoreError for a folder where the SQLite database file should be."""
    return StoreError(
        f"The metadata database {path} is a folder, not a database file.",
        fix=f"Move the folder aside (mv {shlex.quote(str(path))} {shlex.quote(f'{path}.moved')}) so that "
        "thresher creates a new database there, or point THRESHER_DATABASE_URL at the database file.",
    )


def damaged(url: URL, reason: str) -> StoreError:
    """The StoreError for a database whose content is damaged: what is wrong, and how to get back."""
    path = sqlite_path(url)
    if path is not None:
        return StoreError(
            f"The metadata database {path} is damaged: {reason}",
            fix="See what is damaged with: thresher workspace check. Then copy a backup made with "
            f"'thresher workspace backup FILE' over it (deleting any {path.name}-wal beside it), or move it "
            f"aside (mv {shlex.quote(str(path))} "
            f"{shlex.quote(f'{path}.damaged')}) to start with an empty database (registered files stay in the "
            "datastores folder).",
        )
    restore = postgres_command("pg_restore", url, "--clean", "--if-exists", "--dbname", url.database or "", "FILE")
    return StoreError(
        f"The metadata database {mask(url)} is damaged: {reason}",
        fix="See what is damaged with: thresher workspace check. Then restore a backup made with pg_dump "
        f"({restore}), or point THRESHER_DATABASE_URL at an empty database.",
    )


def postgres_command(tool: str, url: URL, *args: str) -> str:
    """A ``pg_dump``/``pg_restore`` command line for the database at ``url``, without its password.

    The password never goes on a command line (other users can read it there): the tools ask for it,
    or read ``PGPASSWORD`` / ``~/.pgpass``.
    """
    words = [tool, "--host", url.host or "localhost", "--port", str(url.port or 5432)]
    if url.username:
        words += ["--username", url.username]
    return shlex.join([*words, *args])


# SQLite's result codes for a file whose content is wrong (as opposed to one that cannot be opened,
# is locked, or is on a failing disk): SQLITE_CORRUPT and its extended codes, SQLITE_NOTADB.
_SQLITE_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
# The same, by message, for Pythons before 3.11 (no sqlite_errorname), and what SQLite reports as a
# plain OperationalError although the schema or the data is what is wrong.
_SQLITE_DAMAGE_MESSAGES = (
    "database disk image is malformed",
    "file is not a database",
    "malformed database schema",
    "no such table",
    "no such column",
    "could not decode to utf-8",
)
# PostgreSQL's SQLSTATEs for the same: class XX (internal error, data_corrupted, index_corrupted) and a
# table or column that the schema at this revision has but the database lacks.
_POSTGRES_DAMAGE_STATES = ("XX", "42P01", "42703")


def is_damage(cause: BaseException) -> bool:
    """Whether a database error says the content is damaged (not that the database is unreachable)."""
    if isinstance(cause, json.JSONDecodeError):
        return True  # a stored JSON value that no longer parses: SQLite does not checksum its pages
    if isinstance(cause, sqlite3.IntegrityError):
        return False  # a constraint refused a row: the store's callers say "already exists"
    if isinstance(cause, sqlite3.Error):
        name = getattr(cause, "sqlite_errorname", "")
        if any(name.startswith(code) for code in _SQLITE_DAMAGE_CODES):
            return True
        message = str(cause).lower()
        return any(phrase in message for phrase in _SQLITE_DAMAGE_MESSAGES)
    state = getattr(cause, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_POSTGRES_DAMAGE_STATES)


def sqlite_path(url: URL) -> Path | None:
    """The absolute path of a SQLite database file; None for PostgreSQL and in-memory databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


def _cause(exc: BaseException) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def _first_line(cause: BaseException) -> str:
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


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


class Database:
    """The store's engine, and its transactions: what ``SqlStore`` and the row classes it is made of share.

    ``_read()`` and ``_write()`` are one transaction each (a write one is SQLite's ``BEGIN IMMEDIATE``).
    Any failure of the database itself in them becomes one ``StoreError``; an IntegrityError passes
    through, for the caller to say what the constraint refused.
    """

    def __init__(self, url: URL) -> None:
        self._url = url
        self._engine = create_store_engine(url)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return mask(self._url)

    def close(self) -> None:
        """Close every pooled connection. The store must not be used afterwards."""
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._transaction(self._engine) as connection:
            yield connection

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._transaction(self._writer) as connection:
            yield connection

    @contextmanager
    def _transaction(self, engine: Engine) -> Iterator[Connection]:
        try:
            with engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise  # a constraint settled a race or refused a duplicate: the caller has the message
        except (DBAPIError, json.JSONDecodeError) as exc:
            # any other database error (SQLite's DatabaseError for a damaged file is not an
            # OperationalError) is the database's fault, not the caller's: one StoreError for all
            raise store_error(self._url, exc) from exc
