"""Checking the metadata database without opening (and so migrating) the store.

Opening the store migrates the database and registers the default datastore. A check must neither
change what it looks at nor stop at the first thing that is broken, so the functions here connect on
their own: to SQLite with ``mode=rw`` (the file is never created, and nothing is written), to
PostgreSQL through a plain engine. ``check_database`` reports what it finds as data, each problem
with its fix; ``backup.py`` uses the same connections.

Example::

    report = check_database("sqlite:////tmp/ws/thresher.db")
    report.ok                                # False
    [c.summary for c in report.checks if not c.ok]
    # ["SQLite's integrity_check: Page 10 (table jobs): btreeInitPage() returns error code 11 (and 1 more)",
    #  '1 of 5 tables cannot be read: jobs: database disk image is malformed']
"""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Connection, Engine, create_engine, func, inspect, select
from sqlalchemy.exc import DBAPIError

from thresher.errors import MissingExtraError, StoreError
from thresher.store.engine import (
    BUSY_TIMEOUT_S,
    folder_in_place,
    mask,
    parse_url,
    postgres_command,
    sqlite_path,
    store_error,
    unusable,
)
from thresher.store.migrate import HEAD_REVISION, alembic_config, current_revisions
from thresher.store.schema import VERSION_TABLE, metadata, resources

FINDINGS_SHOWN = 50
"""How many of SQLite's integrity findings a report keeps (SQLite stops counting there too)."""


@dataclass(frozen=True)
class Check:
    """One thing checked: its name, whether it is fine, a one-line summary, and the details found."""

    name: str
    ok: bool
    summary: str
    findings: tuple[str, ...] = ()
    fix: str | None = None  # what to do about it, when not ok


@dataclass(frozen=True)
class DatabaseReport:
    """What ``check_database`` found: one ``Check`` per aspect, and how many rows each table holds."""

    database: str  # the URL, password hidden
    backend: str  # "sqlite" or "postgresql"
    revision: str | None  # the schema revision the database is at; None: no schema yet, or unreadable
    head: str  # the revision this thresher expects
    checks: tuple[Check, ...]
    rows: Mapping[str, int] = field(default_factory=dict)  # tables that could be read to the end

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)


def schema_head() -> str:
    """The schema revision this thresher migrates databases to."""
    return HEAD_REVISION


def check_database(url: str) -> DatabaseReport:
    """Check the metadata database at ``url`` and report every problem found, without changing it.

    SQLite: the file exists and is a file; ``PRAGMA integrity_check`` and ``foreign_key_check``;
    the schema revision against this thresher's; every table read to its last row. PostgreSQL: the
    connection, the schema revision, every table read to its last row.
    """
    return check_url(parse_url(url))


def check_url(parsed: URL) -> DatabaseReport:
    """``check_database`` for a parsed URL."""
    head = schema_head()
    path = sqlite_path(parsed)
    backend = parsed.get_backend_name()
    repair = damage_fix(parsed)
    checks: list[Check] = []
    if path is not None:
        file_check = _file_check(path)
        checks.append(file_check)
        if not file_check.ok:
            return DatabaseReport(mask(parsed), backend, None, head, tuple(checks))
        checks.append(_integrity_check(path, repair))
    with inspection_engine(parsed) as engine:
        if path is None:
            connection_check = _connection_check(engine, parsed)
            checks.append(connection_check)
            if not connection_check.ok:
                return DatabaseReport(mask(parsed), backend, None, head, tuple(checks))
        revision, schema_check = _schema_check(engine, head, repair)
        checks.append(schema_check)
        tables_check, rows = _tables_check(engine, repair, expect_all=revision == head)
        checks.append(tables_check)
    return DatabaseReport(mask(parsed), backend, revision, head, tuple(checks), rows)


def damage_fix(url: URL) -> str:
    """What to do about a damaged database, as ``workspace check`` says it (it is the check)."""
    path = sqlite_path(url)
    if path is None:
        restore = postgres_command("pg_restore", url, "--clean", "--if-exists", "--dbname", url.database or "", "FILE")
        return f"Restore a backup made with pg_dump: {restore}"
    here, recovered = shlex.quote(str(path)), shlex.quote(str(path.with_name("recovered.db")))
    return (
        f"Copy a backup made with 'thresher workspace backup FILE' over {path} (deleting any {path.name}-wal "
        "beside it: SQLite would replay it into the copy), or move it aside "
        f"(mv {here} {shlex.quote(f'{path}.damaged')}) to start with an empty database. To salvage the rows "
        f"SQLite can still read: sqlite3 {here} .recover | sqlite3 {recovered}"
    )


def schema_revision(url: str) -> str | None:
    """The schema revision of the database (None when it has no schema yet); StoreError if unreadable."""
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is not None and not path.exists():
        return None
    with inspection_engine(parsed) as engine:
        try:
            with engine.connect() as connection:
                return ", ".join(sorted(current_revisions(connection))) or None
        except DBAPIError as exc:
            raise store_error(parsed, exc) from exc


def registered_spec(url: str, kind: str, name: str) -> Mapping[str, Any] | None:
    """The stored spec of a named resource (e.g. the default datastore), read without opening the store.

    None when the database or the row cannot be read: callers use it to look further, not to decide.
    """
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is not None and not path.is_file():
        return None
    query = select(resources.c.spec).where(resources.c.kind == kind, resources.c.name == name)
    with inspection_engine(parsed) as engine:
        try:
            with engine.connect() as connection:
                spec = connection.execute(query).scalar_one_or_none()
        except (DBAPIError, ValueError):
            return None
    return spec if isinstance(spec, dict) else None


# -- connections ------------------------------------------------------------------------------------


def sqlite_uri(path: Path) -> str:
    """A ``file:`` URI opening an existing SQLite file read-write without ever creating it.

    Not ``mode=ro``: a read-only connection to a WAL database cannot remove the ``-wal`` and ``-shm``
    files when it closes, so a check would leave them behind. Nothing here writes (closing the last
    connection checkpoints a WAL that a crashed writer left, as any SQLite connection does); SQLite
    falls back to reading when the file is write-protected.
    """
    return f"file:{quote(str(path))}?mode=rw"


def file_problem(path: Path, *, missing: str) -> StoreError | None:
    """Why the SQLite database file at ``path`` cannot be opened, if it cannot: a folder in its place, no
    file (``missing`` says so), or a file this user cannot read. For checks and backups."""
    if path.is_dir():
        return folder_in_place(path)
    if not path.exists():
        return StoreError(
            missing,
            fix="Check THRESHER_HOME (or THRESHER_DATABASE_URL); any thresher command, e.g. thresher model list, "
            "creates the database of a new workspace.",
        )
    if not os.access(path, os.R_OK):
        return StoreError(
            f"{path} cannot be read by this user.",
            fix=f"Give this user read and write access to {path} and its folder.",
        )
    return None


def connect_existing(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to an existing database file (never created), for checks and backups."""
    return sqlite3.connect(sqlite_uri(path), uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)


@contextmanager
def inspection_engine(url: URL) -> Iterator[Engine]:
    """An engine that never creates a SQLite file and runs none of the store's connection setup."""
    path = sqlite_path(url)
    if path is not None:
        engine = create_engine("sqlite://", creator=lambda: connect_existing(path))
    else:
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 10})
        except ImportError:
            raise MissingExtraError("A PostgreSQL metadata database", "psycopg", "postgres") from None
    try:
        yield engine
    finally:
        engine.dispose()


# -- the checks ---------------------------------------------------------------------------------------


def _file_check(path: Path) -> Check:
    problem = file_problem(path, missing=f"{path} does not exist: this workspace has no database yet.")
    if problem is not None:
        return Check("file", False, problem.message, fix=problem.fix)
    return Check("file", True, f"{path} ({path.stat().st_size:,} bytes)")


def _integrity_check(path: Path, repair: str) -> Check:
    """SQLite's own checks of every page, index and foreign key.

    ``integrity_check`` returns its findings about pages in one row, then goes on to compare tables
    with their indexes, which on a damaged page fails with "database disk image is malformed".
    Python's sqlite3 steps to the next row before it hands over the current one, so that failure
    would lose the findings; a function called inside the query keeps each row as it is produced.
    """
    rows: list[str] = []
    failure: str | None = None
    findings: list[str] = []
    try:
        with closing(connect_existing(path)) as connection:
            connection.create_function("thresher_keep", 1, _keeper(rows))
            try:
                connection.execute(
                    f"SELECT thresher_keep(integrity_check) FROM pragma_integrity_check({FINDINGS_SHOWN})"
                ).fetchall()
            except sqlite3.Error as exc:
                failure = str(exc)
            findings = _lines(rows)
            if failure is None and not findings:
                findings = [
                    f"{table} row {rowid}: no {parent} row for its foreign key"
                    for table, rowid, parent, _fk in connection.execute("PRAGMA foreign_key_check")
                ]
            findings = _name_pages(connection, findings)
    except sqlite3.Error as exc:
        failure = failure or str(exc)
    if failure is not None:
        findings.append(f"the check stopped: {failure}" if findings else failure)
    if not findings:
        return Check("integrity", True, "SQLite's integrity_check and foreign_key_check found nothing wrong.")
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return Check("integrity", False, f"SQLite's integrity_check: {findings[0]}{more}", tuple(findings), repair)


def _keeper(into: list[str]) -> Callable[[object], str]:
    def keep(value: object) -> str:
        into.append(str(value))
        return str(value)

    return keep


def _lines(rows: list[str]) -> list[str]:
    lines = [line for row in rows for line in row.splitlines()]
    # "ok" is the whole answer of a clean check; the header names the schema, which is always main here
    return [line for line in lines if line not in ("ok", "*** in database main ***")]


_PAGE = re.compile(r"^Page (\d+):")


def _name_pages(connection: sqlite3.Connection, findings: list[str]) -> list[str]:
    """ "Page 10: ..." -> "Page 10 (table jobs): ..." when page 10 is a table's or index's root page."""
    if not any(_PAGE.match(line) for line in findings):
        return findings
    try:
        roots = {
            int(root): f"{kind} {name}"
            for kind, name, root in connection.execute("SELECT type, name, rootpage FROM sqlite_schema")
            if root
        }
    except sqlite3.Error:
        return findings  # the schema itself is unreadable: the page numbers are all there is
    named = []
    for line in findings:
        match = _PAGE.match(line)
        owner = roots.get(int(match.group(1))) if match else None
        named.append(line.replace(":", f" ({owner}):", 1) if owner else line)
    return named


def _connection_check(engine: Engine, url: URL) -> Check:
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        error = unusable(url, exc)
        return Check("connection", False, error.message, fix=error.fix)
    return Check("connection", True, f"Connected to {mask(url)}.")


def _schema_check(engine: Engine, head: str, repair: str) -> tuple[str | None, Check]:
    try:
        with engine.connect() as connection:
            revision = ", ".join(sorted(current_revisions(connection))) or None
            tables = set(inspect(connection).get_table_names())
    except (DBAPIError, ValueError) as exc:
        return None, Check("schema", False, f"The schema revision cannot be read: {_reason(exc)}", fix=repair)
    if revision is None:
        ours = sorted(tables & set(metadata.tables))
        if ours:
            return None, Check(
                "schema",
                False,
                f"Tables {', '.join(ours)} exist but {VERSION_TABLE} holds no schema revision.",
                fix=repair,
            )
        return None, Check("schema", True, f"No schema yet: the next command creates it (revision {head}).")
    if revision == head:
        return revision, Check("schema", True, f"Revision {revision}, the one this thresher expects.")
    from alembic.script import ScriptDirectory  # only for a database at another revision than ours

    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if set(revision.split(", ")) <= known:
        return revision, Check("schema", True, f"Revision {revision}, older than {head}: the next command migrates it.")
    return revision, Check(
        "schema",
        False,
        f"Revision {revision}, which this thresher does not know (it knows up to {head}): a newer thresher "
        "migrated it.",
        fix="Upgrade thresher (pip install -U thresher), or point THRESHER_DATABASE_URL at another database.",
    )


def _tables_check(engine: Engine, repair: str, *, expect_all: bool) -> tuple[Check, dict[str, int]]:
    """Read every row of every table: SQLite notices a damaged page only when it reads it."""
    rows: dict[str, int] = {}
    findings: list[str] = []
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
    except (DBAPIError, ValueError) as exc:
        return Check("tables", False, f"The list of tables cannot be read: {_reason(exc)}", fix=repair), rows
    for table in metadata.sorted_tables:
        if table.name not in present:
            if expect_all:  # an older schema lacks the tables of later revisions: that is no damage
                findings.append(f"{table.name}: missing")
            continue
        try:
            with engine.connect() as connection:
                rows[table.name] = _count_by_reading(connection, table.name)
        except (DBAPIError, ValueError) as exc:
            # ValueError: a stored JSON or timestamp value that no longer parses
            findings.append(f"{table.name}: {_reason(exc)}")
    if findings:
        summary = f"{len(findings)} of {len(metadata.tables)} tables cannot be read: {findings[0]}"
        return Check("tables", False, summary, tuple(findings), repair), rows
    counted = ", ".join(f"{name} {count:,}" for name, count in rows.items())
    return Check("tables", True, f"Every row reads back (rows: {counted or 'no tables yet'})."), rows


def _count_by_reading(connection: Connection, name: str) -> int:
    table = metadata.tables[name]
    result = connection.execution_options(yield_per=1000).execute(select(table))
    count = sum(1 for _row in result)
    # with every row read, count(*) must agree, or an index and its table disagree
    counted = connection.execute(select(func.count()).select_from(table)).scalar_one()
    if counted != count:
        raise ValueError(f"count(*) says {counted} rows but {count} were read")
    return count


def _reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
