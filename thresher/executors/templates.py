"""Worker templates, the runner's side: when a worker may be forked, the template processes, forked workers.

A template (``thresher.runtime.template``) is an interpreter that has imported the worker runtime and
the heavy libraries installed in its environment; a worker forked from it skips those imports (0.9-1.7
s per worker). Templates are kept per runner process and live as long as it does, one per interpreter
and import-time environment (which holds the thread share): a later job's workers of the same
environment fork from the same template. At most ``MAX_TEMPLATES`` run; a new one replaces the least
recently used one that has no worker left.

**When a worker is forked** (otherwise it is spawned as ``python -m thresher.runtime.worker``, as
without templates): forking must give exactly the process spawning would, up to the libraries being
imported already.

1. Same interpreter: the template runs ``identity.python or sys.executable``, the path spawning runs.
2. Same environment at import time. A worker's variables split in two: the per-worker ones
   (``THRESHER_*`` and ``AZUREML_*``, thresher's and Azure's own, ``MLFLOW_TRACKING_URI`` and pytest's
   ``PYTEST_CURRENT_TEST``: none is read by a library at import; the child is given the worker's
   values) and the rest: the runner's environment, the deployment's own ``environment_variables``, the
   thread variables of the worker's share, the worker's PYTHONPATH. A worker forks only from a template
   started with exactly that rest, so a deployment that sets a variable (``PYTHONPATH``, a library's
   switch), another thread share, or a runner environment that changed gets a template of its own,
   never one whose libraries were imported under other variables.
3. Nothing shadowed: the worker's cwd, code and script folders hold no module or package named like a
   module the template has loaded (which a spawned worker would import from there); the template
   checks and refuses.

What still differs from a spawned worker, by design: the libraries are loaded before the script runs
(``sys.modules`` holds them, and what they did at import, such as scikit-learn's ``KMP_*`` variables,
is done), and forked workers share the template's string hash seed (``PYTHONHASHSEED``); ``random``
and NumPy's global generator are re-seeded in each child.

Turned off by ``THRESHER_WORKER_TEMPLATE=0`` (``Settings.worker_template``). A template that cannot
start, dies, or whose child fails to become a worker is not used again in this runner: its
environment's workers are spawned from then on, with one log line, and no job fails for it.

A forked worker is the template's child, not the runner's: the template reports its exit status and
keeps it a zombie until ``ForkedProcess`` has read it (so its pid and process group cannot be reused
while the executor may signal them), as ``subprocess.Popen`` does with its children.
"""

from __future__ import annotations

import array
import contextlib
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, NoReturn, cast

from thresher.runtime import protocol
from thresher.runtime import template as wire
from thresher.runtime.protocol import WorkerConfig

log = logging.getLogger(__name__)

START_TIMEOUT = 120.0  # seconds a template may take to import its libraries before it is given up
_REPLY_TIMEOUT = 30.0  # seconds a fork request may take (a fork of a large process, on a busy machine)
MAX_TEMPLATES = 4  # live templates per runner; the least recently used idle one makes way for a new one
LOST_EXIT_CODE = -256  # a forked worker whose template died before reporting its exit status
_PER_WORKER_PREFIXES = ("THRESHER_", "AZUREML_")
# PYTEST_CURRENT_TEST: pytest rewrites it for every test, so a runner inside pytest (thresher's own tests)
# could otherwise never fork twice from one template; libraries look at it only when they run.
_PER_WORKER_NAMES = frozenset({"MLFLOW_TRACKING_URI", "PYTEST_CURRENT_TEST"})


def per_worker(name: str) -> bool:
    """Whether a variable differs between workers of one environment and is not read at import time."""
    return name.startswith(_PER_WORKER_PREFIXES) or name in _PER_WORKER_NAMES


class TemplateGone(Exception):
    """The template process died or stopped answering."""


class Template:
    """A running template process and the runner's end of its socket."""

    def __init__(self, python: str, env: Mapping[str, str], preload: tuple[str, ...] = wire.PRELOADED) -> None:
        self.python = python
        self.env = dict(env)
        self.preloaded: list[str] = []
        self.pid = 0
        self.last_used = time.monotonic()
        self.children: set[int] = set()  # forked, exit status not yet read
        self._exits: dict[int, int] = {}  # reported, not yet read
        self._lock = threading.Lock()
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.dead = False  # its socket is closed or failed: no more forks, no more exit reports
        self.retired = False  # no more forks; closed once its last child's exit is read
        try:
            # PR_SET_PDEATHSIG fires when the starting *thread* ends: only the main thread lives as long as the runner.
            pdeathsig = threading.current_thread() is threading.main_thread()
            argv = [
                python,
                "-m",
                "thresher.runtime.template",
                str(theirs.fileno()),
                str(os.getpid()),
                str(int(pdeathsig)),
                ",".join(preload),
            ]
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=2,  # what its imports print goes to the runner's stderr, as the template's stderr does
                cwd=protocol.shims_dir(),  # sys.path[0]; a child puts its own cwd there, as ``python -m`` does
                env=self.env,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            self._sock.close()
            raise
        finally:
            theirs.close()

    def wait_ready(self, timeout: float) -> wire.Hello:
        """Wait for the template's hello (its imports done); TemplateGone if it dies or takes too long."""
        deadline = time.monotonic() + timeout
        with self._lock:
            message = self._receive(deadline)
        if message.get("event") != "hello":
            raise TemplateGone(f"it said {message!r} instead of hello")
        hello = cast(wire.Hello, message)
        self.pid, self.preloaded = hello["pid"], list(hello["preloaded"])
        return hello

    def fork(self, cwd: str, env: dict[str, str | None], paths: list[str], fds: tuple[int, ...]) -> int | str:
        """Ask for a worker with these pipes: its pid, or why the template refused. TemplateGone if it is gone."""
        request: wire.ForkOp = {"op": "fork", "cwd": cwd, "env": env, "paths": paths}
        with self._lock:
            if self.dead:
                raise TemplateGone("it died earlier")
            self.last_used = time.monotonic()
            try:
                self._sock.sendmsg(
                    [wire.encode(request)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
                )
            except OSError as exc:
                self._lost(f"the request could not be sent: {exc}")
            message = self._receive(time.monotonic() + _REPLY_TIMEOUT)
            if message.get("event") == "forked":
                self.children.add(int(message["pid"]))
                return int(message["pid"])
            return str(message.get("reason", message))

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """The forked worker ``pid``'s exit code once reported (waiting up to ``timeout`` s); then it is reaped."""
        with self._lock:
            deadline = time.monotonic() + timeout
            while pid not in self._exits and not self.dead:
                try:
                    if not self._receive(deadline, replies=False):
                        break
                except TemplateGone:
                    break
            if pid not in self._exits:
                return None
            code = self._exits.pop(pid)
            self.children.discard(pid)
            reap: wire.ReapOp = {"op": "reap", "pid": pid}
            with contextlib.suppress(OSError):
                self._sock.send(wire.encode(reap))
        if self.retired and not self.children:
            self.close()
        return code

    def close(self) -> None:
        """Close the runner's end: the template exits (its workers run on, as spawned ones would)."""
        with self._lock:
            self.dead = True
            self._sock.close()
        try:
            self._popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()

    def _receive(self, deadline: float, *, replies: bool = True) -> dict[str, Any]:
        """The next message that is not an exit report (those are filed). With ``replies`` False: return
        after filing one exit report, or {} when none came by the deadline (a past deadline: a look only)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and replies:
                self._lost("it did not answer in time")
            try:
                self._sock.settimeout(max(0.0, remaining))  # 0: non-blocking
                packet = self._sock.recv(wire.MAX_MESSAGE)
            except (TimeoutError, BlockingIOError):
                if remaining <= 0 or time.monotonic() >= deadline:
                    return {}
                continue
            except OSError as exc:
                self._lost(f"its socket failed: {exc}")
            if not packet:
                self._lost("it exited")
            message: dict[str, Any] = wire.decode(packet)
            if message.get("event") == "exited":
                self._exits[int(message["pid"])] = int(message["code"])
                if not replies:
                    return message
                continue
            return message

    def _lost(self, why: str) -> NoReturn:
        self.dead = True
        with contextlib.suppress(OSError):
            self._popen.kill()
        raise TemplateGone(why)


class ForkedProcess:
    """A worker forked from a template: what ``WorkerProcess`` uses of ``subprocess.Popen`` (pid, poll,
    wait, returncode), with the exit status that the template reports."""

    def __init__(self, template: Template, pid: int) -> None:
        self.template = template
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):  # kernels before 5.3, or it is gone already (then reported)
                self._pidfd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        """The exit code if the worker has exited (and its exit was reported), else None; never blocks."""
        return self._check(0.0)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the worker to exit; its exit code (``LOST_EXIT_CODE`` when its template died first)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self._check(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))
            if code is not None:
                return code
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)

    def _check(self, timeout: float) -> int | None:
        if self.returncode is not None:
            return self.returncode
        code = self.template.exit_code(self.pid, timeout)
        if code is None and self.template.dead:
            _retire(self.template, "it exited")
            if self._gone():
                code = LOST_EXIT_CODE
        if code is not None:
            self.returncode = code
            if code == wire.SETUP_FAILED_EXIT_CODE:
                _retire(
                    self.template, f"a worker forked from it could not start (exit code {code}; see its stderr log)"
                )
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        return code

    def _gone(self) -> bool:
        """Whether the worker has exited, for when its template cannot say (orphans are reaped by init)."""
        if self._pidfd is not None:
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)
            return bool(poller.poll(0))
        return not os.path.exists(f"/proc/{self.pid}")


# -- the runner's templates -----------------------------------------------------------------------

# (interpreter, its environment less the per-worker variables) -> its template; None: given up, spawn
_templates: dict[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], Template | None] = {}
_registry_lock = threading.Lock()
_at_fork_registered = False


def fork_worker(
    config: WorkerConfig, env: Mapping[str, str], cwd: str, fds: tuple[int, int, int, int]
) -> ForkedProcess | None:
    """Fork the worker with environment ``env`` from its interpreter's template, or None: spawn it.

    ``fds``: the worker's task read end, event write end, stdout and stderr (the caller closes its copies)."""
    identity = config.identity
    python = identity.python or sys.executable
    if not os.path.isdir(cwd) or not os.path.exists(python):
        return None  # spawning reports it, as without templates
    shared = {name: value for name, value in env.items() if not per_worker(name)}
    template = _template(python, shared, wanted_preloads(config))
    if template is None:
        return None
    script_dir = os.path.dirname(identity.script) if identity.script else None
    paths = list(dict.fromkeys(p for p in (cwd, identity.code_dir, script_dir) if p))
    mine: dict[str, str | None] = {name: value for name, value in env.items() if per_worker(name)}
    try:
        answer = template.fork(cwd, mine, paths, fds)
    except TemplateGone as exc:
        _retire(template, str(exc))
        return None
    if isinstance(answer, str):
        log.info("Worker spawned instead of forked from the template of %s: %s", python, answer)
        return None
    return ForkedProcess(template, answer)


_HINTS = {  # a library is worth importing before the fork for workers whose code names one of these
    "numpy": ("numpy", "pandas", "sklearn", "joblib", "pickle", "torch", "mlflow"),
    "pandas": ("pandas",),
    "pyarrow": ("pyarrow", "parquet"),
    "sklearn": ("sklearn", "joblib", "pickle"),
    "mlflow": ("mlflow",),
}
_CODE_SCAN_BYTES = 2_000_000  # of the code snapshot's .py files read for hints, at most


def wanted_preloads(config: WorkerConfig) -> tuple[str, ...]:
    """The heavy libraries a template imports for these workers: those their code names (the script and
    the .py files beside it, read as text, never imported), and what thresher's own reading needs (pandas
    and pyarrow for tables; everything for the built-in MLflow driver). Importing one a script never uses
    (mlflow alone takes about 1 s) would make a cold template slower than spawning the workers."""
    identity = config.identity
    if identity.script is None:
        return wire.PRELOADED
    text = _code_text(identity.script, identity.code_dir)
    wanted = {name for name, hints in _HINTS.items() if any(hint in text for hint in hints)}
    if identity.input_kind is protocol.InputKind.TABULAR:
        wanted |= {"numpy", "pandas", "pyarrow"}
    return tuple(name for name in wire.PRELOADED if name in wanted)


def _code_text(script: str, code_dir: str | None) -> str:
    paths = [script]
    if code_dir and os.path.isdir(code_dir):
        for folder, _, files in os.walk(code_dir):
            paths += [os.path.join(folder, name) for name in sorted(files) if name.endswith(".py")]
    chunks, left = [], _CODE_SCAN_BYTES
    for path in dict.fromkeys(paths):
        if left <= 0:
            break
        try:
            with open(path, "rb") as handle:
                chunk = handle.read(left).decode("utf-8", "replace")
        except OSError:
            continue
        chunks.append(chunk)
        left -= len(chunk)
    return "\n".join(chunks)


def _template(python: str, env: dict[str, str], preload: tuple[str, ...] = wire.PRELOADED) -> Template | None:
    """The live template of ``python`` with ``env`` and ``preload``, started on first need; None if given up on."""
    global _at_fork_registered
    key = (python, tuple(sorted(env.items())), preload)
    with _registry_lock:
        if key in _templates:
            return _templates[key]
        if not _at_fork_registered:
            os.register_at_fork(after_in_child=_forget_in_child)
            _at_fork_registered = True
        _make_room()
        try:
            template = Template(python, env, preload)
        except OSError as exc:
            log.warning("Worker template for %s could not start (%s); its workers are spawned instead", python, exc)
            _templates[key] = None
            return None
        try:
            hello = template.wait_ready(START_TIMEOUT)
        except TemplateGone as exc:
            log.warning("Worker template for %s failed to start (%s); its workers are spawned instead", python, exc)
            template.close()
            _templates[key] = None
            return None
        for library, error in hello["skipped"].items():
            log.info(
                "Worker template for %s could not import %s (%s); workers import it themselves", python, library, error
            )
        _templates[key] = template
        return template


def _make_room() -> None:
    """Close the least recently used template without live workers when MAX_TEMPLATES are running."""
    live = [(template.last_used, key) for key, template in _templates.items() if template is not None]
    if len(live) < MAX_TEMPLATES:
        return
    for _, key in sorted(live):
        template = _templates[key]
        if template is not None and not template.children:
            del _templates[key]
            template.close()
            return


def _retire(template: Template, why: str) -> None:
    """Fork no more workers from ``template``; close it once no forked worker's exit is still to be read."""
    with _registry_lock:
        for key, known in list(_templates.items()):
            if known is template:
                _templates[key] = None
                log.warning(
                    "Worker template for %s is not used any more (%s); its workers are spawned instead",
                    template.python,
                    why,
                )
        template.retired = True
    if template.dead or not template.children:
        template.close()


def _forget_in_child() -> None:
    """In a child forked from the runner: the templates' sockets are the runner's, not this process's."""
    global _registry_lock
    _registry_lock = threading.Lock()
    for template in _templates.values():
        if template is not None:
            with contextlib.suppress(OSError):
                template._sock.close()
    _templates.clear()
