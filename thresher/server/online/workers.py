"""One online worker process seen from the front: started, waited for, spoken to, killed.

A worker is ``python -m thresher.runtime.online_worker`` in the deployment's interpreter, in its own
session (so a hung one is killed with whatever it started), with one end of a socket pair; its
output goes to its log file under ``online/logs/<endpoint>/<deployment>/``. ``start`` returns once
it said ``ready`` (``init()`` and a warm-up prediction done) or raises ``WorkerStartError`` with the
script's own error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.runtime import online_protocol
from thresher.runtime.online_protocol import OnlineConfig, OnlineReply, OnlineRequest
from thresher.runtime.protocol import THREAD_VARIABLES, package_root, shims_dir

WORKER_MODULE = "thresher.runtime.online_worker"


class WorkerStartError(Exception):
    """A worker did not become ready: its ``init()`` or warm-up failed, it exited, or it took too long."""

    def __init__(self, message: str, log: str | None = None) -> None:
        super().__init__(message)
        self.log = log


class WorkerGone(Exception):
    """The worker's process exited (or its socket closed) while a request was on it."""


@dataclass(frozen=True)
class WorkerLaunch:
    """How to start the workers of one deployment revision."""

    python: str
    config: OnlineConfig
    cwd: str
    environment: dict[str, str]  # the deployment's environment_variables and Azure's own
    log_dir: Path
    threads: int
    start_timeout: float


@dataclass(eq=False)
class OnlineWorker:
    """A started worker and the front's end of its socket."""

    name: str
    process: subprocess.Popen[bytes]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    log: str
    warmup: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    matrices: bool = False  # it takes bodies read ahead as matrices (its ready event said so)

    async def score(self, requests: list[tuple[OnlineRequest, bytes]]) -> list[tuple[OnlineReply, bytes]]:
        """Send requests (one, or a batch) and wait for their replies, in order."""
        entries = []
        for request, body in requests:
            entries.append({**request, "length": len(body)})
        await self._send({"op": "score", "requests": entries}, [body for _, body in requests])
        header, bodies = await self._receive()
        replies = header.get("replies") or []
        if len(replies) != len(requests):
            raise WorkerGone(f"worker {self.name} answered {len(replies)} replies for {len(requests)} requests")
        return list(zip(replies, bodies, strict=True))

    async def document(self, op: dict[str, Any]) -> dict[str, Any]:
        """A swagger or metadata document from the worker."""
        await self._send(op, [])
        header, _ = await self._receive()
        return dict(header.get("document") or {})

    async def _send(self, header: dict[str, Any], bodies: list[bytes]) -> None:
        try:
            self.writer.write(online_protocol.encode_frame(header, bodies))
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise WorkerGone(f"worker {self.name} is gone ({exc})") from exc

    async def _receive(self) -> tuple[dict[str, Any], list[bytes]]:
        try:
            prefix = await self.reader.readexactly(4)
            payload = await self.reader.readexactly(online_protocol.frame_length(prefix))
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            raise WorkerGone(f"worker {self.name} exited{_exit_note(self.process)}") from exc
        return online_protocol.decode_payload(payload)

    def kill(self) -> None:
        """Kill the worker and what it started, at once (a hung ``run()``, or the front shutting down)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.writer.close()

    async def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to exit after what it is doing; kill it if it does not within ``timeout``."""
        with contextlib.suppress(WorkerGone):
            await self._send({"op": "shutdown"}, [])
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)
        except asyncio.TimeoutError:
            self.kill()
        self.writer.close()
        await asyncio.to_thread(self.process.wait)

    @property
    def pid(self) -> int:
        return self.process.pid


def _exit_note(process: subprocess.Popen[bytes]) -> str:
    code = process.poll()
    if code is None:
        return ""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f" (killed by {signal.Signals(-code).name})"
    return f" (exit code {code})"


def worker_environment(launch: WorkerLaunch, base: dict[str, str], fd: int) -> dict[str, str]:
    """The worker's variables: ``base``, the deployment's, Azure's, its configuration and a PYTHONPATH that
    puts the shims (``inference_schema``, ``azureml.contrib.services``) first."""
    env = {**base, **launch.environment}
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(launch.threads))
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "true")
    env[online_protocol.CONFIG_ENV] = json.dumps(launch.config)
    env[online_protocol.FD_ENV] = str(fd)
    paths = [shims_dir(), package_root()]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


async def start_worker(launch: WorkerLaunch, name: str, base: dict[str, str]) -> OnlineWorker:
    """Start one worker and wait until it is ready (``init()`` and warm-up done)."""
    launch.log_dir.mkdir(parents=True, exist_ok=True)
    log = str(launch.log_dir / f"{name.replace('/', '-')}.log")
    config: OnlineConfig = {**launch.config, "worker": name}
    launch = WorkerLaunch(**{**launch.__dict__, "config": config})
    front, back = socket.socketpair()
    try:
        with open(log, "ab") as output:
            output.write(f"==== {time.strftime('%Y-%m-%d %H:%M:%S')} worker {name} starting\n".encode())
            output.flush()
            process = subprocess.Popen(
                [launch.python, "-m", WORKER_MODULE],
                cwd=launch.cwd,
                env=worker_environment(launch, base, back.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(back.fileno(),),
                start_new_session=True,
            )
    except OSError as exc:
        front.close()
        raise WorkerStartError(f"could not start {launch.python}: {exc}", log) from exc
    finally:
        back.close()
    reader, writer = await asyncio.open_unix_connection(sock=front, limit=1 << 26)
    worker = OnlineWorker(name, process, reader, writer, log)
    try:
        header, _ = await asyncio.wait_for(worker._receive(), launch.start_timeout)
    except (asyncio.TimeoutError, WorkerGone) as exc:
        worker.kill()
        await asyncio.to_thread(process.wait)
        why = f"was not ready after {launch.start_timeout:g} s" if isinstance(exc, asyncio.TimeoutError) else str(exc)
        raise WorkerStartError(f"worker {name} {why}", log) from exc
    if header.get("event") != "ready":
        error = header.get("error") or {}
        await asyncio.to_thread(process.wait)
        writer.close()
        raise WorkerStartError(f"{error.get('type', 'Error')}: {error.get('message', header)}", error.get("log") or log)
    worker.warmup = dict(header.get("warmup") or {})
    worker.matrices = bool(header.get("matrices"))
    return worker
