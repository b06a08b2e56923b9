"""Listing a job's input files: every file under a folder, in sorted path order, streamed.

The order is depth-first with the entries of each folder sorted by name (files and folders mixed),
which is the order of sorting the relative paths component by component. It is the input order of
the job: mini-batch indices, the ``append_row`` output and the plan fingerprint all follow it.

Only one listing per folder level is held at a time, so a flat folder of a million files costs its
listing (a million names) and nothing more; a tree of many small folders costs almost nothing.

Names starting with ``.`` are skipped, folders included: they are never data but ``.amlignore``,
``.DS_Store``, editor swap files, ``.ipynb_checkpoints`` and half-written upload temp files. So are
files named ``MLTable``: the YAML description of an mltable folder, not its data. Skipping them here,
and nowhere else, keeps every planner and ``plan_fingerprint`` agreeing on what the input files are.
Symbolic links are followed.

An entry that cannot be scored is listed all the same, at its place in the order: a broken or looping
symbolic link, a FIFO, socket or device, a subfolder that cannot be listed, or a folder link that
leads back to a folder above it (listed as the link itself; following it would list forever). Each
becomes one item of the plan, which the worker fails with its own message instead of passing it to
``run()`` (``thresher.runtime.entries``). One bad entry never fails the listing of the folder, and
the planners and ``plan_fingerprint`` see the same entries.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from thresher.errors import StorageError

MLTABLE = "MLTable"
# Hive writes a null partition value as this folder name (Spark and pyarrow read it back as null).
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


_Frame = tuple[str, Iterator[str], set[str], tuple[int, int]]


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether the entry is a folder, following links; False for a link that leads nowhere or in a loop.

    ``DirEntry.is_dir`` returns False for a broken link but raises for a looping one (ELOOP).
    """
    try:
        return entry.is_dir()
    except OSError:
        return False


def _listing(folder: str, info: os.stat_result) -> _Frame:
    """A frame of the walk: ``folder``, its sorted non-hidden names, which are folders, its (device, inode).

    Raises OSError when the folder cannot be listed.
    """
    names: list[str] = []
    folders: set[str] = set()
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_folder(entry):
                folders.add(entry.name)
                names.append(entry.name)
            elif entry.name != MLTABLE:
                names.append(entry.name)
    names.sort()
    return folder, iter(names), folders, (info.st_dev, info.st_ino)


def _subfolder(path: str, stack: list[_Frame]) -> _Frame | None:
    """The frame of subfolder ``path``, or None when it is an entry to fail instead of a folder to walk:
    it cannot be listed, or it is the same folder as one being walked (a link leading back up)."""
    try:
        info = os.stat(path)
    except OSError:
        return None  # it changed since its parent was listed: the worker says what it is now
    if any(frame[3] == (info.st_dev, info.st_ino) for frame in stack):
        return None
    try:
        return _listing(path, info)
    except OSError:
        return None


def iter_input_files(root: Path) -> Iterator[Path]:
    """Yield every entry under ``root`` as an absolute path, in sorted path order (see module docstring).

    A file yields itself. A missing or unlistable ``root`` raises StorageError; an entry below it that
    cannot be used is yielded like a file (see the module docstring).
    """
    return map(Path, iter_input_paths(root))


def iter_input_paths(root: Path) -> Iterator[str]:
    """``iter_input_files`` as path strings: planning a million files builds no ``Path`` objects, which
    took about as long as the listing and the stat of each file together."""
    top = os.path.abspath(root)
    try:
        info = os.stat(top)
    except FileNotFoundError:
        raise StorageError(
            f"Input path {top} does not exist.",
            fix="Check the input path (a typo? a datastore that is not mounted?) and invoke again.",
        ) from None
    except OSError as exc:
        raise StorageError(
            f"Cannot read input path {top}: {exc.strerror or exc}.", fix="Check its permissions."
        ) from exc
    if not stat.S_ISDIR(info.st_mode):
        yield top
        return
    try:
        stack = [_listing(top, info)]  # one frame per open folder, the deepest last
    except OSError as exc:
        raise StorageError(
            f"Cannot list input folder {top}: {exc.strerror or exc}.",
            fix="Check that the folder exists and that thresher's user may read it.",
        ) from exc
    while stack:
        folder, names, folders, _ = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        path = os.path.join(folder, name)
        frame = _subfolder(path, stack) if name in folders else None
        if frame is None:
            yield path
        else:
            stack.append(frame)


def hive_values(path: str) -> dict[str, str | None]:
    """``key=value`` pairs of the folders in a posix path (``/data/region=west/day=1/a.csv``).

    Values are URL-decoded as Hive and Spark write them; ``__HIVE_DEFAULT_PARTITION__`` is None.
    The file name itself is never read as a pair.
    """
    values: dict[str, str | None] = {}
    for part in path.split("/")[:-1]:
        key, equals, value = part.partition("=")
        if equals and key:
            decoded = unquote(value)
            values[unquote(key)] = None if decoded == HIVE_NULL else decoded
    return values
