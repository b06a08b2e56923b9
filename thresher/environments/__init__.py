"""Python environments for workers: resolved from dependency files, built with uv, cached by content.

    resolve       an environment asset's recorded files, or a model folder's, -> ResolvedEnvironment
                  (Azure's runtime packages left out, mlflow installed as mlflow-skinny for MLflow models)
    conda         conda.yaml: ``python=`` and the ``pip:`` list; conda-only packages are an error
    interpreters  an installed Python for the version asked for: exact, then the same minor version
    build         ``<workspace>/envs/<key>/``: built with uv under a lock, renamed into place when complete

A job with neither an environment nor a folder of environment files, or whose environment has no
dependency file, runs its workers in the interpreter that runs thresher.
"""

from __future__ import annotations

import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from thresher.environments.build import EnvironmentBuild, EnvironmentCache
from thresher.environments.interpreters import Interpreter, find_interpreter
from thresher.environments.resolve import (
    AZURE_RUNTIME_PACKAGES,
    ResolvedEnvironment,
    from_asset_info,
    from_folder,
)
from thresher.errors import ThresherError
from thresher.specs.references import read_reference

if TYPE_CHECKING:
    from thresher.settings import Settings
    from thresher.store import AssetRecord, SqlStore

__all__ = [
    "AZURE_RUNTIME_PACKAGES",
    "EnvironmentBuild",
    "EnvironmentCache",
    "Interpreter",
    "ResolvedEnvironment",
    "asset_environment",
    "build_environment",
    "current_environment",
    "envs_dir",
    "job_python",
]

HEARTBEAT_SECONDS = 2.0
T = TypeVar("T")


def envs_dir(settings: Settings) -> Path:
    """Where a workspace keeps its built environments."""
    return settings.workspace_dir / "envs"


def asset_environment(record: AssetRecord) -> ResolvedEnvironment | None:
    """What an environment asset asks for; None when it has no dependency file."""
    return from_asset_info(record.info, f"'{record.name}:{record.version}'")


def build_environment(
    cache: EnvironmentCache, resolved: ResolvedEnvironment, label: str, *, retry: str | None = None, build: bool = True
) -> EnvironmentBuild:
    """Build (or find) ``resolved`` in ``cache``; with ``build=False`` only say whether it is built."""
    interpreter, note = find_interpreter(resolved.python_request, resolved.python_origin)
    notes = [note] if note else []
    if not build:
        return cache.status(resolved, interpreter, notes)
    return cache.ensure(resolved, interpreter, label=label, notes=notes, retry=retry)


def current_environment(notes: list[str]) -> EnvironmentBuild:
    """The interpreter running thresher, as the "environment" of a job that names none."""
    return EnvironmentBuild(
        key=None,
        path=sys.prefix,
        python=sys.executable,
        python_version=platform.python_version(),
        built=True,
        log=None,
        notes=notes,
    )


def job_python(
    store: SqlStore,
    root: Path,
    *,
    environment: str | None,
    files_dir: str | None,
    record_to: Path,
    heartbeat: Callable[[], object] | None = None,
) -> str | None:
    """The interpreter a job's workers run: its environment's, built first if needed; None: the current one.

    ``environment`` is the job's ``azureml:name:version`` environment, ``files_dir`` a folder whose
    dependency files define one (an MLflow model's); neither means the current interpreter.
    ``heartbeat`` is called every few seconds while a build runs (a first build can take minutes).
    The outcome is appended to ``record_to`` (the job's ``logs/sys/environment.txt``).
    """
    began = time.monotonic()
    if environment:
        reference = read_reference(environment)
        if reference is None:
            raise ThresherError(f"The job's environment {environment!r} is not an azureml: reference.")
        record = store.get_asset("environment", reference.name, reference.version)
        label, retry = (
            f"environment '{record.name}:{record.version}'",
            f"thresher environment build {record.name}:{record.version}",
        )
        resolved = asset_environment(record)
    elif files_dir:
        label, retry = f"the environment of {files_dir}", None
        resolved = from_folder(Path(files_dir))
    else:
        return None
    if resolved is None:
        _record(record_to, label, current_environment([]), began)
        return None
    cache = EnvironmentCache(root)
    built = _beating(lambda: build_environment(cache, resolved, label, retry=retry), heartbeat)
    _record(record_to, label, built, began)
    return built.python


def _beating(work: Callable[[], T], heartbeat: Callable[[], object] | None) -> T:
    """``work()``, calling ``heartbeat()`` every few seconds until it returns (it runs in a thread)."""
    if heartbeat is None:
        return work()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="environment-build", daemon=True)
    thread.start()
    while True:
        thread.join(HEARTBEAT_SECONDS)
        if not thread.is_alive():
            break
        heartbeat()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _record(path: Path, label: str, built: EnvironmentBuild, began: float) -> None:
    if built.key is None:
        how = "has no dependency file: workers run in the interpreter that runs thresher"
    elif built.reused:
        how = f"reused (built {built.built_at} in {built.build_seconds} s)"
    else:
        how = f"built in {built.build_seconds} s; build log: {built.log}"
    lines = [
        f"{time.strftime('%Y-%m-%d %H:%M:%S')} {label}: {how}",
        f"  python: {built.python} ({built.python_version})",
        f"  ready in {time.monotonic() - began:.3f} s",
        *(f"  note: {note}" for note in built.notes),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
