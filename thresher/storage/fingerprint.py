"""What a folder or file holds, summarised: content hashes (for dedup) and fingerprints (for change detection).

``content_hash`` reads every byte and is used for models and code, which are small and must be
stored once. ``fingerprint`` reads only names, sizes and modification times, so it is cheap on a
data folder of any size; two fingerprints differ when a file was added, removed, resized or touched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def iter_files(root: Path, *, ignore: Callable[[str], bool] | None = None) -> Iterator[tuple[str, Path]]:
    """Yield ``(relative posix path, absolute path)`` for every file under ``root``, in sorted order.

    A single file yields itself under its own name. ``ignore`` receives relative posix paths (folders
    end with ``/``) and prunes what it returns True for.
    """
    if root.is_file():
        yield root.name, root
        return
    stack = [root]
    found: list[tuple[str, Path]] = []
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                path = Path(entry.path)
                rel = path.relative_to(root).as_posix()
                if entry.is_dir(follow_symlinks=True):
                    if ignore is None or not ignore(rel + "/"):
                        stack.append(path)
                elif ignore is None or not ignore(rel):
                    found.append((rel, path))
    found.sort()
    yield from found


def content_hash(root: Path, *, ignore: Callable[[str], bool] | None = None) -> str:
    """SHA-256 over the relative names and bytes of every file under ``root`` (or of the file)."""
    digest = hashlib.sha256()
    for rel, path in iter_files(root, ignore=ignore):
        digest.update(rel.encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """A cheap summary of what a path held at a moment: counts, sizes, latest change and a hash of them."""

    files: int
    bytes: int
    latest_mtime: float | None
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON-able data."""
        return asdict(self)


def fingerprint(root: Path) -> Fingerprint:
    """Fingerprint a local file or folder by names, sizes and modification times (no content read)."""
    digest = hashlib.sha256()
    files = total = 0
    latest: float | None = None
    for rel, path in iter_files(root):
        stat = path.stat()
        files += 1
        total += stat.st_size
        latest = stat.st_mtime if latest is None else max(latest, stat.st_mtime)
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return Fingerprint(files=files, bytes=total, latest_mtime=latest, hash=digest.hexdigest())
