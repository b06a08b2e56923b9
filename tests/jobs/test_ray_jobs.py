"""Batch jobs on a ray compute, end to end: the real runner, Ray actors on the session's 3-node cluster."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.conftest import Bench
from tests.ray_cluster import CPUS_PER_WORKER
from thresher.errors import ThresherError
from thresher.specs import parse_spec

SLOW_SCRIPT = """
import os, time

def run(mini_batch):
    time.sleep(0.3)
    return [f"{os.path.basename(path)} {open(path).read().strip()}" for path in mini_batch]
"""


def _inputs(root: Path, count: int) -> Path:
    folder = root / "inputs"
    folder.mkdir()
    for index in range(count):
        (folder / f"item-{index:03d}.txt").write_text(f"value-{index * 7}\n")
    return folder


def _ray_compute(bench: Bench, name: str, address: str, **keys: Any) -> None:
    document = {"name": name, "type": "ray", "address": address, "max_instances": 3, **keys}
    bench.ws.computes.create(parse_spec(document, "compute", base_dir=bench.root))  # type: ignore[arg-type]


@pytest.fixture
def ray_bench(bench: Bench, ray_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Bench:
    """The bench, with its runner's Ray workers sized to fit the test cluster's 1-CPU nodes."""
    monkeypatch.setenv("THRESHER_RAY_CPUS_PER_WORKER", str(CPUS_PER_WORKER))
    return bench


def test_a_node_killed_mid_job_and_the_job_completes_with_the_local_output(ray_bench: Bench, ray_cluster: Any) -> None:
    bench = ray_bench
    inputs = _inputs(bench.root, 24)
    settings = {"mini_batch_size": 1, "max_concurrency_per_instance": 1}
    bench.deploy(SLOW_SCRIPT, name="local", settings={**settings, "max_concurrency_per_instance": 4})
    local = bench.run(inputs)
    assert local.status == "Completed", local.headline

    _ray_compute(bench, "cluster", ray_cluster.address)
    bench.deploy(SLOW_SCRIPT, name="ray", settings=settings, compute="azureml:cluster", resources={"instance_count": 3})
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(inputs))
    deadline = time.monotonic() + 60
    while (bench.ws.jobs.get(job.name).progress.mini_batches_done or 0) < 4:  # workers on every node are busy
        assert time.monotonic() < deadline, bench.ws.jobs.get(job.name)
        time.sleep(0.05)
    head = ray_cluster.cluster.head_node.node_id
    victim = next(node.node_id for node in ray_cluster.workers if node.node_id != head)
    ray_cluster.kill_node(victim)
    try:
        done = bench.ws.jobs.wait(job.name, timeout=120)
    finally:
        ray_cluster.add_node()
    assert done.status == "Completed", done.headline
    assert done.progress.items_succeeded == 24 and done.progress.items_failed == 0
    assert Path(str(done.spec["output_file"])).read_bytes() == Path(str(local.spec["output_file"])).read_bytes()
    processed = (Path(str(done.spec["folder"])) / "logs" / "sys" / "processed_mini_batches.csv").read_text()
    rows = [line.split(",") for line in processed.splitlines()[1:]]
    assert len({row[5].split("/")[0] for row in rows}) == 3  # workers on all 3 nodes took part
    assert any(row[4] == "2" for row in rows)  # the task on the lost node was run again elsewhere


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_compute_create_with_an_unreachable_address_names_the_compute_and_the_address(bench: Bench) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    began = time.monotonic()
    with pytest.raises(ThresherError) as caught:
        _ray_compute(bench, "nowhere", address)
    assert time.monotonic() - began < 5
    message = str(caught.value)
    assert f"Compute 'nowhere': the Ray cluster at address '{address}' cannot be reached" in message
    assert caught.value.fix is not None and "ray start --head" in caught.value.fix
    assert not any(record.name == "nowhere" for record in bench.ws.computes.list())


def test_a_job_whose_cluster_went_away_fails_with_a_headline_not_a_traceback(bench: Bench) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # answers compute create's check, then goes away
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    _ray_compute(bench, "gone", address)
    listener.close()
    bench.deploy(SLOW_SCRIPT, compute="azureml:gone")
    job = bench.run(_inputs(bench.root, 2), timeout=60)
    assert job.status == "Failed"
    assert job.headline is not None
    assert f"Compute 'gone': the Ray cluster at address '{address}' cannot be reached" in job.headline
    assert "Traceback" not in job.headline


def test_amlcompute_runs_on_the_ray_cluster_of_the_workspace_setting(tmp_path: Path) -> None:
    from thresher import Workspace
    from thresher.settings import load_settings

    document = {"name": "batch-cluster", "type": "amlcompute", "min_instances": 1, "max_instances": 5}
    spec = parse_spec(document, "compute", base_dir=tmp_path)
    with Workspace(settings=load_settings(home=tmp_path / "plain")) as ws:
        assert ws.computes.placement(ws.computes.create(spec))["backend"] == "local"  # type: ignore[arg-type]
    mapped = load_settings(home=tmp_path / "mapped", amlcompute_ray_address="ray://head:10001")
    with Workspace(settings=mapped) as ws:
        placement = ws.computes.placement(ws.computes.create(spec))  # type: ignore[arg-type]
    assert (placement["backend"], placement["address"]) == ("ray", "ray://head:10001")
    assert (placement["min_nodes"], placement["max_nodes"]) == (1, 5)


PID_SCRIPT = """
import os

def init():
    with open(os.environ["INIT_LOG"], "a") as log:
        log.write(f"{os.getpid()}\\n")

def run(mini_batch):
    return [f"{os.path.basename(path)} {os.getpid()}" for path in mini_batch]
"""


def test_a_second_job_on_a_ray_compute_runs_on_the_warm_actors(
    ray_bench: Bench, ray_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = ray_bench
    monkeypatch.setenv("THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN", os.environ.get("WARMTEST", "60"))
    _ray_compute(bench, "cluster", ray_cluster.address)
    settings = {"mini_batch_size": 1, "max_concurrency_per_instance": 1}
    bench.deploy(
        PID_SCRIPT,
        name="ray",
        settings=settings,
        compute="azureml:cluster",
        resources={"instance_count": 2},
        environment_variables={"INIT_LOG": str(bench.root / "init.log")},
    )
    try:
        jobs = [bench.run(_inputs(bench.root / name, 4)) for name in ("a", "b") if not (bench.root / name).mkdir()]
        assert [job.status for job in jobs] == ["Completed", "Completed"], [job.headline for job in jobs]
        started = (bench.root / "init.log").read_text().split()
        assert len(started) == 2  # two workers, each ran init() once: the second job found them warm
        for job in jobs:
            pids = {line.split()[1] for line in bench.output(job).splitlines()}
            assert pids <= set(started)
        [pool] = bench.ws.computes.warm_pools("cluster")
        assert pool["workers"] == 2 and pool["jobs"] == 2 and len(pool["pids"]) == 2
    finally:
        bench.ws.computes.stop("cluster")


def test_a_pipelines_parallel_step_runs_on_its_ray_compute(ray_bench: Bench, ray_cluster: Any) -> None:
    bench = ray_bench
    _ray_compute(bench, "cluster", ray_cluster.address)
    code = bench.root / "code"
    code.mkdir()
    (code / "score.py").write_text(SLOW_SCRIPT)
    folder = _inputs(bench.root, 6)
    (bench.root / "pipeline.yml").write_text(
        f"""\
type: pipeline
settings: {{default_compute: azureml:cluster}}
jobs:
  score:
    type: parallel
    component:
      type: parallel
      inputs: {{data: {{type: uri_folder}}}}
      outputs: {{rows: {{type: uri_folder}}}}
      input_data: ${{{{inputs.data}}}}
      mini_batch_size: "2"
      resources: {{instance_count: 2}}
      task: {{type: run_function, code: ./code, entry_script: score.py, append_row_to: "${{{{outputs.rows}}}}"}}
    inputs: {{data: {{type: uri_folder, path: "{folder}"}}}}
"""
    )
    job = bench.ws.pipelines.create(bench.root / "pipeline.yml")
    ended = bench.ws.jobs.wait(job.name, timeout=180)
    assert ended.status == "Completed", ended.headline
    [step] = bench.ws.jobs.list(parent_job_name=job.name)
    assert (step.spec["backend"], step.spec["compute"], step.spec["nodes"]) == ("ray", "cluster", 2)
    rows = Path(str(step.spec["output_file"])).read_text().splitlines()
    assert rows == [f"item-{i:03d}.txt value-{i * 7}" for i in range(6)]
