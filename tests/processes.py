"""Finding a test's worker processes from outside, as an operator would with ps.

A spawned worker runs ``python -m thresher.runtime.worker``; a worker forked from a template shows its
template's command line (``python -m thresher.runtime.template ...``) and environment, so neither the
command line nor ``/proc/<pid>/environ`` tells whose worker it is. Its working directory does: a worker
runs in its code folder (or its job's output folder), the template in thresher's own shims folder.
"""

from __future__ import annotations

import os
from pathlib import Path

_MODULES = (b"thresher.runtime.worker", b"thresher.runtime.template")


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
