"""``thresher job show`` after a job: each worker's peak memory and mean CPU, and warnings about starved workers.

Jobs run in the detached runner with workers sampled every 0.1 s (THRESHER_WORKER_PERF_INTERVAL).
"""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from thresher import Workspace
from thresher.specs import parse_spec

BURN = """
import time

def run(mini_batch):
    end = time.process_time() + 1.0  # CPU seconds: a busy machine makes it slower, never shorter
    while time.process_time() < end:
        pass
    return mini_batch
"""

SLEEP = """
import time

def run(mini_batch):
    time.sleep(0.3)
    return mini_batch
"""


@pytest.fixture(autouse=True)
def _fast_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THRESHER_WORKER_PERF_INTERVAL", "0.1")


def _run_job(home: Path, root: Path, script: str, *, files: int, workers: int) -> str:
    """Deploy ``script`` with ``workers`` workers, score ``files`` files one per mini-batch; the job's name."""
    code, model, data = root / "code", root / "model", root / "data"
    for folder in (code, model, data):
        folder.mkdir()
    (code / "score.py").write_text(textwrap.dedent(script))
    (model / "w.txt").write_text("w")
    for index in range(files):
        (data / f"f{index}.txt").write_text("x")
    with Workspace(home) as ws:
        ws.models.create(parse_spec({"name": "m", "path": str(model)}, "model", base_dir=root))
        ws.batch_endpoints.create(parse_spec({"name": "perf"}, "batch_endpoint", base_dir=root))
        document = {
            "name": "d",
            "endpoint_name": "perf",
            "type": "model",
            "model": "azureml:m@latest",
            "code_configuration": {"code": str(code), "scoring_script": "score.py"},
            "settings": {"mini_batch_size": 1, "max_concurrency_per_instance": workers},
        }
        ws.batch_deployments.create(parse_spec(document, "batch_deployment", base_dir=root), set_default=True)  # type: ignore[arg-type]
        job = ws.jobs.wait(ws.jobs.invoke("perf", input=str(data)).name, timeout=120)
    assert job.status == "Completed", job.headline
    return job.name


def test_job_show_prints_each_workers_peak_memory_and_mean_cpu(
    home: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    name = _run_job(home, tmp_path, BURN, files=2, workers=2)
    shown = cli("job", "show", "-n", name).json()
    perf = Path(shown["logs"]) / "sys" / "perf"
    workers = {w["worker"]: w for w in shown["workers"]}
    assert sorted(workers) == ["node-0/process000", "node-0/process001"]
    for worker, figures in workers.items():
        with (perf / f"{worker}.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert figures["samples"] == len(rows) > 0
        assert max(float(row["cpu_percent"]) for row in rows) > 20, rows  # each burned a CPU second
        assert figures["peak_memory_bytes"] == max(int(row["rss_bytes"]) for row in rows) > 10_000_000
        assert figures["peak_memory"].endswith("MiB")
        assert 0 < figures["mean_cpu_percent"] <= 100 * len(rows)

    table = cli("job", "show", "-n", name, "-o", "table")
    assert table.code == 0
    header, *lines = table.out.splitlines()[-3:]
    assert header.split() == ["Worker", "Host", "Samples", "MeanCpuPercent", "PeakMemory"]
    for line, (worker, figures) in zip(lines, sorted(workers.items()), strict=True):
        assert line.split()[0] == worker and figures["peak_memory"] in line
    result = (Path(shown["logs"]) / "job_result.txt").read_text()
    assert f"node-0/process000: peak memory {workers['node-0/process000']['peak_memory']}, mean CPU" in result


def test_a_worker_that_mostly_waits_is_reported_starved_with_a_fix(
    home: Path, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    name = _run_job(home, tmp_path, SLEEP, files=6, workers=1)  # about 2 s asleep: some 20 samples at 0.1 s
    shown = cli("job", "show", "-n", name).json()
    (worker,) = shown["workers"]
    assert worker["samples"] >= 5 and worker["mean_cpu_percent"] < 50
    (warning,) = shown["warnings"]
    assert warning.startswith(f"Worker node-0/process000 used {worker['mean_cpu_percent']:.0f} % of a core")
    assert "starved" in warning and "Fix: raise settings.mini_batch_size" in warning

    table = cli("job", "show", "-n", name, "-o", "table")
    assert f"WARNING: {warning}" in table.err
    tsv = cli("job", "show", "-n", name, "-o", "tsv")
    assert f"WARNING: {warning}" in tsv.err and "WARNING" not in tsv.out
