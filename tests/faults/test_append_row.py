"""The default append_row output reads back value for value with ``csv.reader(f, delimiter=" ")``: values
with spaces, quotes, carriage returns and newlines, empty values, and names that are not UTF-8."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.faults.conftest import output_bytes
from tests.jobs.conftest import Bench
from thresher.runtime.formats import PartWriter
from thresher.runtime.results import normalise

VALUES = [
    "plain",
    "with space",
    ' lead and trail "quotes" ',
    '"',
    "cr\ronly",
    "lf\nonly",
    "crlf\r\nboth",
    "\r",
    "\n",
    "\r\n",
    "ends with cr\r",
    "",
    "caf\udce9",  # os.fsdecode(b"caf\xe9"): a name that is not UTF-8
]
ELEMENTS = ["a.png 3", "two\nlines", "cr\rinside", 'quote " and \r\n', 42]

# One mini-batch per input file; the file's text says what run() returns.
SCRIPT = f"""
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

VALUES = {VALUES!r}
ELEMENTS = {ELEMENTS!r}

def run(mini_batch):
    kind = open(mini_batch[0]).read().strip()
    if kind == "frame":
        return pd.DataFrame({{"value": pd.Series(VALUES, dtype=object), "n": range(len(VALUES))}})
    if kind == "one-column":
        return pd.DataFrame({{"value": pd.Series(VALUES, dtype=object)}})
    return ELEMENTS
"""


def read_back(data: bytes) -> list[list[str]]:
    """The records of an append_row output, read as the issue says a user reads them."""
    return list(csv.reader(io.StringIO(data.decode("utf-8", "surrogateescape"), newline=""), delimiter=" "))


def test_every_value_of_an_append_row_output_reads_back_unchanged(bench: Bench) -> None:
    data = bench.root / "data"
    data.mkdir()
    for name, kind in (("1.txt", "frame"), ("2.txt", "one-column"), ("3.txt", "list")):
        (data / name).write_text(kind)
    bench.deploy(SCRIPT, settings={"mini_batch_size": 1, "max_concurrency_per_instance": 1})

    job = bench.run(data)

    assert job.status == "Completed", job.headline
    output = output_bytes(job)
    assert b"caf\xe9" in output  # the name's own byte, not an escape or a replacement character
    records = read_back(output)
    assert records[: len(VALUES)] == [[value, str(n)] for n, value in enumerate(VALUES)]
    assert records[len(VALUES) : 2 * len(VALUES)] == [[value] for value in VALUES]
    # Elements keep Azure's contract ("a.png 3" is two columns); one spanning lines stays one record.
    assert records[2 * len(VALUES) :] == [["a.png", "3"], ["two\nlines"], ["cr\rinside"], ['quote " and \r\n'], ["42"]]
    assert job.progress.rows_written == 2 * len(VALUES) + len(ELEMENTS)


def test_a_frame_without_carriage_returns_is_written_exactly_as_pandas_writes_it(tmp_path: Path) -> None:
    # The re-quoting for "\r" must change nothing else: Azure's append_row is pandas' to_csv.
    frame = pd.DataFrame(
        {
            "text": pd.Series(["a b", 'x"y', "", None, "lf\nonly", " "], dtype=object),
            "number": [1.5, float("nan"), 3.0, -0.0, 1e20, 7.25],
            "flag": [True, False, True, None, False, True],
        }
    )
    with PartWriter("azure", str(tmp_path), "part") as writer:
        writer.write(normalise(frame))
        writer.commit()
    expected = frame.to_csv(sep=" ", header=False, index=False, lineterminator="\n")
    assert (tmp_path / "part").read_bytes() == expected.encode()


def test_values_read_back_from_csv_parts_too(tmp_path: Path) -> None:
    # output_format csv (and the MLflow driver's format) are comma-separated with the same quoting rule.
    values = ["cr\ronly", "a,b", "", "caf\udce9", 'q"']
    for number, result in enumerate(
        (pd.DataFrame({"value": pd.Series(values, dtype=object)}), [{"value": value} for value in values])
    ):
        with PartWriter("csv", str(tmp_path), f"part-{number}") as writer:
            writer.write(normalise(result))
            writer.commit()
        text = (tmp_path / f"part-{number}").read_bytes().decode("utf-8", "surrogateescape")
        assert list(csv.reader(io.StringIO(text, newline=""))) == [[value] for value in values]


texts = st.text(alphabet=[" ", '"', "\r", "\n", "a", ",", "\udce9", "é"], max_size=6)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.tuples(texts, texts), min_size=1, max_size=6), one_column=st.booleans())
def test_any_text_values_read_back_unchanged(rows: list[tuple[str, str]], one_column: bool) -> None:
    frame = pd.DataFrame(rows, columns=["x", "y"], dtype=object)
    if one_column:
        frame = frame[["x"]]
    with tempfile.TemporaryDirectory() as folder:
        with PartWriter("azure", folder, "part") as writer:
            writer.write(normalise(frame))
            writer.commit()
        records = read_back((Path(folder) / "part").read_bytes())
    assert records == [list(row[: len(frame.columns)]) for row in rows]
