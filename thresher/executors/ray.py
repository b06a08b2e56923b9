"""The ``ray`` executor: the same workers as ``local``, one Ray actor per worker slot on a Ray cluster.

Each slot (``node-1/0``) is a Ray actor, ``_SlotActor``, placed in bundle ``1`` of a placement group
of ``nodes`` bundles spread over the cluster's nodes (strategy SPREAD: one bundle per Ray node while
there are nodes enough). In its constructor the actor starts the slot's worker process on its node,
exactly as the local executor does (``python -m thresher.runtime.worker`` in the model's interpreter,
which needs no Ray; its stdout/stderr in the job's capped log files; it imports the script and calls
``init()``), and it supervises that process with a one-slot ``LocalExecutor``: a worker that crashes,
is killed or hangs is reported with its exit code and replaced inside the actor, as on ``local``.

The driver (this executor, in the runner) waits with ``ray.wait`` on the actors' calls that return
events: a task is one ``submit()`` call that hands the task to the worker and returns the slot's next
events (its ``TaskDone``), so a mini-batch costs one actor round trip; a slot with no such call in
flight (idle, starting) gets a long ``events()`` call at the next poll, which a ``submit()`` ends.
``kill`` is a fire-and-forget call that wakes the actor's wait. The events are the local executor's,
relayed. What only Ray can see: an actor
(or its whole node) that dies is a ``WorkerLost`` with the task it ran, ``exit_code`` None, and a new
actor takes the slot; actors of a slot that die before their worker is ready 3 times in a row make
the slot a ``WorkerInitFailed``.

Code and environment: on a cluster of this machine alone, the job's paths are used as they are. On a
cluster with other machines, the code snapshot travels as the actors' ``runtime_env`` ``working_dir``
(and thresher itself as ``py_modules``); the model's environment, model folder, inputs and outputs
must be at the same paths on every node until remote storage lands (see docs/ray.md). Nothing of the
job's configuration is put into ``runtime_env``: the worker's variables (which may hold secrets)
travel as actor arguments, never in Ray's dashboard, job metadata or session logs.

    executor = RayExecutor(address="auto")
    executor.start(config, nodes=3, per_node=2)      # 6 actors, 2 per Ray node
    ...                                              # submit / poll as in thresher.executors.base
    executor.shutdown()
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayError
from ray.util.placement_group import PlacementGroup, placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from thresher.errors import StorageUnavailableError, ThresherError
from thresher.executors.base import (
    Event,
    Task,
    TaskDone,
    TaskFailed,
    WorkerConfig,
    WorkerInitFailed,
    WorkerLost,
    WorkerReady,
)
from thresher.executors.local import STARTUP_DEATHS, LocalExecutor
from thresher.executors.perf import DEFAULT_INTERVAL
from thresher.executors.ray_address import check_reachable
from thresher.executors.staging import RemoteStaging, SlotStaging, unavailable_error
from thresher.executors.worker_logs import DEFAULT_MAX_BYTES
from thresher.runtime import protocol

_T = TypeVar("_T")
_LONG_POLL = 5.0  # seconds an actor's events() call waits for its worker's next event
_CONNECT_TIMEOUT = 10.0  # seconds for the TCP check of an explicit address


class _SlotActor:
    """One worker slot on a Ray node: a one-slot ``LocalExecutor`` driven by the runner's calls.

    ``events()`` and ``submit()`` wait for the slot's events in one actor thread at a time; calls come
    in on several (``max_concurrency``) and interrupt a wait through a pipe, so a task starts at once.
    A ``submit()`` takes the wait over: an ``events()`` call waiting then returns."""

    def __init__(
        self,
        config: dict[str, Any],
        slot: str,
        first_number: int,
        step: int,
        log_max_bytes: int,
        shipped: bool,
        staging: dict[str, Any] | None = None,
        perf_interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._cond = threading.Condition()
        self._waiting = 0  # calls waiting for the pool while events() polls it
        self._polling = False
        self._turn = 0  # bumped by each submit(): an older events() call stops waiting
        self._wake_read, self._wake_write = os.pipe()
        # No worker template: an actor starts one worker and keeps it (warm compute); a template would only
        # speed up its replacement, at the cost of a second process per actor holding every heavy library.
        self._pool = LocalExecutor(
            log_max_bytes=log_max_bytes,
            first_number=first_number,
            number_step=step,
            perf_interval=perf_interval,
            worker_template=False,
        )
        self._pool.wake_on(self._wake_read)
        self._early: list[Event] = []
        self._closed = False
        self._slot, self._shipped = slot, shipped
        self._staging: SlotStaging | None = None
        worker_config = self._prepared(config, staging)
        try:
            self._pool.start_slots(worker_config, [slot])
        except OSError as exc:  # an interpreter or folder missing on this node
            name = protocol.worker_name(slot.partition("/")[0], first_number)
            message = f"worker {name} could not be started on Ray node {socket.gethostname()}: {exc}"
            error: protocol.ErrorInfo = {"type": type(exc).__name__, "message": message, "traceback": ""}
            self._early.append(WorkerInitFailed(worker=name, error=error))

    def _prepared(self, config: dict[str, Any], staging: dict[str, Any] | None) -> WorkerConfig:
        """The worker's configuration on this node: the code where Ray unpacked it, parts staged here."""
        worker_config = WorkerConfig.from_dict(config)
        if self._shipped:  # runtime_env working_dir: the code snapshot was unpacked into the cwd
            worker_config = _relocated(worker_config, os.getcwd())
        if staging is not None:  # remote input or parts: fetched and uploaded here, on this node
            job, slot = worker_config.binding.job, self._slot.replace("/", "-")
            scratch = tempfile.mkdtemp(prefix=f"thresher-{job}-{slot}-")
            self._staging = SlotStaging(RemoteStaging.from_dict(staging), Path(scratch))
            if self._staging.staging.parts is not None:
                binding = replace(worker_config.binding, parts_dir=str(self._staging.parts_dir))
                worker_config = replace(worker_config, binding=binding)
        return worker_config

    def release(self, timeout: float) -> bool:
        """End the job's work on the slot's worker but keep it (warm compute; ``LocalExecutor.release``)."""

        def release() -> bool:
            kept = self._pool.release(timeout=timeout)
            if self._staging is not None:
                self._staging.close()
                self._staging = None
            return kept

        return self._exclusive(release)

    def rebind(self, config: dict[str, Any], staging: dict[str, Any] | None) -> list[Event]:
        """Give the released worker the next job; its ``WorkerReady`` comes with the slot's next events."""
        worker_config = self._prepared(config, staging)
        self._exclusive(lambda: self._pool.start_slots(worker_config, [self._slot]))
        return []

    def worker_pids(self) -> dict[str, int]:
        """The slot's worker process ids on its node, by worker name."""
        return self._exclusive(self._pool.worker_pids)

    def events(self, timeout: float) -> list[Event]:
        """The slot's next events, waiting up to ``timeout`` seconds for the first (or until a submit())."""
        with self._cond:
            turn = self._turn
        return self._wait_events(timeout, turn)

    def _wait_events(self, timeout: float, turn: int) -> list[Event]:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                while self._waiting:
                    self._cond.wait()
                if self._turn != turn:  # a submit() waits for the slot's events now
                    return []
                if self._early:
                    early, self._early = self._early, []
                    return early
                if self._closed:
                    return []
                self._polling = True
            try:
                events = self._pool.poll(max(0.0, deadline - time.monotonic()))
            finally:
                with self._cond:
                    self._polling = False
                    self._cond.notify_all()
            if events or time.monotonic() >= deadline:
                return [self._staged_out(event) for event in events]

    def submit(self, task: Task, worker: str, timeout: float) -> list[Event]:
        """Give ``task`` to ``worker`` if it is still the slot's idle worker (else its WorkerLost is on its
        way), then the slot's next events, waiting up to ``timeout`` seconds: usually the task's end."""
        with self._cond:
            self._turn += 1
            turn = self._turn
        try:
            staged = self._stage_in(task)
        except StorageUnavailableError as exc:  # the runner stops the job, resumable
            self._fail_early(TaskFailed(task.id, worker, unavailable_error(exc), 0.0))
            return self._wait_events(timeout, turn)
        except Exception as exc:  # a fetch that cannot succeed (access denied, ...): the task's failure
            error: protocol.ErrorInfo = {"type": type(exc).__name__, "message": f"fetching its items: {exc}"}
            self._fail_early(TaskFailed(task.id, worker, error, 0.0))
            return self._wait_events(timeout, turn)
        with contextlib.suppress(RuntimeError):
            self._exclusive(lambda: self._pool.submit(staged, worker=worker))
        return self._wait_events(timeout, turn)

    def _fail_early(self, event: Event) -> None:
        with self._cond:
            self._early.append(event)
        os.write(self._wake_write, b"\0")  # the events() call in flight returns it now

    def _staged_out(self, event: Event) -> Event:
        """A task's end, seen on this node: its part uploaded, its fetched files removed."""
        if self._staging is None:
            return event
        if isinstance(event, TaskDone):
            try:
                event = self._stage_out(event)
            except StorageUnavailableError as exc:
                event = TaskFailed(event.task, event.worker, unavailable_error(exc), event.seconds)
        if isinstance(event, (TaskDone, TaskFailed, WorkerLost)):
            self._staging.finished(event.task)
        return event

    def kill(self, worker: str, reason: str) -> None:
        """Kill the worker process (and its process group); a WorkerLost with ``reason`` follows."""
        self._exclusive(lambda: self._pool.kill(worker, reason))

    def shutdown(self, graceful: bool, timeout: float) -> None:
        """Stop the worker: graceful runs its ``shutdown()`` first; then nothing of it is left."""

        def stop() -> None:
            self._closed = True
            self._pool.shutdown(graceful=graceful, timeout=timeout)
            if self._staging is not None:
                self._staging.close()

        self._exclusive(stop)

    def pid(self, worker: str) -> int | None:
        """The worker process's id on its node."""
        return self._exclusive(lambda: self._pool.pid(worker))

    def node_id(self) -> str:
        """The id of the Ray node this actor runs on."""
        return str(ray.get_runtime_context().get_node_id())

    def _stage_in(self, task: Task) -> Task:
        """The task's remote items fetched into this node's cache (``thresher.executors.staging``).

        Runs on the worker's node, in the actor's submit thread, before the task reaches the worker."""
        return task if self._staging is None else self._staging.stage_in(task)

    def _stage_out(self, done: TaskDone) -> TaskDone:
        """A finished task's part uploaded to the job's datastore, when parts are remote.

        Runs on the worker's node before the event goes back to the runner."""
        return done if self._staging is None else self._staging.stage_out(done)

    def _exclusive(self, call: Callable[[], _T]) -> _T:
        with self._cond:
            self._waiting += 1
            os.write(self._wake_write, b"\0")
            while self._polling:
                self._cond.wait()
            try:
                return call()
            finally:
                self._waiting -= 1
                self._cond.notify_all()


def _relocated(config: WorkerConfig, code_dir: str) -> WorkerConfig:
    identity = config.identity
    script = identity.script
    if identity.code_dir and script:
        script = os.path.join(code_dir, os.path.relpath(script, identity.code_dir))
    return replace(config, identity=replace(identity, code_dir=code_dir, script=script))


@dataclass(eq=False)
class _Slot:
    """The driver's view of one slot: its actor, its in-flight ``events()`` call, its worker."""

    name: str  # node-1/0
    bundle: int
    number: int  # the number of the slot's current worker (process<number>)
    actor: Any = None
    calls: list[Any] = field(default_factory=list)  # ObjectRefs of the actor's events()/submit() calls
    state: str = "starting"  # starting | idle | busy | exiting | failed (init) | stopped (shut down)
    task: str | None = None
    deaths: int = 0  # actors of this slot that died before their worker was ready, in a row

    @property
    def worker(self) -> str:
        return protocol.worker_name(self.name.partition("/")[0], self.number)


class RayExecutor:
    """Runs tasks on worker slots that are Ray actors (see the module docstring).

    ``address``: None starts a Ray of this machine alone; ``auto``, ``host:port`` or ``ray://host:port``
    connects to a cluster (an existing connection of this process is used as it is).
    ``cpus_per_worker`` is each actor's ``num_cpus`` (a fraction packs several workers per CPU);
    ``min_nodes`` is asked of the autoscaler (``request_resources``) while the job runs.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        compute: str = "ray",
        cpus_per_worker: float = 1.0,
        min_nodes: int = 0,
        log_max_bytes: int = DEFAULT_MAX_BYTES,
        ship_code: bool | None = None,
        connect_timeout: float = _CONNECT_TIMEOUT,
        perf_interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._address = address
        self._perf_interval = perf_interval
        self._compute = compute
        self._cpus = cpus_per_worker
        self._min_nodes = min_nodes
        self._log_max = log_max_bytes
        self._ship_code = ship_code
        self._connect_timeout = connect_timeout
        self._config: WorkerConfig | None = None
        self._per_node = 1
        self._slots: dict[str, _Slot] = {}  # slot name -> slot
        self._idle: dict[str, None] = {}  # slot names, longest idle first
        self._group: PlacementGroup | None = None
        self._runtime_env: dict[str, Any] = {}
        self._staging: dict[str, Any] | None = None
        self._stopping = False
        self._released = False  # the last job's work ended on every slot; the actors wait for the next job

    stages_remote = True  # workers fetch remote inputs and upload parts on their own nodes

    def use_staging(self, staging: RemoteStaging) -> None:
        """Have every slot fetch the remote input and upload parts itself (call before ``start``)."""
        self._staging = staging.to_dict()

    # -- the Executor interface -----------------------------------------------------------------

    def start(self, config: WorkerConfig, *, nodes: int, per_node: int) -> None:
        """Connect to the cluster, reserve ``nodes`` spread bundles and start one actor per slot.

        On an executor whose slots were released (``release``), with the same identity and shape, the
        actors' workers are bound to the new job instead (warm compute)."""
        threads = max(1, int(self._cpus))
        wanted = replace(config, identity=replace(config.identity, threads=threads))
        if self._released and self._config is not None and wanted.identity == self._config.identity:
            self._rebind(wanted)
            return
        if self._config is not None:
            raise RuntimeError("RayExecutor.start() was already called; use a new executor per job.")
        connect(self._compute, self._address, timeout=self._connect_timeout)
        self._config = wanted
        self._per_node = per_node
        if self._min_nodes:
            from ray.autoscaler.sdk import request_resources

            request_resources(bundles=[{"CPU": per_node * self._cpus}] * self._min_nodes)
        ship = self._ship_code if self._ship_code is not None else not _cluster_is_this_machine()
        if ship and config.identity.code_dir:
            package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            self._runtime_env = {"working_dir": config.identity.code_dir, "py_modules": [package]}
        bundle = {"CPU": per_node * self._cpus}
        self._group = placement_group([bundle] * nodes, strategy="SPREAD", name=f"thresher-{config.binding.job}")
        for node in range(nodes):
            for index in range(per_node):
                slot = _Slot(name=f"node-{node}/{index}", bundle=node, number=index)
                self._slots[slot.name] = slot
                self._launch(slot)

    def idle_workers(self) -> int:
        """Workers that are ready and have no task."""
        return len(self._idle)

    def live_workers(self) -> int:
        """Workers starting, ready or busy (a lost worker counts until its replacement is started)."""
        return sum(1 for slot in self._slots.values() if slot.state not in ("failed", "stopped"))

    def submit(self, task: Task) -> str:
        """Send ``task`` to the worker idle the longest; returns its name."""
        if not self._idle:
            raise RuntimeError("No idle worker: submit at most idle_workers() tasks between polls.")
        slot = self._slots[next(iter(self._idle))]
        del self._idle[slot.name]
        slot.state, slot.task = "busy", task.id
        slot.calls.append(slot.actor.submit.remote(task, slot.worker, _LONG_POLL))
        return slot.worker

    def poll(self, timeout: float) -> list[Event]:
        """Events since the last poll, waiting up to ``timeout`` seconds for the first one."""
        for slot in self._slots.values():  # a slot without a task in flight: wait for its events anyway
            if not slot.calls and slot.actor is not None and slot.state not in ("failed", "stopped"):
                slot.calls.append(slot.actor.events.remote(_LONG_POLL))
        refs = {ref: slot for slot in self._slots.values() for ref in slot.calls}
        if not refs:
            time.sleep(timeout)
            return []
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
        events: list[Event] = []
        for ref in ready:
            slot = refs[ref]
            if ref not in slot.calls:  # a call to the slot's previous actor, which died in this poll
                continue
            slot.calls.remove(ref)
            try:
                arrived: list[Event] = ray.get(ref)
            except ActorUnavailableError:
                # Ray cannot reach the actor now (its node may be going): the next poll asks again; a dead
                # actor says so then.
                continue
            except RayError as exc:
                self._actor_died(slot, exc, events)
                continue
            for event in arrived:
                self._relay(slot, event, events)
        return events

    def kill(self, worker: str, reason: str) -> None:
        """Kill the worker process on its node; ``WorkerLost`` with ``reason`` follows."""
        slot = self._slot_of(worker)
        if slot is None or slot.actor is None or slot.state in ("failed", "exiting"):
            return
        self._idle.pop(slot.name, None)
        slot.state = "exiting"
        slot.actor.kill.remote(worker, reason)

    def shutdown(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        """Stop every worker (graceful: their ``shutdown()`` first, up to ``timeout``), then the actors and
        the placement group. Calling it again does nothing."""
        if self._stopping:
            return
        self._stopping = True
        actors = [slot.actor for slot in self._slots.values() if slot.actor is not None]
        stops = [actor.shutdown.remote(graceful, timeout) for actor in actors]
        # Not graceful: the actors kill their workers' process groups at once, which ray.kill would not.
        if stops:
            with contextlib.suppress(RayError):
                ray.wait(stops, num_returns=len(stops), timeout=timeout + 2.0 if graceful else 2.0)
        for actor in actors:
            with contextlib.suppress(RayError):
                ray.kill(actor, no_restart=True)
        for slot in self._slots.values():
            slot.actor, slot.calls = None, []
            slot.state = "stopped"
        self._idle.clear()
        if self._group is not None:
            with contextlib.suppress(RayError):
                remove_placement_group(self._group)
            self._group = None
        if self._min_nodes:
            from ray.autoscaler.sdk import request_resources

            with contextlib.suppress(RayError):
                request_resources(bundles=[])

    def release(self, *, timeout: float = 10.0) -> bool:
        """End the job's work on every slot but keep the actors and their workers (warm compute): True when
        every slot's worker was idle and released within ``timeout`` seconds."""
        if self._stopping or self._config is None:
            return False
        slots = list(self._slots.values())
        if not slots or any(slot.actor is None or slot.state not in ("idle", "starting") for slot in slots):
            return False
        calls = [slot.actor.release.remote(timeout) for slot in slots]
        try:
            kept: list[bool] = ray.get(calls, timeout=timeout + 5.0)
        except (RayError, GetTimeoutError):
            return False
        if not all(kept):
            return False
        self._idle.clear()
        for slot in slots:
            slot.state = "released"
        self._released = True
        return True

    def _rebind(self, config: WorkerConfig) -> None:
        self._config, self._released = config, False
        for slot in self._slots.values():
            slot.state, slot.task = "starting", None
            slot.calls.append(slot.actor.rebind.remote(config.to_dict(), self._staging))

    def worker_pids(self) -> dict[str, int]:
        """The workers' process ids on their nodes, by worker name (their memory is read where they are this
        machine's)."""
        actors = [slot.actor for slot in self._slots.values() if slot.actor is not None]
        pids: dict[str, int] = {}
        if not actors or not ray.is_initialized():  # (a ray call would start a Ray of its own)
            return pids
        with contextlib.suppress(RayError, GetTimeoutError):
            for found in ray.get([actor.worker_pids.remote() for actor in actors], timeout=5.0):
                pids.update(found)
        return pids

    def pid(self, worker: str) -> int | None:
        """The worker's process id on its node (tests on one machine kill workers from outside with it)."""
        slot = self._slot_of(worker)
        if slot is None or slot.actor is None:
            return None
        try:
            pid: int | None = ray.get(slot.actor.pid.remote(worker), timeout=10)
        except (RayError, GetTimeoutError):
            return None
        return pid

    def node_of(self, worker: str) -> str | None:
        """The id of the Ray node whose actor holds ``worker`` (tests remove that node)."""
        slot = self._slot_of(worker)
        if slot is None or slot.actor is None:
            return None
        try:
            node: str = ray.get(slot.actor.node_id.remote(), timeout=10)
        except (RayError, GetTimeoutError):
            return None
        return node

    # -- slots ----------------------------------------------------------------------------------

    def _slot_of(self, worker: str) -> _Slot | None:
        return next((slot for slot in self._slots.values() if slot.worker == worker), None)

    def _launch(self, slot: _Slot) -> None:
        """A new actor for ``slot``, its worker numbered ``slot.number``; its first events() call in flight."""
        assert self._config is not None and self._group is not None
        options: dict[str, Any] = {
            "num_cpus": self._cpus,
            "max_concurrency": 4,
            "max_restarts": 0,
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                self._group, placement_group_bundle_index=slot.bundle
            ),
        }
        if self._runtime_env:
            options["runtime_env"] = self._runtime_env
        slot.actor = _SLOT_ACTOR.options(**options).remote(
            self._config.to_dict(),
            slot.name,
            slot.number,
            self._per_node,
            self._log_max,
            bool(self._runtime_env),
            self._staging,
            self._perf_interval,
        )
        slot.state, slot.task = "starting", None
        slot.calls = [slot.actor.events.remote(_LONG_POLL)]

    def _relay(self, slot: _Slot, event: Event, events: list[Event]) -> None:
        """Update the slot from one of its actor's events and pass the event on."""
        if isinstance(event, WorkerReady):
            slot.number = _number(event.worker)
            slot.state, slot.deaths = "idle", 0
            self._idle[slot.name] = None
        elif isinstance(event, (TaskDone, TaskFailed)):
            if slot.state == "busy":
                slot.state, slot.task = "idle", None
                self._idle[slot.name] = None
        elif isinstance(event, WorkerLost):
            # The actor gave the task back when the worker had died before it arrived: it is still lost.
            task = event.task or (slot.task if event.worker == slot.worker else None)
            event = replace(event, task=task, slot=slot.name)
            self._idle.pop(slot.name, None)
            slot.state, slot.task = "starting", None
            slot.number = _number(event.worker) + self._per_node  # the actor numbers its next worker so
        elif isinstance(event, WorkerInitFailed):
            self._idle.pop(slot.name, None)
            slot.state, slot.task = "failed", None
            with contextlib.suppress(RayError):
                ray.kill(slot.actor, no_restart=True)
            slot.actor, slot.calls = None, []
        events.append(event)

    def _actor_died(self, slot: _Slot, exc: RayError, events: list[Event]) -> None:
        """The slot's actor (or its node) is gone: the worker is lost; a new actor takes the slot."""
        self._idle.pop(slot.name, None)
        if self._stopping or slot.state == "failed":
            return
        cause = _first_line(exc)
        if slot.state == "starting":
            slot.deaths += 1
            if slot.deaths >= STARTUP_DEATHS:
                slot.state, slot.actor, slot.calls = "failed", None, []
                message = (
                    f"worker {slot.worker}: its Ray actor died while loading the scoring script or running init(); "
                    f"{slot.deaths} actors of its slot died so in a row. Last: {cause}"
                )
                events.append(WorkerInitFailed(worker=slot.worker, error={"type": "WorkerLost", "message": message}))
                return
        reason = f"its Ray actor died (a lost node, or the actor was killed): {cause}"
        events.append(WorkerLost(worker=slot.worker, task=slot.task, exit_code=None, reason=reason, slot=slot.name))
        slot.number += self._per_node
        self._launch(slot)


_SLOT_ACTOR = ray.remote(_SlotActor)


def _number(worker: str) -> int:
    return int(worker.rpartition("process")[2])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


_connected: list[str | None] = []  # the address this module connected the process to (a runner serves many jobs)


def connect(compute: str, address: str | None, *, timeout: float = _CONNECT_TIMEOUT) -> None:
    """Connect this process to the compute's Ray cluster (None: start one of this machine) unless it is.

    A connection this module made to another address is closed first (the runner runs one job at a
    time); one made by someone else (a test, a notebook) is used as it is. Raises ``ThresherError``
    naming the compute and the address when the cluster cannot be reached."""
    if ray.is_initialized():
        if not _connected or _connected[0] == address:
            return
        ray.shutdown()
    _connected.clear()
    if address is not None:
        check_reachable(compute, address, timeout=timeout)
    try:
        if address is None:
            ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        _connected.append(address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ThresherError(
            f"Compute '{compute}': cannot connect to the Ray cluster at address '{address or 'local'}': "
            f"{_first_line(exc)}",
            fix="Check that the cluster runs and that its Ray version matches this one "
            f"(ray {ray.__version__}), or correct the compute's address.",
        ) from None


def _cluster_is_this_machine() -> bool:
    """Whether every live node of the cluster is this machine (then the job's local paths work as they are)."""
    here = {ray.util.get_node_ip_address(), "127.0.0.1"}  # type: ignore[no-untyped-call]
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return all(node["NodeManagerAddress"] in here for node in nodes if node.get("Alive"))
