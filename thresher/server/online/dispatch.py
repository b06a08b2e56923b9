"""One deployment at serving time: its queue, its workers, batching, deadlines and admission.

Every request is a ``Pending`` on the deployment's queue. Each worker has a loop that takes the
oldest request, and for an MLflow deployment with batching on, as many more as are queued (up to
``max_batch_size``), waiting up to ``max_wait_ms`` for a batch to fill; why each batch left (full,
waited, or nothing else queued) is counted. The caller waits for its reply until its deadline
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

from thresher.runtime.online_payloads import read_matrix
from thresher.runtime.online_protocol import INVOCATIONS, SCORE, OnlineReply, OnlineRequest
from thresher.server.online.workers import OnlineWorker, WorkerGone, WorkerLaunch, WorkerStartError, start_worker

FULL, WAITED, ALONE = "full", "waited", "alone"  # why a batch was released
DOCUMENT = "document"  # a queued swagger or metadata op, not a scoring request
DEADLINE_GRACE = 0.05  # seconds a worker loop waits past the last deadline before it kills the worker
# Bodies the front reads ahead while they wait for a busy worker (``_read_ahead``): from 64 KiB (a 100-row
# body is 20 KB: small bodies are read by their worker) to 16 MiB (reading a 2 MB body took 20 ms of the front's
# event loop; larger ones would stall it for every other request).
READ_AHEAD_BYTES = (64 << 10, 16 << 20)
# A batch stops growing at this many bytes of bodies (as sent, or as read ahead): batching pays for small
# requests (predict's cost per call spread over their rows, as the tuning's cost curve shows up to 64 rows);
# large ones gain nothing from it, and a batch of eight 10,000-row bodies held their eight callers until the
# last was predicted, so that the front had nothing to read ahead meanwhile (0.73x of bare predict's rows/s).
BATCH_BYTES = 256 << 10


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
    read_s: float = 0.0  # the front reading the body ahead (``_read_ahead``)
    ahead: tuple[OnlineRequest, bytes] | None = None  # the request and body as read ahead, for workers that take it

    def sent_to(self, worker: OnlineWorker) -> tuple[OnlineRequest, bytes]:
        """What ``worker`` gets: the body read ahead where it takes matrices, else the body as sent (a request
        read ahead for the workers of one revision may be served by the next one's, after an update)."""
        return self.ahead if self.ahead is not None and worker.matrices else (self.request, self.body)

    @property
    def size(self) -> int:
        return len(self.ahead[1] if self.ahead is not None else self.body)


@dataclass
class Counters:
    """What the metrics export for a deployment."""

    released: collections.Counter[str] = field(default_factory=collections.Counter)
    batch_sizes: list[int] = field(default_factory=list)
    restarts: int = 0
    rejected: int = 0
    expired: int = 0
    read_ahead: int = 0  # bodies the front read into matrices while they waited for a worker


class LiveDeployment:
    """A deployment's queue and workers (see the module docstring)."""

    def __init__(self, key: str, base_env: dict[str, str]) -> None:
        self.key = key
        self._base_env = base_env
        self.queue: collections.deque[Pending] = collections.deque()
        self.in_flight = 0
        self.limits: Limits | None = None
        self.workers: list[OnlineWorker] = []
        self.generation = 0
        self.counters = Counters()
        self.on_batch: Any = None  # a callback(size, reason) for the metrics
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._launch: WorkerLaunch | None = None
        self.last_error: str | None = None  # why a worker could not be replaced
        self.replacing = 0  # workers being started in place of hung or dead ones
        self.idle = 0  # worker loops waiting for a request

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
        read_began = time.monotonic()
        pending = Pending(request, body, arrived, arrived + limits.timeout_s, loop.create_future())
        pending.ahead = self._read_ahead(request, body)
        pending.read_s = time.monotonic() - read_began if pending.ahead is not None else 0.0
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

    def _read_ahead(self, request: OnlineRequest, body: bytes) -> tuple[OnlineRequest, bytes] | None:
        """A large JSON split body of floats for an MLflow model, read into a float64 matrix here when every
        worker is busy (it would wait anyway): the front's core reads it while a worker predicts, instead of
        the worker reading it between predictions, which left one worker at 0.68x of bare predict's rows/s
        on 10,000-row bodies (bench/NOTES.md, P6). With a worker idle, the body goes to it as sent. The
        worker gets the matrix only where ``read_matrix`` is sure it would read the body so itself; any
        other body, a refused one included, goes as sent and the worker words its answer. None: not read."""
        low, high = READ_AHEAD_BYTES
        dialect = request.get("dialect")
        if (
            self.idle
            or not low <= len(body) <= high
            or dialect not in (SCORE, INVOCATIONS)
            or not self.workers
            or not all(worker.matrices for worker in self.workers)
        ):
            return None
        matrix = read_matrix(body, (request.get("headers") or {}).get("content-type", ""), score=dialect == SCORE)
        if matrix is None:
            return None
        self.counters.read_ahead += 1
        return {**request, "matrix": matrix.header()}, matrix.values.tobytes()

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
        self._launch, self.limits, self.workers = launch, limits_of(ready[0].warmup if ready else {}), ready
        self.generation += 1
        for worker in ready:
            self._spawn_loop(worker, self.generation)
        self._wake.set()  # old loops waiting for work see the new generation and stop their workers

    def _spawn_loop(self, worker: OnlineWorker, generation: int) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(worker, generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, worker: OnlineWorker, generation: int) -> None:
        """One worker's loop: take a batch, send it, answer its callers; replace the worker when it hangs or dies."""
        while True:
            if generation != self.generation:
                await worker.stop()
                return
            batch = await self._next_batch(generation)
            if not batch:
                continue
            try:
                replaced = await self._run_batch(worker, batch, generation)
            except WorkerStartError as exc:  # its replacement did not start: the deployment has one worker less
                self.workers = [w for w in self.workers if w is not worker]
                self.last_error = str(exc)
                return
            if replaced is None:
                return
            worker = replaced

    async def _next_batch(self, generation: int) -> list[Pending]:
        while not self.queue:
            self._wake.clear()
            self.idle += 1
            try:
                await self._wake.wait()
            finally:
                self.idle -= 1
            if generation != self.generation:
                return []
        limits = self.limits
        assert limits is not None
        began = time.monotonic()
        batch = [self.queue.popleft()]
        full = self._fill(batch, limits.max_batch)
        reason = FULL if full else ALONE
        if not full and limits.max_wait_s > 0:
            until = began + limits.max_wait_s
            while not full and (left := until - time.monotonic()) > 0:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), left)
                full = self._fill(batch, limits.max_batch)
            reason = FULL if full else WAITED
        if batch[0].request.get("dialect") == DOCUMENT:
            reason = ALONE  # never batched, never waited for
        now = time.monotonic()
        live = [p for p in batch if not p.future.done()]
        for pending in live:
            pending.dispatched, pending.batch_s, pending.batch_size = now, now - max(began, pending.arrived), len(live)
        if limits.max_batch > 1 and live:
            self.counters.released[reason] += 1
            self.counters.batch_sizes.append(len(live))
            if self.on_batch is not None:
                self.on_batch(len(live), reason)
        return live

    def _fill(self, batch: list[Pending], most: int) -> bool:
        """Add queued requests to ``batch`` up to ``most`` of them and ``BATCH_BYTES`` of bodies; whether it is
        full (a document op is never batched)."""
        if batch[0].request.get("dialect") == DOCUMENT:
            return True
        size = sum(pending.size for pending in batch)
        while self.queue and len(batch) < most and self.queue[0].request.get("dialect") != DOCUMENT:
            if size + self.queue[0].size > BATCH_BYTES:
                return True
            size += self.queue[0].size
            batch.append(self.queue.popleft())
        return len(batch) >= most or size >= BATCH_BYTES

    async def _run_batch(self, worker: OnlineWorker, batch: list[Pending], generation: int) -> OnlineWorker | None:
        """Send the batch to the worker and answer each caller; a worker that hangs past the batch's last
        deadline, or dies, is replaced (the replacement is returned; None for an old revision's worker,
        which is not)."""
        self.in_flight += len(batch)
        try:
            wait = max(p.deadline for p in batch) - time.monotonic() + DEADLINE_GRACE
            try:
                if batch[0].request.get("dialect") == DOCUMENT:
                    call = self._document(worker, batch[0])
                else:
                    call = worker.score([p.sent_to(worker) for p in batch])
                replies = await asyncio.wait_for(call, max(wait, 0.001))
            except asyncio.TimeoutError:
                worker.kill()  # a hung run(): its callers had their 408; a fresh worker takes its place
                return await self._replace(worker, generation)
            except WorkerGone as gone:
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(gone)
                return await self._replace(worker, generation)
            for pending, reply in zip(batch, replies, strict=True):
                if not pending.future.done():
                    pending.future.set_result(reply)
            return worker
        finally:
            self.in_flight -= len(batch)

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

    async def _replace(self, worker: OnlineWorker, generation: int) -> OnlineWorker | None:
        worker.kill()
        await asyncio.to_thread(worker.process.wait)
        launch = self._launch
        if generation != self.generation or launch is None:
            return None
        self.counters.restarts += 1
        self.replacing += 1
        try:
            fresh = await start_worker(launch, worker.name, self._base_env)
        finally:
            self.replacing -= 1
        self.workers = [fresh if w is worker else w for w in self.workers]
        return fresh

    async def close(self) -> None:
        """Stop every worker (the endpoint or deployment was deleted, or the front stops)."""
        self.generation += 1
        self._wake.set()
        workers, self.workers = self.workers, []
        for task in list(self._tasks):
            task.cancel()
        for worker in workers:
            worker.kill()
            await asyncio.to_thread(worker.process.wait)
        for pending in self.queue:
            if not pending.future.done():
                pending.future.set_exception(Rejected(503, f"Deployment '{self.key}' was stopped."))
        self.queue.clear()
