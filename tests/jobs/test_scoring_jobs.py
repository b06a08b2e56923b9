"""Batch jobs end to end: outputs in input order, formats, failures explained, thresholds, timeouts."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pandas as pd

from tests.jobs.conftest import ROWS_SCRIPT, Bench, csv_folder


def _expected_rows(folder: Path) -> list[tuple[str, int, float]]:
    rows = []
    for path in sorted(folder.rglob("*.csv")):
        data = pd.read_csv(path)
        rows += [(path.name, int(i), float(v) * 2.0) for i, v in zip(data["id"], data["value"], strict=True)]
    return rows


def _read_default(text: str) -> list[tuple[str, int, float]]:
    frame = pd.read_csv(io.StringIO(text), sep=" ", header=None, names=["file", "id", "score"])
    return [(str(f), int(i), float(s)) for f, i, s in frame.itertuples(index=False)]


def test_outputs_are_in_input_order_across_workers(bench: Bench) -> None:
    folder = csv_folder(bench.root, 45, nested=True)
    bench.deploy(ROWS_SCRIPT, settings={"mini_batch_size": 4, "max_concurrency_per_instance": 3})
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    assert _read_default(bench.output(job)) == _expected_rows(folder)
    assert job.progress.mini_batches_total == 12
    assert job.progress.items_succeeded == 45


def test_output_formats_have_headers_and_schemas(bench: Bench) -> None:
    folder = csv_folder(bench.root, 7)
    expected = _expected_rows(folder)
    for fmt, reader in (
        ("csv", lambda p: pd.read_csv(p)),
        ("jsonl", lambda p: pd.read_json(p, lines=True)),
        ("parquet", lambda p: pd.read_parquet(p)),
    ):
        bench.deploy(ROWS_SCRIPT, name=f"d-{fmt}", settings={"mini_batch_size": 2, "output_format": fmt})
        job = bench.run(folder, deployment_name=f"d-{fmt}")
        assert job.status == "Completed", job.headline
        frame = reader(job.spec["output_file"])
        assert list(frame.columns) == ["file", "id", "score"]
        assert [(f, int(i), float(s)) for f, i, s in frame.itertuples(index=False)] == expected


def test_hard_values_round_trip_through_the_default_format(bench: Bench) -> None:
    (bench.root / "in").mkdir()
    (bench.root / "in" / "a.txt").write_text("x")
    bench.deploy(
        """
        import pandas as pd

        def init():
            pass

        def run(mini_batch):
            return pd.DataFrame({
                "text": ["two words", 'a "quoted" value', "line one\\nline two", "plain"],
                "n": [1, 2, 3, 4],
            })
        """
    )
    job = bench.run(bench.root / "in")
    assert job.status == "Completed", job.headline
    frame = pd.read_csv(job.spec["output_file"], sep=" ", header=None, names=["text", "n"])
    assert frame["text"].tolist() == ["two words", 'a "quoted" value', "line one\nline two", "plain"]
    assert frame["n"].tolist() == [1, 2, 3, 4]


def test_corrupt_files_are_isolated_and_reported_with_their_own_errors(bench: Bench) -> None:
    folder = csv_folder(bench.root, 100)
    corrupt = {
        "file-00007.csv": b'id,value\n1,2,3,4\n5\n"unterminated\n',
        "file-00023.csv": b"",
        "file-00050.csv": bytes(range(256)) * 4,
        "file-00071.csv": b"name,colour\nx,red\n",
        "file-00094.csv": b"id,value\n1,\xff\xfe\xfa\n",
    }
    for name, content in corrupt.items():
        (folder / name).write_bytes(content)
    script = """
    import os
    import pandas as pd

    def init():
        pass

    def run(mini_batch):
        frames = []
        for path in mini_batch:
            data = pd.read_csv(path, encoding="utf-8")
            if list(data.columns) != ["id", "value"]:
                raise ValueError(f"{os.path.basename(path)} has columns {list(data.columns)}, expected id, value")
            name = os.path.basename(path)
            frames.append(pd.DataFrame({"file": name, "id": data["id"], "score": data["value"] * 2.0}))
        return pd.concat(frames)
    """
    bench.deploy(script, settings={"mini_batch_size": 3, "error_threshold": 10})
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    good = folder / "good"
    good.mkdir()
    for path in sorted(folder.glob("*.csv")):
        if path.name not in corrupt:
            (good / path.name).write_bytes(path.read_bytes())
    assert _read_default(bench.output(job)) == _expected_rows(good)
    failures = job.progress.first_failures
    assert sorted(Path(f.item).name for f in failures) == sorted(corrupt)
    errors = {Path(f.item).name: f.error for f in failures}
    assert "UnicodeDecodeError" in errors["file-00094.csv"]
    assert "EmptyDataError" in errors["file-00023.csv"]
    assert "expected id, value" in errors["file-00071.csv"]
    assert job.progress.items_failed == 5 and job.progress.items_succeeded == 95

    bench.deploy(script, name="strict", settings={"mini_batch_size": 3, "error_threshold": 2})
    strict = bench.run(folder, deployment_name="strict", output_path=str(bench.root / "strict-out"))
    assert strict.status == "Failed"
    assert "over error_threshold 2" in str(strict.headline)
    assert "First failure: " in str(strict.headline) and "file-00007.csv" in str(strict.headline)
    error_report = Path(str(strict.spec["folder"])) / "logs" / "job_error.txt"
    assert "file-00007.csv" in error_report.read_text()


def test_a_hanging_run_is_killed_retried_and_counted_failed(bench: Bench) -> None:
    folder = csv_folder(bench.root, 6)
    bench.deploy(
        """
        import os, time

        def init():
            pass

        def run(mini_batch):
            if any("file-00002" in p for p in mini_batch):
                time.sleep(600)
            return [os.path.basename(p) for p in mini_batch]
        """,
        settings={
            "mini_batch_size": 1,
            "max_concurrency_per_instance": 2,
            "retry_settings": {"max_retries": 2, "timeout": 2},
        },
    )
    started = time.monotonic()
    job = bench.run(folder)
    assert time.monotonic() - started < 60
    assert job.status == "Completed", job.headline
    assert bench.output(job).split() == [f"file-0000{i}.csv" for i in (0, 1, 3, 4, 5)]
    (failure,) = job.progress.first_failures
    assert failure.attempts == 3 and "timeout" in failure.error
    processed = (Path(str(job.spec["folder"])) / "logs" / "sys" / "processed_mini_batches.csv").read_text()
    assert "2,1,0,1,3," in processed


def test_init_failure_fails_the_job_within_seconds_with_its_traceback(bench: Bench) -> None:
    folder = csv_folder(bench.root, 20)
    bench.deploy(
        """
        def init():
            raise RuntimeError("model file is corrupt: weights.txt")

        def run(mini_batch):
            return mini_batch
        """,
        settings={"max_concurrency_per_instance": 2},
    )
    started = time.monotonic()
    job = bench.run(folder)
    assert time.monotonic() - started < 20
    assert job.status == "Failed"
    assert "init() failed on every worker" in str(job.headline)
    assert "RuntimeError: model file is corrupt: weights.txt" in str(job.headline)
    report = (Path(str(job.spec["folder"])) / "logs" / "job_error.txt").read_text()
    assert "Traceback" in report and 'raise RuntimeError("model file is corrupt' in report


def test_no_succeeded_item_fails_the_job(bench: Bench) -> None:
    folder = csv_folder(bench.root, 4)
    bench.deploy(
        """
        def init():
            pass

        def run(mini_batch):
            raise KeyError("label")
        """,
        settings={"mini_batch_size": 2, "retry_settings": {"max_retries": 0, "timeout": 10}},
    )
    job = bench.run(folder)
    assert job.status == "Failed"
    assert "no item succeeded" in str(job.headline) and "KeyError" in str(job.headline)


def test_ten_thousand_tiny_files_keep_input_order(bench: Bench) -> None:
    folder = bench.root / "tiny"
    for index in range(10_000):
        sub = folder / f"{index // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{index:05d}.txt").write_text(str(index))
    bench.deploy(
        """
        def init():
            pass

        def run(mini_batch):
            return [open(p).read() for p in mini_batch]
        """,
        settings={"mini_batch_size": 10, "max_concurrency_per_instance": 2},
    )
    job = bench.run(folder, timeout=300)
    assert job.status == "Completed", job.headline
    assert bench.output(job).split() == [str(i) for i in range(10_000)]
    assert job.progress.mini_batches_total == 1000


def test_existing_output_file_is_refused_at_invoke(bench: Bench) -> None:
    folder = csv_folder(bench.root, 2)
    bench.deploy(ROWS_SCRIPT)
    out = bench.root / "out"
    out.mkdir()
    (out / "predictions.csv").write_text("precious\n")
    try:
        bench.ws.jobs.invoke(bench.endpoint, input=str(folder), output_path=str(out))
    except Exception as exc:
        assert type(exc).__name__ == "ConflictError"
        assert "already exists" in str(exc)
    else:
        raise AssertionError("invoke accepted an existing output file")
    assert (out / "predictions.csv").read_text() == "precious\n"
