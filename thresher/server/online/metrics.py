"""The online front's Prometheus metrics (``GET /metrics``), in a registry of its own.

Requests by endpoint, deployment and status; latency histograms; batch sizes and why each batch was
released (full, waited its max_wait_ms, or nothing else was queued); queue depth; rejections (429),
deadlines missed (408) and worker restarts; each worker's CPU seconds and resident memory, read from
``/proc`` when scraped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 180.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

WorkerPids = Callable[[], Iterable[tuple[str, str, str, int]]]  # (endpoint, deployment, worker, pid)
Depths = Callable[[], Iterable[tuple[str, str, int]]]  # (endpoint, deployment, pending requests)


class OnlineMetrics:
    """Every metric of the front; ``render()`` is the ``/metrics`` body."""

    def __init__(self, worker_pids: WorkerPids, depths: Depths) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("endpoint", "deployment")
        self.requests = Counter(
            "thresher_online_requests", "Requests answered", (*labels, "code"), registry=self.registry
        )
        self.latency = Histogram(
            "thresher_online_request_seconds",
            "Time from request to response",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "thresher_online_batch_size",
            "Requests per batch sent to a worker",
            labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_released = Counter(
            "thresher_online_batch_released",
            "Batches by why they left: full, waited, alone",
            (*labels, "reason"),
            registry=self.registry,
        )
        self.rejections = Counter(
            "thresher_online_rejections",
            "Requests refused at once (429 overload, 503 not serving)",
            (*labels, "code"),
            registry=self.registry,
        )
        self.mirrored = Counter(
            "thresher_online_mirrored", "Requests copied to the mirror deployment", labels, registry=self.registry
        )
        self.registry.register(_Live(worker_pids, depths))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    """Queue depth and per-worker CPU and memory, read at scrape time."""

    def __init__(self, worker_pids: WorkerPids, depths: Depths) -> None:
        self._pids, self._depths = worker_pids, depths

    def describe(self) -> list[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "thresher_online_queue_depth", "Requests queued or on a worker", labels=["endpoint", "deployment"]
        )
        for endpoint, deployment, pending in self._depths():
            depth.add_metric([endpoint, deployment], pending)
        yield depth
        labels = ["endpoint", "deployment", "worker"]
        cpu = GaugeMetricFamily("thresher_online_worker_cpu_seconds", "CPU time of each worker", labels=labels)
        memory = GaugeMetricFamily(
            "thresher_online_worker_resident_bytes", "Resident memory of each worker", labels=labels
        )
        for endpoint, deployment, worker, pid in self._pids():
            usage = _usage(pid)
            if usage is not None:
                cpu.add_metric([endpoint, deployment, worker], usage[0])
                memory.add_metric([endpoint, deployment, worker], usage[1])
        yield cpu
        yield memory


def _usage(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, resident bytes) of a process, from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(") ", 1)[1].split()
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            resident = int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS, resident
