"""Result parts as a worker writes them, read back the way users and the assembler read them."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from tests.executors.conftest import Job, run_task, start, task
from thresher.executors.base import Executor, TaskDone

TRICKY_FRAME_SCRIPT = """
import os
import pandas as pd

def run(mini_batch):
    return pd.DataFrame({
        "file": [os.path.basename(p) for p in mini_batch],
        "label": ["two words", 'a "quoted" value', "line one\\nline two"],
        "score": [0.25, 1.5, -3.0],
    })
"""


def _done(job: Job, executor: Executor, script: str, count: int = 3, **settings: str) -> TaskDone:
    start(executor, job.config(script, **settings))
    done = run_task(executor, task(job.input_files(count)))
    assert isinstance(done, TaskDone), done
    return done


def test_azure_format_dataframe_round_trips_through_read_csv(job: Job, executor: Executor) -> None:
    done = _done(job, executor, TRICKY_FRAME_SCRIPT)
    assert (done.items, done.succeeded, done.rows, done.columns) == (3, 3, 3, ["file", "label", "score"])
    back = pd.read_csv(job.parts / str(done.part), sep=" ", header=None, names=["file", "label", "score"])
    assert back["file"].tolist() == ["file-000.txt", "file-001.txt", "file-002.txt"]
    assert back["label"].tolist() == ["two words", 'a "quoted" value', "line one\nline two"]
    assert back["score"].tolist() == [0.25, 1.5, -3.0]
    first_line = (job.parts / str(done.part)).read_text().splitlines()[0]
    assert first_line == 'file-000.txt "two words" 0.25'  # no header, no index, quoted only when needed


def test_azure_format_list_of_strings_and_tuples_use_str(job: Job, executor: Executor) -> None:
    script = "import os\ndef run(mini_batch):\n    return [(os.path.basename(p), 1) for p in mini_batch][:2]\n"
    done = _done(job, executor, script)
    assert (done.items, done.succeeded, done.rows, done.columns) == (3, 2, 2, None)
    assert (job.parts / str(done.part)).read_text() == "('file-000.txt', 1)\n('file-001.txt', 1)\n"


def test_a_generator_is_materialised(job: Job, executor: Executor) -> None:
    script = "def run(mini_batch):\n    for path in mini_batch:\n        yield path.rsplit('/', 1)[1]\n"
    done = _done(job, executor, script)
    assert (done.succeeded, done.rows) == (3, 3)
    assert (job.parts / str(done.part)).read_text().splitlines() == ["file-000.txt", "file-001.txt", "file-002.txt"]


def test_csv_format_has_no_header_and_quotes_minimally(job: Job, executor: Executor) -> None:
    done = _done(job, executor, TRICKY_FRAME_SCRIPT, output_format="csv")
    assert done.columns == ["file", "label", "score"]
    rows = list(csv.reader(io.StringIO((job.parts / str(done.part)).read_text())))
    assert rows == [
        ["file-000.txt", "two words", "0.25"],
        ["file-001.txt", 'a "quoted" value', "1.5"],
        ["file-002.txt", "line one\nline two", "-3.0"],
    ]


def test_jsonl_format_writes_records(job: Job, executor: Executor) -> None:
    script = "def run(mini_batch):\n    return [{'file': p[-12:], 'n': i} for i, p in enumerate(mini_batch)]\n"
    done = _done(job, executor, script, output_format="jsonl")
    lines = (job.parts / str(done.part)).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"file": "file-000.txt", "n": 0},
        {"file": "file-001.txt", "n": 1},
        {"file": "file-002.txt", "n": 2},
    ]
    assert done.columns == ["file", "n"]


def test_parquet_format_writes_a_parquet_file(job: Job, executor: Executor) -> None:
    done = _done(job, executor, TRICKY_FRAME_SCRIPT, output_format="parquet")
    back = pd.read_parquet(job.parts / str(done.part))
    assert back.columns.tolist() == ["file", "label", "score"]
    assert back["label"].tolist() == ["two words", 'a "quoted" value', "line one\nline two"]


def test_an_unknown_output_format_is_refused_before_any_worker_starts(job: Job) -> None:
    # The contract's enum is the one list of formats: a worker is never started with another.
    with pytest.raises(ValueError, match="'xlsx' is not a valid OutputFormat"):
        job.config("def run(b):\n    return b\n", output_format="xlsx")


@pytest.mark.parametrize("input_format", ["csv"])
def test_tabular_mini_batches_arrive_as_dataframes(job: Job, executor: Executor, input_format: str) -> None:
    pytest.importorskip("thresher.runtime.tabular", reason="thresher.runtime.tabular is not written yet")
    data = job.root / "table.csv"
    data.write_text("a,b\n1,x\n2,y\n3,z\n")
    header = len(b"a,b\n")
    piece = {
        "path": str(data),
        "format": input_format,
        "start": header,
        "stop": data.stat().st_size,
        "unit": "bytes",
        "first_row": 0,
        "rows": 3,
        "read_options": {},
        "data_start": header,
    }
    script = "def run(frame):\n    return frame.assign(c=frame['a'] * 10)\n"
    start(executor, job.config(script, input_kind="tabular"))
    done = run_task(executor, task([piece]))
    assert isinstance(done, TaskDone), done
    assert (done.items, done.succeeded, done.rows) == (3, 3, 3)
    assert (job.parts / str(done.part)).read_text() == "1 x 10\n2 y 20\n3 z 30\n"
