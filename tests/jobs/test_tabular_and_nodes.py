"""Tabular inputs (an mltable data asset), partition keys, and simulated nodes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.jobs.conftest import Bench
from thresher.specs import parse_spec

TABLE_SCRIPT = """
def init():
    pass

def run(mini_batch):
    # A DataFrame of rows: each returned row is one succeeded item.
    mini_batch = mini_batch.copy()
    mini_batch["double"] = mini_batch["value"] * 2
    return mini_batch[["id", "double"]]
"""


def _table_asset(bench: Bench, files: int, rows: int) -> str:
    folder = bench.root / "table"
    folder.mkdir()
    for index in range(files):
        frame = pd.DataFrame({"id": range(index * rows, (index + 1) * rows), "value": [i * 0.5 for i in range(rows)]})
        frame.to_csv(folder / f"part-{index}.csv", index=False)
    (folder / "MLTable").write_text(
        "paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
    )
    bench.ws.data.create(
        parse_spec({"name": "table", "type": "mltable", "path": str(folder)}, "data", base_dir=bench.root)
    )
    return "azureml:table@latest"


def test_mltable_rows_are_scored_in_mini_batches_of_rows(bench: Bench) -> None:
    asset = _table_asset(bench, files=3, rows=250)
    bench.deploy(TABLE_SCRIPT, settings={"mini_batch_size": "100 rows", "max_concurrency_per_instance": 2})
    job = bench.ws.jobs.wait(bench.ws.jobs.invoke(bench.endpoint, input=asset).name, timeout=120)
    assert job.status == "Completed", job.headline
    assert job.progress.mini_batches_total == 9  # 250 rows per file -> 100, 100, 50; never across files
    assert job.progress.items_succeeded == 750
    frame = pd.read_csv(job.spec["output_file"], sep=" ", header=None, names=["id", "double"])
    assert frame["id"].tolist() == list(range(750))
    assert frame["double"].tolist() == [i * 0.5 * 2 for i in range(250)] * 3


def test_partition_keys_give_one_mini_batch_per_key(bench: Bench) -> None:
    folder = bench.root / "parts"
    for region in ("west", "east"):
        for day in ("1", "2"):
            target = folder / f"region={region}" / f"day={day}"
            target.mkdir(parents=True)
            for index in range(3):
                (target / f"f{index}.txt").write_text(f"{region}-{day}-{index}")
    bench.deploy(
        """
        def init():
            pass

        def run(mini_batch, mini_batch_context):
            key = mini_batch_context.partition_key_value
            return [f"{key['region']}/{key['day']}:{len(mini_batch)}:{open(p).read()}" for p in mini_batch]
        """,
        settings={"partition_keys": ["region", "day"]},
    )
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    lines = bench.output(job).splitlines()
    assert job.progress.mini_batches_total == 4
    assert lines[:3] == ["east/1:3:east-1-0", "east/1:3:east-1-1", "east/1:3:east-1-2"]
    assert sorted({line.split(":")[0] for line in lines}) == ["east/1", "east/2", "west/1", "west/2"]


def test_instances_are_simulated_nodes_with_their_own_logs(bench: Bench) -> None:
    bench.ws.computes.create(
        parse_spec({"name": "cluster", "type": "amlcompute", "max_instances": 2}, "compute", base_dir=bench.root)
    )
    folder = bench.root / "files"
    folder.mkdir()
    for index in range(8):
        (folder / f"{index}.txt").write_text(str(index))
    bench.deploy(
        """
        import os

        def init():
            print("worker", os.environ["THRESHER_WORKER_NAME"])

        def run(mini_batch):
            return [open(p).read() for p in mini_batch]
        """,
        settings={"mini_batch_size": 1},
    )
    job = bench.run(folder, instance_count=2)
    assert job.status == "Completed", job.headline
    stdout = Path(str(job.spec["folder"])) / "logs" / "user" / "stdout"
    assert sorted(p.name for p in stdout.iterdir()) == ["node-0", "node-1"]
    assert "worker node-1/process000" in (stdout / "node-1" / "process000.stdout.txt").read_text()
    assert bench.output(job).split() == [str(i) for i in range(8)]
