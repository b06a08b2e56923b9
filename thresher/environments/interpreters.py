"""Finding an installed Python interpreter for an environment's version request, offline.

Candidates: the interpreter running thresher, pyenv's versions (``$PYENV_ROOT/versions/X.Y.Z``), and
what ``uv python list --only-installed`` finds (uv-managed Pythons and those on PATH; pyenv's shims
are skipped, since they answer for one version only). An exact match wins (``3.11.7`` for
``3.11.7``, any ``3.11.x`` for ``3.11``), preferring the current interpreter, then the newest; then
the same minor version, with a note. No match is an error listing what is installed and the fix.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from thresher.environments.uv import uv_command
from thresher.errors import ThresherError

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_CLAUSE = re.compile(r"^(>=|<=|>|<|!=|==)(\d+(?:\.\d+)*)(\.\*)?$")


@dataclass(frozen=True)
class Interpreter:
    """An installed Python: its exact version (``3.11.7``) and executable."""

    version: str
    path: str

    @property
    def numbers(self) -> tuple[int, ...]:
        """The version as numbers, for ordering."""
        return tuple(int(part) for part in self.version.split("."))


def current_interpreter() -> Interpreter:
    """The interpreter running thresher."""
    return Interpreter(platform.python_version(), sys.executable)


def pyenv_interpreters() -> list[Interpreter]:
    """pyenv's installed CPython versions (directory names are exact versions)."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    for folder in sorted(root.glob("*")) if root.is_dir() else []:
        python = folder / "bin" / "python3"
        if _VERSION.match(folder.name) and python.exists():
            found.append(Interpreter(folder.name, str(python)))
    return found


def uv_interpreters() -> list[Interpreter]:
    """The CPython interpreters ``uv python list --only-installed`` reports (empty if uv fails)."""
    try:
        listed = subprocess.run(
            [*uv_command(), "python", "list", "--only-installed", "--output-format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        )
        entries = json.loads(listed.stdout or "[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []
    found = []
    for entry in entries:
        path, version = entry.get("path"), str(entry.get("version") or "")
        if not path or "/shims/" in path or entry.get("implementation") != "cpython" or not _VERSION.match(version):
            continue
        found.append(Interpreter(version, path))
    return found


def matches(request: str, version: str) -> bool:
    """Whether ``version`` (``3.11.7``) is what ``request`` asks for exactly (``3.11.7``, ``3.11``, ``>=3.9``)."""
    if request[0].isdigit():
        return (version + ".").startswith(request + ".")
    numbers = tuple(int(p) for p in version.split("."))
    for clause in request.split(","):
        match = _CLAUSE.match(clause.strip())
        if match is None:
            return False
        op, bound, star = match[1], tuple(int(p) for p in match[2].split(".")), match[3]
        mine = numbers[: len(bound)] if star or op in ("==", "!=") else numbers
        ok = {
            ">=": mine >= bound,
            "<=": mine <= bound,
            ">": mine > bound,
            "<": mine < bound,
            "==": mine == bound,
            "!=": mine != bound,
        }[op]
        if not ok:
            return False
    return True


def same_minor(request: str, version: str) -> bool:
    """Whether ``version`` has the minor version of an exact request (``3.11.5`` -> any ``3.11.x``)."""
    if not request[0].isdigit():
        return False
    return version.split(".")[:2] == request.split(".")[:2]


def choose(
    request: str | None, origin: str, candidates: Iterable[Interpreter], more: Callable[[], Iterable[Interpreter]]
) -> tuple[Interpreter, str | None]:
    """The interpreter for ``request`` and, when it is not an exact match, a note saying so.

    ``candidates`` come first (the current interpreter first of all); ``more`` is asked only when they
    hold no exact match, because listing every installed Python is slow.
    """
    found = _unique(candidates)
    if request is None:
        return found[0], None
    exact = _best(request, found, matches)
    if exact is not None:
        return exact, None
    found = _unique([*found, *more()])
    exact = _best(request, found, matches)
    if exact is not None:
        return exact, None
    near = _best(request, found, same_minor)
    if near is not None:
        return near, (
            f"Python {request} was asked for ({origin}) and is not installed; using {near.version} "
            f"({near.path}), the same minor version."
        )
    listed = ", ".join(f"{i.version} ({i.path})" for i in sorted(found, key=lambda i: i.numbers)) or "none"
    wanted = request if request[0].isdigit() else request.lstrip("=<>!")
    raise ThresherError(
        f"The environment asks for Python {request} ({origin}), and no installed interpreter matches it, "
        f"not even its minor version. Installed: {listed}.",
        fix=f"Install Python {wanted} (uv python install {wanted}) or change the Python version ({origin}) to one "
        "of those installed.",
    )


def find_interpreter(request: str | None, origin: str) -> tuple[Interpreter, str | None]:
    """The installed interpreter for ``request`` (see ``choose``), searching this machine."""
    return choose(request, origin, [current_interpreter(), *pyenv_interpreters()], uv_interpreters)


def _best(request: str, found: list[Interpreter], accept: Callable[[str, str], bool]) -> Interpreter | None:
    fitting = [i for i in found if accept(request, i.version)]
    if not fitting:
        return None
    if fitting[0] is found[0]:  # the current interpreter fits: no second Python needed
        return fitting[0]
    return max(fitting, key=lambda i: i.numbers)


def _unique(interpreters: Iterable[Interpreter]) -> list[Interpreter]:
    seen: set[str] = set()
    out = []
    for interpreter in interpreters:
        real = os.path.realpath(interpreter.path)
        if real not in seen:
            seen.add(real)
            out.append(interpreter)
    return out
