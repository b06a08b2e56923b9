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
Symbolic links are followed; sockets, FIFOs and broken links are skipped.
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


def _listing(folder: str) -> tuple[str, Iterator[str], set[str], tuple[int, int]]:
    """A frame of the walk: ``folder``, its sorted non-hidden names, which are folders, its (device, inode)."""
    names: list[str] = []
    folders: set[str] = set()
    try:
        info = os.stat(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    folders.add(entry.name)
                    names.append(entry.name)
                elif entry.is_file() and entry.name != MLTABLE:
                    names.append(entry.name)
    except OSError as exc:
        raise StorageError(
            f"Cannot list input folder {folder}: {exc.strerror or exc}.",
            fix="Check that the folder exists and that thresher's user may read it.",
        ) from exc
    names.sort()
    return folder, iter(names), folders, (info.st_dev, info.st_ino)


def iter_input_files(root: Path) -> Iterator[Path]:
    """Yield every file under ``root`` as an absolute path, in sorted path order (see module docstring).

    A file yields itself. A missing ``root`` raises StorageError; so does a symbolic link that
    leads back into one of its own parent folders (it would list forever).
    """
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
        yield Path(top)
        return
    stack = [_listing(top)]  # one frame per open folder, the deepest last
    while stack:
        folder, names, folders, _ = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        path = os.path.join(folder, name)
        if name not in folders:
            yield Path(path)
            continue
        frame = _listing(path)
        if any(open_frame[3] == frame[3] for open_frame in stack):
            raise StorageError(
                f"Input folder {top} contains a symbolic link loop: {path} leads back to a folder above it.",
                fix="Remove the link, or point the job at a folder without it.",
            )
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
