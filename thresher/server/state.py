"""What a running server holds: its workspace, and the threads that keep it alive in the database
(a heartbeat, so ``schedule show`` and other servers see it) and fire due schedules."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from thresher.errors import ConflictError, DuplicateRequestError, ResourceError, ThresherError
from thresher.sdk import online_serving
from thresher.sdk.tokens import TokenOperations
from thresher.sdk.wire import encode
from thresher.sdk.workspace import Workspace
from thresher.server.token_cache import REFRESH_SECONDS as TOKEN_REFRESH_SECONDS
from thresher.server.token_cache import TokenCache
from thresher.settings import Settings

HEARTBEAT_SECONDS = 5.0
HOUSEKEEPING_SECONDS = 600.0
ONLINE_CHECK_SECONDS = 5.0  # how often the server checks that its online endpoints are served
REQUEST_KEYS_KEPT = timedelta(days=1)  # a client retries for minutes; a day is plenty
ONCE_WAIT_SECONDS = 60.0  # how long a retried delivery waits for the first one's answer


def state_of(request: Any) -> ServerState:
    """The state of the app that is answering ``request`` (a route's first line)."""
    state: ServerState = request.app.state.thresher
    return state


def job_answer(document: Any) -> Response:
    """A queued job's 201 answer, written by orjson (invocations are the server's hot path); the standard
    library's JSONResponse for what orjson refuses (keys that are not strings, integers past 64 bits)."""
    try:
        return Response(orjson.dumps(document), status_code=201, media_type="application/json")
    except orjson.JSONEncodeError:
        return JSONResponse(document, status_code=201)


class ServerState:
    """The server's workspace and background threads."""

    def __init__(self, workspace: Workspace, settings: Settings) -> None:
        self.workspace = workspace
        self.settings = settings
        self.tokens = TokenOperations(workspace.instance)
        instance = workspace.instance
        self.token_cache = TokenCache(
            lambda hashed: instance.store.token_for_secret(hashed), lambda: instance.store.token_revision()
        )
        self.name = f"server:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.url: str | None = None  # set by main.py once bound
        self.expressed = 0  # invocations answered by express.py (the rest of the routes' requests went the app's way)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @functools.cached_property
    def uploads(self) -> Path:
        """Where uploads are kept, one folder per content hash (resolved once: every request checks its paths
        against it)."""
        return (self.settings.workspace_dir / "uploads").resolve()

    @property
    def store(self) -> Any:
        """The workspace's metadata store."""
        return self.workspace.instance.store

    def now(self) -> datetime:
        """The time schedules take as now: the clock file's when the test seam is set, else the system's."""
        if self.settings.clock_file is not None:
            try:
                return datetime.fromisoformat(self.settings.clock_file.read_text().strip())
            except (OSError, ValueError):
                pass
        return datetime.now(timezone.utc)

    def once(self, key: str | None, route: str, produce: Callable[[], Any], status: int = 201) -> JSONResponse:
        """Answer a request that queues something, at most once per idempotency ``key``: a retried delivery
        gets the first delivery's answer (waiting while it is being made)."""
        if key is None:
            return JSONResponse(encode(produce()), status_code=status)
        if len(key) > 255:
            raise ResourceError(
                "The Idempotency-Key is longer than 255 characters.", fix="Send a shorter key (a UUID)."
            )
        deadline = time.monotonic() + ONCE_WAIT_SECONDS
        while (earlier := self.store.begin_request(key, route)) is not None:
            if earlier.route != route:
                raise ConflictError(
                    f"Idempotency-Key {key!r} was used for another request ({earlier.route}).",
                    fix="Send a new key for each new request.",
                )
            if earlier.status_code is not None:
                return JSONResponse(earlier.body, status_code=earlier.status_code)
            if time.monotonic() > deadline:
                raise ConflictError(
                    f"The request with Idempotency-Key {key!r} is still being answered.", fix="Retry in a moment."
                )
            time.sleep(0.05)
        try:
            body = encode(produce())
        except ThresherError as error:
            self.store.finish_request(key, None, None)  # nothing was queued: a retry may try again
            raise error
        except BaseException:
            self.store.finish_request(key, None, None)
            raise
        self.store.finish_request(key, status, body)
        return JSONResponse(body, status_code=status)

    def queued_once(self, key: str | None, queue: Callable[[str | None], Any]) -> Response:
        """Queue a job at most once per idempotency ``key``, the key stored with the job in one transaction
        (``queue(key)`` passes it to the SDK, which hands it to ``create_job``): one write per invocation,
        where ``once`` takes three. A retried delivery gets the job the first one queued.

        The key is not looked up first: a first delivery (nearly every one) reads nothing more than the job
        needs, and a retried one is refused by the key's row when its job is inserted (its folder, made
        meanwhile, removed). A retry that fails its checks now (the deployment changed since) still gets
        the first delivery's job: the key is looked up then."""
        if key is not None and len(key) > 255:
            raise ResourceError("The Idempotency-Key is longer than 255 characters.", fix="Send a shorter key.")
        try:
            return job_answer(encode(queue(key)))
        except DuplicateRequestError as duplicate:  # an earlier (or a concurrent) delivery of the same request
            return self._earlier_job(key or "", {"job": duplicate.job})
        except ThresherError:
            earlier = self.store.get_request(key) if key is not None else None
            if earlier is None:
                raise
            return self._earlier_job(key or "", earlier.body)

    def _earlier_job(self, key: str, body: Any) -> Response:
        job = body.get("job") if isinstance(body, dict) else None
        if job is None:
            raise ConflictError(
                f"Idempotency-Key {key!r} was used for another kind of request.", fix="Send a new key for each request."
            )
        return job_answer(encode(self.workspace.jobs.get(job)))

    def readiness(self) -> str | None:
        """None when the database answers; else what is wrong."""
        try:
            self.store.list_tokens()
        except ThresherError as error:
            return error.message
        return None

    def start_background(self) -> None:
        """Start the heartbeat and schedule threads."""
        self._loop("heartbeat", HEARTBEAT_SECONDS, self._beat)
        self._loop("tokens", TOKEN_REFRESH_SECONDS, self.token_cache.refresh)
        self._loop("schedules", self.settings.schedule_interval, self._fire_schedules)
        self._loop("housekeeping", HOUSEKEEPING_SECONDS, self._forget_old_requests)
        if self.settings.online_autostart:
            self._loop("online", ONLINE_CHECK_SECONDS, self._serve_online)

    def stop_background(self) -> None:
        """Stop the threads and forget this server's heartbeat."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._threads:
            with contextlib.suppress(ThresherError):
                self.store.end_service(self.name)

    def _loop(self, name: str, interval: float, step: Callable[[], None]) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    step()
                except Exception as error:  # a failed round is logged; the next one tries again
                    print(f"thresher server: {name}: {type(error).__name__}: {error}", flush=True)
                self._stop.wait(interval)

        thread = threading.Thread(target=run, name=f"server-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _beat(self) -> None:
        info = {"host": socket.gethostname(), "pid": os.getpid(), "url": self.url, "time": time.time()}
        self.store.beat(self.name, "server", info)

    def _serve_online(self) -> None:
        """Keep the workspace's online endpoints served while this server runs (the serving process came back
        after a reboot, or was killed)."""
        if online_serving.serving_pid(self.settings) is None and self.store.list_resources("online_endpoint"):
            print("thresher server: starting the serving process of the online endpoints", flush=True)
            online_serving.ensure_serving(self.settings)

    def _forget_old_requests(self) -> None:
        self.store.prune_requests(datetime.now(timezone.utc) - REQUEST_KEYS_KEPT)

    def _fire_schedules(self) -> None:
        schedules = getattr(self.workspace, "schedules", None)
        if schedules is None:
            return
        for fire in schedules.fire_due(self.now(), start_runner=self.settings.server_runner):
            print(f"thresher server: schedule {fire.schedule} fired slot {fire.slot}: job {fire.job}", flush=True)
