"""Each worker's CPU and memory, sampled from /proc into the job's logs (Azure's ``logs/sys/perf``).

Every ``interval`` seconds (``THRESHER_WORKER_PERF_INTERVAL``, default 1 s; 0 turns sampling off) the
local executor appends one line per live worker to ``logs/sys/perf/<node>/<process>.csv``:

    time,cpu_percent,rss_bytes,processes,host,host_memory_bytes
    2026-01-05T10:31:07.125Z,98.7,52412416,1,build-7,25276514304

- ``time``: when the sample was taken (UTC).
- ``cpu_percent``: CPU seconds the worker used since its previous sample (or since it started) over
  the wall seconds between; 100 is one full core, 400 four.
- ``rss_bytes``: its resident memory.
- ``processes``: how many processes were counted: the worker and the descendants it started from
  its main thread (``/proc/<pid>/task/<pid>/children``), e.g. a data loader's; their CPU and memory
  are added to the worker's (memory they share is counted once per process).
- ``host``, ``host_memory_bytes``: the machine and its memory (``MemTotal``).

Linux only: where there is no /proc, nothing is sampled and no file is written. The sampler is called
from the executor's single event loop, between events, so it costs a mini-batch nothing; a sample
reads two small /proc files per process and appends one line per worker.

    sampler = PerfSampler.create()            # None off Linux
    sampler.started("node-0/process000")      # when the worker is spawned
    sampler.sample([("node-0/process000", pid)], logs_dir)   # every interval
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

DEFAULT_INTERVAL = 1.0  # seconds between samples (THRESHER_WORKER_PERF_INTERVAL)
PERF_COLUMNS = ("time", "cpu_percent", "rss_bytes", "processes", "host", "host_memory_bytes")
_HEADER = ",".join(PERF_COLUMNS) + "\n"
_MAX_PROCESSES = 256  # descendants followed per worker, at most (a fork bomb is not walked whole)


def perf_file(logs_dir: str, worker: str) -> str:
    """``<logs_dir>/sys/perf/node-0/process000.csv``: where worker ``node-0/process000``'s samples go."""
    node, _, process = worker.partition("/")
    return os.path.join(logs_dir, "sys", "perf", node, process + ".csv")


@dataclass(frozen=True)
class TreeUsage:
    """What a worker's process tree has used so far."""

    cpu_seconds: float  # user + system time, its reaped children's included
    rss_bytes: int
    processes: int


def read_tree(pid: int, *, clock_ticks: int, page_size: int) -> TreeUsage | None:
    """The CPU time and resident memory of ``pid`` and its descendants; None once ``pid`` is gone."""
    ticks = pages = count = 0
    stack = [pid]
    while stack and count < _MAX_PROCESSES:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            if current == pid:
                return None
            continue  # a child that just exited
        # Fields after "(comm) ": state is [0]; utime, stime, cutime, cstime are [11:15]; rss (pages) is [21].
        fields = stat[stat.rfind(b")") + 2 :].split()
        try:
            ticks += sum(int(value) for value in fields[11:15])
            pages += int(fields[21])
        except (IndexError, ValueError):
            continue
        count += 1
        # Kernels without CONFIG_PROC_CHILDREN have no such file: the worker is counted alone.
        with contextlib.suppress(OSError), open(f"/proc/{current}/task/{current}/children", "rb") as handle:
            stack.extend(int(child) for child in handle.read().split())
    return TreeUsage(ticks / clock_ticks, pages * page_size, count)


def _memory_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class PerfSampler:
    """Appends one line per worker and sample to its perf file (see the module docstring)."""

    def __init__(self, *, clock_ticks: int, page_size: int) -> None:
        self._clock_ticks, self._page_size = clock_ticks, page_size
        self._host = socket.gethostname()
        self._memory = _memory_total()
        self._last: dict[str, tuple[float, float]] = {}  # worker -> (monotonic time, cpu seconds) of its last sample

    @classmethod
    def create(cls) -> PerfSampler | None:
        """A sampler, or None where there is no /proc to read (not Linux)."""
        if not os.path.exists(f"/proc/{os.getpid()}/stat"):
            return None
        try:
            return cls(clock_ticks=os.sysconf("SC_CLK_TCK"), page_size=os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            return None

    def started(self, worker: str) -> None:
        """``worker`` was just spawned: its first sample covers its life from now."""
        self._last[worker] = (time.monotonic(), 0.0)

    def rebased(self, worker: str, pid: int) -> None:
        """``worker`` (alive, ``pid``) starts another job: its next sample covers its life from now."""
        usage = read_tree(pid, clock_ticks=self._clock_ticks, page_size=self._page_size)
        if usage is None:
            self._last.pop(worker, None)
        else:
            self._last[worker] = (time.monotonic(), usage.cpu_seconds)

    def forget(self, worker: str) -> None:
        """``worker`` is gone."""
        self._last.pop(worker, None)

    def sample(self, workers: Iterable[tuple[str, int]], logs_dir: str) -> None:
        """One line for each ``(worker, pid)`` into its file under ``logs_dir``; a failed write drops the line."""
        now = time.monotonic()
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for worker, pid in workers:
            usage = read_tree(pid, clock_ticks=self._clock_ticks, page_size=self._page_size)
            if usage is None:
                continue
            since, cpu_before = self._last.get(worker, (now, usage.cpu_seconds))
            self._last[worker] = (now, usage.cpu_seconds)
            wall = now - since
            # A child reaped by someone outside the tree takes its CPU time along: never below zero.
            percent = max(0.0, usage.cpu_seconds - cpu_before) / wall * 100 if wall > 0 else 0.0
            line = f"{stamp},{percent:.1f},{usage.rss_bytes},{usage.processes},{self._host},{self._memory}\n"
            with contextlib.suppress(OSError):  # a full disk: this sample is lost, the job goes on
                self._append(perf_file(logs_dir, worker), line)

    def _append(self, path: str, line: str) -> None:
        # Opened per line, not kept open: a worker may be bound to another job's logs by the next sample.
        try:
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115
        with handle:
            if handle.tell() == 0:
                handle.write(_HEADER)
            handle.write(line)
