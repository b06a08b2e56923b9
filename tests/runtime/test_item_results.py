"""run() saying which items failed (ItemResults), and streamed items whose rows are taken back on failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from thresher.runtime.formats import PartWriter, write_result
from thresher.runtime.parquet_part import GROUP_ROWS
from thresher.runtime.results import ItemResults, ItemRows, normalise


def _frame(item: str, start: int, stop: int) -> pd.DataFrame:
    return pd.DataFrame({"row": range(start, stop), "score": [r * 0.5 for r in range(start, stop)], "file": item})


def _chunks(item: str, sizes: list[int], fail_after: int | None = None) -> Iterator[pd.DataFrame]:
    start = 0
    for index, size in enumerate(sizes):
        if fail_after is not None and index == fail_after:
            raise ValueError(f"{item}: column 'x' expected double, found text (e.g. row {start})")
        yield _frame(item, start, start + size)
        start += size


def _streamed(big: int = 3) -> ItemResults:
    return ItemResults(
        streamed=[
            ItemRows("a.csv", _chunks("a.csv", [2, 3])),
            ItemRows("b.csv", _chunks("b.csv", [big, big, big], fail_after=2)),
            ItemRows("c.csv", _chunks("c.csv", [1])),
        ]
    )


def _on_error(item: str, exc: Exception) -> dict[str, str]:
    return {"item": item, "error": f"{type(exc).__name__}: {exc}"}


def _read(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        return pq.read_table(path).column("file").to_pylist()
    if fmt == "jsonl":
        return [json.loads(line)["file"] for line in path.read_text().splitlines()]
    separator = " " if fmt == "azure" else ","
    return [line.split(separator)[-1] for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["azure", "mlflow", "csv", "jsonl", "parquet"])
def test_a_failed_streamed_item_leaves_no_rows_and_the_others_stay_in_order(tmp_path: Path, fmt: str) -> None:
    written = write_result(normalise(_streamed()), fmt, str(tmp_path), "part", _on_error)
    assert _read(tmp_path / "part", fmt) == ["a.csv"] * 5 + ["c.csv"]
    assert (written.rows, written.columns, written.streamed_ok) == (6, ["row", "score", "file"], 2)
    assert written.failures == [
        {"item": "b.csv", "error": "ValueError: b.csv: column 'x' expected double, found text (e.g. row 6)"}
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["part"]


def test_a_big_failed_item_is_dropped_from_parquet_row_groups_already_written(tmp_path: Path) -> None:
    written = write_result(normalise(_streamed(big=GROUP_ROWS)), "parquet", str(tmp_path), "part", _on_error)
    table = pq.read_table(tmp_path / "part")
    assert table.column("file").to_pylist() == ["a.csv"] * 5 + ["c.csv"]
    assert table.column("row").to_pylist() == [0, 1, 2, 3, 4, 0]
    assert written.rows == 6 and len(written.failures) == 1


def test_summary_only_writes_nothing_but_still_counts_items(tmp_path: Path) -> None:
    written = write_result(normalise(_streamed()), None, str(tmp_path), "part", _on_error)
    assert (written.rows, written.streamed_ok, len(written.failures)) == (0, 2, 1)
    assert list(tmp_path.iterdir()) == []


def test_item_results_from_a_script_list_failures_as_short_lines() -> None:
    long = "x" * 2000
    result = normalise(
        ItemResults(
            rows=pd.DataFrame({"a": [1, 2]}),
            failures=[{"item": Path("/d/b.csv"), "error": KeyError("s6")}, {"item": "/d/c.csv", "error": long}],
        )
    )
    assert len(result) == 2 and result.itemised
    assert result.failures[0] == {"item": "/d/b.csv", "error": "KeyError: 's6'"}
    assert len(result.failures[1]["error"]) == 500 and result.failures[1]["error"].endswith("...")


@pytest.mark.parametrize("entry", ["/d/b.csv", {"item": "/d/b.csv"}, ("/d/b.csv", "bad")])
def test_a_malformed_failure_is_refused_with_the_expected_shape(entry: Any) -> None:
    with pytest.raises(TypeError, match=r'failures\[0\] is .*; each failure must be a dict \{"item"'):
        normalise(ItemResults(rows=[], failures=[entry]))


def test_a_rollback_restores_the_first_columns_of_an_empty_part(tmp_path: Path) -> None:
    with PartWriter("csv", str(tmp_path), "part") as writer:
        mark = writer.mark()
        writer.write(normalise(pd.DataFrame({"a": [1]})))
        writer.rollback(mark)
        assert writer.commit() == (0, None)
    assert (tmp_path / "part").read_text() == ""
