"""``python -m thresher.runtime.template``: a worker template, forked into fresh worker processes.

A worker spends most of its start importing its environment's heavy libraries (pandas, scikit-learn,
MLflow: 0.9-1.7 s) before ``init()`` runs. A template pays that once per interpreter: it imports the
worker runtime and those of ``PRELOADED`` that are installed (an import that fails is skipped and
reported, never fatal), then waits on a Unix socket that its runner created. For each request it
forks a child that becomes a worker exactly as ``python -m thresher.runtime.worker`` would have
started (the executor side, and the rule for when forking is correct: ``thresher.executors.templates``).
The user's script is never imported here, and nothing runs OpenMP or BLAS work before a fork (imports
only). The template starts with the worker's thread variables (``OMP_NUM_THREADS`` & co.) in its
environment, so libraries size their pools as a spawned worker's would.

The socket is a ``SOCK_SEQPACKET`` pair, one JSON message per packet::

    runner -> template  ForkOp     {"op": "fork", "cwd": dir, "env": {name: value | null}, "paths": [dir]}
                                   with SCM_RIGHTS fds: task read end, event write end, stdout, stderr
                        ReapOp     {"op": "reap", "pid": n}         (the runner has read its exit)
    template -> runner  Hello      {"event": "hello", "pid": n, "preloaded": [...], "skipped": {...},
                                    "threads": its threads after the imports}
                        Forked     {"event": "forked", "pid": n}    or  Refused {"event": "refused", "reason": s}
                        Exited     {"event": "exited", "pid": n, "code": c}   (c < 0: killed by signal -c)

``env`` holds the per-worker variables (a null value unsets one); the rest of the child's environment is
the template's, which the runner started with exactly the worker's other variables. ``paths`` are the folders the
worker puts before site-packages (its cwd, code and script folders): a template refuses to fork when one
of them holds a module or package named like one it has imported, which a spawned worker would import
from there instead.

A child keeps its exit status as a zombie until the runner has read it and sent ``reap``, as a
``subprocess.Popen`` child would, so that its pid (and process group) cannot be reused while the runner
may still signal it. The template exits when its socket reaches end of file (the runner is gone; a
``PR_SET_PDEATHSIG`` SIGKILL is the backstop where the runner started it from its main thread), leaving
its workers to end as spawned workers do, on end of file of their task pipe. Standard library only,
valid on Python 3.8.
"""

from __future__ import annotations

import array
import contextlib
import importlib
import importlib.machinery
import importlib.util
import io
import json
import os
import random
import runpy
import selectors
import signal
import socket
import sys
import threading
import traceback
import warnings
from typing import Any, Literal, TypedDict, Union, cast

from thresher.runtime import protocol

# The heavy libraries of model environments, imported (in this order) where installed.
PRELOADED = ("numpy", "pandas", "pyarrow", "sklearn", "mlflow")
# A forked child that could not become a worker (it never reached the worker runtime) exits with this.
SETUP_FAILED_EXIT_CODE = 86
FDS_PER_FORK = 4  # task read end, event write end, stdout, stderr
MAX_MESSAGE = 1 << 20
WORKER_MODULE = "thresher.runtime.worker"
_CHECK_SECONDS = 1.0  # children are also looked at this often, in case a SIGCHLD was coalesced away


class ForkOp(TypedDict):
    op: Literal["fork"]
    cwd: str
    env: dict[str, str | None]
    paths: list[str]


class ReapOp(TypedDict):
    op: Literal["reap"]
    pid: int


class Hello(TypedDict):
    event: Literal["hello"]
    pid: int
    preloaded: list[str]
    skipped: dict[str, str]  # library -> why its import failed
    threads: int


class Forked(TypedDict):
    event: Literal["forked"]
    pid: int


class Refused(TypedDict):
    event: Literal["refused"]
    reason: str


class Exited(TypedDict):
    event: Literal["exited"]
    pid: int
    code: int


Message = Union[Hello, Forked, Refused, Exited]


def encode(message: ForkOp | ReapOp | Message) -> bytes:
    """One message as one packet."""
    return json.dumps(message, separators=(",", ":")).encode("utf-8", "surrogateescape")


def decode(packet: bytes) -> Any:
    """A packet back to its message (a dict)."""
    return json.loads(packet.decode("utf-8", "surrogateescape"))


class _Template:
    """The template's state: its socket, its children, and what it had at start (to hand children)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.startup_path0 = sys.path[0] if sys.path else ""
        self.startup_signals = {sig: signal.getsignal(sig) for sig in signal.valid_signals()}
        self.children: dict[int, bool] = {}  # pid -> its exit was reported
        self.to_reap: set[int] = set()  # pids the runner asked to reap before they had exited
        self.skipped: dict[str, str] = {}
        self.preloaded: list[str] = []
        self.selector: selectors.BaseSelector | None = None

    # -- start --------------------------------------------------------------------------------

    def preload(self, wanted: tuple[str, ...] = PRELOADED) -> None:
        """Import the worker runtime and those of ``wanted`` that are installed; a failure is noted, not fatal."""
        importlib.import_module(WORKER_MODULE)
        # Its dependencies stay loaded; the module itself runs afresh as __main__ in each child, as with ``-m``.
        del sys.modules[WORKER_MODULE]
        package, _, attribute = WORKER_MODULE.rpartition(".")
        with contextlib.suppress(AttributeError):
            delattr(sys.modules[package], attribute)
        for name in PRELOADED:
            if name not in wanted:
                continue
            try:
                if importlib.util.find_spec(name) is None:
                    continue
            except (ImportError, ValueError):
                continue
            before = set(sys.modules)
            try:
                importlib.import_module(name)
            except BaseException as exc:  # whatever a library raises, the template goes on
                self.skipped[name] = f"{type(exc).__name__}: {exc}"
                # Its half-imported modules would not be what a worker importing it afresh gets.
                for module in set(sys.modules) - before:
                    if module == name or module.startswith(name + "."):
                        sys.modules.pop(module, None)
                continue
            self.preloaded.append(name)

    def hello(self) -> Hello:
        return {
            "event": "hello",
            "pid": os.getpid(),
            "preloaded": self.preloaded,
            "skipped": self.skipped,
            "threads": _native_threads(),
        }

    # -- the loop -----------------------------------------------------------------------------

    def serve(self) -> tuple[ForkOp, list[int]] | None:
        """Answer requests until the runner is gone (None); in a forked child, its request and fds."""
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        signal.signal(signal.SIGCHLD, _ignore)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sock, selectors.EVENT_READ, "socket")
        self.selector.register(read_end, selectors.EVENT_READ, "wake")
        self.send(self.hello())
        while True:
            for key, _ in self.selector.select(_CHECK_SECONDS):
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(read_end, 4096)
                    continue
                try:
                    packet, ancillary, flags, _ = self.sock.recvmsg(MAX_MESSAGE, socket.CMSG_LEN(FDS_PER_FORK * 4))
                except (ConnectionError, OSError):
                    packet, ancillary, flags = b"", [], 0
                fds = _received_fds(ancillary)
                if not packet:
                    for fd in fds:
                        os.close(fd)
                    return None  # end of file: the runner is gone
                child = self.handle(decode(packet), fds, flags)
                if child is not None:
                    return child
            self.check_children()

    def handle(self, message: dict[str, Any], fds: list[int], flags: int) -> tuple[ForkOp, list[int]] | None:
        """Act on one request; in the forked child, return it (with its fds) to become the worker."""
        op = message.get("op")
        refusal = ""
        if op == "reap":
            self.reap(int(message["pid"]))
        elif op != "fork" or len(fds) != FDS_PER_FORK or flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
            refusal = f"a malformed request ({op!r} with {len(fds)} fds)"
        else:
            request = cast(ForkOp, message)
            refusal = self.shadowed(request["paths"])
            if not refusal:
                sys.stdout.flush()
                sys.stderr.flush()
                try:
                    with warnings.catch_warnings():
                        # Python 3.12+ warns about forking a process with threads: the only ones here are the
                        # libraries' own pools (jemalloc, OpenBLAS), which handle fork with pthread_atfork.
                        warnings.simplefilter("ignore", DeprecationWarning)
                        pid = os.fork()
                except OSError as exc:
                    refusal = f"fork() failed: {exc}"
                else:
                    if pid == 0:
                        return request, fds
                    self.children[pid] = False
                    self.send({"event": "forked", "pid": pid})
        for fd in fds:
            os.close(fd)
        if refusal:
            self.send({"event": "refused", "reason": refusal})
        return None

    def shadowed(self, paths: list[str]) -> str:
        """Why forking is wrong for a worker with ``paths`` first on sys.path, or "" when it is not."""
        # Every loaded module counts, those a fresh interpreter has too: refusing is always safe (spawning).
        loaded = {name.partition(".")[0] for name in sys.modules}
        suffixes = importlib.machinery.all_suffixes()
        for folder in paths:
            try:
                entries = os.listdir(folder)
            except OSError:
                continue
            for entry in entries:
                for suffix in ["", *suffixes]:
                    if not entry.endswith(suffix):
                        continue
                    name = entry[: len(entry) - len(suffix)] if suffix else entry
                    if name not in loaded:
                        continue
                    if suffix or any(os.path.exists(os.path.join(folder, entry, "__init__" + s)) for s in suffixes):
                        return f"{os.path.join(folder, entry)} would be imported as {name}, which the template loaded"
        return ""

    def check_children(self) -> None:
        """Report each child that has exited, leaving it a zombie until the runner asks to reap it."""
        for pid, reported in list(self.children.items()):
            if reported:
                continue
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
                self.children.pop(pid)
            if info is None:
                continue
            code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            self.children[pid] = True
            self.send({"event": "exited", "pid": pid, "code": code})
            if pid in self.to_reap:
                self.reap(pid)

    def reap(self, pid: int) -> None:
        """Reap a child whose exit the runner has read (or will have: reaped once it exits)."""
        if pid not in self.children:
            return
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done == pid:
            self.children.pop(pid, None)
            self.to_reap.discard(pid)
        else:
            self.to_reap.add(pid)

    def send(self, message: Message) -> None:
        with contextlib.suppress(OSError):  # the runner is gone: the loop sees end of file next
            self.sock.send(encode(message))

    # -- in the child -------------------------------------------------------------------------

    def become_worker(self, request: ForkOp, fds: list[int]) -> None:
        """In the forked child: the process a spawned worker would be, up to running the worker's main."""
        task_read, event_write, stdout, stderr = fds
        os.setsid()  # its own session and process group, which the runner kills as a whole
        signal.set_wakeup_fd(-1)
        for sig, handler in self.startup_signals.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                with contextlib.suppress(OSError, ValueError):
                    signal.signal(sig, handler)
        if self.selector is not None:
            self.selector.close()
        self.sock.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        _close_all_but({0, 1, 2, task_read, event_write})
        _new_stdio()
        os.chdir(request["cwd"])
        for name, value in request["env"].items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.environ[protocol.FDS_ENV] = f"{task_read},{event_write}"
        if sys.path and sys.path[0] == self.startup_path0:
            sys.path[0] = os.getcwd()  # what ``python -m`` puts first
        sys.argv = [sys.argv[0]]
        importlib.invalidate_caches()
        random.seed()
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:
            numpy_random.seed()


def _new_stdio() -> None:
    """sys.stdin, stdout and stderr as a fresh interpreter makes them for its fds 0-2 (now /dev/null and
    the worker's pipes): the template's were made for its own fds (a tty is line-buffered, /dev/null seekable)."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        if not isinstance(old, io.TextIOWrapper):
            continue
        reading = fd == 0
        raw = io.FileIO(fd, "rb" if reading else "wb", closefd=False)
        raw.name = f"<{name}>"
        buffered = not old.write_through
        buffer: Any = raw
        if reading:
            buffer = io.BufferedReader(raw)
        elif buffered:
            buffer = io.BufferedWriter(raw)
        # As CPython's create_stdio: line-buffered on a tty, and stderr always from Python 3.9 on.
        line_buffering = buffered and not reading and (os.isatty(fd) or (fd == 2 and sys.version_info >= (3, 9)))
        stream = io.TextIOWrapper(
            buffer,
            encoding=old.encoding,
            errors=old.errors,
            newline="\n",
            line_buffering=line_buffering,
            write_through=not buffered and not reading,
        )
        stream.mode = "r" if reading else "w"  # type: ignore[misc]
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _ignore(signum: int, frame: Any) -> None:
    """SIGCHLD's handler: only there so that the wake-up fd is written."""


def _received_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return list(fds)


def _close_all_but(keep: set[int]) -> None:
    """Close every fd not in ``keep`` (listed from /proc where it exists: an fd limit can be huge)."""
    try:
        open_fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 1024))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _native_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when the thread that started it ends (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the prctl
        os._exit(0)


def main() -> int:
    """``python -m thresher.runtime.template <socket fd> <runner pid> <1: die with the runner's thread> [lib,...]``
    (the libraries to import before forking; all of ``PRELOADED`` when not given)."""
    fd, parent, pdeathsig = (int(arg) for arg in sys.argv[1:4])
    wanted = tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else PRELOADED
    sys.argv = sys.argv[:1]
    if pdeathsig:
        _die_with_parent(parent)
    template = _Template(socket.socket(fileno=fd))
    template.preload(wanted)
    child = template.serve()
    if child is None:
        return 0
    request, fds = child
    try:
        template.become_worker(request, fds)
    except BaseException:  # say why on the worker's stderr, with an exit code the runner knows
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(SETUP_FAILED_EXIT_CODE)
    # As ``python -m thresher.runtime.worker``: the module runs as __main__ and exits through sys.exit.
    runpy.run_module(WORKER_MODULE, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
