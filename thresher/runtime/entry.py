"""The scoring script: loading it, and calling ``init`` / ``run`` / ``shutdown`` inside one error boundary.

User code never raises through thresher: every exception it raises (or a ``SystemExit`` it calls) is
turned into plain data ``{"type", "message", "traceback", "log"}``, with the full traceback appended
to the worker's error file (``logs/user/error/<node>/<process>.txt``, as on Azure)::

    with error_boundary(error_log, "run() failed on task t-7"):
        rows = script.run(mini_batch, context)
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any

from thresher.runtime.entries import displayable
from thresher.runtime.protocol import ErrorInfo

MAX_TRACEBACK_CHARS = 4000
BUILTIN_MLFLOW_DRIVER = "thresher.runtime.mlflow_driver"
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


class UserCodeError(Exception):
    """User code (or the result it returned) failed; ``error`` is the plain-data form to report."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(f"{error['type']}: {error['message']}")
        self.error = error


@dataclass(frozen=True)
class MiniBatchContext:
    """The second argument of ``run(mini_batch, mini_batch_context)``, as on Azure."""

    partition_key_value: dict[str, Any] | None
    minibatch_index: int


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """Skip thresher's own frames at the top of a traceback, so it starts in the user's code."""
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_RUNTIME_DIR):
        tb = tb.tb_next
    return tb


def describe(exc: BaseException, header: str | Callable[[], str], log_path: str) -> ErrorInfo:
    """Append ``header`` and the full traceback to ``log_path``; return the error as plain data.

    The text is for people (and the job's database): a file name that is not UTF-8 is shown escaped.
    """
    header = displayable(header() if callable(header) else header)
    full = displayable("".join(traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__))))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"==== {stamp} {header}\n{full}\n")
    except OSError as write_error:  # the report must still go out when the log cannot be written
        full += f"\n(could not write {log_path}: {write_error})"
    tail = full if len(full) <= MAX_TRACEBACK_CHARS else "...\n" + full[-MAX_TRACEBACK_CHARS:]
    message = str(exc) if not isinstance(exc, SystemExit) else f"the script called sys.exit({exc.code!r})"
    message = displayable(message)
    error: ErrorInfo = {"type": type(exc).__name__, "message": message, "traceback": tail, "log": log_path}
    if isinstance(exc, OSError) and exc.errno is not None:
        error["errno"] = exc.errno  # lets the runner tell a full disk from a failing item
        if exc.filename is not None:
            error["filename"] = displayable(os.fsdecode(exc.filename))
    return error


@contextmanager
def error_boundary(log_path: str, header: str | Callable[[], str]) -> Iterator[None]:
    """Run the block; anything it raises (``SystemExit`` included) becomes a ``UserCodeError``.

    ``header`` opens the entry in the error log; a callable is only called when there is an error.
    """
    try:
        yield
    except (Exception, SystemExit) as exc:
        raise UserCodeError(describe(exc, header, log_path)) from None


def _positional_count(func: Callable[..., Any]) -> int:
    code = getattr(func, "__code__", None)
    if code is not None and not hasattr(func, "__self__"):
        return int(code.co_argcount)
    import inspect  # only for unusual callables (bound methods, partials, callable objects)

    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    try:
        return sum(p.kind in kinds for p in inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return 1


def import_script(path: str) -> ModuleType:
    """Import the script at ``path`` as a module named after its file stem (so siblings import it normally)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The scoring script {path} does not exist (code snapshot: {os.getcwd()}).")
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load the scoring script {path}: it must be a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


class ScoringScript:
    """A loaded scoring script: its ``init``, ``run`` and optional ``shutdown``."""

    def __init__(self, module: ModuleType) -> None:
        run = getattr(module, "run", None)
        if not callable(run):
            where = getattr(module, "__file__", module.__name__)
            raise TypeError(f"The scoring script {where} defines no run(mini_batch) function; it must define one.")
        self.module = module
        self._run: Callable[..., Any] = run
        self._init: Callable[[], Any] | None = getattr(module, "init", None)
        self._shutdown: Callable[[], Any] | None = getattr(module, "shutdown", None)
        self.takes_context = _positional_count(run) >= 2

    @classmethod
    def load(cls, path: str | None) -> ScoringScript:
        """Import the script as a module named after its file stem (so siblings import it normally).

        ``None`` loads thresher's built-in MLflow driver.
        """
        if path is None:
            return cls(importlib.import_module(BUILTIN_MLFLOW_DRIVER))
        return cls(import_script(path))

    def init(self) -> None:
        """Call the script's ``init()``, when it has one (v1 scripts may omit it)."""
        if self._init is not None:
            self._init()

    def run(self, mini_batch: Any, context: MiniBatchContext) -> Any:
        """Call ``run(mini_batch)``, or ``run(mini_batch, mini_batch_context)`` when it takes two arguments."""
        if self.takes_context:
            return self._run(mini_batch, context)
        return self._run(mini_batch)

    @property
    def has_shutdown(self) -> bool:
        """Whether the script defines ``shutdown()`` (on a reused worker, ``init()`` then runs again per job)."""
        return callable(self._shutdown)

    def shutdown(self) -> None:
        """Call the script's ``shutdown()``, when it has one."""
        if callable(self._shutdown):
            self._shutdown()
