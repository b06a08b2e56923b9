"""Planning folder inputs: listing order, hidden files, mini-batch sizes, hive partitions."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.errors import StorageError, ThresherError
from thresher.scheduler.planner import iter_input_files, iter_input_paths, plan_files, plan_partitions

NAMES = ["a", "B", "b", "a b", "ä", "10", "9", "a.csv", "a=1", "_x", ".hidden", "MLTable", "z~"]


def _tree(paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Drop paths that would need a file where another path needs a folder."""
    chosen = sorted(set(paths), key=len)
    kept: list[tuple[str, ...]] = []
    for path in chosen:
        if not any(path[: len(other)] == other or other[: len(path)] == path for other in kept):
            kept.append(path)
    return kept


trees = st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(tuple), max_size=25).map(_tree)


def _make(root: Path, paths: list[tuple[str, ...]]) -> None:
    for parts in paths:
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/".join(parts))


@settings(max_examples=60, deadline=None)
@given(tree=trees, size=st.integers(1, 7))
def test_every_file_is_in_exactly_one_mini_batch_in_sorted_path_order(tree: list[tuple[str, ...]], size: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _make(root, tree)
        batches = list(plan_files(iter_input_files(root), size))
        visible = [p for p in tree if not any(part.startswith(".") for part in p) and p[-1] != "MLTable"]
        expected = [str(root.joinpath(*p)) for p in sorted(visible)]
        assert [item for batch in batches for item in batch.items] == expected
        assert [batch.index for batch in batches] == list(range(len(batches)))
        assert all(len(batch.items) == size for batch in batches[:-1])
        assert all(1 <= len(batch.items) <= size for batch in batches)
        assert all(batch.partition is None for batch in batches)
        # The runner plans from the listing as strings: the same mini-batches, item for item.
        assert list(plan_files(iter_input_paths(root), size)) == batches


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    _make(tmp_path, [("a.jpg",), (".DS_Store",), (".amlignore",), (".cache", "b.jpg"), ("c", ".x.swp"), ("c", "d")])
    assert [p.relative_to(tmp_path).as_posix() for p in iter_input_files(tmp_path)] == ["a.jpg", "c/d"]


def test_a_single_file_is_its_own_input(tmp_path: Path) -> None:
    (tmp_path / ".odd-but-asked-for.csv").write_text("x")
    target = tmp_path / ".odd-but-asked-for.csv"
    assert list(iter_input_files(target)) == [target]


def test_a_missing_input_is_a_storage_error_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist") as caught:
        list(iter_input_files(tmp_path / "nope"))
    assert str(tmp_path / "nope") in str(caught.value) and caught.value.fix


def test_a_symbolic_link_loop_is_listed_as_an_entry_not_followed_forever(tmp_path: Path) -> None:
    _make(tmp_path, [("a", "file.txt")])
    os.symlink(tmp_path / "a", tmp_path / "a" / "again")
    # The link keeps its place, to be failed by the worker (tests/scheduler/test_unusable_entries.py).
    assert [p.relative_to(tmp_path).as_posix() for p in iter_input_files(tmp_path)] == ["a/again", "a/file.txt"]


def test_linked_folders_are_followed(tmp_path: Path) -> None:
    _make(tmp_path / "elsewhere", [("x.txt",)])
    (tmp_path / "in").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "in" / "linked")
    assert [p.name for p in iter_input_files(tmp_path / "in")] == ["x.txt"]


def test_hive_folders_give_one_mini_batch_per_partition_in_order_of_first_appearance(tmp_path: Path) -> None:
    _make(
        tmp_path,
        [
            ("region=west", "day=2", "a.jpg"),
            ("region=east", "day=1", "b.jpg"),
            ("region=east", "day=1", "c.jpg"),
            ("region=east", "day=10", "d.jpg"),
            ("region=north%20x", "day=__HIVE_DEFAULT_PARTITION__", "e.jpg"),
        ],
    )
    batches = list(plan_partitions(tmp_path, ["region", "day"], tabular=False))
    assert [b.partition for b in batches] == [
        {"region": "east", "day": "1"},
        {"region": "east", "day": "10"},
        {"region": "north x", "day": None},
        {"region": "west", "day": "2"},
    ]
    assert [[Path(i).name for i in b.items] for b in batches] == [["b.jpg", "c.jpg"], ["d.jpg"], ["e.jpg"], ["a.jpg"]]
    assert [b.index for b in batches] == [0, 1, 2, 3]
    from_files = list(plan_partitions(iter_input_files(tmp_path), ["day"], tabular=False))
    assert [b.partition for b in from_files] == [{"day": "1"}, {"day": "10"}, {"day": None}, {"day": "2"}]


def test_a_file_outside_partition_folders_is_an_error_naming_it(tmp_path: Path) -> None:
    _make(tmp_path, [("region=west", "a.jpg"), ("stray.jpg",)])
    with pytest.raises(ThresherError, match=r"stray\.jpg") as caught:
        list(plan_partitions(tmp_path, ["region"], tabular=False))
    assert "region=VALUE/FILE" in str(caught.value) and caught.value.fix
