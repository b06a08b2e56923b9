"""Tabular slices: they cover every row of a file exactly once, and the worker reads back the file.

Each property writes a real file, plans it, and reads every slice with the worker-side reader
(``thresher.runtime.tabular.read_slices``), comparing with pandas reading the whole file.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.errors import ThresherError
from thresher.runtime.tabular import TabularReadError, read_slices
from thresher.scheduler.planner import BatchSize, MiniBatch, iter_input_files, plan_tabular

EXAMPLES = settings(max_examples=40, deadline=None)
sizes = st.one_of(
    st.builds(BatchSize, st.just("rows"), st.integers(1, 9)),
    st.builds(BatchSize, st.just("bytes"), st.integers(1, 400)),
)
# Text that needs quoting in CSV: separators, quotes, newlines; "t" first so pandas never reads a number.
texts = st.text(alphabet='ab ,"\nä€', max_size=8).map(lambda s: "t" + s)
frames = st.lists(
    st.tuples(st.integers(-(10**6), 10**6), texts, st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))),
    max_size=30,
).map(lambda rows: pd.DataFrame(rows, columns=["n", "text", "x"]).astype({"n": "int64", "x": "float64"}))


def _slices(batches: list[MiniBatch]) -> list[dict[str, Any]]:
    assert all(len(batch.items) == 1 for batch in batches), "a tabular mini-batch is one slice of one file"
    assert [batch.index for batch in batches] == list(range(len(batches)))
    return [batch.items[0] for batch in batches]


def _check_cover(pieces: list[dict[str, Any]], end: int, size: BatchSize, counted: bool) -> None:
    """Slices are contiguous, in order, end where the data ends, and (when counted) number every row once."""
    for before, after in itertools.pairwise(pieces):
        assert before["stop"] == after["start"]
    assert pieces[-1]["stop"] == end
    if counted:
        assert [p["first_row"] for p in pieces] == [sum(p["rows"] for p in pieces[:i]) for i in range(len(pieces))]
        if size.unit == "rows" and pieces[0]["format"] != "parquet":  # parquet keeps row groups whole
            assert all(p["rows"] == size.amount for p in pieces[:-1]) and pieces[-1]["rows"] <= size.amount
    for piece in pieces:
        frame = read_slices([piece])
        if piece["rows"] is not None:
            assert len(frame) == piece["rows"]


@EXAMPLES
@given(frame=frames, size=sizes, newline=st.sampled_from(["\n", "\r\n"]))
def test_csv_slices_cover_the_rows_once_and_read_back_the_file(
    frame: pd.DataFrame, size: BatchSize, newline: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        frame.to_csv(path, index=False, lineterminator=newline)
        pieces = _slices(list(plan_tabular([path], size)))
        header_end = len(f"n,text,x{newline}".encode())
        assert pieces[0]["start"] == header_end and all(p["data_start"] == header_end for p in pieces)
        _check_cover(pieces, path.stat().st_size, size, counted=True)
        assert sum(p["rows"] for p in pieces) == len(frame)
        pd.testing.assert_frame_equal(read_slices(pieces), pd.read_csv(path))


@EXAMPLES
@given(
    records=st.lists(st.fixed_dictionaries({"id": st.integers(0, 10**9), "text": st.text(max_size=12)}), max_size=30),
    size=sizes,
)
def test_jsonl_slices_cover_the_rows_once_and_read_back_the_file(
    records: list[dict[str, Any]], size: BatchSize
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        pieces = _slices(list(plan_tabular([path], size)))
        assert pieces[0]["start"] == 0
        _check_cover(pieces, path.stat().st_size, size, counted=size.unit == "rows")
        if size.unit == "bytes":
            assert all(p["rows"] is None and p["first_row"] is None for p in pieces if p["stop"] > p["start"])
        expected = pd.read_json(path, lines=True, dtype=False) if records else pd.DataFrame()
        pd.testing.assert_frame_equal(read_slices(pieces), expected)


@EXAMPLES
@given(rows=st.integers(0, 120), group=st.integers(1, 40), size=sizes)
def test_parquet_slices_follow_row_groups_and_read_back_the_file(rows: int, group: int, size: BatchSize) -> None:
    frame = pd.DataFrame({"n": range(rows), "text": [f"row {i}" for i in range(rows)]})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.parquet"
        frame.to_parquet(path, row_group_size=group, index=False)
        pieces = _slices(list(plan_tabular([path], size)))
        assert all(p["unit"] == "rows" and p["first_row"] == p["start"] for p in pieces)
        assert pieces[0]["start"] == 0
        _check_cover(pieces, rows, size, counted=True)
        if size.unit == "rows":
            assert all(p["rows"] <= size.amount for p in pieces)
            if group <= size.amount:  # small row groups are never split between slices
                assert all(p["start"] % group == 0 for p in pieces)
        pd.testing.assert_frame_equal(read_slices(pieces), pd.read_parquet(path))


def test_slices_never_cross_files_and_follow_the_input_order(tmp_path: Path) -> None:
    pd.DataFrame({"n": range(7)}).to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame({"n": range(5)}).to_parquet(tmp_path / "a.parquet", row_group_size=2)
    (tmp_path / "c.tsv").write_text("n\tm\n1\t2\n3\t4\n")
    (tmp_path / "d.jsonl").write_text("")
    batches = list(plan_tabular(iter_input_files(tmp_path), BatchSize("rows", 3)))
    names = [Path(b.items[0]["path"]).name for b in batches]
    assert names == ["a.parquet"] * 2 + ["b.csv"] * 3 + ["c.tsv", "d.jsonl"]  # row groups 2+2+1: 0..2, 2..5
    assert batches[-1].items[0]["rows"] == 0  # an empty file is planned, with no rows
    assert read_slices([b.items[0] for b in batches if b.items[0]["path"].endswith("c.tsv")]).to_dict("list") == {
        "n": [1, 3],
        "m": [2, 4],
    }


def test_a_newline_inside_a_quoted_csv_field_is_never_a_cut(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"first line\n2,still the note of 1"\n3,plain\n4,"a ""quoted"" word\n"\n')
    pieces = [b.items[0] for b in plan_tabular([path], BatchSize("rows", 1))]
    assert [p["rows"] for p in pieces] == [1, 1, 1]
    frames = [read_slices([p]) for p in pieces]
    assert [f["id"].tolist() for f in frames] == [[1], [3], [4]]
    assert frames[0]["note"][0] == "first line\n2,still the note of 1"
    assert frames[2]["note"][0] == 'a "quoted" word\n'


def test_csv_options_the_scanner_cannot_follow_make_one_whole_file_slice(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text('# exported\nid,note\n1,a \\" quote\n2,b\n')
    options = {"comment": "#", "escapechar": "\\"}
    pieces = [b.items[0] for b in plan_tabular([path], BatchSize("rows", 1), read_options=options)]
    assert len(pieces) == 1 and pieces[0]["start"] == 0 and pieces[0]["stop"] == path.stat().st_size
    assert read_slices(pieces)["id"].tolist() == [1, 2]


def test_unknown_extensions_and_json_arrays_are_errors_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(ThresherError, match=r"data\.xlsx") as caught:
        list(plan_tabular([tmp_path / "data.xlsx"], BatchSize("rows", 5)))
    assert caught.value.fix
    (tmp_path / "array.json").write_text('[{"a": 1}]')
    with pytest.raises(ThresherError, match="JSON array"):
        list(plan_tabular([tmp_path / "array.json"], BatchSize("rows", 5)))
    explicit = list(plan_tabular([tmp_path / "data.xlsx"], BatchSize("rows", 5), format="csv"))
    assert explicit[0].items[0]["format"] == "csv"


def test_reading_a_slice_of_a_changed_file_names_the_file_and_range(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    piece = next(plan_tabular([path], BatchSize("rows", 5))).items[0]
    path.write_text("a,b\n")
    with pytest.raises(TabularReadError, match=r"data\.csv \(bytes 4\.\.12, rows from 0\)"):
        read_slices([piece])
    path.unlink()
    with pytest.raises(TabularReadError, match="is gone"):
        read_slices([piece])
