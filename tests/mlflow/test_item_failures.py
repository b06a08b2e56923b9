"""A file that cannot be read or does not fit the signature fails alone; the rest of its mini-batch counts."""

from __future__ import annotations

import csv
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from tests.mlflow.conftest import MlflowBench, diabetes, read_predictions


def test_bad_files_fail_alone_with_clear_messages_and_leave_no_rows(bench: MlflowBench, sklearn_model: Path) -> None:
    frame, _ = diabetes()
    data = bench.root / "data"
    data.mkdir()
    frame.iloc[:7].assign(id=range(7)).to_csv(data / "a-extra.csv", index=False)
    text = frame.iloc[:5].astype(object)
    text.loc[3, "age"] = "secret-value"
    text.to_csv(data / "b-text.csv", index=False)
    lossy = frame.iloc[:5].copy().astype({"age": object})
    lossy["age"] = [1, 2, 3, 2**53 + 1, 5]
    lossy.to_csv(data / "c-lossy.csv", index=False)
    frame.iloc[:5].drop(columns=["s6"]).to_csv(data / "d-missing.csv", index=False)
    frame.iloc[:10].to_csv(data / "e-good.csv", index=False)
    late = frame.iloc[:300].astype({"bmi": object})
    late.loc[250, "bmi"] = "oops"  # in the third chunk of 100 rows: two chunks were already written
    late.to_csv(data / "f-late.csv", index=False)
    frame.iloc[:4].assign(id=1).to_csv(data / "g-extra.csv", index=False)
    (data / "h-empty.csv").write_text("")
    settings = {
        "mini_batch_size": 4,
        "max_concurrency_per_instance": 2,
        "environment_variables": {"THRESHER_MLFLOW_CHUNK_ROWS": "100"},
    }
    bench.deploy(sklearn_model, settings=settings)
    job = bench.run(data)
    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (3, 5)

    out = read_predictions(bench.output(job), ["row", "prediction", "file_name"])
    assert out["file_name"].tolist() == ["a-extra.csv"] * 7 + ["e-good.csv"] * 10 + ["g-extra.csv"] * 4
    expected = mlflow.pyfunc.load_model(str(sklearn_model)).predict(frame.iloc[:10])
    np.testing.assert_array_equal(out["prediction"][7:17], expected)

    logs = bench.logs(job)
    error = (logs / "job_error.txt").read_text()
    assert "secret-value" not in error and "oops" not in error
    for expected_text in (
        f"{data / 'b-text.csv'} does not fit the model's signature: column 'age': expected double (float64), "
        "found text (e.g. row 3)",
        f"{data / 'c-lossy.csv'} does not fit the model's signature: column 'age': expected double (float64), "
        "found int64 with a value that float64 cannot hold exactly (e.g. row 3)",
        f"{data / 'd-missing.csv'} does not fit the model's signature: it has no column 's6'",
        "column 'bmi': expected double (float64), found text (e.g. row 250)",
        f"{data / 'h-empty.csv'} (mini-batch 1): ValueError: {data / 'h-empty.csv'} is empty (0 bytes)",
    ):
        assert expected_text in error, error
    with (logs / "sys" / "processed_mini_batches.csv").open() as handle:
        batches = {row["mini_batch"]: row for row in csv.DictReader(handle)}
    assert [(batches[i]["succeeded"], batches[i]["failed"]) for i in ("0", "1")] == [("1", "3"), ("2", "2")]

    warnings = [
        line
        for path in (logs / "user" / "stdout").rglob("*.txt")
        for line in path.read_text().splitlines()
        if "columns the model's signature does not take" in line
    ]
    assert len(warnings) == 1, warnings  # once per job, whichever workers saw extra columns
    assert "'id'" in warnings[0] and (logs / "sys" / "warnings" / "extra-columns").exists()


def test_an_item_failure_counts_against_error_threshold(bench: MlflowBench, sklearn_model: Path) -> None:
    frame, _ = diabetes()
    data = bench.root / "data"
    data.mkdir()
    for index in range(3):
        frame.iloc[:3].drop(columns=["bmi"]).to_csv(data / f"bad-{index}.csv", index=False)
    pd.DataFrame(frame.iloc[:3]).to_csv(data / "good.csv", index=False)
    bench.deploy(sklearn_model, settings={"error_threshold": 1, "mini_batch_size": 4})
    job = bench.run(data)
    assert job.status == "Failed"
    assert "over error_threshold 1" in str(job.headline) and "no column 'bmi'" in str(job.headline)
