"""A job on the session's 3-node Ray cluster whose input and output are in object storage: each worker
fetches its own items and uploads its own parts on its node, and the datastore's secret appears in
none of Ray's session files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import echoed, text_inputs
from tests.jobs.conftest import Bench
from tests.ray_cluster import CPUS_PER_WORKER
from tests.remote.conftest import ECHO, Remote, unique
from thresher.specs import parse_spec


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_ray_workers_fetch_and_upload_on_their_nodes_and_the_secret_stays_out_of_ray(
    bench: Bench, remote: Remote, ray_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THRESHER_RAY_CPUS_PER_WORKER", str(CPUS_PER_WORKER))
    document = {"name": "cluster", "type": "ray", "address": ray_cluster.address, "max_instances": 3}
    bench.ws.computes.create(parse_spec(document, "compute", base_dir=bench.root))  # type: ignore[arg-type]
    settings = {"mini_batch_size": 5, "max_concurrency_per_instance": 1}
    bench.deploy(ECHO, settings=settings, compute="azureml:cluster", resources={"instance_count": 3})
    folder = text_inputs(bench.root, 60)
    prefix = f"in-{unique()}"
    remote.upload(folder, prefix)

    job = bench.ws.jobs.invoke(bench.endpoint, input=remote.uri(prefix), output_path=remote.uri(f"out-{prefix}"))
    ended = bench.ws.jobs.wait(job.name, timeout=180)

    assert ended.status == "Completed", ended.headline
    assert (ended.progress.items_succeeded, ended.progress.items_failed) == (60, 0)
    assert remote.read(f"out-{prefix}/predictions.csv") == echoed(folder).encode()
    fs, root = remote.fs()
    assert not fs.exists(f"{root}/out-{prefix}/.thresher/{job.name}")  # the uploaded parts went with the job
    processed = (Path(str(ended.spec["folder"])) / "logs" / "sys" / "processed_mini_batches.csv").read_text()
    assert len({row.split(",")[5].split("/")[0] for row in processed.splitlines()[1:]}) == 3  # all nodes worked
    session = Path(ray_cluster.cluster.head_node.get_session_dir_path())
    leaked = [path for path in session.rglob("*") if path.is_file() and _holds(path, remote.secret)]
    assert leaked == []


def _holds(path: Path, secret: str) -> bool:
    try:
        return secret.encode() in path.read_bytes()
    except OSError:  # sockets and files that vanish while Ray runs
        return False
