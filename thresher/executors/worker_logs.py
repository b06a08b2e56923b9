"""A worker's stdout and stderr, copied by the executor into log files of capped size.

A scoring script that prints without end must not fill the disk. Each of a worker's two streams
goes through a pipe to the executor, which appends it to its log file (Azure's
``logs/user/stdout/<node>/<process>.stdout.txt`` and ``stderr``). When a file reaches ``max_bytes``
it is rotated: it becomes ``<file>.1`` (replacing the previous ``.1``), and the new file starts with
a line saying so, and how many bytes of older output were dropped. A worker's stream therefore never
takes more than about twice ``max_bytes`` of disk (``DEFAULT_MAX_BYTES``: 10 MiB, so 20 MiB).

A write that fails (a full disk) drops that output and counts it; the worker goes on.
"""

from __future__ import annotations

import contextlib
import os
import time

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class CappedLog:
    """One log file with rotation at ``max_bytes`` (see the module docstring)."""

    def __init__(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max(max_bytes, 1024)
        self.dropped = 0  # bytes of output no longer on disk (rotated away, or not written)
        self._file = open(path, "ab")  # noqa: SIM115 (kept open for the worker's life)
        self._size = self._file.tell()

    def write(self, data: bytes) -> None:
        """Append ``data``, rotating first when it would take the file past ``max_bytes``; dropped once closed."""
        if self._file.closed:  # a released warm worker's output between two jobs
            self.dropped += len(data)
            return
        while data:
            room = self.max_bytes - self._size
            if room <= 0:
                self._rotate()
                continue
            chunk, data = data[:room], data[room:]
            try:
                self._file.write(chunk)
                self._file.flush()
            except OSError:
                self.dropped += len(chunk)
                return
            self._size += len(chunk)

    def _rotate(self) -> None:
        older = self.path + ".1"
        with contextlib.suppress(OSError):
            self.dropped += os.path.getsize(older)
        self._file.close()
        with contextlib.suppress(OSError):
            os.replace(self.path, older)
        self._file = open(self.path, "wb")  # noqa: SIM115
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        note = (
            f"[thresher {stamp}] this log reached its cap of {self.max_bytes:,} bytes; the output before this "
            f"line is in {os.path.basename(older)}"
            + (f", and {self.dropped:,} bytes of older output were dropped" if self.dropped else "")
            + " (THRESHER_WORKER_LOG_MAX_BYTES sets the cap)\n"
        )
        try:
            self._file.write(note.encode())
            self._file.flush()
        except OSError:
            pass
        self._size = len(note)

    def close(self) -> None:
        """Close the file."""
        self._file.close()
