"""P7, remote tables: a ~1 GB Parquet object in an S3-compatible store, scored one row group per mini-batch.

The store is moto's S3 server (from PyPI, data in memory) on 127.0.0.1, behind a loopback proxy that
counts every byte the server sends. The object (16 float64 columns, 8 row groups of about 128 MB, no
compression) is an ``mltable`` data asset on an ``s3`` datastore; the deployment reads
``mini_batch_size`` rows equal to one row group and its ``run()`` returns the ids (``summary_only``:
nothing is written, every row counts). What is measured, per repetition:

- *bytes fetched / object size* (``p7.remote_parquet_bytes_ratio``): everything the job downloaded
  (listing, the footer while planning, each mini-batch's row group) over the object's size; 1.0 is
  "read once", and fetching the object per mini-batch would give 8;
- *seconds* of the job (invoke to Completed), beside the *baseline*: one ``pandas.read_parquet`` of
  the whole object through s3fs (download and decode once, no scoring, one process).

    python -m bench.p7_remote --reps 3     # merged into P7's section of results.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import common

MARK = "**Remote tables.**"
ROW_GROUPS = 8
COLUMNS = 16
SCRIPT = """
def run(mini_batch):
    return mini_batch[["id"]]
"""


def _object(folder: Path, rows: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "big.parquet"
    if not target.exists():
        generator = np.random.default_rng(7)
        table = pa.table({"id": np.arange(rows), **{f"c{c}": generator.random(rows) for c in range(COLUMNS - 1)}})
        pq.write_table(table, target, row_group_size=rows // ROW_GROUPS, compression="none")
    (folder / "MLTable").write_text("paths:\n  - pattern: ./*.parquet\ntransformations:\n  - read_parquet: {}\n")
    return target


def _deploy(ws: Any, work: Path, rows_per_batch: int) -> None:
    from thresher.specs import parse_spec

    code, model = work / "code", work / "model"
    code.mkdir(exist_ok=True)
    model.mkdir(exist_ok=True)
    (code / "score.py").write_text(SCRIPT)
    (model / "weights.txt").write_text("none")
    compute = {"name": "local2", "type": "local", "max_workers": 2}
    ws.computes.create(parse_spec(compute, "compute", base_dir=work))
    settings = {
        "mini_batch_size": f"{rows_per_batch} rows",
        "max_concurrency_per_instance": 2,
        "output_action": "summary_only",
        "retry_settings": {"max_retries": 1, "timeout": 600},
    }
    common.deploy(ws, work, endpoint="remote", model_dir=model, settings=settings, code_dir=code)


def main_bench(options: Any) -> dict[str, Any]:
    from tests.servers import MotoS3Server
    from tests.storage_proxy import proxy
    from thresher.sdk import Workspace
    from thresher.specs import parse_spec

    reps = 1 if options.smoke else options.reps
    rows = 40_000 if options.smoke else 8_000_000  # 8M rows x 16 float64 columns: about 1 GB
    work = common.work_dir("p7-remote", options.work, smoke=options.smoke)
    source = _object(work / "table", rows)
    size = source.stat().st_size
    server = MotoS3Server()
    server.start()
    jobs: list[float] = []
    ratios: list[float] = []
    baseline: list[float] = []
    try:
        with proxy(server.port) as through:
            bucket = server.create_bucket()
            options_s3 = {**server.storage_options, "endpoint_url": through.url}
            import s3fs

            fs = s3fs.S3FileSystem(**options_s3)
            for file in ("big.parquet", "MLTable"):
                fs.put_file(str(source.parent / file), f"{bucket}/table/{file}")
            for rep in range(reps):
                home = work / f"ws-{rep}"
                spec = server.datastore_spec("lake", bucket)
                spec["endpoint_url"] = through.url
                with Workspace(home) as ws:
                    ws.datastores.create(parse_spec(spec, "datastore", base_dir=work))
                    _deploy(ws, work, rows // ROW_GROUPS)
                    asset = parse_spec(
                        {"name": "big", "type": "mltable", "path": "azureml://datastores/lake/paths/table"},
                        "data",
                        base_dir=work,
                    )
                    ws.data.create(asset)
                    through.reset()
                    began = time.monotonic()
                    job = ws.jobs.wait(ws.jobs.invoke("remote", input="azureml:big@latest").name, timeout=3600)
                    seconds = time.monotonic() - began
                    common.end_thresher(home, job.runner)  # warm workers would outlive the benchmark
                    if job.status != "Completed" or job.progress.items_succeeded != rows:
                        raise common.BenchError(f"the remote job ended {job.status}: {job.headline}")
                    jobs.append(seconds)
                    ratios.append(through.downloaded / size)
                began = time.monotonic()
                import pandas as pd

                frame = pd.read_parquet(f"s3://{bucket}/table/big.parquet", storage_options=options_s3)
                assert len(frame) == rows
                del frame
                baseline.append(time.monotonic() - began)
    finally:
        server.stop()
    ratio, job_s, whole_s = statistics.median(ratios), statistics.median(jobs), statistics.median(baseline)
    return {
        "remote_parquet_bytes_ratio": round(ratio, 4),
        "remote_parquet_object_mb": round(size / 2**20, 1),
        "remote_parquet_job_s": round(job_s, 2),
        "remote_parquet_read_whole_s": round(whole_s, 2),
        "remote_reps": reps,
        "notes": [
            f"Remote tables: a {size / 2**20:,.0f} MB Parquet object on an S3-compatible server, {ROW_GROUPS} "
            f"mini-batches of one row group each: the job downloaded {ratio:.3f}x the object's size (median of "
            f"{reps}) and took {job_s:.1f} s, against {whole_s:.1f} s for one pandas.read_parquet of the whole "
            "object through s3fs (no scoring)."
        ],
    }


def merge(section: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """P7's section with these figures in place of earlier ones of this module (the others kept)."""
    merged = dict(section)
    for key, value in extra.items():
        if key == "notes":
            kept = [note for note in merged.get("notes", []) if not str(note).startswith("Remote tables")]
            merged["notes"] = kept + value
        else:
            merged[key] = value
    return merged


def main() -> None:
    """``python -m bench.p7_remote``: measure and merge into P7's section of results.json."""
    parser = common.arguments((__doc__ or "").splitlines()[0], ())
    options = parser.parse_args()
    extra = main_bench(options)
    common.save_part(options, "p7", extra, merge, {"title": "Scale-out: control plane and Ray", "verified": True})
    print(json.dumps({k: v for k, v in extra.items() if k != "notes"}, indent=2))
    print(extra["notes"][0])


if __name__ == "__main__":
    sys.exit(main())
