"""Ways a SQLite metadata database gets damaged, done to a real file the way they happen.

A crash or a full disk while copying truncates a file; a tool that writes over the start of a file
zeroes its header; a bad disk sector or a stray write puts garbage into pages in the middle; a user
points THRESHER_DATABASE_URL at some other file; a restore makes a folder where the file was. Each
function damages the file at ``path`` in place.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

HEADER_BYTES = 100  # SQLite's database header: "SQLite format 3\0", page size, counters, schema cookie


def page_size(path: Path) -> int:
    """The page size from the database header (big-endian bytes 16-17; 1 means 65536)."""
    with path.open("rb") as handle:
        header = handle.read(HEADER_BYTES)
    size = int.from_bytes(header[16:18], "big")
    return 65536 if size == 1 else size


def truncate(path: Path) -> None:
    """Cut the file after half its pages, as an interrupted copy leaves it."""
    size = page_size(path)
    pages = path.stat().st_size // size
    with path.open("r+b") as handle:
        handle.truncate(size * max(1, pages // 2))


def zero_header(path: Path) -> None:
    """Overwrite the 100-byte header with zeros."""
    with path.open("r+b") as handle:
        handle.write(b"\0" * HEADER_BYTES)


def garbage_pages(path: Path) -> None:
    """Fill every page between the first (the schema) and the last with random bytes.

    SQLite checks a page only when it reads it, so the damage covers the pages of every table:
    whichever a command reads, it meets garbage.
    """
    size = page_size(path)
    pages = path.stat().st_size // size
    assert pages >= 3, f"{path} has {pages} pages; garbage needs some in the middle"
    noise = random.Random(20261129)
    with path.open("r+b") as handle:
        for number in range(2, pages):  # pages are numbered from 1
            handle.seek((number - 1) * size)
            handle.write(noise.randbytes(size))


def garbage_in_table(path: Path, table: str) -> None:
    """Fill only the root page of ``table`` with random bytes: the other tables stay readable."""
    connection = sqlite3.connect(path)
    try:
        (root,) = connection.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,)).fetchone()
    finally:
        connection.close()
    size = page_size(path)
    with path.open("r+b") as handle:
        handle.seek((root - 1) * size)
        handle.write(random.Random(root).randbytes(size))


def not_a_database(path: Path) -> None:
    """Replace the file with a text file (someone's notes saved over it)."""
    path.write_text("model notes: retrain churn with the March data\n" * 40)


def folder(path: Path) -> None:
    """Replace the file with a folder of the same name."""
    path.unlink()
    path.mkdir()
    (path / "README.txt").write_text("restored from the wrong archive\n")


KINDS: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "zeroed-header": zero_header,
    "garbage-pages": garbage_pages,
    "not-a-database": not_a_database,
    "folder": folder,
}
