"""The persisted plan: mini-batches as JSON Lines, and the fingerprint of the inputs they were cut from.

One line per mini-batch, ``{"index": 0, "items": [...], "partition": null}``, written to a temp file
beside the target and renamed into place, so a plan file is complete or absent. The fingerprint is
computed while the plan is written, statting each input file once; ``plan_fingerprint(root)``
recomputes it from the folder alone, for the check that a resumed job's inputs did not change.

The fingerprint covers (relative path, size, mtime_ns) of every input file. Each file's triple is
hashed with SHA-256 and the hashes are summed modulo 2**256 (a multiset hash), so the result does
not depend on the order a plan visits files in: partitioned plans visit them out of path order.
Every planner puts every input entry into at least one item, so the two computations agree.

An entry that is not a regular file (a broken or looping link, a FIFO, a folder that could not be
listed; see ``input_files``) is an item too, to be failed by the worker. It counts as a file of 0
bytes, fingerprinted by (relative path, file type, mtime_ns) of what ``stat`` (or, for a link that
leads nowhere, ``lstat``) finds, so it never stops planning, and a resumed job whose bad entries are
still as they were is not refused. Only a regular file's size counts in ``bytes``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from thresher.errors import StorageError
from thresher.scheduler.input_files import iter_input_paths
from thresher.scheduler.minibatch import MiniBatch
from thresher.storage.disk import writing
from thresher.storage.remote_files import RemoteFingerprint

_MODULUS = 1 << 256


@dataclass(frozen=True)
class PlanSummary:
    """What a written plan holds. ``items`` counts files, or rows when every slice's rows are known."""

    mini_batches: int
    items: int | None
    files: int
    bytes: int
    fingerprint: str


class _Fingerprint:
    """Accumulates the input fingerprint one file at a time (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        top = os.path.abspath(root)
        self._base = top if os.path.isdir(top) else os.path.dirname(top)
        self._prefix = self._base.rstrip(os.sep) + os.sep
        self._sum = self.files = self.bytes = 0
        self._last: str | None = None
        self._seen: set[str] | None = None  # only partitioned plans revisit files out of order

    def add(self, path: str, *, revisits: bool = False) -> None:
        if path == self._last:
            return
        self._last = path
        if revisits and self._seen is None:
            self._seen = set()
        if self._seen is not None:
            if path in self._seen:
                return
            self._seen.add(path)
        if path.startswith(self._prefix):  # the usual case, and much cheaper than relpath
            relative = path[len(self._prefix) :].replace(os.sep, "/")
        else:
            relative = os.path.relpath(path, self._base).replace(os.sep, "/")
        info = _stat(path)
        if info is not None and stat.S_ISREG(info.st_mode):
            state = f"{info.st_size}\0{info.st_mtime_ns}"
            self.bytes += info.st_size
        elif info is not None:  # an entry the worker will fail: its kind and age, never its size
            state = f"type {stat.S_IFMT(info.st_mode):o}\0{info.st_mtime_ns}"
        else:
            state = "missing"
        # surrogateescape: a name that is not UTF-8 is hashed as its bytes, like any other name.
        digest = hashlib.sha256(f"{relative}\0{state}".encode("utf-8", "surrogateescape")).digest()
        self._sum = (self._sum + int.from_bytes(digest, "big")) % _MODULUS
        self.files += 1

    def hexdigest(self) -> str:
        """The fingerprint of every entry added so far."""
        return hashlib.sha256(f"{self.files}\0{self.bytes}\0{self._sum:064x}".encode()).hexdigest()


def _stat(path: str) -> os.stat_result | None:
    """``stat`` of an input entry, ``lstat`` of a link that leads nowhere, None for an entry that is gone."""
    try:
        return os.stat(path)
    except OSError:
        pass
    try:
        return os.lstat(path)
    except OSError:
        return None


def write_plan(
    batches: Iterable[MiniBatch], path: Path, *, root: Path | None = None, listed: RemoteFingerprint | None = None
) -> PlanSummary:
    """Stream ``batches`` to ``path`` (JSON Lines, atomically) and summarise them and their input files.

    ``root`` is the local input folder (or file) the batches were planned from: fingerprinted paths
    are relative to it. A remote input passes ``listed`` instead, the fingerprint its listing
    accumulates while the batches are planned (objects are not asked about twice).
    """
    if (root is None) == (listed is None):
        raise ValueError("write_plan needs exactly one of root (a local input) and listed (a remote one)")
    fingerprint = _Fingerprint(root) if root is not None else None
    count = 0
    items: int | None = 0
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with writing(path), os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for batch in batches:
                line = {"index": batch.index, "items": batch.items, "partition": batch.partition}
                handle.write(json.dumps(line, separators=(",", ":")) + "\n")
                count += 1
                for item in batch.items:
                    if isinstance(item, dict):
                        if fingerprint is not None:
                            fingerprint.add(item["path"], revisits=batch.partition is not None)
                        rows = item.get("rows")
                        items = None if items is None or rows is None else items + rows
                    else:
                        if fingerprint is not None:
                            fingerprint.add(item, revisits=batch.partition is not None)
                        items = None if items is None else items + 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    done = fingerprint if fingerprint is not None else listed
    assert done is not None
    return PlanSummary(count, items, done.files, done.bytes, done.hexdigest())


def read_plan(path: Path) -> Iterator[MiniBatch]:
    """Stream the mini-batches of a plan written by ``write_plan``, in order."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise StorageError(
            f"Plan file {path} cannot be read: {exc.strerror or exc}.",
            fix="Plan the job again (thresher job resume re-plans a job whose plan is missing).",
        ) from exc
    with handle:
        for number, line in enumerate(handle, 1):
            try:
                data = json.loads(line)
                yield MiniBatch(data["index"], data["items"], data.get("partition"))
            except (ValueError, KeyError, TypeError) as exc:
                raise StorageError(
                    f"{path}:{number}: not a mini-batch line ({exc}); the plan file was changed after it was written.",
                    fix="Plan the job again.",
                ) from exc


def plan_fingerprint(root: Path) -> str:
    """The fingerprint of the input files under ``root`` now, comparable with ``PlanSummary.fingerprint``."""
    fingerprint = _Fingerprint(root)
    for path in iter_input_paths(root):
        fingerprint.add(path)
    return fingerprint.hexdigest()
