"""Running a ``command`` step: its command line, with inputs as local paths and outputs as writable
folders, in the step's environment, with Azure's log layout (``user_logs/std_log.txt``).

Inputs in object storage are downloaded into the workspace's input cache first (``ro_mount`` and
``download`` alike; ``direct`` passes the URI); outputs are written locally and uploaded after the
command succeeded when their destination is in object storage (``upload`` and ``rw_mount`` alike).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from thresher.pipelines.model import Step
from thresher.pipelines.transfer import fetch
from thresher.storage.remote import RemoteURL

_PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)
LOG_NAME = "user_logs/std_log.txt"
PROCESS_FILE = "command.process"  # "<pid> <start time>" of a running command's process group leader
_TAIL_BYTES = 4096


@dataclass(frozen=True)
class CommandResult:
    """How the command ended: its exit code and, when it failed, the last lines it wrote."""

    returncode: int
    tail: str
    canceled: bool = False

    def headline(self, step: str, log: Path) -> str:
        """One line saying why the step failed, with the line of its output that says it best."""
        last = _last_error_line(self.tail)
        said = f": {last}" if last else ""
        return f"Step '{step}' failed: its command exited with code {self.returncode}{said}. Its output: {log}"


def render(command: str, inputs: Mapping[str, str | None], outputs: Mapping[str, str]) -> str:
    """The command line with placeholders replaced; a ``$[[...]]`` part is kept only when every input it
    uses is given (Azure's optional inputs)."""

    def optional(match: re.Match[str]) -> str:
        part = match.group(1)
        used = [name for group, name in _PLACEHOLDER.findall(part) if group == "inputs"]
        return part if all(inputs.get(name) is not None for name in used) else ""

    def value(match: re.Match[str]) -> str:
        group, name = match.group(1), match.group(2)
        found = inputs.get(name) if group == "inputs" else outputs.get(name)
        return "" if found is None else str(found)

    return _PLACEHOLDER.sub(value, _OPTIONAL.sub(optional, command))


def local_input(path: str, mode: str | None, cache: Path, resolve: Callable[[str], RemoteURL] | None) -> str:
    """A data input as the command sees it: the local path; one in object storage fetched into ``cache``
    (once per URI), or its URI for ``direct``."""
    if "://" not in path or mode == "direct":
        return path
    if resolve is None:
        raise RuntimeError(f"input {path} is in object storage, but this runner cannot resolve datastores")
    return str(fetch(resolve(path), cache))


def run_command(
    step: Step,
    command: str,
    folder: Path,
    *,
    python: str | None,
    environment: Mapping[str, str],
    cancel: threading.Event,
) -> CommandResult:
    """Run ``command`` in a copy of the step's code, its output in ``folder/user_logs/std_log.txt``."""
    workdir = folder / "code"
    shutil.rmtree(workdir, ignore_errors=True)
    if step.code:
        source = Path(step.code)
        if source.is_dir():
            shutil.copytree(source, workdir, symlinks=True)
        else:
            workdir.mkdir(parents=True)
            shutil.copy2(source, workdir / source.name)
    else:
        workdir.mkdir(parents=True)
    log = folder / LOG_NAME
    log.parent.mkdir(parents=True, exist_ok=True)
    interpreter_dir = str(Path(python or sys.executable).parent)
    inherited = {k: v for k, v in os.environ.items() if not (python and k == "PYTHONPATH")}  # thresher's own
    env = {**inherited, **environment, "PATH": interpreter_dir + os.pathsep + os.environ.get("PATH", "")}
    end_leftover(folder)  # an attempt of a runner that was killed may still run: it must not write with this one
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["/bin/bash", "-c", command],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (folder / PROCESS_FILE).write_text(f"{process.pid} {_started(process.pid)}")
        try:
            while True:
                try:
                    returncode = process.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    if cancel.is_set():
                        _kill(process)
                        process.wait()
                        return CommandResult(-signal.SIGTERM, _tail(log), canceled=True)
        except BaseException:
            _kill(process)  # the runner is stopping: no step process outlives it
            raise
    (folder / PROCESS_FILE).unlink(missing_ok=True)
    return CommandResult(returncode, _tail(log) if returncode else "")


def end_leftover(folder: Path) -> bool:
    """Kill what is left of a command a killed runner started in ``folder`` (its process group, found by the
    leader's pid and start time, so that a reused pid is never taken for it); whether anything was left."""
    marker = folder / PROCESS_FILE
    try:
        pid_text, started = marker.read_text().split()
        group = int(pid_text)
    except (OSError, ValueError):
        return False
    left = [pid for pid in _processes_of_group(group) if (_started(pid) or 0) >= int(started or 0)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline and any(_started(pid) is not None for pid in left):
        time.sleep(0.02)
    marker.unlink(missing_ok=True)
    return bool(left)


def _started(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == b"Z" else int(fields[19])


def _processes_of_group(group: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != b"Z":
            found.append(int(entry))
    return found


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(log: Path) -> str:
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - _TAIL_BYTES))
        return handle.read().decode("utf-8", errors="replace")


def _last_error_line(tail: str) -> str:
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", line):
            return line[:300]
    return lines[-1][:300] if lines else ""
