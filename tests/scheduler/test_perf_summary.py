"""The end-of-job summary of ``logs/sys/perf``: per-worker figures and the warnings they call for."""

from __future__ import annotations

from pathlib import Path

from thresher.executors.perf import PERF_COLUMNS
from thresher.scheduler.perf_summary import summarize

GiB = 1 << 30


def _write(
    logs: Path, worker: str, rows: list[tuple[str, float, int]], *, host: str = "a", memory: int = 10 * GiB
) -> None:
    node, process = worker.split("/")
    path = logs / "sys" / "perf" / node / f"{process}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(PERF_COLUMNS)]
    lines += [f"2026-01-05T10:00:{second}.000Z,{cpu},{rss},1,{host},{memory}" for second, cpu, rss in rows]
    path.write_text("\n".join(lines) + "\n")


def test_peak_memory_and_mean_cpu_per_worker_in_worker_order(tmp_path: Path) -> None:
    _write(tmp_path, "node-10/process000", [("01", 100.0, 3 * GiB // 10)])
    _write(tmp_path, "node-2/process001", [("01", 90.0, 100), ("02", 70.0, 300), ("03", 80.0, 200)])
    usage = summarize(tmp_path)
    assert usage is not None
    assert [(w.worker, w.samples, w.mean_cpu_percent, w.peak_memory_bytes) for w in usage.workers] == [
        ("node-2/process001", 3, 80.0, 300),
        ("node-10/process000", 1, 100.0, 3 * GiB // 10),
    ]
    assert usage.warnings == ()


def test_a_worker_under_half_a_core_over_five_samples_is_starved(tmp_path: Path) -> None:
    _write(tmp_path, "node-0/process000", [(f"0{s}", 10.0, 100) for s in range(5)])
    _write(tmp_path, "node-0/process001", [(f"0{s}", 10.0, 100) for s in range(4)])  # too few samples to tell
    usage = summarize(tmp_path)
    assert usage is not None
    (warning,) = usage.warnings
    assert warning.startswith("Worker node-0/process000 used 10 % of a core on average over 5 samples")
    assert "starved" in warning and "Fix: raise settings.mini_batch_size" in warning


def test_workers_that_together_come_close_to_the_machines_memory(tmp_path: Path) -> None:
    # On host a (10 GiB): 5 + 4 GiB at 10:00:02, over 80 %; at no other moment. Host b stays low.
    _write(tmp_path, "node-0/process000", [("01", 100.0, 2 * GiB), ("02", 100.0, 5 * GiB), ("03", 100.0, GiB)])
    _write(tmp_path, "node-0/process001", [("02", 100.0, 4 * GiB)])
    _write(tmp_path, "node-1/process000", [("02", 100.0, 4 * GiB)], host="b")
    usage = summarize(tmp_path)
    assert usage is not None
    (warning,) = usage.warnings
    assert warning.startswith("Workers on host a used 9.0 GiB of memory together at 2026-01-05 10:00:02 UTC, 90 %")
    assert "node-0/process000 5.0 GiB, node-0/process001 4.0 GiB" in warning
    assert "Fix: run fewer workers per node" in warning and "settings.mini_batch_size" in warning


def test_one_worker_close_to_the_machines_memory_is_named_alone(tmp_path: Path) -> None:
    _write(tmp_path, "node-0/process000", [("01", 100.0, 9 * GiB)])
    _write(tmp_path, "node-0/process001", [("05", 100.0, GiB)])  # started after the other one's last sample
    usage = summarize(tmp_path)
    assert usage is not None
    (warning,) = usage.warnings
    assert warning.startswith(
        "Worker node-0/process000 on host a used 9.0 GiB of memory at 2026-01-05 10:00:01 UTC, 90 %"
    )


def test_no_samples_no_summary_and_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    assert summarize(tmp_path) is None
    _write(tmp_path, "node-0/process000", [("01", 100.0, 100)])
    path = tmp_path / "sys" / "perf" / "node-0" / "process000.csv"
    path.write_text(path.read_text() + "2026-01-05T10:00:02.000Z,55.")
    usage = summarize(tmp_path)
    assert usage is not None and usage.workers[0].samples == 1
