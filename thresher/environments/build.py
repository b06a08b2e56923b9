"""Environments materialised as virtualenvs built with uv, cached under the workspace by content.

    <workspace>/envs/<key>/                  a finished virtualenv, renamed into place only when complete
    <workspace>/envs/<key>/thresher-env.json what it holds: Python, requirements, notes, size, build time
    <workspace>/envs/<key>.staging/          the build in progress (removed when it fails)
    <workspace>/envs/<key>.build.log         the uv commands of the last build and their output
    <workspace>/envs/<key>.lock              held while building: concurrent builds of a key wait for one

The key is a hash of the resolved requirements and the chosen interpreter's exact version, so a job
finds its environment with one ``stat`` once it is built. The virtualenv is relocatable (its scripts
find their interpreter relative to themselves), so building it under another name and renaming it
is safe, and bytecode is compiled at install time so that the first import in every worker is fast.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from thresher.environments.interpreters import Interpreter
from thresher.environments.resolve import ResolvedEnvironment
from thresher.environments.uv import index_options, uv_command
from thresher.errors import ThresherError
from thresher.storage.disk import folder_size

SCHEMA = 1  # bump when the layout of a built environment changes, so old ones are not reused
METADATA = "thresher-env.json"
_TAIL_LINES = 8


@dataclass(frozen=True)
class EnvironmentBuild:
    """A built (or not yet built) environment: where it is and what it holds."""

    key: str | None  # None: the interpreter running thresher, nothing built
    path: str  # the virtualenv folder
    python: str  # its interpreter, which workers run
    python_version: str
    built: bool
    log: str | None
    notes: list[str] = field(default_factory=list)
    size_bytes: int | None = None
    built_at: str | None = None
    build_seconds: float | None = None
    reused: bool = False  # found already built by this call

    def to_dict(self) -> dict[str, Any]:
        """As plain data (``environment show`` prints it under ``build``)."""
        return asdict(self)


def cache_key(resolved: ResolvedEnvironment, interpreter: Interpreter) -> str:
    """The content hash naming an environment's folder: requirements and the exact Python version."""
    document = {"schema": SCHEMA, "python": interpreter.version, "requirements": resolved.requirements}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


class EnvironmentCache:
    """The built environments of one workspace (``root`` is ``<workspace>/envs``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def status(
        self, resolved: ResolvedEnvironment, interpreter: Interpreter, notes: list[str] | None = None
    ) -> EnvironmentBuild:
        """Whether the environment is built, without building it."""
        key = cache_key(resolved, interpreter)
        built = self._read(key)
        if built is not None:
            return replace(built, notes=[*resolved.notes, *(notes or [])])
        return EnvironmentBuild(
            key=key,
            path=str(self.root / key),
            python=str(self.root / key / "bin" / "python"),
            python_version=interpreter.version,
            built=False,
            log=str(self.root / f"{key}.build.log"),
            notes=[*resolved.notes, *(notes or [])],
        )

    def ensure(
        self,
        resolved: ResolvedEnvironment,
        interpreter: Interpreter,
        *,
        label: str,
        notes: list[str] | None = None,
        retry: str | None = None,
    ) -> EnvironmentBuild:
        """The built environment, building it first unless it exists; concurrent callers wait for one build.

        ``label`` names the environment in messages ("environment 'sk:1'"); ``retry`` is the command that
        builds it again, for the fix of a failed build.
        """
        key = cache_key(resolved, interpreter)
        notes = [*resolved.notes, *(notes or [])]  # this request's notes (another may have built it)
        built = self._read(key)
        if built is not None:
            return replace(built, notes=notes, reused=True)
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / f"{key}.lock"):
            built = self._read(key)  # built by whoever held the lock before us
            if built is not None:
                return replace(built, notes=notes, reused=True)
            return self._build(key, resolved, interpreter, label, notes, retry)

    def _read(self, key: str) -> EnvironmentBuild | None:
        try:
            data = json.loads((self.root / key / METADATA).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        fields = {k: v for k, v in data.items() if k in EnvironmentBuild.__dataclass_fields__}
        folder = self.root / key  # where it is now, should the workspace have moved
        return EnvironmentBuild(**{**fields, "path": str(folder), "python": str(folder / "bin" / "python")})

    def _build(
        self,
        key: str,
        resolved: ResolvedEnvironment,
        interpreter: Interpreter,
        label: str,
        notes: list[str],
        retry: str | None,
    ) -> EnvironmentBuild:
        staging, final, log = self.root / f"{key}.staging", self.root / key, self.root / f"{key}.build.log"
        shutil.rmtree(staging, ignore_errors=True)  # left by a builder that was killed
        shutil.rmtree(final, ignore_errors=True)  # unreadable: damaged, or of an older SCHEMA
        began = time.monotonic()
        uv = uv_command()
        try:
            with log.open("w", encoding="utf-8") as handle:
                handle.write(f"Building {label}: Python {interpreter.version} ({interpreter.path})\n")
                run = _Runner(handle, log, label, retry)
                run([*uv, "venv", "--relocatable", "--python", interpreter.path, str(staging)])
                if resolved.requirements:
                    requirements = staging / "thresher-requirements.txt"
                    requirements.write_text("\n".join(resolved.requirements) + "\n", encoding="utf-8")
                    install = [*uv, "pip", "install", "--python", str(staging / "bin" / "python"), "--compile-bytecode"]
                    run([*install, *index_options(), "-r", str(requirements)])
                seconds = round(time.monotonic() - began, 3)
                handle.write(f"Built in {seconds} s\n")
            record = EnvironmentBuild(
                key=key,
                path=str(final),
                python=str(final / "bin" / "python"),
                python_version=interpreter.version,
                built=True,
                log=str(log),
                notes=notes,
                size_bytes=folder_size(staging),
                built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                build_seconds=seconds,
            )
            metadata = {**record.to_dict(), "requirements": resolved.requirements, "label": label}
            (staging / METADATA).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return record


@dataclass(frozen=True)
class _Runner:
    """Runs uv commands with their output in the build log; a failure raises with the end of the log."""

    handle: IO[str]
    log: Path
    label: str
    retry: str | None

    def __call__(self, command: list[str]) -> None:
        self.handle.write(f"$ {shlex.join(command)}\n")
        self.handle.flush()
        start = os.fstat(self.handle.fileno()).st_size  # where this command's output begins
        environ = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
        environ.pop("VIRTUAL_ENV", None)
        done = subprocess.run(command, stdout=self.handle, stderr=subprocess.STDOUT, env=environ, cwd=self.log.parent)
        if done.returncode == 0:
            return
        self.handle.flush()
        with self.log.open("rb") as output:
            output.seek(start)
            lines = [line.rstrip() for line in output.read().decode(errors="replace").splitlines() if line.strip()]
        # uv's own error, not the lines it printed before it ("error: ..." now, "× ..." in older versions)
        first = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("error:", "×"))), 0)
        tail = "\n".join("  " + line for line in lines[first:][:_TAIL_LINES])
        step = "creating the virtualenv" if command[1] == "venv" else "installing its requirements"
        again = f": {self.retry}" if self.retry else "."
        raise ThresherError(
            f"Building {self.label} failed while {step} (uv exited with code {done.returncode}):\n{tail}\n"
            f"Full build log: {self.log}",
            fix="If a requirement named above is wrong, correct it in the dependency file and register a new "
            f"version; if the package index was unreachable, build it again{again}",
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (an flock: released by the kernel if the holder dies)."""
    with path.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
