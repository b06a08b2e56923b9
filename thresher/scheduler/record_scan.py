"""Finding record boundaries in CSV and JSON Lines files fast, in bounded memory.

A record ends at a newline. In CSV a newline inside a quoted field does not end a record: the
scanner tracks quote parity (RFC 4180 quoting, where a quote inside a field is doubled, flips the
parity twice and so changes nothing). Chunks without a quote character are counted with
``bytes.count`` at C speed; only chunks that hold quotes are walked quote by quote in Python.
JSON Lines needs no quote tracking: JSON strings cannot hold a raw newline.
"""

from __future__ import annotations

import re
from typing import BinaryIO

CHUNK = 1 << 20
_NL = b"\n"


class RecordScanner:
    """Walks the records of a file from a record boundary, one chunk in memory at a time.

    >>> with open("data.csv", "rb") as handle:  # doctest: +SKIP
    ...     scanner = RecordScanner(handle, 0, quote=b'"')
    ...     header_end, _ = scanner.advance(rows=1)
    ...     end, rows = scanner.advance(rows=5000)  # the first 5000 data records: header_end..end
    """

    def __init__(self, handle: BinaryIO, start: int, *, quote: bytes | None, chunk: int = CHUNK) -> None:
        handle.seek(start)
        self._handle = handle
        self._chunk = chunk
        self._quote = quote
        self._events = re.compile(b"[" + re.escape(quote) + b"\n]") if quote else None
        self._buf = b""
        self._buf_start = start
        self._i = 0
        self._in_quote = False
        self._open = False  # bytes seen since the last record end (an unterminated record so far)

    def advance(self, *, rows: int | None = None, until: int | None = None) -> tuple[int, int]:
        """Skip ``rows`` whole records, or records up to the first record end at or after byte ``until``.

        Returns ``(offset just after the last record skipped, records skipped)``. At the end of the
        file the offset is the file size and an unterminated last record counts as one.
        """
        count = 0
        while True:
            if self._i >= len(self._buf):
                self._buf_start += len(self._buf)
                self._buf, self._i = self._handle.read(self._chunk), 0
                if not self._buf:
                    count += self._open
                    self._open = False
                    return self._buf_start, count
            found, count = self._scan_chunk(rows, until, count)
            if found is not None:
                return found, count

    def _scan_chunk(self, rows: int | None, until: int | None, count: int) -> tuple[int | None, int]:
        buf, i = self._buf, self._i
        end: int | None = None  # index in buf of the newline that ends the walk
        if self._events is None or (not self._in_quote and buf.find(self._quote or b"", i) < 0):
            if rows is not None:
                need = rows - count
                if buf.count(_NL, i) >= need:
                    end = i - 1
                    for _ in range(need):
                        end = buf.find(_NL, end + 1)
            elif until is not None:
                start = max(i, until - self._buf_start - 1)
                position = buf.find(_NL, start) if start < len(buf) else -1
                end = position if position >= 0 else None
            if end is None:
                self._open = buf[-1:] != _NL
                self._i = len(buf)
                return None, count + buf.count(_NL, i)
            count += buf.count(_NL, i, end) + 1
        else:
            quote = (self._quote or b"")[0]
            last_end = i
            for match in self._events.finditer(buf, i):
                position = match.start()
                if buf[position] == quote:
                    self._in_quote = not self._in_quote
                    continue
                if self._in_quote:
                    continue
                count += 1
                last_end = position + 1
                if (rows is not None and count >= rows) or (until is not None and self._buf_start + last_end >= until):
                    end = position
                    break
            if end is None:
                self._open = last_end < len(buf)
                self._i = len(buf)
                return None, count
        self._i = end + 1
        self._open = False
        return self._buf_start + end + 1, count


def line_end_at_or_after(handle: BinaryIO, target: int, size: int) -> int:
    """The offset just after the first newline at or after byte ``target - 1`` (``size`` if none).

    Reads only from ``target`` onwards: JSON Lines split by bytes never scans what it skips.
    """
    if target >= size:
        return size
    handle.seek(max(target - 1, 0))
    position = handle.tell()
    while chunk := handle.read(64 * 1024):
        found = chunk.find(_NL)
        if found >= 0:
            return position + found + 1
        position += len(chunk)
    return size
