"""One deployment at serving time: its queue, its workers, batching, deadlines and admission.

Every request is a ``Pending`` on the deployment's queue. Each worker sits in a ``Seat`` fed by a loop
that takes the oldest request, and for an MLflow deployment with batching on, as many more as are
queued (up to ``max_batch_size``), waiting up to ``max_wait_ms`` for a batch to fill; why each batch
left (full, waited, or nothing else queued) is counted. A worker that reads ahead (MLflow models) has a
second loop, which takes a batch only while no worker of the deployment is idle: that batch is read
(parsed, fitted to the signature) while the one before it is predicted, and goes back to the queue if
the worker dies or hangs before it was begun. The caller waits for its reply until its deadline
(``request_timeout_ms`` after it arrived): past it the caller gets 408 at once, a request still queued
is dropped, and a worker still busy with it is killed and replaced, so a ``run()`` that hangs costs one
worker restart instead of the deployment. More than ``2 × max_concurrent_requests_per_instance ×
instance_count`` requests pending is answered 429 at once (Azure's rule).

An update (``switch``) starts the new revision's workers next to the old ones, waits until all are
ready, and only then lets them take requests; the old workers finish what they hold and stop, so no
request fails during an update.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thresher.runtime.online_protocol import OnlineReply, OnlineRequest
from thresher.server.online.workers import OnlineWorker, WorkerGone, WorkerLaunch, WorkerStartError, start_worker

FULL, WAITED, ALONE = "full", "waited", "alone"  # why a batch was released
DOCUMENT = "document"  # a queued swagger or metadata op, not a scoring request
DEADLINE_GRACE = 0.05  # seconds a worker loop waits past the last deadline before it kills the worker


class Rejected(Exception):
    """A request answered at once without a worker: 429 (too many pending) or 503 (not serving)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class Expired(Exception):
    """A request's deadline passed before its reply came: 408."""


@dataclass(frozen=True)
class Limits:
    """A revision's request settings and batching, resolved."""

    timeout_s: float  # request_timeout_ms
    max_pending: int  # 2 × max_concurrent_requests_per_instance × instance_count
    max_batch: int  # 1: no batching
    max_wait_s: float


@dataclass(eq=False)
class Pending:
    """A request waiting for (or on) a worker."""

    request: OnlineRequest
    body: bytes
    arrived: float
    deadline: float
    future: asyncio.Future[tuple[OnlineReply, bytes]]
    dispatched: float | None = None
    batch_s: float = 0.0  # waiting for its batch to fill
    batch_size: int = 1


@dataclass
class Counters:
    """What the metrics export for a deployment."""

    released: collections.Counter[str] = field(default_factory=collections.Counter)
    batch_sizes: list[int] = field(default_factory=list)
    restarts: int = 0
    requeued: int = 0  # requests read ahead by a worker that died or hung before it began them, sent again
    rejected: int = 0
    expired: int = 0


@dataclass(eq=False)
class Seat:
    """One worker's place in a deployment: the worker now (replaced in place when it hangs or dies), the loops
    feeding it (one per op it may have in flight), and whether it takes work."""

    worker: OnlineWorker
    generation: int
    busy: int = 0  # batches on the worker now
    loops: int = 0
    closed: bool = False  # its worker could not be replaced (or belongs to an old revision)
    retiring: OnlineWorker | None = None  # the worker being killed and replaced
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.ready.set()

    @property
    def idle(self) -> bool:
        return not self.busy and not self.closed and self.ready.is_set()


class LiveDeployment:
    """A deployment's queue and workers (see the module docstring)."""

    def __init__(self, key: str, base_env: dict[str, str]) -> None:
        self.key = key
        self._base_env = base_env
        self.queue: collections.deque[Pending] = collections.deque()
        self.in_flight = 0
        self.limits: Limits | None = None
        self.seats: list[Seat] = []  # the current revision's
        self._draining: set[Seat] = set()  # an old revision's, finishing what they hold
        self.generation = 0
        self.counters = Counters()
        self.on_batch: Any = None  # a callback(size, reason) for the metrics
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._launch: WorkerLaunch | None = None
        self.last_error: str | None = None  # why a worker could not be replaced
        self.replacing = 0  # workers being started in place of hung or dead ones

    @property
    def workers(self) -> list[OnlineWorker]:
        """The current revision's workers (one being replaced counts, as ``replacing``)."""
        return [seat.worker for seat in self.seats if not seat.closed]

    @property
    def serving(self) -> bool:
        return bool(self.workers) and self.limits is not None

    @property
    def pending(self) -> int:
        return len(self.queue) + self.in_flight

    # -- requests ----------------------------------------------------------------------------------

    async def submit(self, request: OnlineRequest, body: bytes, arrived: float) -> Pending:
        """Queue a request and wait for its reply (``Rejected`` at once, ``Expired`` at its deadline)."""
        limits = self.limits
        if limits is None or not self.workers:
            raise Rejected(503, f"Deployment '{self.key}' has no ready worker.", retry_after=1)
        if self.pending >= limits.max_pending:
            self.counters.rejected += 1
            raise Rejected(
                429,
                f"Deployment '{self.key}' has {self.pending} requests pending, its limit "
                f"(2 × max_concurrent_requests_per_instance × instance_count = {limits.max_pending}). "
                "Retry later, or raise request_settings.max_concurrent_requests_per_instance.",
                retry_after=1,
            )
        loop = asyncio.get_running_loop()
        pending = Pending(request, body, arrived, arrived + limits.timeout_s, loop.create_future())
        self.queue.append(pending)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(pending.future), max(0.0, pending.deadline - time.monotonic()))
        except asyncio.TimeoutError:
            self.counters.expired += 1
            if pending.dispatched is None:
                with contextlib.suppress(ValueError):
                    self.queue.remove(pending)
            raise Expired() from None
        return pending

    # -- workers -----------------------------------------------------------------------------------

    async def switch(
        self, launch: WorkerLaunch, limits_of: Callable[[dict[str, Any]], Limits], names: list[str]
    ) -> None:
        """Start a new revision's workers (one per name), and once every one is ready, serve with them instead
        of the old ones (which finish what they hold, then stop). ``limits_of`` turns the first worker's
        warm-up report (its predict cost curve) into the revision's limits. Raises ``WorkerStartError``; the
        old workers then go on serving."""
        starting = (start_worker(launch, name, self._base_env) for name in names)
        started = await asyncio.gather(*starting, return_exceptions=True)
        failed = [result for result in started if isinstance(result, BaseException)]
        ready = [result for result in started if isinstance(result, OnlineWorker)]
        if failed:
            for worker in ready:
                await worker.stop()
            raise failed[0]
        self._launch, self.limits = launch, limits_of(ready[0].warmup if ready else {})
        self.generation += 1
        self._draining.update(self.seats)
        self.seats = [Seat(worker, self.generation) for worker in ready]
        for seat in self.seats:
            for _ in range(seat.worker.depth):
                self._spawn_loop(seat)
        self._wake.set()  # old loops waiting for work see the new generation and stop their workers

    def _spawn_loop(self, seat: Seat) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(seat))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, seat: Seat) -> None:
        """One loop of a seat; the last to leave an old revision's seat stops its worker."""
        seat.loops += 1
        try:
            await self._feed(seat)
        finally:
            seat.loops -= 1
        if not seat.loops:
            self._draining.discard(seat)
            if not seat.closed:
                await seat.worker.stop()

    async def _feed(self, seat: Seat) -> None:
        """Take a batch, send it, answer its callers, until the revision changes or the seat closes."""
        while seat.generation == self.generation and not seat.closed:
            if not seat.ready.is_set():
                await seat.ready.wait()  # its worker is being replaced
                continue
            batch = await self._next_batch(seat)
            if batch:
                await self._run_batch(seat, batch)

    async def _next_batch(self, seat: Seat) -> list[Pending]:
        while True:
            if seat.generation != self.generation or not seat.ready.is_set():
                return []
            # a seat with a batch on its worker takes another (to read it ahead) only while no seat is idle
            if self.queue and not (seat.busy and any(other.idle for other in self.seats)):
                break
            self._wake.clear()
            await self._wake.wait()
        limits = self.limits
        assert limits is not None
        began = time.monotonic()
        batch = [self.queue.popleft()]
        seat.busy += 1
        self._fill(batch, limits.max_batch)
        reason = FULL if len(batch) >= limits.max_batch else ALONE
        if len(batch) < limits.max_batch and limits.max_wait_s > 0:
            until = began + limits.max_wait_s
            while len(batch) < limits.max_batch and (left := until - time.monotonic()) > 0:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), left)
                self._fill(batch, limits.max_batch)
            reason = FULL if len(batch) >= limits.max_batch else WAITED
        now = time.monotonic()
        live = [p for p in batch if not p.future.done()]
        for pending in live:
            pending.dispatched, pending.batch_s, pending.batch_size = now, now - max(began, pending.arrived), len(live)
        if limits.max_batch > 1 and live:
            self.counters.released[reason] += 1
            self.counters.batch_sizes.append(len(live))
            if self.on_batch is not None:
                self.on_batch(len(live), reason)
        if not live:
            self._done(seat)
        return live

    def _fill(self, batch: list[Pending], most: int) -> None:
        if batch[0].request.get("dialect") == DOCUMENT:
            return
        while self.queue and len(batch) < most and self.queue[0].request.get("dialect") != DOCUMENT:
            batch.append(self.queue.popleft())

    def _done(self, seat: Seat) -> None:
        seat.busy -= 1
        if self.queue:
            self._wake.set()  # a read-ahead loop may take work now that this seat is idle

    async def _run_batch(self, seat: Seat, batch: list[Pending]) -> None:
        """Send the batch to the seat's worker and answer each caller. A worker that hangs past the batch's
        last deadline, or dies, is replaced in its seat; a batch behind the one it was on goes back to the
        front of the queue, and one it was on gets the error (502), or had its 408."""
        worker = seat.worker
        self.in_flight += len(batch)
        try:
            wait = max(p.deadline for p in batch) - time.monotonic() + DEADLINE_GRACE
            try:
                if batch[0].request.get("dialect") == DOCUMENT:
                    call = self._document(worker, batch[0])
                else:
                    call = worker.score([(p.request, p.body) for p in batch])
                replies = await asyncio.wait_for(call, max(wait, 0.001))
            except asyncio.TimeoutError:
                await self._replace(seat, worker)  # a hung run(): its callers had their 408
                return
            except WorkerGone as gone:
                if gone.started:
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(gone)
                else:
                    self._requeue(batch)
                await self._replace(seat, worker)
                return
            for pending, reply in zip(batch, replies, strict=True):
                if not pending.future.done():
                    pending.future.set_result(reply)
        finally:
            self.in_flight -= len(batch)
            self._done(seat)

    def _requeue(self, batch: list[Pending]) -> None:
        """Put a batch the worker never began back at the front of the queue, in its order."""
        for pending in reversed(batch):
            if not pending.future.done():
                pending.dispatched = None
                self.queue.appendleft(pending)
                self.counters.requeued += 1
        self._wake.set()

    async def document(self, op: dict[str, Any]) -> dict[str, Any]:
        """A swagger or metadata document from one of the workers (queued like a request, never batched)."""
        request: OnlineRequest = {"dialect": DOCUMENT, "method": "GET", "path": str(op.get("op")), "headers": {}}
        pending = await self.submit(request, json.dumps(op).encode(), time.monotonic())
        _, body = pending.future.result()
        return dict(json.loads(body))

    @staticmethod
    async def _document(worker: OnlineWorker, pending: Pending) -> list[tuple[OnlineReply, bytes]]:
        document = await worker.document(json.loads(pending.body))
        return [({"status": 200}, json.dumps(document).encode())]

    async def _replace(self, seat: Seat, worker: OnlineWorker) -> None:
        """Kill ``worker`` and start a fresh one in its seat (the first caller does; later ones find it done or
        under way). An old revision's seat, or one whose new worker does not start, closes."""
        if seat.worker is not worker or seat.retiring is worker:
            return
        seat.retiring = worker
        seat.ready.clear()
        try:
            worker.kill()
            await asyncio.to_thread(worker.process.wait)
            launch = self._launch
            if seat.generation != self.generation or launch is None:
                seat.closed = True
                return
            self.counters.restarts += 1
            self.replacing += 1
            try:
                seat.worker = await start_worker(launch, worker.name, self._base_env)
            except WorkerStartError as exc:  # the deployment has one worker less
                seat.closed = True
                self.last_error = str(exc)
            finally:
                self.replacing -= 1
        finally:
            seat.ready.set()
            self._wake.set()

    async def close(self) -> None:
        """Stop every worker (the endpoint or deployment was deleted, or the front stops)."""
        self.generation += 1
        self._wake.set()
        seats, self.seats = [*self.seats, *self._draining], []
        self._draining.clear()
        for task in list(self._tasks):
            task.cancel()
        for seat in seats:
            seat.closed = True
            seat.worker.kill()
            await asyncio.to_thread(seat.worker.process.wait)
        for pending in self.queue:
            if not pending.future.done():
                pending.future.set_exception(Rejected(503, f"Deployment '{self.key}' was stopped."))
        self.queue.clear()
