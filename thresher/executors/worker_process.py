"""One local worker process: how it is started, spoken to, read from, and reaped.

``spawn_worker`` starts ``python -m thresher.runtime.worker`` in a new session (so the whole process
group, children included, can be killed), with stdin from /dev/null, stdout and stderr on pipes that
the executor copies into ``logs/user/{stdout,stderr}/<node>/<process>...txt`` with a size cap
(``worker_logs``; C-level output and crashes included), and two more pipes passed by fd number
(``THRESHER_WORKER_FDS``) for tasks and events. When the runner dies, so do the output pipes, and a
worker that writes to them then dies too instead of running on alone.

Where it is correct, the same process is forked instead from a template that has already imported
the environment's heavy libraries (``thresher.executors.templates``, which says when); the worker
then is the template's child, and ``WorkerProcess.popen`` a ``ForkedProcess`` rather than a
``subprocess.Popen``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Protocol

from thresher.executors import templates
from thresher.executors.worker_logs import DEFAULT_MAX_BYTES, CappedLog
from thresher.runtime import protocol
from thresher.runtime.protocol import BindOp, ErrorInfo, ReleaseOp, RunOp, ShutdownOp, WorkerConfig

_STDERR_TAIL_BYTES = 3000


class ProcessHandle(Protocol):
    """What ``WorkerProcess`` uses of its process: a ``subprocess.Popen`` or a ``templates.ForkedProcess``.

    ``returncode`` is None until ``poll`` or ``wait`` has collected the exit; until then the pid (and its
    process group) cannot be reused, so signalling them is safe."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass(eq=False)
class WorkerProcess:
    """A worker process and the parent's ends of its pipes. ``state``: starting, idle, busy, exiting."""

    name: str
    slot: str  # ``node-0/1``: the place in the pool it fills (a replacement takes the same slot)
    popen: ProcessHandle  # spawned (subprocess.Popen) or forked from a template (templates.ForkedProcess)
    tasks_fd: int  # parent -> worker (write end)
    events_fd: int  # worker -> parent (read end, non-blocking); -1 once closed
    exit_fd: int | None  # a pidfd, readable once the process exits (Linux); None elsewhere
    stderr_path: str
    output: dict[int, CappedLog]  # the read ends of stdout and stderr (non-blocking) -> their log files
    state: str = "starting"
    task: str | None = None
    kill_reason: str | None = None
    init_failed: bool = False
    eof_at: float | None = None  # when the event pipe reached end of file
    finished: bool = False
    _buffer: bytes = b""

    def send(self, message: RunOp | ShutdownOp | ReleaseOp | BindOp) -> None:
        """Write one message (blocks only while a large task fills the pipe, which the worker drains)."""
        data = memoryview(protocol.encode(message))
        while data:
            data = data[os.write(self.tasks_fd, data) :]

    def read_lines(self) -> list[bytes]:
        """The complete lines available on the event pipe now; sets ``eof_at`` at end of file."""
        chunks = [self._buffer]
        while self.eof_at is None:
            try:
                chunk = os.read(self.events_fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                self.eof_at = time.monotonic()
            chunks.append(chunk)
        *lines, self._buffer = b"".join(chunks).split(b"\n")
        return [line for line in lines if line.strip()]

    def pump(self, fd: int) -> bool:
        """Copy what the worker wrote on output ``fd`` into its log; True at end of file (then closed)."""
        log = self.output.get(fd)
        if log is None:
            return True
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return False
            except OSError:
                chunk = b""
            if not chunk:
                os.close(fd)
                log.close()
                del self.output[fd]
                return True
            log.write(chunk)

    def close_logs(self) -> None:
        """Close the output logs (a released worker's job ended); its output is read again after ``open_logs``."""
        for log in self.output.values():
            log.close()

    def open_logs(self, logs_dir: str, max_bytes: int) -> None:
        """Copy the worker's output into the log files of the job in ``logs_dir`` from now on."""
        for fd, log in list(self.output.items()):
            kind = "stdout" if log.path.endswith(".stdout.txt") else "stderr"
            path = protocol.worker_log(logs_dir, kind, self.name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            log.close()
            self.output[fd] = CappedLog(path, max_bytes)
            if kind == "stderr":
                self.stderr_path = path

    def close_events(self) -> None:
        """Close the parent's end of the event pipe."""
        if self.events_fd >= 0:
            os.close(self.events_fd)
            self.events_fd = -1

    def signal_group(self, sig: int) -> None:
        """Signal the worker's process group (it leads its own session), or the worker alone."""
        if self.popen.returncode is not None:
            return  # reaped: its pid may belong to someone else now
        try:
            os.killpg(self.popen.pid, sig)
        except OSError:
            with contextlib.suppress(OSError):
                os.kill(self.popen.pid, sig)

    def reap(self) -> int:
        """Kill what is left of the process group, wait for the worker, close every fd; its exit code."""
        self.signal_group(signal.SIGKILL)  # its orphaned children; the worker itself is a zombie or dying
        code = self.popen.wait()
        for output_fd in list(self.output):  # its last words (a traceback, faulthandler's dump) go to the logs
            self.pump(output_fd)
        for output_fd, log in self.output.items():  # held open by a child that is still dying: stop there
            os.close(output_fd)
            log.close()
        self.output.clear()
        self.close_events()
        for fd in (self.tasks_fd, self.exit_fd):
            if fd is not None:
                os.close(fd)
        self.finished = True
        return code

    def crash_error(self, cause: str, times: int) -> ErrorInfo:
        """The error of a slot whose workers died ``times`` times in a row before ``init()`` finished (the
        last one of ``cause``), with the end of its stderr."""
        try:
            with open(self.stderr_path, "rb") as stderr:
                stderr.seek(max(0, os.path.getsize(self.stderr_path) - _STDERR_TAIL_BYTES))
                tail = stderr.read().decode("utf-8", "replace")
        except OSError:
            tail = ""
        message = (
            f"worker {self.name} {cause} while loading the scoring script or running init(); {times} workers "
            f"of its slot died so in a row; see {self.stderr_path}"
        )
        return {"type": "WorkerLost", "message": message, "traceback": tail, "log": self.stderr_path}


def exit_reason(process: WorkerProcess, code: int) -> str:
    """Why a worker went away, readable after its name: "killed by signal 9 (SIGKILL), ...; see <log>"."""
    if process.kill_reason is not None:
        return process.kill_reason
    return f"{exit_cause(code)}; see {process.stderr_path}"


def exit_cause(code: int) -> str:
    """What an exit code says: "killed by signal 9 (SIGKILL), possibly out of memory ..." or "exited with code 3"."""
    if code == templates.LOST_EXIT_CODE:
        return "exited, with an exit status that was lost: the worker template it was forked from had died"
    if code < 0:
        try:
            signame = signal.Signals(-code).name
        except ValueError:
            signame = "unknown signal"
        reason = f"killed by signal {-code} ({signame})"
        if -code == signal.SIGKILL:
            reason += ", possibly out of memory (the kernel's OOM killer sends SIGKILL)"
    else:
        reason = f"exited with code {code}"
    return reason


class _Pipes:
    """A worker's four pipes: tasks (to it), events (from it), its stdout and its stderr."""

    def __init__(self) -> None:
        self.task_read, self.task_write = os.pipe()
        self.event_read, self.event_write = os.pipe()
        self.out_read, self.out_write = os.pipe()
        self.err_read, self.err_write = os.pipe()

    @property
    def child_ends(self) -> tuple[int, int, int, int]:
        return self.task_read, self.event_write, self.out_write, self.err_write

    @property
    def parent_ends(self) -> tuple[int, int, int, int]:
        return self.task_write, self.event_read, self.out_read, self.err_read

    def close_child_ends(self) -> None:
        for fd in self.child_ends:
            os.close(fd)

    def close_parent_ends(self) -> None:
        for fd in self.parent_ends:
            os.close(fd)


def spawn_worker(
    config: WorkerConfig,
    name: str,
    slot: str,
    *,
    log_max_bytes: int = DEFAULT_MAX_BYTES,
    template: bool = True,
) -> WorkerProcess:
    """Start the worker process ``name`` (``node-0/process000``) in ``slot`` (``node-0/0``) for ``config``;
    each of its output logs is capped at ``log_max_bytes`` (plus one rotated file). ``template``: fork it
    from its interpreter's template where that is correct (see ``thresher.executors.templates``)."""
    logs = config.binding.logs_dir
    stdout_path, stderr_path = (protocol.worker_log(logs, kind, name) for kind in ("stdout", "stderr"))
    os.makedirs(os.path.dirname(stdout_path), exist_ok=True)
    os.makedirs(os.path.dirname(stderr_path), exist_ok=True)
    env = protocol.worker_environ(config, name, os.environ)
    cwd = config.identity.code_dir or config.binding.output_dir
    popen: ProcessHandle | None = None
    if template:
        pipes = _Pipes()
        try:
            popen = templates.fork_worker(config, env, cwd, pipes.child_ends)
        except BaseException:
            pipes.close_parent_ends()
            raise
        finally:
            pipes.close_child_ends()
        if popen is None:  # pipes a template has seen may be held by a child it forked before it died
            pipes.close_parent_ends()
    if popen is None:
        pipes = _Pipes()
        env[protocol.FDS_ENV] = f"{pipes.task_read},{pipes.event_write}"
        try:
            popen = subprocess.Popen(
                [config.identity.python or sys.executable, "-m", "thresher.runtime.worker"],
                stdin=subprocess.DEVNULL,
                stdout=pipes.out_write,
                stderr=pipes.err_write,
                cwd=cwd,
                env=env,
                pass_fds=(pipes.task_read, pipes.event_write),
                start_new_session=True,
            )
        except BaseException:
            pipes.close_parent_ends()
            raise
        finally:
            pipes.close_child_ends()
    task_write, event_read, out_read, err_read = pipes.parent_ends
    os.set_blocking(event_read, False)
    output: dict[int, CappedLog] = {}
    for fd, path in ((out_read, stdout_path), (err_read, stderr_path)):
        os.set_blocking(fd, False)
        output[fd] = CappedLog(path, log_max_bytes)
    exit_fd: int | None = None
    if hasattr(os, "pidfd_open"):
        try:
            exit_fd = os.pidfd_open(popen.pid)
        except OSError:  # kernels before 5.3: fall back to polling
            exit_fd = None
    return WorkerProcess(name, slot, popen, task_write, event_read, exit_fd, stderr_path, output)
