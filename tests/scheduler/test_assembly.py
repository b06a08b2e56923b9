"""Assembling append_row output: parts in input order, every row once, never over an existing file."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.errors import ConflictError, StorageError, ThresherError
from thresher.scheduler.assembly import assemble

lines = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=10)
part_lists = st.lists(st.lists(lines, max_size=5), max_size=8)


def _write_text_parts(folder: Path, parts: list[list[str]]) -> list[Path]:
    paths = []
    for number, rows in enumerate(parts):
        path = folder / f"part-{number:04d}"
        path.write_text("".join(row + "\n" for row in rows), encoding="utf-8")
        paths.append(path)
    return list(reversed(paths))  # the given order wins, not the names


@settings(max_examples=40, deadline=None)
@given(parts=part_lists, fmt=st.sampled_from(["azure", "jsonl", "csv"]))
def test_text_output_is_the_parts_in_the_given_order(parts: list[list[str]], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = _write_text_parts(Path(folder), parts)
        target = Path(folder) / "out" / "predictions.csv"
        result = assemble(paths, target, format=fmt, columns=["file", "a b", 'say "x"'])  # type: ignore[arg-type]
        header = 'file,a b,"say ""x"""\n' if fmt == "csv" else ""
        expected = header + "".join(row + "\n" for part in reversed(parts) for row in part)
        assert target.read_text(encoding="utf-8") == expected
        assert result.rows == sum(map(len, parts))
        assert result.bytes == target.stat().st_size
        assert [p.name for p in target.parent.iterdir()] == ["predictions.csv"]  # no temp file left


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 6), max_size=6))
def test_parquet_output_holds_every_row_of_the_parts_in_order(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths, frames, start = [], [], 0
        for number, size in enumerate(sizes):
            frame = pd.DataFrame({"n": range(start, start + size), "label": [f"r{i}" for i in range(size)]})
            frame = frame.astype({"n": "int64"})
            path = Path(folder) / f"part-{number}.parquet"
            if size or number % 2:
                frame.to_parquet(path, index=False, row_group_size=4)
            else:  # what a worker writes when run() returned nothing: no rows, no columns
                pq.write_table(pa.Table.from_pylist([]), path)
            paths.append(path)
            frames.append(frame)
            start += size
        target = Path(folder) / "out.parquet"
        result = assemble(paths, target, format="parquet", columns=["n", "label"])
        got = pd.read_parquet(target)
        assert result.rows == len(got) == sum(sizes)
        if sum(sizes):
            pd.testing.assert_frame_equal(got, pd.concat([f for f in frames if len(f)], ignore_index=True))
        else:
            assert list(got.columns) in (["n", "label"], [])


def test_parquet_parts_with_safely_castable_types_are_cast(tmp_path: Path) -> None:
    pq.write_table(pa.table({"n": pa.array([1, 2], pa.int64()), "s": ["a", "b"]}), tmp_path / "0.parquet")
    pq.write_table(
        pa.table({"s": pa.array(["c"], pa.large_string()), "n": pa.array([3], pa.int32())}), tmp_path / "1.parquet"
    )
    pq.write_table(pa.table({"n": pa.array([None], pa.null()), "s": ["d"]}), tmp_path / "2.parquet")
    target = tmp_path / "out.parquet"
    assemble([tmp_path / f"{i}.parquet" for i in range(3)], target, format="parquet", columns=None)
    table = pq.read_table(target)
    assert table.schema.field("n").type == pa.int64()
    assert table.to_pydict() == {"n": [1, 2, 3, None], "s": ["a", "b", "c", "d"]}


def test_a_parquet_part_with_other_columns_or_types_is_an_error_naming_it_and_both_schemas(tmp_path: Path) -> None:
    pq.write_table(pa.table({"n": [1], "s": ["a"]}), tmp_path / "0.parquet")
    pq.write_table(pa.table({"n": ["one"], "s": ["b"]}), tmp_path / "1.parquet")
    pq.write_table(pa.table({"m": [1], "s": ["b"]}), tmp_path / "2.parquet")
    target = tmp_path / "out.parquet"
    for bad, detail in (("1.parquet", "column n is string, not int64"), ("2.parquet", "different columns")):
        with pytest.raises(ThresherError, match=detail) as caught:
            assemble([tmp_path / "0.parquet", tmp_path / bad], target, format="parquet", columns=None)
        message = str(caught.value)
        assert bad in message and "output (from 0.parquet): n: int64, s: string" in message
        assert caught.value.fix
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.parquet", "1.parquet", "2.parquet"]


@pytest.mark.parametrize("fmt", ["azure", "parquet"])
def test_an_existing_output_is_never_touched(tmp_path: Path, fmt: str) -> None:
    part = tmp_path / "part"
    if fmt == "parquet":
        pq.write_table(pa.table({"n": [1]}), part)
    else:
        part.write_text("new\n")
    target = tmp_path / "predictions.csv"
    target.write_text("precious\n")
    with pytest.raises(ConflictError, match="already exists; thresher never overwrites outputs") as caught:
        assemble([part], target, format=fmt, columns=None)  # type: ignore[arg-type]
    assert caught.value.fix is not None and "--output-path" in caught.value.fix
    assert target.read_text() == "precious\n"


def test_an_output_that_appears_while_assembling_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1\n")
    target = tmp_path / "predictions.csv"

    def parts() -> Iterator[Path]:
        yield tmp_path / "a"
        target.write_text("written by someone else\n")  # e.g. another job with the same output path
        yield tmp_path / "a"

    with pytest.raises(ConflictError):
        assemble(parts(), target, format="azure", columns=None)
    assert target.read_text() == "written by someone else\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "predictions.csv"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_missing_part_is_an_error_naming_it_and_no_output_is_left(tmp_path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(pa.table({"x": [1]}), tmp_path / "a")
    else:
        (tmp_path / "a").write_text("1\n")
    with pytest.raises(StorageError, match="part-0007") as caught:
        assemble([tmp_path / "a", tmp_path / "part-0007"], tmp_path / "out", format=fmt, columns=["x"])  # type: ignore[arg-type]
    assert caught.value.fix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_a_part_without_a_final_newline_does_not_merge_with_the_next(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1\n2")
    (tmp_path / "b").write_text("3\n")
    result = assemble([tmp_path / "a", tmp_path / "b"], tmp_path / "out", format="jsonl", columns=None)
    assert (tmp_path / "out").read_text() == "1\n2\n3\n" and result.rows == 3
