"""Backing up a live SQLite metadata database with SQLite's online backup.

Copying ``thresher.db`` with ``cp`` while a runner writes can catch half a transaction, and misses
what still sits in the ``-wal`` file. SQLite's backup reads every page inside one read transaction,
so the copy is one consistent moment of the database, and writers carry on meanwhile (WAL readers
never block them).

Example::

    record = backup_database("sqlite:////tmp/ws/thresher.db", Path("/backups/thresher-0412.db"))
    record.rows["assets"]   # 12: the copy holds what the database held when it was taken
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL

from thresher.errors import AlreadyExistsError, StorageError, StoreError
from thresher.store.engine import damaged, mask, parse_url, postgres_command, sqlite_path, store_error
from thresher.store.health import check_url, connect_existing, file_problem


@dataclass(frozen=True)
class BackupRecord:
    """A backup made by ``backup_database``: where it is, its size, and the rows it holds per table."""

    database: str  # the URL of the database copied, password hidden
    file: Path
    bytes: int
    rows: Mapping[str, int]


def backup_database(url: str, target: Path) -> BackupRecord:
    """Copy the live SQLite metadata database at ``url`` to ``target``, and check the copy.

    The copy is taken in a single backup step, inside one read transaction: one consistent snapshot
    even while other processes write. It is written next to ``target`` under a temporary name, made
    self-contained (rollback journal, not WAL), checked like ``check_database`` checks a workspace,
    and only then linked to ``target``, which is never overwritten. A damaged database gives a
    StoreError naming it (its copy fails the check); PostgreSQL is refused with the ``pg_dump``
    command to use instead.
    """
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is None:
        raise _not_sqlite(parsed, target)
    problem = file_problem(path, missing=f"There is no metadata database at {path} to back up.")
    if problem is not None:
        raise problem
    target = Path(target).expanduser().absolute()
    if target.exists() or target.is_symlink():
        raise _target_taken(target)
    if not target.parent.is_dir():
        raise StorageError(
            f"Cannot write the backup {target}: its folder {target.parent} does not exist.",
            fix=f"Create it first (mkdir -p {target.parent}) or choose another FILE.",
        )
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        _copy(parsed, path, partial)
        copied = check_url(URL.create("sqlite", database=str(partial)))
        problems = [check for check in copied.checks if not check.ok]
        if problems:
            raise damaged(parsed, f"its backup copy fails the check: {problems[0].summary}")
        _publish(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupRecord(mask(parsed), target, target.stat().st_size, dict(copied.rows))


def _copy(url: URL, source_path: Path, partial: Path) -> None:
    try:
        with closing(connect_existing(source_path)) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)  # pages=-1: all pages in one step, one read transaction, one snapshot
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())  # on disk before it gets its name
    except sqlite3.Error as exc:
        raise store_error(url, exc) from exc
    except OSError as exc:
        raise StorageError(
            f"Cannot write the backup in {partial.parent}: {exc}",
            fix="Choose a FILE in a folder you can write, with room for a copy of the database.",
        ) from exc


def _publish(partial: Path, target: Path) -> None:
    """Give the checked copy its name; a file that appeared there meanwhile is kept, not overwritten."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise _target_taken(target) from None
    except OSError:
        # a filesystem without hard links: rename, having looked once more
        if target.exists():
            raise _target_taken(target) from None
        os.replace(partial, target)


def _target_taken(target: Path) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"The backup file {target} already exists; thresher never overwrites a file with a backup.",
        fix="Choose a new FILE, e.g. with the date in its name: thresher workspace backup thresher-$(date +%F).db",
    )


def _not_sqlite(url: URL, target: Path) -> StoreError:
    dump = postgres_command("pg_dump", url, "--format", "custom", "--file", str(target), url.database or "")
    return StoreError(
        f"thresher workspace backup copies SQLite databases; the metadata database {mask(url)} is PostgreSQL.",
        fix=f"Back it up with pg_dump (it asks for the password, or reads PGPASSWORD): {dump}",
    )
