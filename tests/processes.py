"""Finding thresher's processes from outside, as an operator would with ps: a test's workers, and the
processes a test or a benchmark left behind (``tests/conftest.py``, ``bench/common.py``).

A spawned worker runs ``python -m thresher.runtime.worker``; a worker forked from a template shows its
template's command line (``python -m thresher.runtime.template ...``) and environment, so neither the
command line nor ``/proc/<pid>/environ`` tells whose worker it is. Its working directory does: a worker
runs in its code folder (or its job's output folder), the template in thresher's own shims folder.
A runner, and every worker it spawns, has its workspace in its environment (``THRESHER_HOME``).

Standard library only: the benchmarks import it too.
"""

from __future__ import annotations

import os
from pathlib import Path

_MODULES = (b"thresher.runtime.worker", b"thresher.runtime.template")
THRESHER_COMMANDS = (b"thresher.runner", b"thresher.scheduler.service", b"thresher.runtime.", b"thresher.server.online")
"""What a thresher process's command line holds: a runner (also as a benchmark profiles it), a worker, a template."""


def thresher_processes(
    *, environ: str | None = None, cwd_under: Path | str | None = None, skip_own_templates: bool = False
) -> dict[int, str]:
    """thresher's processes alive now (runners, workers, templates), less this one: pid -> command line.

    With ``environ``, those whose environment holds that text, its variables joined and bounded by NUL
    bytes (``f"\0THRESHER_HOME={home}\0"`` is that variable exactly; a path alone, any mention of it);
    with ``cwd_under``, those whose working directory is inside that folder (a worker forked from a
    template, whose environment is the template's); with both, either. ``skip_own_templates`` leaves out
    the templates this process started (a test session's executors keep theirs for the session).
    """
    needle = environ.encode() if environ is not None else None
    root = os.path.realpath(cwd_under) + os.sep if cwd_under is not None else None
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
            if not any(name in command for name in THRESHER_COMMANDS):
                continue
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state, parent = handle.read().split(b") ", 1)[1].split()[:2]
            if state == b"Z":
                continue  # exited; its parent reaps it
            if skip_own_templates and int(parent) == os.getpid() and b"thresher.runtime.template" in command:
                continue
            if needle is not None or root is not None:
                matched = False
                if needle is not None:
                    with open(f"/proc/{entry}/environ", "rb") as handle:
                        matched = needle in b"\0" + handle.read() + b"\0"
                if not matched and root is not None:
                    matched = (os.path.realpath(f"/proc/{entry}/cwd") + os.sep).startswith(root)
                if not matched:
                    continue
        except (OSError, IndexError, ValueError):
            continue
        found[int(entry)] = command.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def worker_pids(under: Path) -> list[int]:
    """Live worker processes (spawned or forked) whose working directory is inside ``under``."""
    root = os.path.realpath(under)
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            cwd = os.path.realpath(os.readlink(proc / "cwd"))
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(module in command for module in _MODULES) and (cwd + os.sep).startswith(root + os.sep):
            pids.append(int(proc.name))
    return pids
