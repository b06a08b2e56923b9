"""What ``run()`` may return, and how each output format writes it (in-process, no workers)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.runtime.formats import write_part
from thresher.runtime.results import Result, normalise


def _write(tmp_path: Path, value: Any, fmt: str, part: str = "part-1") -> tuple[int, list[str] | None, Path]:
    rows, columns = write_part(normalise(value), fmt, str(tmp_path), part)
    return rows, columns, tmp_path / part


def test_returned_values_are_normalised() -> None:
    assert normalise(["a", "b"]).elements == ["a", "b"]
    assert normalise(("a",)).elements == ["a"]
    assert normalise(x for x in range(3)).elements == [0, 1, 2]
    assert normalise(np.array([1, 2, 3])).elements == [1, 2, 3]
    assert normalise(pd.Series([0.5, 1.5])).elements == [0.5, 1.5]
    frame = pd.DataFrame({"a": [1, 2]})
    assert normalise(frame).frame is frame and len(normalise(frame)) == 2


@pytest.mark.parametrize("value", [None, 3, "text", {"a": 1}, {1, 2}, np.float64(1.0)])
def test_anything_else_is_refused_with_what_it_was(value: Any) -> None:
    with pytest.raises(TypeError, match=rf"run\(\) returned {type(value).__name__}"):
        normalise(value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), min_size=1),
            st.integers(-(10**6), 10**6),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_azure_format_round_trips_any_text(tmp_path_factory: pytest.TempPathFactory, rows: list[Any]) -> None:
    frame = pd.DataFrame(rows, columns=["text", "number"])
    folder = tmp_path_factory.mktemp("parts")
    _, columns, path = _write(folder, frame, "azure")
    back = pd.read_csv(path, sep=" ", header=None, names=columns, dtype={"text": str}, keep_default_na=False)
    assert back["text"].tolist() == frame["text"].tolist()
    assert back["number"].tolist() == frame["number"].tolist()


def test_azure_format_writes_str_of_each_element(tmp_path: Path) -> None:
    rows, columns, path = _write(tmp_path, [["a.png", 3], "file: cat", 0.5, {"k": 1}], "azure")
    assert (rows, columns) == (4, None)
    assert path.read_text() == "['a.png', 3]\nfile: cat\n0.5\n{'k': 1}\n"


def test_csv_format_columns_come_from_the_first_dict_or_are_result(tmp_path: Path) -> None:
    rows, columns, path = _write(tmp_path, [{"file": "a b", "p": 1}, {"file": 'q"t', "p": None}, {"file": "x"}], "csv")
    assert (rows, columns) == (3, ["file", "p"])
    assert list(csv.reader(io.StringIO(path.read_text()))) == [["a b", "1"], ['q"t', ""], ["x", ""]]
    rows, columns, path = _write(tmp_path, ["one", "two,three"], "csv", "part-2")
    assert (rows, columns) == (2, ["result"])
    assert path.read_text() == 'one\n"two,three"\n'


def test_dicts_with_keys_the_first_lacks_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"element 1 with keys \['extra'\]"):
        _write(tmp_path, [{"a": 1}, {"a": 2, "extra": 3}], "csv")
    assert list(tmp_path.iterdir()) == []  # no part and no temporary file left behind


def test_jsonl_format_writes_frames_dicts_and_other_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    _, columns, path = _write(tmp_path, frame, "jsonl")
    assert columns == ["a", "when"]
    assert [json.loads(line)["a"] for line in path.read_text().splitlines()] == [1, 2]
    _, columns, path = _write(tmp_path, [1, "two", Path("/x")], "jsonl", "part-2")
    assert columns == ["result"]
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"result": 1},
        {"result": "two"},
        {"result": "/x"},
    ]


def test_parquet_format_writes_lists_and_frames(tmp_path: Path) -> None:
    _, columns, path = _write(tmp_path, [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], "parquet")
    assert columns == ["a", "b"]
    assert pd.read_parquet(path).to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    _, columns, path = _write(tmp_path, [1, "mixed", 2.5], "parquet", "part-2")
    assert pd.read_parquet(path)["result"].tolist() == ["1", "mixed", "2.5"]


@pytest.mark.parametrize("fmt", ["azure", "csv", "jsonl", "parquet"])
def test_an_empty_result_still_replaces_an_earlier_part(tmp_path: Path, fmt: str) -> None:
    _write(tmp_path, ["stale", "rows"], fmt)
    rows, _, path = _write(tmp_path, [], fmt)
    assert rows == 0
    if fmt == "parquet":
        assert len(pd.read_parquet(path)) == 0
    else:
        assert path.read_text() == ""
    assert [p.name for p in tmp_path.iterdir()] == ["part-1"]


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match="output_format is 'xlsx'; it must be one of azure, mlflow, csv, jsonl, parquet"
    ):
        write_part(Result(elements=[]), "xlsx", str(tmp_path), "p")
