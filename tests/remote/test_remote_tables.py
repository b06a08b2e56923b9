"""Tabular inputs in object storage: an mltable data asset in a bucket or container, cut into slices by
reading as little as possible (CSV scanned once; Parquet by its footer), each mini-batch fetched by
byte range or by row group just before it runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.jobs.conftest import Bench
from tests.remote.conftest import Remote, unique
from thresher.specs import parse_spec

DOUBLE = """
def run(mini_batch):
    mini_batch = mini_batch.copy()
    mini_batch["double"] = mini_batch["value"] * 2
    return mini_batch[["id", "double"]]
"""


def _asset(bench: Bench, name: str, path: str) -> str:
    bench.ws.data.create(parse_spec({"name": name, "type": "mltable", "path": path}, "data", base_dir=bench.root))
    return f"azureml:{name}@latest"


def test_a_remote_csv_table_is_scored_as_the_same_table_on_local_disk(bench: Bench, remote: Remote) -> None:
    folder = bench.root / "table"
    folder.mkdir()
    for index in range(3):
        frame = pd.DataFrame({"id": range(index * 250, (index + 1) * 250), "value": [i * 0.5 for i in range(250)]})
        frame.to_csv(folder / f"part-{index}.csv", index=False)
    (folder / "MLTable").write_text(
        "paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
    )
    prefix = f"table-{unique()}"
    remote.upload(folder, prefix)
    bench.deploy(DOUBLE, settings={"mini_batch_size": "100 rows", "max_concurrency_per_instance": 2})

    there = bench.ws.jobs.wait(
        bench.ws.jobs.invoke(bench.endpoint, input=_asset(bench, "lake", remote.uri(prefix))).name
    )
    here = bench.ws.jobs.wait(bench.ws.jobs.invoke(bench.endpoint, input=_asset(bench, "disk", str(folder))).name)

    assert there.status == here.status == "Completed", (there.headline, here.headline)
    assert there.progress.mini_batches_total == here.progress.mini_batches_total == 9
    assert there.progress.items_succeeded == 750
    assert Path(str(there.spec["output_file"])).read_bytes() == Path(str(here.spec["output_file"])).read_bytes()


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_a_64_mb_parquet_object_is_read_by_its_footer_and_one_row_group_per_mini_batch(
    bench: Bench, remote: Remote
) -> None:
    rows, groups = 500_000, 8
    generator = np.random.default_rng(7)
    table = pa.table({"id": np.arange(rows), **{f"c{c}": generator.random(rows) for c in range(15)}})
    table = table.append_column("value", pa.array(np.arange(rows) * 0.5))
    folder = bench.root / "parquet"
    folder.mkdir()
    pq.write_table(table, folder / "big.parquet", row_group_size=rows // groups, compression="none")
    (folder / "MLTable").write_text("paths:\n  - pattern: ./*.parquet\ntransformations:\n  - read_parquet: {}\n")
    size = (folder / "big.parquet").stat().st_size
    assert size > 64 << 20
    prefix = f"big-{unique()}"
    remote.upload(folder, prefix)
    bench.deploy(DOUBLE, settings={"mini_batch_size": f"{rows // groups} rows", "max_concurrency_per_instance": 2})
    asset = _asset(bench, "big", remote.uri(prefix))

    remote.proxy.reset()
    job = bench.ws.jobs.wait(bench.ws.jobs.invoke(bench.endpoint, input=asset).name, timeout=180)

    assert job.status == "Completed", job.headline
    assert job.progress.mini_batches_total == groups
    assert job.progress.items_succeeded == rows
    # Each mini-batch fetched its own row group: the whole job downloaded the object about once (plus
    # footers and listings), where fetching the file per mini-batch would have downloaded it 8 times.
    assert remote.proxy.downloaded < size * 1.1, (remote.proxy.downloaded, size)
    written = pd.read_csv(str(job.spec["output_file"]), sep=" ", header=None, names=["id", "double"])
    assert written["id"].tolist() == list(range(rows))
