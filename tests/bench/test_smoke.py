"""Every benchmark runs, tiny, with thresher and every baseline, so that none of them can rot.

Every ``python -m bench.pN_* --smoke`` process starts at once (most of their time is waiting
for processes to start: ``ray.init``, workers, environments) and each test waits for its own. A
benchmark checks its own answers (thresher's output equals the floor's, every count matches) and exits
non-zero when one is wrong; here we check that it did, and that it wrote the figures that
``docs/benchmarks.md`` and ``bench/results.json`` are made of. Nothing here asserts a time.

The benchmarks run side by side for the whole module, so a benchmark's runner and workers may be alive
when another benchmark's test ends: the suite's check that no thresher process is left behind is made
once, when every benchmark has ended (warm compute is on in the benchmarks; each ends its pools).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from bench import common
from bench.run_all import BENCHMARKS
from tests.conftest import LEFTOVER_WAIT_SECONDS, thresher_processes

FIGURES = {
    "p1": [
        "ratio_to_ideal",
        "speedup_vs_ray_data",
        "speedup_vs_ray_core",
        "speedup_vs_mp_pool",
        "warm_ratio_to_ideal",
        "warm_idle_memory_mb",
    ],
    "p2": ["ms_per_minibatch", "ms_per_minibatch_p99", "floor_ms_per_minibatch", "minibatches_per_s"],
    "p3": [
        "first_minibatch_s",
        "job_1_file_s",
        "bare_process_s",
        "warm_first_minibatch_s",
        "warm_idle_memory_mb",
        "env_build_s",
        "env_reuse_s",
        "ray_first_minibatch_s",
    ],
    "p4": ["plan_s", "peak_rss_mb"],
    "p5": [
        "ratio_to_ideal",
        "speedup_vs_mlflow_predict",
        "speedup_vs_ray_data",
        "warm_ratio_to_ideal",
        "warm_speedup_vs_mlflow_predict",
        "warm_idle_memory_mb",
    ],
    "p6": [
        "p50_overhead_ms",
        "speedup_vs_azure_server",
        "speedup_vs_mlflow_serve",
        "speedup_vs_mlserver_batching",
        "p99_ms_c8",
        "cold_start_s",
        "rows_ratio_min",
        "memory_ratio",
    ],
    "p7": [
        "control_plane_per_s_sqlite",
        "control_plane_per_s_postgres",
        "ms_per_minibatch",
        "ray_data_ms_per_block",
        "ray_actor_pool_ms_per_call",
        "p1_ray_ratio_to_ideal",
        "p1_local_ratio_to_ideal",
        "p1_ray_data_ratio_to_ideal",
    ],
    "p8": [
        "overhead_ms_per_step",
        "overhead_ms_per_step_fanout",
        "overhead_ms_per_step_chain",
        "reused_1000_s",
        "reused_3_step_s",
    ],
    "p9": ["submissions_per_s", "submit_p50_ms", "submit_p99_ms", "claim_p50_ms", "claim_p99_ms"],
}
# Extra arguments of a benchmark's smoke run: P6 leaves the peers that need a venv installed from PyPI
# (azmlinfsrv, MLServer) to `make bench`.
SMOKE_ARGS = {"p6": ["--no-venv-peers"]}
# Figures a smoke run cannot produce, allowed to be null when the section names why (``unmeasured``):
# P6's speedups over the peers that --no-venv-peers skips.
NULLABLE = {"p6": {"speedup_vs_azure_server", "speedup_vs_mlserver_batching"}}
# Figures that are differences, of either sign: thresher's p50 may come in under the floor's.
SIGNED = {"p6": {"p50_overhead_ms"}}


@dataclass
class SmokeRun:
    process: subprocess.Popen[bytes]
    results: Path
    log: Path
    handle: IO[bytes]

    def finish(self, timeout: float = 600) -> str:
        """Wait for the benchmark; its log."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.handle.close()
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SmokeRun]]:
    root = tmp_path_factory.mktemp("bench-smoke")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THRESHER_")}
    runs = {}
    for key, (module, _) in BENCHMARKS.items():
        work = root / key
        work.mkdir()
        results, log = work / "results.json", work / "log.txt"
        handle = log.open("wb")
        command = [sys.executable, "-m", module, "--smoke", "--work", str(work), "--results", str(results)]
        command += SMOKE_ARGS.get(key, [])
        process = subprocess.Popen(command, cwd=common.REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        runs[key] = SmokeRun(process, results, log, handle)
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        run.handle.close()
    deadline = time.monotonic() + LEFTOVER_WAIT_SECONDS
    while (left := thresher_processes(str(root))) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if left:
        pytest.fail(f"the benchmarks left thresher processes behind: {left}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_thresher_process_left() -> Iterator[None]:
    """Replaces the suite's per-test check: the benchmarks' processes outlive single tests (see above)."""
    yield


@pytest.mark.parametrize("key", list(BENCHMARKS))
def test_benchmark_runs_every_contender_and_reports_its_figures(smoke_runs: dict[str, SmokeRun], key: str) -> None:
    run = smoke_runs[key]
    log = run.finish()
    assert run.process.returncode == 0, f"python -m {BENCHMARKS[key][0]} --smoke failed:\n{log[-6000:]}"
    document = json.loads(run.results.read_text())
    section = document[key]
    assert section["verified"] is True
    for name in FIGURES[key]:
        if name.endswith("_postgres") and section.get("postgres_skipped"):
            continue  # no PostgreSQL server installed here; the section says so
        if name in NULLABLE.get(key, ()) and section.get("unmeasured", {}).get(name):
            continue  # its peer was skipped; the section says why
        value = common.lookup(document, f"{key}.{name}")
        positive = name in SIGNED.get(key, ()) or (isinstance(value, float) and value > 0)
        assert isinstance(value, float) and math.isfinite(value) and positive, f"{key}.{name} is {value!r}"
    machine = document["machine"]
    assert machine["cores"] >= 1 and machine["memory_gib"] > 0 and machine["python"]
    table = section["tables"][0]
    assert all(len(row) == len(table["columns"]) for row in table["rows"])
    assert section["commands"] and all("python -m bench." in command for command in section["commands"])


def test_p1_thresher_output_is_byte_identical_to_the_floor(smoke_runs: dict[str, SmokeRun]) -> None:
    run = smoke_runs["p1"]
    run.finish()
    section = json.loads(run.results.read_text())["p1"]
    assert section["outputs_identical"] is True
    assert section["rows"] == 4 * 50
    labels = [row[0] for row in section["tables"][0]["rows"]]
    assert len(labels) == 7  # the ideal and six contenders: thresher cold and warm, floor, Pool, Ray Core, Ray Data


@pytest.mark.parametrize("key", ["p1", "p3", "p5"])
def test_warm_variant_ran_on_the_first_jobs_workers_and_reports_their_memory(
    smoke_runs: dict[str, SmokeRun], key: str
) -> None:
    run = smoke_runs[key]
    run.finish()
    section = json.loads(run.results.read_text())[key]
    # The benchmark fails unless the warm job's overview says it ran on the priming job's workers.
    assert section["verified"] is True
    assert section["warm_idle_workers"] == 2 and section["warm_idle_memory_mb"] > 10
    assert any("warm" in (table.get("title") or "") for table in section["tables"])
    targets = [target["target"] for target in section["targets"]]
    assert any(t.startswith(f"{key.upper()} cold:") for t in targets)
    assert any(t.startswith(f"{key.upper()} warm:") for t in targets)
    assert "memory of warm idle workers reported" in targets


def test_p7_measures_thresher_on_ray_beside_ray_data_and_keeps_the_control_plane(
    smoke_runs: dict[str, SmokeRun],
) -> None:
    run = smoke_runs["p7"]
    run.finish()
    section = json.loads(run.results.read_text())["p7"]
    titles = [table.get("title") or "" for table in section["tables"]]
    assert section["tables"][0]["columns"][0] == "database"  # the control plane's table stays first
    assert any(title.startswith("Overhead per mini-batch on Ray") for title in titles)
    assert any(title.startswith("P1 on a one-node Ray cluster") for title in titles)
    assert any("bench.p7_ray p1_thresher_ray" in command for command in section["commands"])
    targets = [target["target"] for target in section["targets"]]
    assert any(t.startswith("control plane over") for t in targets)
    assert any(t.startswith("overhead per mini-batch on Ray") for t in targets)
    # Remote tables: one row group fetched per mini-batch, so the job downloads about the object once.
    assert 0.9 < section["remote_parquet_bytes_ratio"] < 1.5
    assert any(note.startswith("Remote tables:") for note in section["notes"])


def test_p8_ran_every_part_at_smoke_sizes_and_says_so(smoke_runs: dict[str, SmokeRun]) -> None:
    run = smoke_runs["p8"]
    run.finish()
    section = json.loads(run.results.read_text())["p8"]
    # The benchmark fails unless every step of the second fan-out and of the 3-step run was reused.
    assert section["failures"] == {}
    assert section["smoke_sizes"] is True and "**Smoke sizes**" in section["description"]
    assert section["fanout_steps"] == 12 and section["chain_steps"] == 4 and section["slots"] >= 1
    assert len(section["reused_3_step_runs_s"]) == section["reps_3_step"] == 1
    targets = [target["target"] for target in section["targets"]]
    assert any(t.startswith("pipeline overhead under 50 ms per step") for t in targets)
    assert any(t.startswith("fully reused 12-step pipeline") for t in targets)
    assert any(t.startswith("fully reused 3-step pipeline") for t in targets)
    assert any("Prefect" in note and "not measured here" in note for note in section["notes"])


def test_p6_loads_the_floor_mlflow_serve_and_both_thresher_deployments_and_weighs_its_load_generator(
    smoke_runs: dict[str, SmokeRun],
) -> None:
    run = smoke_runs["p6"]
    run.finish()
    section = json.loads(run.results.read_text())["p6"]
    labels = [row[0] for row in section["tables"][0]["rows"]]
    assert any(label.startswith("bare ASGI app") for label in labels)
    assert any(label.startswith("mlflow models serve") for label in labels)
    assert sum(label.startswith("thresher") for label in labels) == 2  # w1 (1 worker) and w2 (2 workers)
    assert all(row[-1] == 0 for row in section["tables"][0]["rows"])  # no non-2xx answer anywhere
    assert set(section["skipped"]) == {"azmlinfsrv_w1", "azmlinfsrv_w2", "mlserver", "mlserver_batching"}
    generator = dict((row[0], row[1]) for row in section["tables"][2]["rows"])
    assert all(value is not None and value > 0 for value in generator.values())
    targets = [target["target"] for target in section["targets"]]
    assert any("0.3 ms of the bare ASGI app" in t for t in targets) and any("cold start" in t for t in targets)


def test_markdown_shows_machine_every_section_and_the_targets(smoke_runs: dict[str, SmokeRun]) -> None:
    document: dict[str, object] = {}
    for run in smoke_runs.values():
        run.finish()
        if run.process.returncode == 0:
            document.update(json.loads(run.results.read_text()))
    text = common.markdown(document)
    assert "## Machine" in text and f"| Python | {sys.version.split()[0]} |" in text
    for key, (_, title) in BENCHMARKS.items():
        if key in document:
            assert f"## {key.upper()}. {title}" in text
    assert "## Targets" in text and "B1: at least 0.9 of ideal" in text
