"""What only the ray executor can meet: a Ray node lost under running tasks. Real 3-node cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.executors.conftest import Job, of_type, start, task, wait_for
from tests.ray_cluster import CPUS_PER_WORKER
from thresher.executors.base import Event, TaskDone, WorkerLost, WorkerReady


@pytest.fixture
def ray_executor(ray_cluster: Any) -> Iterator[Any]:
    from thresher.executors.ray import RayExecutor

    executor = RayExecutor(address=ray_cluster.address, cpus_per_worker=CPUS_PER_WORKER)
    yield executor
    executor.shutdown(graceful=False)


def test_workers_spread_over_nodes_and_a_lost_node_loses_only_its_task(
    job: Job, ray_executor: Any, ray_cluster: Any
) -> None:
    release = job.root / "release"
    config = job.config(
        f"""
        import os, time
        def run(mini_batch):
            open(mini_batch[0] + ".started", "w").close()
            while not os.path.exists({str(release)!r}):
                time.sleep(0.05)
            return mini_batch
        """
    )
    start(ray_executor, config, nodes=3, per_node=1)
    workers = [f"node-{n}/process000" for n in range(3)]
    node_of = {worker: ray_executor.node_of(worker) for worker in workers}
    assert len(set(node_of.values())) == 3  # one Ray node per thresher node while the cluster has nodes enough
    inputs = job.input_files(3)
    tasks = {ray_executor.submit(task([path])): path for path in inputs}
    wait_for(ray_executor, lambda _: all(os.path.exists(path + ".started") for path in inputs))
    head = ray_cluster.cluster.head_node.node_id
    victim = next(worker for worker in workers if node_of[worker] != head)  # the driver's node must stay up
    ray_cluster.kill_node(node_of[victim])
    try:

        def replaced(events: list[Event]) -> bool:
            return any(isinstance(e, WorkerReady) for e in events)

        events = wait_for(ray_executor, replaced, timeout=60)
        (lost,) = of_type(events, WorkerLost)
        assert (lost.worker, lost.exit_code, lost.slot) == (victim, None, victim.split("/")[0] + "/0")
        assert lost.task is not None and lost.reason.startswith("its Ray actor died")
        (ready,) = of_type(events, WorkerReady)
        assert ready.worker == victim.split("/")[0] + "/process001"
        assert ray_executor.node_of(ready.worker) not in (node_of[victim], None)  # on a surviving node
        release.touch()  # the tasks on the surviving nodes finish
        done = wait_for(ray_executor, lambda evs: len(of_type(evs, TaskDone)) == 2)
        assert sorted(tasks[e.worker] for e in of_type(done, TaskDone)) == sorted(
            path for worker, path in tasks.items() if worker != victim
        )
        assert ray_executor.live_workers() == 3 and ray_executor.idle_workers() == 3
    finally:
        ray_cluster.add_node()
