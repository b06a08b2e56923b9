"""Ignore rules for code snapshots: ``.thresherignore``, ``.amlignore`` or ``.gitignore``, as Azure does.

The first of those files found in the code folder applies (Azure reads ``.amlignore`` before
``.gitignore``). Patterns follow gitignore's common forms: ``name``, ``*.ext``, ``dir/``, ``/rooted``,
``sub/path`` and ``!negation``. Caches and version-control folders are always left out.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

IGNORE_FILES = (".thresherignore", ".amlignore", ".gitignore")
ALWAYS_IGNORED = ("__pycache__/", ".git/", ".ipynb_checkpoints/", "*.pyc")


def load_ignore(folder: Path) -> Callable[[str], bool]:
    """A predicate over relative posix paths (folders end in ``/``) built from the folder's ignore file."""
    patterns = list(ALWAYS_IGNORED)
    for name in IGNORE_FILES:
        candidate = folder / name
        if candidate.is_file():
            for line in candidate.read_text(encoding="utf-8", errors="replace").splitlines():
                stripped = line.strip()
                if stripped and not stripped.startswith("#"):
                    patterns.append(stripped)
            break
    return lambda rel: _ignored(rel, patterns)


def _ignored(rel: str, patterns: list[str]) -> bool:
    is_dir = rel.endswith("/")
    path = rel.rstrip("/")
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        if pattern.endswith("/"):
            if not is_dir:
                continue
            pattern = pattern.rstrip("/")
        if _matches(path, pattern):
            ignored = not negate
    return ignored


def _matches(path: str, pattern: str) -> bool:
    if pattern.startswith("/"):
        return fnmatch.fnmatchcase(path, pattern[1:])
    if "/" in pattern:
        return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern)
    return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
