"""The serving process of a workspace's online endpoints: ``python -m thresher.server.online``.

One per workspace (it holds ``online.lock``), started by the first online command that needs it or by
``thresher server``. It listens on ``online_host:online_port`` (the port of last time when that is
free), keeps the front's endpoints in step with the database (at once when a CLI or SDK write rings
``online.wake``, and every ``RESYNC_SECONDS`` anyway), starts each deployment's workers in its
environment, switches to an updated deployment's workers once they are all ready, and writes what it
serves to ``online/state.json`` (ports, each deployment's state and error, the mirror's diff), which
``online-endpoint show`` and ``online-deployment show`` read. It exits once no endpoint is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from thresher.errors import ThresherError
from thresher.instance import Instance
from thresher.sdk import online_serving
from thresher.server.online.catalog import Catalog, DeploymentPlan, EndpointPlan, load_catalog, resolve_launch
from thresher.server.online.dispatch import LiveDeployment
from thresher.server.online.front import Front, ServedEndpoint, listening_socket
from thresher.server.online.workers import WorkerStartError
from thresher.settings import Settings

RESYNC_SECONDS = 2.0
WAKE_CHECK_SECONDS = 0.05
STATE_EVERY_SECONDS = 0.5
EMPTY_EXIT_SECONDS = 1.0  # no endpoint left for this long: the process exits


@dataclass
class DeploymentState:
    """What ``state.json`` says of one deployment."""

    revision: str | None = None  # the revision being served
    state: str = "Creating"  # Creating | Updating | Succeeded | Failed
    error: str | None = None
    log: str | None = None
    wanted: str | None = None  # the revision being started

    def report(self, live: LiveDeployment | None) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "wanted": self.wanted,
            "state": self.state,
            "error": self.error or (live.last_error if live else None),
            "log": self.log,
            "workers": len(live.workers) if live else 0,
            "ready_workers": len(live.workers) - live.replacing if live else 0,
            "restarts": live.counters.restarts if live else 0,
            "read_ahead": live.counters.read_ahead if live else 0,
            "pending": live.pending if live else 0,
            "batching": _batching(live),
        }


def _batching(live: LiveDeployment | None) -> dict[str, Any] | None:
    if live is None or live.limits is None or live.limits.max_batch <= 1:
        return None
    return {
        "max_batch_size": live.limits.max_batch,
        "max_wait_ms": live.limits.max_wait_s * 1000,
        "released": dict(live.counters.released),
    }


class OnlineService:
    """The serving process's state and loops (see the module docstring)."""

    def __init__(self, settings: Settings, instance: Instance) -> None:
        self.settings, self.instance = settings, instance
        self.folder = online_serving.state_dir(settings)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._access = (self.folder / "access.log").open("a", encoding="utf-8", buffering=1)
        self.front = Front(self._access)
        self.live: dict[str, LiveDeployment] = {}  # "endpoint/deployment"
        self.states: dict[str, DeploymentState] = {}
        self.endpoint_revisions: dict[str, str] = {}
        self._starting: dict[str, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[None]] = set()  # deployments being stopped
        self.port = 0
        self._base_env = {k: v for k, v in os.environ.items() if not k.startswith("THRESHER_ONLINE")}

    async def run(self) -> None:
        """Listen, keep in step with the database, and exit once no endpoint is left."""
        import uvicorn  # the server extra; thresher server needs it too

        sock = listening_socket(
            self.settings.online_host, self.settings.online_port or online_serving.last_port(self.settings)
        )
        self.port = sock.getsockname()[1]
        print(
            f"{time.strftime('%Y-%m-%d %H:%M:%S')} online endpoints: listening on "
            f"{self.settings.online_host}:{self.port}",
            flush=True,
        )
        config = uvicorn.Config(
            self.front,
            host=self.settings.online_host,
            port=self.port,
            lifespan="off",
            access_log=False,
            log_level="warning",
            http="httptools",
            loop="asyncio",
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        try:
            await self._follow(serving)
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serving, 5)
            for live in list(self.live.values()):
                await live.close()
            if self._closing:  # deleted deployments whose workers are still being stopped
                await asyncio.gather(*self._closing, return_exceptions=True)
            self._write_state(final=True)
            self._access.close()

    async def _follow(self, serving: asyncio.Task[None]) -> None:
        bell = online_serving.wake_path(self.settings)
        rung, synced, written, empty_since = _size(bell), 0.0, 0.0, None
        while not serving.done():
            now = time.monotonic()
            size = _size(bell)
            if size != rung or now - synced >= RESYNC_SECONDS:
                rung, synced = size, now
                catalog = await asyncio.to_thread(load_catalog, self.instance)
                self._apply(catalog)
                self._write_state()
                written = now
                empty_since = (empty_since or now) if not catalog.endpoints else None
                if empty_since is not None and now - empty_since >= EMPTY_EXIT_SECONDS and not self._starting:
                    return
            elif now - written >= STATE_EVERY_SECONDS:
                self._write_state()
                written = now
            await asyncio.sleep(WAKE_CHECK_SECONDS)

    # -- keeping in step with the database ---------------------------------------------------------

    def _apply(self, catalog: Catalog) -> None:
        wanted = {plan.key: plan for endpoint in catalog.endpoints for plan in endpoint.deployments}
        for key in list(self.live):
            if key not in wanted:
                self._retire(key)
        for key, plan in wanted.items():
            state = self.states.setdefault(key, DeploymentState())
            if plan.revision not in (state.revision, state.wanted):
                self._start(plan, state)
        served: dict[str, ServedEndpoint] = {}
        for endpoint in catalog.endpoints:
            served[endpoint.name] = self._served(endpoint)
        self.front.endpoints = served
        self.endpoint_revisions = {endpoint.name: endpoint.revision for endpoint in catalog.endpoints}

    def _served(self, endpoint: EndpointPlan) -> ServedEndpoint:
        deployments = {}
        for plan in endpoint.deployments:
            live = self.live.get(plan.key)
            if live is not None:
                deployments[plan.name] = live
        return ServedEndpoint(
            name=endpoint.name,
            check=endpoint.check,
            traffic=dict(endpoint.traffic),
            mirror=endpoint.mirror,
            deployments=deployments,
            no_code={plan.name for plan in endpoint.deployments if plan.no_code},
        )

    def _start(self, plan: DeploymentPlan, state: DeploymentState) -> None:
        previous = self._starting.pop(plan.key, None)
        if previous is not None:
            previous.cancel()
        state.wanted = plan.revision
        state.state = "Updating" if state.revision else "Creating"
        state.error = None
        task = asyncio.get_running_loop().create_task(self._deploy(plan, state))
        self._starting[plan.key] = task
        task.add_done_callback(functools.partial(self._started, plan.key))

    def _started(self, key: str, task: asyncio.Task[None]) -> None:
        if self._starting.get(key) is task:
            del self._starting[key]

    async def _deploy(self, plan: DeploymentPlan, state: DeploymentState) -> None:
        log_dir = self.folder / "logs" / plan.endpoint / plan.name
        try:
            launch, count, limits_of = await asyncio.to_thread(resolve_launch, self.instance, plan, log_dir)
        except ThresherError as error:  # a model or environment gone, an environment that does not build
            state.state = "Failed" if state.revision is None else "Succeeded"
            state.error = error.message + (f" Fix: {error.fix}" if error.fix else "")
            state.wanted = None
            return
        live = self.live.get(plan.key)
        if live is None:
            live = self.live[plan.key] = LiveDeployment(plan.key, self._base_env)
            live.on_batch = lambda size, reason, e=plan.endpoint, d=plan.name: self._count_batch(e, d, size, reason)
        names = [f"{plan.name}/instance-{i // plan.per_instance}/worker-{i % plan.per_instance}" for i in range(count)]
        try:
            await live.switch(launch, limits_of, names)
        except (WorkerStartError, OSError) as failed:
            state.state = "Failed" if state.revision is None else "Succeeded"
            state.error = f"The deployment's workers did not start: {failed}"
            state.log = getattr(failed, "log", None)
            state.wanted = None
            if not live.workers:
                state.state = "Failed"
            self._write_state()
            return
        state.revision, state.wanted, state.state, state.log = plan.revision, None, "Succeeded", str(log_dir)
        self._refresh_front()
        self._write_state()

    def _count_batch(self, endpoint: str, deployment: str, size: int, reason: str) -> None:
        self.front.metrics.batch_size.labels(endpoint, deployment).observe(size)
        self.front.metrics.batch_released.labels(endpoint, deployment, reason).inc()

    def _refresh_front(self) -> None:
        """Give the front the deployments that became ready since the catalog was applied."""
        for endpoint in self.front.endpoints.values():
            for key, live in self.live.items():
                name, _, deployment = key.partition("/")
                if name == endpoint.name and deployment not in endpoint.deployments:
                    endpoint.deployments[deployment] = live

    def _retire(self, key: str) -> None:
        task = self._starting.pop(key, None)
        if task is not None:
            task.cancel()
        live = self.live.pop(key)
        self.states.pop(key, None)
        closing = asyncio.get_running_loop().create_task(live.close())
        self._closing.add(closing)  # the loop keeps only a weak reference to a task
        closing.add_done_callback(self._closing.discard)

    # -- state.json --------------------------------------------------------------------------------

    def _write_state(self, *, final: bool = False) -> None:
        document = {
            "pid": os.getpid(),
            "host": self.settings.online_host,
            "port": self.port,
            "serving": not final,
            "written_at": time.time(),
            "endpoints": {
                name: {
                    "revision": revision,
                    "mirror": stats.report() if (stats := self.front.mirrors.get(name)) is not None else None,
                }
                for name, revision in self.endpoint_revisions.items()
            },
            "deployments": {key: state.report(self.live.get(key)) for key, state in self.states.items()},
        }
        online_serving.write_state(self.settings, document)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


@contextlib.contextmanager
def serving_lock(settings: Settings) -> Iterator[IO[str] | None]:
    """The workspace's ``online.lock`` held for the block (with this pid written in it), or None when
    another serving process holds it."""
    path = online_serving.lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        yield None
        return
    try:
        handle.seek(0)
        handle.write(str(os.getpid()))
        handle.truncate()
        handle.flush()
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def main(settings: Settings) -> str:
    """Serve the workspace's online endpoints until none is left; why it stopped."""
    instance = Instance(settings)
    try:
        while True:
            with serving_lock(settings) as lock:
                if lock is None:
                    return "another process serves them"
                asyncio.run(OnlineService(settings, instance).run())
            # The lock is let go: an endpoint created since the last look found it held and started no
            # process. Look once more.
            if not load_catalog(instance).endpoints:
                return "no endpoint is left to serve"
    finally:
        instance.close()
