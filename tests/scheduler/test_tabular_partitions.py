"""partition_keys on tabular inputs: one mini-batch per key combination, holding exactly its rows."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.errors import ThresherError
from thresher.runtime.tabular import read_slices
from thresher.scheduler.planner import plan_partitions

WRITERS = {
    "csv": lambda frame, path: frame.to_csv(path, index=False),
    "jsonl": lambda frame, path: path.write_text(
        "".join(json.dumps(r) + "\n" for r in frame.to_dict("records")), encoding="utf-8"
    ),
    "parquet": lambda frame, path: frame.to_parquet(path, row_group_size=4, index=False),
}


@settings(max_examples=30, deadline=None)
@given(
    keys=st.lists(st.tuples(st.sampled_from(["east", "west", "north"]), st.sampled_from(["1", "2"])), max_size=25),
    files=st.integers(1, 3),
    fmt=st.sampled_from(sorted(WRITERS)),
)
def test_each_partition_holds_exactly_its_rows_in_order_of_first_appearance(
    keys: list[tuple[str, str]], files: int, fmt: str
) -> None:
    frame = pd.DataFrame({"region": [k[0] for k in keys], "day": [k[1] for k in keys], "n": range(len(keys))})
    frame = frame.astype({"region": "str", "day": "str", "n": "int64"})
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        chunks = [frame.iloc[i::files] for i in range(files)]
        for number, chunk in enumerate(chunks):
            WRITERS[fmt](chunk, root / f"part-{number}.{fmt}")
        batches = list(plan_partitions(root, ["region", "day"], tabular=True))
        in_order = pd.concat(chunks)
        expected_order = list(dict.fromkeys(zip(in_order["region"], in_order["day"], strict=True)))
        assert [(b.partition or {})["region"] for b in batches] == [r for r, _ in expected_order]
        assert [(b.partition or {})["day"] for b in batches] == [d for _, d in expected_order]
        seen: list[int] = []
        for batch in batches:
            assert batch.partition is not None
            got = read_slices(batch.items)
            assert set(got["region"]) == {batch.partition["region"]} and set(got["day"]) == {batch.partition["day"]}
            assert len(got) == sum(item["rows"] for item in batch.items)
            seen.extend(got["n"])
        assert sorted(seen) == list(range(len(keys)))


def test_csv_keys_keep_their_text_and_missing_values_are_none(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("day,n\n01,1\n,2\n1,3\n01,4\n")
    batches = list(plan_partitions(tmp_path, ["day"], tabular=True))
    assert [b.partition for b in batches] == [{"day": "01"}, {"day": None}, {"day": "1"}]
    assert [read_slices(b.items)["n"].tolist() for b in batches] == [[1, 4], [2], [3]]


def test_parquet_slices_are_narrowed_to_the_rows_of_their_partition(tmp_path: Path) -> None:
    frame = pd.DataFrame({"k": ["a"] * 10 + ["b"] * 10, "n": range(20)})
    frame.to_parquet(tmp_path / "sorted.parquet", row_group_size=5)
    a, b = plan_partitions(tmp_path, ["k"], tabular=True)
    assert (a.items[0]["start"], a.items[0]["stop"], b.items[0]["start"], b.items[0]["stop"]) == (0, 10, 10, 20)
    assert read_slices(b.items)["n"].tolist() == list(range(10, 20))


def test_keys_come_from_hive_folders_when_the_file_lacks_the_column(tmp_path: Path) -> None:
    for region in ("west", "east"):
        (tmp_path / f"region={region}").mkdir()
        pd.DataFrame({"day": ["1", "2"], "n": [1, 2]}).to_parquet(tmp_path / f"region={region}" / "data.parquet")
    (tmp_path / "region=east" / "empty.csv").write_text("day,n\n")
    batches = list(plan_partitions(tmp_path, ["region", "day"], tabular=True))
    assert [b.partition for b in batches] == [
        {"region": "east", "day": "1"},
        {"region": "east", "day": "2"},
        {"region": "west", "day": "1"},
        {"region": "west", "day": "2"},
    ]
    assert all(b.items[0]["filter"] == {"day": b.partition["day"]} for b in batches if b.partition)
    assert batches[0].items[-1]["rows"] == 0  # the empty file is in the plan, with no rows
    assert read_slices(batches[3].items)["n"].tolist() == [2]


def test_a_key_that_is_neither_a_column_nor_a_folder_is_an_error_naming_the_file(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(ThresherError, match=r"data\.csv has no column region") as caught:
        list(plan_partitions(tmp_path, ["region"], tabular=True))
    assert "its columns are a" in str(caught.value) and caught.value.fix
