"""The workers' CPU and memory over a job, read from their samples in ``logs/sys/perf``, and what they warn of.

At the end of a job the runner reads every ``logs/sys/perf/<node>/<process>.csv`` (written by the
executor, ``thresher.executors.perf``) into each worker's peak memory and mean CPU (the mean of its
samples), saved on the job row for ``job show``, with two kinds of warning:

- **starved**: a worker sampled at least ``MIN_SAMPLES`` times whose mean CPU stayed under
  ``STARVED_CPU_PERCENT`` (half a core) spent most of its life waiting for work, not computing;
- **memory**: the workers of one machine held more than ``MEMORY_FRACTION`` of its memory at once
  (the sum of each one's latest sample), close to the kernel's OOM killer.

    usage = summarize(spec.job_folder.logs)     # None when nothing was sampled
    usage.workers[0].peak_memory_bytes, usage.warnings
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from thresher.executors.perf import PERF_COLUMNS
from thresher.storage.disk import size
from thresher.store import ResourceUsage, WorkerUsage

STARVED_CPU_PERCENT = 50.0  # a worker's mean CPU below half a core ...
MIN_SAMPLES = 5  # ... over at least this many samples: starved
MEMORY_FRACTION = 0.8  # workers of a machine above this share of its memory at once: near out of memory

_MEMORY_FIX = (
    "Fix: run fewer workers per node (a lower max_concurrency_per_instance) or give each run() less data "
    "(a smaller settings.mini_batch_size)."
)


@dataclass(frozen=True)
class _Sample:
    time: float  # seconds since the epoch
    cpu_percent: float
    rss_bytes: int
    host: str
    host_memory_bytes: int


def summarize(logs_dir: Path) -> ResourceUsage | None:
    """Each worker's peak memory and mean CPU from ``logs_dir/sys/perf``, and the warnings; None without samples."""
    samples = {worker: rows for worker, rows in _read(logs_dir / "sys" / "perf").items() if rows}
    if not samples:
        return None
    workers = tuple(
        WorkerUsage(
            worker=worker,
            host=rows[-1].host,
            samples=len(rows),
            mean_cpu_percent=round(sum(r.cpu_percent for r in rows) / len(rows), 1),
            peak_memory_bytes=max(r.rss_bytes for r in rows),
        )
        for worker, rows in sorted(samples.items(), key=lambda item: _order(item[0]))
    )
    warnings = [_starved(worker) for worker in workers if _is_starved(worker)]
    warnings += _memory_warnings(samples)
    return ResourceUsage(workers, tuple(warnings))


def _read(root: Path) -> dict[str, list[_Sample]]:
    """worker -> its samples in time order; unreadable lines (one cut short by a crash) are skipped."""
    found: dict[str, list[_Sample]] = {}
    for path in root.glob("*/*.csv"):
        rows: list[_Sample] = []
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    sample = _parse(row)
                    if sample is not None:
                        rows.append(sample)
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        found[f"{path.parent.name}/{path.stem}"] = sorted(rows, key=lambda r: r.time)
    return found


def _parse(row: dict[str, str]) -> _Sample | None:
    try:
        time, cpu, rss, _, host, memory = (row[column] for column in PERF_COLUMNS)
        stamp = datetime.fromisoformat(time)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return _Sample(stamp.timestamp(), float(cpu), int(rss), host, int(memory))
    except (KeyError, TypeError, ValueError):
        return None


def _order(worker: str) -> tuple[int, str]:
    """node-2/process001 before node-10/process000."""
    match = re.search(r"(\d+)/", worker)
    return (int(match[1]) if match else 0, worker)


def _is_starved(worker: WorkerUsage) -> bool:
    return worker.samples >= MIN_SAMPLES and worker.mean_cpu_percent < STARVED_CPU_PERCENT


def _starved(worker: WorkerUsage) -> str:
    return (
        f"Worker {worker.worker} used {worker.mean_cpu_percent:.0f} % of a core on average over {worker.samples} "
        f"samples (under {STARVED_CPU_PERCENT:.0f} %): it was starved, waiting for work instead of computing, "
        "because reading the input is slow, the mini-batches are too small for their overhead, or there are "
        "more workers than cores. Fix: raise settings.mini_batch_size, lower max_concurrency_per_instance, "
        "or make the input faster to read (local copies, fewer larger files); if run() waits on purpose "
        "(a remote service, a GPU), ignore this."
    )


def _memory_warnings(samples: dict[str, list[_Sample]]) -> list[str]:
    """One warning per machine whose workers together came above MEMORY_FRACTION of its memory."""
    events: dict[str, list[tuple[float, str, int]]] = defaultdict(list)
    memory: dict[str, int] = defaultdict(int)
    last_seen = {worker: rows[-1].time for worker, rows in samples.items()}
    for worker, rows in samples.items():
        for row in rows:
            events[row.host].append((row.time, worker, row.rss_bytes))
            memory[row.host] = max(memory[row.host], row.host_memory_bytes)
    warnings = []
    for host, timeline in sorted(events.items()):
        peak, at, members = _peak(sorted(timeline), last_seen)
        total = memory[host]
        if total <= 0 or peak <= MEMORY_FRACTION * total:
            continue
        share = f"{peak / total * 100:.0f} % of the machine's {size(total)}"
        when = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        if len(members) == 1:
            (worker,) = members
            warnings.append(
                f"Worker {worker} on host {host} used {size(peak)} of memory at {when}, {share}: close to running out, "
                f"when the kernel kills workers. {_MEMORY_FIX}"
            )
            continue
        biggest = sorted(members.items(), key=lambda item: -item[1])
        named = ", ".join(f"{worker} {size(rss)}" for worker, rss in biggest[:4])
        more = f" and {len(biggest) - 4} more" if len(biggest) > 4 else ""
        warnings.append(
            f"Workers on host {host} used {size(peak)} of memory together at {when}, {share} ({named}{more}): close to "
            f"running out, when the kernel kills workers. {_MEMORY_FIX}"
        )
    return warnings


def _peak(timeline: list[tuple[float, str, int]], last_seen: dict[str, float]) -> tuple[int, float, dict[str, int]]:
    """The most memory held at once: each worker counts its latest sample until its last one."""
    current: dict[str, int] = {}
    peak: tuple[int, float, dict[str, int]] = (0, 0.0, {})
    index = 0
    while index < len(timeline):
        now = timeline[index][0]
        while index < len(timeline) and timeline[index][0] == now:
            _, worker, rss = timeline[index]
            current[worker] = rss
            index += 1
        for gone in [worker for worker in current if last_seen[worker] < now]:
            del current[gone]
        total = sum(current.values())
        if total > peak[0]:
            peak = (total, now, dict(current))
    return peak
