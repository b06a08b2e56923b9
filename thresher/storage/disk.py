"""Full disks: recognising one behind an error, and saying which disk, which path, and what to do.

A full disk is never an input's fault and no retry fixes it, so the runner stops the job (resumable)
as soon as one is seen, with a headline that names the disk (its mount point, file system, size and
free space), the path that could not be written, and how to free space::

    Job 'score-0412' stopped: the disk holding /data/out is full (mounted at /data, tmpfs, 1.0 MiB,
    0 B free): writing /data/out/.predictions.csv.score-0412.partial failed: No space left on device.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from thresher.errors import StorageError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = "database or disk is full"


@contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Name ``path`` in an OSError of the block that names no file (``write()`` on a full disk names none)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from exc
        raise


def is_disk_full_errno(number: object) -> bool:
    """Whether an errno (as reported by a worker) means the disk is full."""
    return number in DISK_FULL_ERRNOS


def disk_full_cause(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain (itself, its cause or context) that says the disk is full, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return current
        if isinstance(current, DiskFullError) or _SQLITE_FULL in str(current):  # SQLite's SQLITE_FULL
            return current
        current = current.__cause__ or current.__context__
    return None


@dataclass(frozen=True)
class Disk:
    """The file system a path lives on."""

    mount_point: str
    fs_type: str
    total: int
    free: int

    def describe(self) -> str:
        """``mounted at /data, tmpfs, 1.0 MiB, 0 B free now``."""
        return f"mounted at {self.mount_point}, {self.fs_type}, {size(self.total)}, {size(self.free)} free now"


def disk_of(path: str) -> Disk:
    """The disk holding ``path`` (the nearest existing folder above it when it does not exist)."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    mount = existing
    while not os.path.ismount(mount):
        mount = os.path.dirname(mount)
    try:
        usage = os.statvfs(existing)
        total, free = usage.f_blocks * usage.f_frsize, usage.f_bavail * usage.f_frsize
    except OSError:
        total = free = 0
    return Disk(mount, _fs_type(mount), total, free)


def _fs_type(mount: str) -> str:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            types = {fields[1]: fields[2] for fields in (line.split() for line in mounts) if len(fields) > 2}
    except OSError:
        return "unknown file system"
    return types.get(mount, "unknown file system")


def folder_size(folder: str | os.PathLike[str]) -> int:
    """Bytes of the files under ``folder`` (links not followed; files that vanish are skipped)."""
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def size(count: int) -> str:
    """Bytes for people: ``0 B``, ``1.0 MiB``, ``2.3 GiB``."""
    amount = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{count} B"


RESERVE_FILE = "reserve.bin"
RESERVE_BYTES = 1 << 20


@dataclass(frozen=True)
class Reserve:
    """Space held back in a workspace so that a job that filled the disk can still record why it stopped.

    A plain file of ``RESERVE_BYTES``: made when the workspace is opened (if the disk has room for it
    four times over), deleted by a runner that meets a full disk just before it records the failure.
    """

    path: Path

    def ensure(self) -> None:
        """Make the reserve file unless it exists or the disk is short of room (never an error)."""
        try:
            if self.path.exists():
                return
            usage = os.statvfs(self.path.parent)
            if usage.f_bavail * usage.f_frsize < 4 * RESERVE_BYTES:
                return
            temporary = self.path.with_suffix(".tmp")
            with temporary.open("wb") as out:
                out.write(b"\0" * RESERVE_BYTES)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError:
            return

    def release(self) -> bool:
        """Give the reserved space back to the disk; whether there was any."""
        try:
            self.path.unlink()
        except OSError:
            return False
        return True


class DiskFullError(StorageError):
    """A write failed because the disk is full; the message names the disk and the path."""

    def __init__(self, path: str, reason: str, *, fix: str) -> None:
        self.path = path
        self.disk = disk_of(path)
        super().__init__(
            f"the disk holding {path} is full ({self.disk.describe()}): {reason}",
            fix=fix,
        )


def disk_full(path: str | None, cause: BaseException | str, *, fallback: str, fix: str) -> DiskFullError:
    """The ``DiskFullError`` for a failed write of ``path`` (``fallback`` when the error names no path)."""
    where = path or fallback
    reason = cause if isinstance(cause, str) else _reason(cause)
    return DiskFullError(where, f"writing {where} failed: {reason}", fix=fix)


def _reason(cause: BaseException) -> str:
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause).splitlines()[0] if str(cause) else type(cause).__name__
