"""Warm compute: a runner keeps a job's workers, initialised, for the next job that needs identical ones.

Azure keeps a cluster's nodes for ``idle_time_before_scale_down`` seconds after a job, and
``min_instances`` nodes always. A runner does the same with workers. After a job, its pool (the
executor with its workers, ``init()`` done) is parked under a key: the workers' identity
(``WorkerIdentity.key()``: interpreter, environment, code snapshot, model, variables, arguments,
logging level, input kind, thread share) with the backend, the cluster, the nodes and the workers
per node. The next job with the same key is bound to the parked workers: no process start and no
``init()``, unless the script has ``shutdown()``, which Azure calls at the end of every job; then
``init()`` runs again, with the imports still warm. Anything different gets a new pool.

Per-job values that a script captures in ``init()``: a pooled worker's ``AZUREML_BI_OUTPUT_PATH`` is
the pool's ``output`` link (``pools/<id>/output`` in the workspace), which points at the output
folder of the job the pool serves, so files a script writes there land in the output of the job it
is serving. Log files are reopened in each job's folder.

A pool ends after its idle time (the workspace's ``THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN``, else the
compute's ``idle_time_before_scale_down``, else Azure's 120 s), except the most recently used pools of
a compute with ``min_instances``, up to that many nodes, which stay while the runner is up; when the
runner exits; and on ``thresher compute stop NAME`` (a request file that the runner picks up). A
deployment opts out with the variable ``THRESHER_REUSE_WORKERS=false`` in its
``environment_variables``. ``pools/state.json`` lists the pools with their workers' memory, for
``thresher compute show``.

    pools = WarmPools(settings, executor_factory)
    lease = pools.lease(spec, spec.worker_config(job), job)   # a parked pool, or a new executor
    lease.executor.start(lease.config, nodes=..., per_node=...)
    ...                                                        # the job; executor.release() at its end
    pools.done(lease, kept=True)                               # parked for the next job
    pools.tend()                                               # in the runner's loop: idle ends, stop requests
    pools.close()                                              # runner exit: every pool ends
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from thresher.executors.base import Executor
from thresher.runtime.protocol import WorkerConfig
from thresher.scheduler.jobspec import JobSpec
from thresher.scheduler.launch import alive
from thresher.settings import Settings

DEFAULT_IDLE_SECONDS = 120.0  # Azure's idle_time_before_scale_down when a compute does not set it
OPT_OUT_VARIABLE = "THRESHER_REUSE_WORKERS"
DEFAULT_COMPUTE = "local"  # what pools of deployments without a compute are listed and stopped as
STATE_FILE = "state.json"
STATE_EVERY_SECONDS = 5.0  # how often the state file's memory figures are refreshed while pools are parked
_FALSE = ("0", "false", "no", "off")


def pools_dir(settings: Settings) -> Path:
    """The workspace's folder of pool links, stop requests and the state file."""
    return settings.workspace_dir / "pools"


def stop_request_path(settings: Settings, compute: str) -> Path:
    """The file whose presence asks the runner to end the pools of ``compute``."""
    return pools_dir(settings) / f"stop-{_safe(compute)}"


def read_state(settings: Settings) -> dict[str, Any]:
    """The runner's last written pools (empty when no runner holds any, or it died: pids are checked)."""
    try:
        state: dict[str, Any] = json.loads((pools_dir(settings) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"pools": []}
    runner = state.get("runner")
    if not isinstance(runner, int) or not alive(runner):
        return {"pools": []}
    return state


def opted_out(config: WorkerConfig) -> bool:
    """Whether the deployment asked for fresh workers every job (``THRESHER_REUSE_WORKERS=false``)."""
    value = config.identity.environment_variables.get(OPT_OUT_VARIABLE)
    return value is not None and value.strip().lower() in _FALSE


@dataclass(eq=False)
class Pool:
    """An executor with its workers, kept between the jobs of one key."""

    id: str
    key: str
    compute: str
    deployment: str
    executor: Executor
    folder: Path
    backend: str
    address: str | None
    nodes: int
    workers: int
    idle_seconds: float
    min_instances: int
    last_job: str = ""
    jobs: int = 0
    idle_since: float | None = None  # time.monotonic() when its last job ended; None while serving one
    used_at: float = 0.0  # time.monotonic() of its last lease, for min_instances (most recent first)
    stop_requested: bool = False

    @property
    def link(self) -> Path:
        """The workers' ``AZUREML_BI_OUTPUT_PATH``: points at the output folder of the job being served."""
        return self.folder / "output"


@dataclass(frozen=True)
class Lease:
    """The executor a job runs on, the configuration its workers get, and where it came from."""

    executor: Executor
    config: WorkerConfig
    pool: Pool | None  # None: not pooled (warm compute off, opted out, or an executor that cannot)
    warm: bool = False  # the workers were kept from an earlier job
    previous_job: str | None = None

    def describe(self) -> str:
        """One line for the job's overview and the runner's log."""
        if self.pool is None:
            return "workers: new processes, stopped after the job (warm compute is off for this job)"
        if self.warm:
            return (
                f"workers: {_count(self.pool.workers)} of pool {self.pool.id}, warm, kept from job "
                f"{self.previous_job} (no process start; init() runs again only if the script has shutdown())"
            )
        return (
            f"workers: {_count(self.pool.workers)} started (pool {self.pool.id}), kept warm for "
            f"{self.pool.idle_seconds:g} s after the job for the next job of this deployment"
        )


class WarmPools:
    """The runner's pools of warm workers (see the module docstring)."""

    def __init__(self, settings: Settings, factory: Callable[[JobSpec], Executor]) -> None:
        self._settings = settings
        self._factory = factory
        self._pools: list[Pool] = []
        self._serial = 0
        self._state_at = 0.0
        # The runner's job threads lease and return pools at once; one at a time changes them.
        self._lock = threading.RLock()
        self.folder = pools_dir(settings)
        self._clear_stale()

    def idle_seconds(self, spec: JobSpec) -> float:
        """How long the job's workers are kept after it: the workspace's setting, the compute's, or 120 s."""
        if self._settings.idle_time_before_scale_down is not None:
            return float(self._settings.idle_time_before_scale_down)
        if spec.idle_time_before_scale_down is not None:
            return float(spec.idle_time_before_scale_down)
        return DEFAULT_IDLE_SECONDS

    def active(self) -> bool:
        """Whether any pool is alive (the runner stays up while it keeps one)."""
        with self._lock:
            return bool(self._pools)

    def lease(self, spec: JobSpec, config: WorkerConfig, job: str, deployment: str = "") -> Lease:
        """The executor for ``job``: a parked pool with the same key, or a new executor (pooled if it can be)."""
        with self._lock:
            return self._lease_unlocked(spec, config, job, deployment)

    def done(self, lease: Lease, *, kept: bool) -> None:
        """The job ended: park its pool (``kept``: every worker was released and is fit for another job)
        or end it. A lease without a pool was shut down by the job itself."""
        with self._lock:
            self._done_unlocked(lease, kept=kept)

    def tend(self) -> None:
        """End pools idle past their time (those ``min_instances`` keeps excepted) and pools asked to stop;
        refresh the state file now and then. Called by the runner between jobs and while it waits."""
        with self._lock:
            self._tend_unlocked()

    def close(self) -> None:
        """End every pool (the runner is exiting)."""
        with self._lock:
            self._close_unlocked()

    def idle_workers(self, *, keep: str = "") -> int:
        """Workers of this machine in parked pools, less those of deployment ``keep`` (the next job's own,
        which it is about to reuse): they hold compute slots until a job needs them (``evict_idle``)."""
        with self._lock:
            return sum(p.workers for p in self._idle_local(keep))

    def evict_idle(self, *, keep: str = "") -> int:
        """End the parked pools of this machine (those of deployment ``keep`` and those ``min_instances``
        keeps excepted) so that a waiting job gets their slots; how many workers ended."""
        with self._lock:
            kept = self._kept_by_min_instances()
            ended = 0
            for pool in sorted(self._idle_local(keep), key=lambda p: p.used_at):
                if pool not in kept:
                    self._end(pool, "its slots were needed by another job")
                    ended += pool.workers
            return ended

    def _idle_local(self, keep: str) -> list[Pool]:
        return [
            p
            for p in self._pools
            if p.idle_since is not None and p.backend != "ray" and (not keep or p.deployment != keep)
        ]

    def _lease_unlocked(self, spec: JobSpec, config: WorkerConfig, job: str, deployment: str = "") -> Lease:
        idle = self.idle_seconds(spec)
        if idle <= 0 or opted_out(config):
            return Lease(self._factory(spec), config, None)
        key = _pool_key(spec, config)
        if spec.backend == "ray":  # a runner is connected to one Ray cluster at a time
            for other in [p for p in self._pools if p.backend == "ray" and p.address != spec.address]:
                if other.idle_since is not None:
                    self._end(other, f"job {job} needs another Ray cluster")
        for pool in self._pools:
            if pool.key == key and pool.idle_since is not None and not pool.stop_requested:
                previous = pool.last_job
                pool.idle_since, pool.last_job, pool.used_at = None, job, time.monotonic()
                pool.idle_seconds = idle
                _point(pool.link, spec.output_dir)
                self._write_state()
                return Lease(pool.executor, _linked(config, pool), pool, warm=True, previous_job=previous)
        executor = self._factory(spec)
        if not callable(getattr(executor, "release", None)):
            return Lease(executor, config, None)
        self._serial += 1
        pool = Pool(
            id=f"{os.getpid()}-{self._serial}",
            key=key,
            compute=spec.compute or DEFAULT_COMPUTE,
            deployment=deployment,
            executor=executor,
            folder=self.folder / f"{os.getpid()}-{self._serial}",
            backend=spec.backend,
            address=spec.address,
            nodes=spec.nodes,
            workers=spec.workers,
            idle_seconds=idle,
            min_instances=spec.min_instances,
            last_job=job,
            used_at=time.monotonic(),
        )
        pool.folder.mkdir(parents=True, exist_ok=True)
        _point(pool.link, spec.output_dir)
        self._pools.append(pool)
        self._write_state()
        return Lease(executor, _linked(config, pool), pool)

    def _done_unlocked(self, lease: Lease, *, kept: bool) -> None:
        pool = lease.pool
        if pool is None or pool not in self._pools:
            return
        pool.jobs += 1
        if not kept or pool.stop_requested:
            self._end(pool, "stopped by thresher compute stop" if pool.stop_requested else None)
            return
        pool.idle_since = time.monotonic()
        self._write_state()

    def _tend_unlocked(self) -> None:
        self._take_stop_requests()
        now = time.monotonic()
        kept = self._kept_by_min_instances()
        for pool in list(self._pools):
            if pool.idle_since is None or pool in kept:
                continue
            if now - pool.idle_since >= pool.idle_seconds:
                self._end(pool, f"idle for {pool.idle_seconds:g} s (idle_time_before_scale_down)")
        if self._pools and now - self._state_at >= STATE_EVERY_SECONDS:
            self._write_state()

    def _close_unlocked(self) -> None:
        for pool in list(self._pools):
            self._end(pool, "the runner is exiting")
        self._write_state()

    # -- inside ---------------------------------------------------------------------------------

    def _kept_by_min_instances(self) -> set[Pool]:
        """The most recently used pools of each compute with ``min_instances``, up to that many nodes."""
        kept: set[Pool] = set()
        for compute in {p.compute for p in self._pools if p.min_instances > 0}:
            pools = sorted((p for p in self._pools if p.compute == compute), key=lambda p: -p.used_at)
            room = max(p.min_instances for p in pools)
            for pool in pools:
                if pool.nodes > room:
                    break
                kept.add(pool)
                room -= pool.nodes
        return kept

    def _take_stop_requests(self) -> None:
        if not self.folder.is_dir():
            return
        for request in self.folder.glob("stop-*"):
            wanted = request.name[len("stop-") :]
            for pool in list(self._pools):
                if _safe(pool.compute) != wanted:
                    continue
                if pool.idle_since is None:
                    pool.stop_requested = True  # ends when its job does
                else:
                    self._end(pool, "stopped by thresher compute stop")
            with contextlib.suppress(OSError):
                request.unlink()
            self._write_state()

    def _end(self, pool: Pool, why: str | None) -> None:
        """Stop the pool's workers and remove its folder."""
        self._pools.remove(pool)
        with contextlib.suppress(Exception):  # a pool that cannot be stopped politely is killed by shutdown
            pool.executor.shutdown(graceful=True, timeout=5.0)
        shutil.rmtree(pool.folder, ignore_errors=True)
        if why:
            _log(f"warm pool {pool.id} ({pool.deployment or pool.compute}, {pool.workers} workers) ended: {why}")
        self._write_state()

    def _clear_stale(self) -> None:
        """Remove pool folders left by runners that died (a runner owns the workspace's pools alone)."""
        if not self.folder.is_dir():
            return
        for entry in self.folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith("stop-"):  # asked of a runner that is gone: nothing to stop
                with contextlib.suppress(OSError):
                    entry.unlink()

    def _write_state(self) -> None:
        self._state_at = time.monotonic()
        now = time.monotonic()
        kept = self._kept_by_min_instances()
        pools = []
        for pool in self._pools:
            pids = _pids(pool.executor)
            memory = [_rss(pid) for pid in pids.values()]
            idle_for = None if pool.idle_since is None else now - pool.idle_since
            pools.append(
                {
                    "id": pool.id,
                    "compute": pool.compute,
                    "deployment": pool.deployment,
                    "state": "busy" if pool.idle_since is None else "idle",
                    "workers": pool.workers,
                    "nodes": pool.nodes,
                    "pids": pids,
                    "memory_bytes": sum(m for m in memory if m is not None) if pids else None,
                    "jobs": pool.jobs,
                    "last_job": pool.last_job,
                    "idle_for_s": None if idle_for is None else round(idle_for, 1),
                    "ends_in_s": None
                    if idle_for is None or pool in kept
                    else round(max(0.0, pool.idle_seconds - idle_for), 1),
                    "kept_by_min_instances": pool in kept,
                }
            )
        state = {"runner": os.getpid(), "updated": time.time(), "pools": pools}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f".{STATE_FILE}.{os.getpid()}"
            temporary.write_text(json.dumps(state, indent=1), encoding="utf-8")
            temporary.replace(self.folder / STATE_FILE)
        except OSError as exc:  # a full disk: compute show is out of date, the pools work on
            _log(f"cannot write {self.folder / STATE_FILE}: {exc}")


def _count(workers: int) -> str:
    return f"{workers} worker" + ("" if workers == 1 else "s")


def _pool_key(spec: JobSpec, config: WorkerConfig) -> str:
    return f"{config.identity.key()}:{spec.backend}:{spec.address}:{spec.nodes}x{spec.per_node}"


def _linked(config: WorkerConfig, pool: Pool) -> WorkerConfig:
    """``config`` with the pool's link as the workers' output folder."""
    return replace(config, binding=replace(config.binding, output_dir=str(pool.link)))


def _point(link: Path, target: str) -> None:
    """Make ``link`` a symbolic link to ``target``, replacing it atomically."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    os.symlink(os.path.abspath(target), temporary)
    os.replace(temporary, link)


def _pids(executor: Executor) -> dict[str, int]:
    pids = getattr(executor, "worker_pids", None)
    if not callable(pids):
        return {}
    try:
        found: dict[str, int] = pids()
    except Exception:  # a Ray actor that does not answer: no figures this time
        return {}
    return found


def _rss(pid: int) -> int | None:
    """Resident memory of a process on this machine, in bytes (None: not here, or gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)
