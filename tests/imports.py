"""What a fresh Python process imports to do one thing: the packages left in its ``sys.modules``.

A command pays for every package it imports at each start, so the tests of what ``thresher
--version``, opening a workspace and the detached runner load run them in a new interpreter and read
``sys.modules`` when it exits (an ``atexit`` hook, so ``sys.exit`` from the command is fine).

Example::

    ran = run_and_list_imports(["-m", "thresher", "--version"], tmp_path)
    assert "sqlalchemy" not in ran.packages
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HEAVY = ("sqlalchemy", "alembic", "pandas", "pyarrow", "fsspec", "ray")
"""Packages that cost a command tenths of a second to import, each needed by some commands only."""

_WRAPPER = """
import atexit, json, os, runpy, sys

def _write_modules():
    with open(os.environ["THRESHER_TEST_MODULES"], "w", encoding="utf-8") as handle:
        json.dump(sorted(sys.modules), handle)

atexit.register(_write_modules)
mode, target, *sys.argv[1:] = sys.argv[1:]
if mode == "-m":
    sys.argv[0] = target
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<command>", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class Ran:
    """A process run by ``run_and_list_imports``: its exit code, output, and the packages it imported."""

    code: int
    out: str
    err: str
    modules: frozenset[str]  # every module, "sqlalchemy.orm" and "sqlalchemy" alike
    packages: frozenset[str]  # top-level names: "sqlalchemy" for sqlalchemy.orm too

    def heavy(self) -> list[str]:
        """The ``HEAVY`` packages it imported."""
        return sorted(set(HEAVY) & self.packages)


def run_and_list_imports(
    argv: Sequence[str], tmp_path: Path, *, env: Mapping[str, str] | None = None, timeout: float = 120
) -> Ran:
    """Run ``python -m MODULE ARGS...`` or ``python -c CODE ARGS...`` (``argv``) in a new interpreter."""
    mode, target, *rest = argv
    if mode not in ("-m", "-c"):
        raise ValueError(f"argv must start with -m or -c, not {mode!r}")
    listing = tmp_path / f"modules-{os.urandom(4).hex()}.json"
    environment = dict(os.environ if env is None else env)
    environment["THRESHER_TEST_MODULES"] = str(listing)
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, mode, target, *rest],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if not listing.exists():
        raise AssertionError(f"the process wrote no module list (exit {done.returncode}):\n{done.stderr}")
    names = frozenset(json.loads(listing.read_text(encoding="utf-8")))
    return Ran(done.returncode, done.stdout, done.stderr, names, frozenset(name.partition(".")[0] for name in names))
