"""A real multi-node Ray cluster on this machine for the tests: ``ray.cluster_utils.Cluster``.

Three nodes of ``num_cpus=1`` (one of them the head), no dashboard, started once per test session
by the ``ray_cluster`` fixture (tests/conftest.py). The test process connects to it as a driver;
runners started by job tests connect to ``address``. Each node is a raylet of its own, so removing
one (``kill_node``) is what losing a machine looks like to Ray.

Ray turns ``127.0.0.1`` in an address into this machine's own IP, so the nodes use that IP (Ray's
default): a cluster bound to the loopback only would refuse the connection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

CPUS_PER_WORKER = 0.25  # 4 workers fit on one 1-CPU node, so the suite's 2x2 pools fit with a node lost


@dataclass
class RayTestCluster:
    """The session's cluster and this process's connection to it."""

    cluster: Any  # ray.cluster_utils.Cluster
    address: str
    started_in: float
    workers: list[Any] = field(default_factory=list)  # the non-head nodes, which tests may remove

    @classmethod
    def start(cls, nodes: int = 3) -> RayTestCluster:
        import ray
        from ray.cluster_utils import Cluster

        began = time.monotonic()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        workers = [cluster.add_node(num_cpus=1) for _ in range(nodes - 1)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="warning")
        return cls(cluster, cluster.address, time.monotonic() - began, workers)

    def kill_node(self, node_id: str) -> None:
        """Remove the (non-head) node with Ray id ``node_id`` as a crash would (its raylet and workers killed)."""
        for node in self.workers:
            if node.node_id == node_id:
                self.cluster.remove_node(node, allow_graceful=False)
                self.workers.remove(node)
                return
        raise AssertionError(f"node {node_id} is the head or not a node of the test cluster")

    def add_node(self) -> None:
        """A new 1-CPU node (to bring the cluster back to size after kill_node)."""
        self.workers.append(self.cluster.add_node(num_cpus=1))
        self.cluster.wait_for_nodes()

    def stop(self) -> None:
        import ray

        ray.shutdown()
        self.cluster.shutdown()
