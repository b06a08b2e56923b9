"""Warm compute: a runner keeps a job's workers for the next job of the same deployment (issue 10).

Each test turns warm compute on for its workspace (the suite runs with it off) and ends with the
runner and its workers gone: ``thresher.scheduler.warm`` is the design."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.jobs.conftest import Bench
from thresher.scheduler.launch import runner_alive
from thresher.specs import parse_spec
from thresher.store import JobRecord

PIDS_SCRIPT = """
import os

def init():
    with open(os.environ["INIT_LOG"], "a") as log:
        log.write(f"{os.getpid()}\\n")

def run(mini_batch):
    return [f"{os.path.basename(path)} {os.getpid()}" for path in mini_batch]
"""


@pytest.fixture
def warm(bench: Bench, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bench]:
    """Warm compute on (60 s), and at the end: the pools stopped and the runner gone."""
    monkeypatch.setenv("THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN", "60")
    monkeypatch.setenv("INIT_LOG", str(tmp_path / "init.log"))
    yield bench
    bench.ws.computes.stop("local")
    deadline = time.monotonic() + 20
    while runner_alive(bench.ws.settings) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not runner_alive(bench.ws.settings), "the runner did not exit after its pools were stopped"


def files(root: Path, count: int, name: str = "data") -> Path:
    folder = root / name
    folder.mkdir()
    for index in range(count):
        (folder / f"f{index}.txt").write_text(str(index))
    return folder


def worker_pids(bench: Bench, job: JobRecord) -> set[int]:
    return {int(line.split()[1]) for line in bench.output(job).splitlines()}


def test_a_second_job_runs_on_the_first_jobs_workers_without_init(warm: Bench, tmp_path: Path) -> None:
    warm.deploy(PIDS_SCRIPT, settings={"mini_batch_size": 1, "max_concurrency_per_instance": 2})
    first = warm.run(files(tmp_path, 6, "a"))
    second = warm.run(files(tmp_path, 6, "b"))
    assert first.status == second.status == "Completed", (first.headline, second.headline)
    started = [int(pid) for pid in (tmp_path / "init.log").read_text().split()]
    assert len(set(started)) == len(started) == 2  # two workers, each ran init() once
    assert worker_pids(warm, first) | worker_pids(warm, second) <= set(started)
    overview = Path(str(second.spec["folder"]), "logs", "job_progress_overview.txt").read_text()
    assert "warm, kept from job " + first.name in overview


@pytest.mark.parametrize("change", ["code", "model", "variable"])
def test_a_changed_code_snapshot_model_version_or_variable_gets_fresh_workers(
    warm: Bench, tmp_path: Path, change: str
) -> None:
    warm.deploy(PIDS_SCRIPT, environment_variables={"COLOUR": "blue"})
    first = warm.run(files(tmp_path, 2, "a"))
    if change == "code":
        warm.deploy(PIDS_SCRIPT + "\n# changed\n", environment_variables={"COLOUR": "blue"})
    elif change == "model":
        model_dir = tmp_path / "model"
        (model_dir / "weights.txt").write_text("new weights")
        warm.ws.models.create(parse_spec({"name": "m", "path": str(model_dir)}, "model", base_dir=tmp_path))
        warm.deploy(PIDS_SCRIPT, environment_variables={"COLOUR": "blue"})
    else:
        warm.deploy(PIDS_SCRIPT, environment_variables={"COLOUR": "green"})
    second = warm.run(files(tmp_path, 2, "b"))
    assert first.status == second.status == "Completed", (first.headline, second.headline)
    assert worker_pids(warm, first).isdisjoint(worker_pids(warm, second))
    overview = Path(str(second.spec["folder"]), "logs", "job_progress_overview.txt").read_text()
    assert "2 workers started" in overview or "1 worker started" in overview


SUMMARY_SCRIPT = """
import os

def init():
    global output
    output = os.environ["AZUREML_BI_OUTPUT_PATH"]  # kept, as Azure's samples do

def run(mini_batch):
    for path in mini_batch:
        name = os.path.basename(path)
        with open(os.path.join(output, name + ".out"), "w") as handle:
            handle.write(str(os.getpid()))
    return mini_batch
"""


def test_a_script_that_kept_the_output_path_in_init_writes_the_second_jobs_files_into_its_output(
    warm: Bench, tmp_path: Path
) -> None:
    warm.deploy(SUMMARY_SCRIPT, settings={"output_action": "summary_only"})
    first = warm.run(files(tmp_path, 2, "a"))
    second = warm.run(files(tmp_path, 3, "b"))
    assert first.status == second.status == "Completed", (first.headline, second.headline)
    first_out, second_out = (Path(str(job.spec["output_dir"])) for job in (first, second))
    assert sorted(p.name for p in first_out.iterdir()) == ["f0.txt.out", "f1.txt.out"]
    assert sorted(p.name for p in second_out.iterdir()) == ["f0.txt.out", "f1.txt.out", "f2.txt.out"]
    pids = {p.read_text() for p in [*first_out.iterdir(), *second_out.iterdir()]}
    assert len(pids) == 1  # the same warm worker wrote both


SHUTDOWN_SCRIPT = """
import os

def init():
    with open(os.environ["INIT_LOG"], "a") as log:
        log.write(f"init {os.getpid()}\\n")

def run(mini_batch):
    print("scored", len(mini_batch))
    return mini_batch

def shutdown():
    with open(os.environ["INIT_LOG"], "a") as log:
        log.write(f"shutdown {os.getpid()}\\n")
"""


def test_a_script_with_shutdown_sees_it_once_per_job_and_init_again_on_the_warm_worker(
    warm: Bench, tmp_path: Path
) -> None:
    warm.deploy(SHUTDOWN_SCRIPT)
    jobs = [warm.run(files(tmp_path, 2, name)) for name in ("a", "b")]
    assert [job.status for job in jobs] == ["Completed", "Completed"], [job.headline for job in jobs]
    events = (tmp_path / "init.log").read_text().split("\n")
    assert [line.split()[0] for line in events if line] == ["init", "shutdown", "init", "shutdown"]
    assert len({line.split()[1] for line in events if line}) == 1  # one process
    for job in jobs:  # each job's log files hold that job's output
        stdout = Path(str(job.spec["folder"]), "logs", "user", "stdout", "node-0", "process000.stdout.txt")
        assert stdout.read_text().count("scored 2") == 1


def test_warm_workers_end_after_the_idle_time(warm: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN", "1")
    warm.deploy(PIDS_SCRIPT)
    job = warm.run(files(tmp_path, 2, "a"))
    pids = worker_pids(warm, job)
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 20), "warm workers outlived their idle time"
    assert wait_until(lambda: not runner_alive(warm.ws.settings), 20), "the runner stayed after its pools ended"


def test_compute_stop_ends_warm_workers_and_compute_show_reports_their_memory(warm: Bench, tmp_path: Path) -> None:
    warm.deploy(PIDS_SCRIPT)
    job = warm.run(files(tmp_path, 2, "a"))
    pids = worker_pids(warm, job)
    assert wait_until(lambda: bool(warm.ws.computes.warm_pools("local")), 10)
    [pool] = warm.ws.computes.warm_pools("local")
    assert pool["state"] == "idle" and pool["deployment"] == "scoring/blue"
    assert set(pool["pids"].values()) == pids and pool["memory_bytes"] > 1_000_000
    summary = warm.ws.computes.stop("local")
    assert summary["stopped_workers"] == 1 and summary["freed_memory_bytes"] > 1_000_000
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 10)
    assert warm.ws.computes.warm_pools("local") == []


def test_a_runner_killed_with_warm_workers_leaves_no_worker_behind(warm: Bench, tmp_path: Path) -> None:
    warm.deploy(PIDS_SCRIPT, settings={"max_concurrency_per_instance": 2})
    job = warm.run(files(tmp_path, 4, "a"))
    pids = worker_pids(warm, job)
    [pool] = warm.ws.computes.warm_pools("local")
    runner = int(runner_pid(warm))
    os.kill(runner, signal.SIGKILL)
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 10), "a warm worker outlived its runner"
    assert pool["workers"] == 2


def test_a_deployment_can_opt_out_of_warm_workers(warm: Bench, tmp_path: Path) -> None:
    warm.deploy(PIDS_SCRIPT, environment_variables={"THRESHER_REUSE_WORKERS": "false"})
    first = warm.run(files(tmp_path, 2, "a"))
    second = warm.run(files(tmp_path, 2, "b"))
    assert worker_pids(warm, first).isdisjoint(worker_pids(warm, second))
    assert warm.ws.computes.warm_pools("local") == []


def runner_pid(bench: Bench) -> str:
    return (bench.ws.settings.workspace_dir / "runner.lock").read_text().strip()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_min_instances_keeps_the_last_deployments_workers_past_the_idle_time(
    warm: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN", "1")
    document = {"name": "cpu", "type": "amlcompute", "min_instances": 1, "max_instances": 1}
    warm.ws.computes.create(parse_spec(document, "compute", base_dir=tmp_path))  # type: ignore[arg-type]
    warm.deploy(PIDS_SCRIPT, compute="azureml:cpu")
    job = warm.run(files(tmp_path, 2, "a"))
    pids = worker_pids(warm, job)
    time.sleep(3)  # three times the idle time
    [pool] = warm.ws.computes.warm_pools("cpu")
    assert pool["kept_by_min_instances"] and pool["ends_in_s"] is None
    assert all(alive(pid) for pid in pids)
    assert warm.ws.computes.stop("cpu")["stopped_workers"] == 1
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 10)
