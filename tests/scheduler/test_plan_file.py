"""The persisted plan: it reads back as written, and its fingerprint notices changed inputs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from thresher.errors import StorageError
from thresher.scheduler.planner import (
    BatchSize,
    MiniBatch,
    iter_input_files,
    plan_files,
    plan_fingerprint,
    plan_partitions,
    plan_tabular,
    read_plan,
    write_plan,
)


def _inputs(root: Path) -> Path:
    for name in ("a.jpg", "b.jpg", "sub/c.jpg", "sub/d.jpg", "e.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode() * 3)
    return root


def test_a_plan_reads_back_as_written_and_summarises_its_inputs(tmp_path: Path) -> None:
    root = _inputs(tmp_path / "in")
    written = list(plan_files(iter_input_files(root), 2))
    summary = write_plan(iter(written), tmp_path / "plan.jsonl", root=root)
    assert list(read_plan(tmp_path / "plan.jsonl")) == written
    assert (summary.mini_batches, summary.items, summary.files) == (3, 5, 5)
    assert summary.bytes == sum(p.stat().st_size for p in iter_input_files(root))
    assert summary.fingerprint == plan_fingerprint(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "plan.jsonl"]  # no temp file left behind


def test_tabular_and_partitioned_plans_count_rows_and_fingerprint_every_file(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    pd.DataFrame({"k": ["x", "y", "x"], "n": [1, 2, 3]}).to_csv(root / "a.csv", index=False)
    pd.DataFrame({"k": ["y"], "n": [4]}).to_parquet(root / "b.parquet")
    (root / "c.csv").write_text("k,n\n")
    tabular = write_plan(plan_tabular(iter_input_files(root), BatchSize("rows", 2)), tmp_path / "t.jsonl", root=root)
    assert (tabular.mini_batches, tabular.items, tabular.files) == (4, 4, 3)
    partitioned = write_plan(plan_partitions(root, ["k"], tabular=True), tmp_path / "p.jsonl", root=root)
    assert (partitioned.mini_batches, partitioned.items, partitioned.files) == (2, 4, 3)
    assert tabular.fingerprint == partitioned.fingerprint == plan_fingerprint(root)
    assert [b.partition for b in read_plan(tmp_path / "p.jsonl")] == [{"k": "x"}, {"k": "y"}]


def test_the_fingerprint_changes_when_a_file_is_touched_resized_added_or_removed(tmp_path: Path) -> None:
    root = _inputs(tmp_path)
    before = plan_fingerprint(root)
    assert plan_fingerprint(root) == before
    (root / ".DS_Store").write_text("hidden files are not inputs")
    assert plan_fingerprint(root) == before
    stat = (root / "b.jpg").stat()
    os.utime(root / "b.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))
    touched = plan_fingerprint(root)
    assert touched != before
    (root / "sub" / "new.jpg").write_text("x")
    added = plan_fingerprint(root)
    assert added not in (before, touched)
    (root / "sub" / "new.jpg").unlink()
    assert plan_fingerprint(root) == touched
    (root / "a.jpg").rename(root / "renamed.jpg")
    assert plan_fingerprint(root) != touched


def test_a_failed_plan_leaves_no_file_behind(tmp_path: Path) -> None:
    root = _inputs(tmp_path / "in")

    def broken() -> Iterator[MiniBatch]:
        yield from plan_files(iter_input_files(root), 2)
        raise RuntimeError("planner crashed")

    with pytest.raises(RuntimeError):
        write_plan(broken(), tmp_path / "plan.jsonl", root=root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_damaged_plan_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "plan.jsonl").write_text('{"index": 0, "items": ["/a"], "partition": null}\n{"index": 1, "ite\n')
    with pytest.raises(StorageError, match=r"plan\.jsonl:2"):
        list(read_plan(tmp_path / "plan.jsonl"))
    with pytest.raises(StorageError, match="cannot be read"):
        list(read_plan(tmp_path / "missing.jsonl"))
