"""Input entries as a worker finds them just before ``run()``, and input names as people read them.

The planner lists every entry of the input folder, in input order, including entries that cannot be
scored: a broken or looping symbolic link, a FIFO, a socket or a device, a folder that cannot be
listed or a folder link that leads back to a folder above it. Each of those is one item of the plan,
so it keeps its place and is reported, instead of failing the listing of the whole folder or
vanishing without a word. The worker looks at its items once more just before ``run()``:
``unusable(path)`` says why an entry cannot be used (the file may also have vanished since the job
was planned), and such an item is failed with that message and never passed to ``run()``, so the
scoring script is not the one to trip on it (nor block forever opening a FIFO)::

    problem = unusable("/data/pipe")
    # "/data/pipe is a FIFO (named pipe), not a regular file; only regular files are scored. Remove it ..."

File names are bytes on POSIX; a name that is not valid UTF-8 reaches Python (and ``run()``) as the
``os.fsdecode`` string, with each undecodable byte as a lone surrogate (``b"caf\\xe9"`` is
``"caf\\udce9"``). That exact string is the data: plans, task messages, ``run()``'s argument and the
parts written with ``surrogateescape`` all keep it. Text meant for people (error messages, logs,
database columns: PostgreSQL refuses lone surrogates) goes through ``displayable``, which shows such a
byte as ``\\xe9``.

Standard library only, Python 3.8 included: this runs in the model's environment.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import Any, cast

from thresher.runtime.protocol import ItemFailure

UNUSABLE = "UnusableInput"  # the error type of an entry that was not passed to run()

_SURROGATE = re.compile("[\ud800-\udfff]")
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
_REMOVE = "Remove it from the input folder, or point the job at a folder without it."


def displayable(text: str) -> str:
    """``text`` with every lone surrogate shown as an escape: ``\\xe9`` for an undecodable byte of a name.

    Valid text comes back unchanged; the result always encodes as UTF-8 (for logs, terminals and
    PostgreSQL, which refuses ``\\udcxx`` in JSON and text).
    """
    if _SURROGATE.search(text) is None:
        return text

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return _SURROGATE.sub(escape, text)


def displayable_failure(failure: ItemFailure) -> ItemFailure:
    """A failed item's entry ``{"item", "error", ...}`` with every text made ``displayable``.

    The items themselves keep their exact names in the plan and the tasks; this is the entry that
    people, logs and the job's database get.
    """
    shown = {key: displayable(value) if isinstance(value, str) else value for key, value in failure.items()}
    return cast(ItemFailure, shown)


def _target(path: str) -> str:
    """Where the symbolic link ``path`` points, as an absolute path when the link is relative."""
    try:
        target = os.readlink(path)
    except OSError:
        return "?"
    return os.path.normpath(os.path.join(os.path.dirname(path), target))


def _unreachable(path: str, exc: OSError) -> str:
    """Why ``os.stat(path)`` failed, in words, with the fix."""
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        link = False
    if exc.errno == errno.ELOOP and link:
        return (
            f"{path} is a symbolic link loop: it points to {_target(path)}, which leads back to it "
            "(too many levels of symbolic links). Remove the link or point it at a file."
        )
    if exc.errno == errno.ENOENT and link:
        return (
            f"{path} is a broken symbolic link to {_target(path)} (target does not exist). "
            "Fix the link or remove it from the input folder."
        )
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return (
            f"{path} vanished after the job was planned. Don't change the input folder while a job runs; "
            "score the file in a new job."
        )
    return f"{path} cannot be read: {exc.strerror or exc}. Give thresher's user access to it, or remove it."


def _folder(path: str, info: os.stat_result) -> str:
    """Why a folder is an item: the listing found it leads back to a folder above it, or cannot list it."""
    identity = (info.st_dev, info.st_ino)
    parent = os.path.dirname(path)
    while parent and parent != os.path.dirname(parent):
        try:
            above = os.stat(parent)
        except OSError:
            break
        if (above.st_dev, above.st_ino) == identity:
            via = f"a symbolic link to {_target(path)}" if os.path.islink(path) else "a folder"
            return (
                f"{path} is {via} that leads back to {parent}, a folder above it; following it would list the "
                "same files forever, so it is not scored. Remove the link."
            )
        parent = os.path.dirname(parent)
    try:
        with os.scandir(path):
            pass
    except OSError as exc:
        return (
            f"{path} is a folder that cannot be listed: {exc.strerror or exc}. Give thresher's user read and "
            "execute permission on it, or remove it from the input folder."
        )
    return (
        f"{path} is a folder that could not be listed when the job was planned, so its files are not in this "
        "job. Invoke a new job to score them."
    )


def unusable(path: str) -> str | None:
    """Why the input entry ``path`` cannot be passed to ``run()``, with the fix; None when it can.

    A usable entry is a regular file (or a link to one) that can be opened for reading. Nothing is
    read, and a FIFO is never opened (that would block until someone writes to it).
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        return _unreachable(path, exc)
    mode = info.st_mode
    if stat.S_ISREG(mode):
        if os.access(path, os.R_OK):  # one system call; opening the file would take five
            return None
        return (
            f"{path} cannot be opened: Permission denied. Give thresher's user read permission on it, "
            "or remove it from the input folder."
        )
    if stat.S_ISDIR(mode):
        return _folder(path, info)
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"{path} is {kind}, not a regular file; only regular files are scored. {_REMOVE}"


def _refused(item: str, why: str, count: int = 1) -> ItemFailure:
    failure: ItemFailure = {"item": item, "error": f"{UNUSABLE}: {why}"}
    if count != 1:
        failure["count"] = count  # a table slice stands for its rows
    return failure


def split_items(items: list[Any], *, tabular: bool) -> tuple[list[Any], list[ItemFailure]]:
    """The items to pass to ``run()``, and a failure ``{"item", "error"[, "count"]}`` for each other one.

    File items are paths; tabular items are slices (``thresher.scheduler.tabular_plan``), of which
    one planned as ``unusable`` is always failed, and one of a file that has become unusable since
    fails for its rows (``count``; 1 when the plan did not count them). When something was refused,
    slices without rows are dropped too: run() must not get an empty table because of the others.
    """
    if not tabular:
        usable: list[Any] = []
        refused: list[ItemFailure] = []
        for path in items:
            why = unusable(path)
            if why is None:
                usable.append(path)
            else:
                refused.append(_refused(path, why))
        return usable, refused
    checked: dict[str, str | None] = {}  # a file's slices share one look at it
    usable, refused = [], []
    for piece in items:
        path = piece["path"]
        if path not in checked:
            checked[path] = unusable(path)
        why = checked[path] or piece.get("unusable")
        if why is None:
            usable.append(piece)
        else:
            rows = piece.get("rows")
            refused.append(_refused(path, why, int(rows) if rows else 1))
    if refused and all(piece.get("rows") == 0 for piece in usable):
        usable = []
    return usable, refused


def name_items(items: list[Any]) -> str:
    """A short name for people of a run of items: a file, or the first and last of several."""
    paths = [str(item["path"]) if isinstance(item, dict) else str(item) for item in items]
    if not paths:
        return "no items"
    if len(paths) == 1:
        return displayable(paths[0])
    return displayable(f"{len(paths)} items from {paths[0]} to {paths[-1]}")
