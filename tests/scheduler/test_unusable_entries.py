"""Planning folders that hold entries which cannot be scored: each keeps its place in the plan, the
listing never fails because of one, and ``plan_fingerprint`` agrees with the written plan."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from thresher.runtime.entries import unusable
from thresher.scheduler.planner import (
    iter_input_files,
    parse_mini_batch_size,
    plan_files,
    plan_fingerprint,
    plan_partitions,
    plan_tabular,
    write_plan,
)

NOBODY = 65534


def _bad_folder(root: Path) -> Path:
    """data/ with good files between a broken link, a link loop, a FIFO, a link back up and a Latin-1 name."""
    data = root / "data"
    (data / "g").mkdir(parents=True)
    for name in ("a.csv", "c.csv", "f.csv", "g/h.csv", "z.csv"):
        (data / name).write_text("id\n1\n")
    os.symlink(root / "nowhere.csv", data / "b-broken.csv")
    os.symlink(data / "d-loop.csv", data / "d-loop.csv")
    os.mkfifo(data / "e-pipe.csv")
    os.symlink(data, data / "g" / "up")
    with open(os.fsencode(data) + b"/caf\xe9.csv", "w") as handle:
        handle.write("id\n2\n")
    return data


EXPECTED = ["a.csv", "b-broken.csv", "c.csv", "caf\udce9.csv", "d-loop.csv", "e-pipe.csv", "f.csv", "g/h.csv"]
EXPECTED += ["g/up", "z.csv"]


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail a test that blocks (planning must never open a FIFO) instead of hanging the suite."""

    def timeout(*_: Any) -> None:
        raise TimeoutError("planning blocked: it opened a FIFO?")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_every_entry_is_listed_in_its_place_and_none_fails_the_listing(tmp_path: Path, alarm: None) -> None:
    data = _bad_folder(tmp_path)
    assert [p.relative_to(data).as_posix() for p in iter_input_files(data)] == EXPECTED


def test_the_fingerprint_of_a_file_plan_agrees_with_plan_fingerprint(tmp_path: Path, alarm: None) -> None:
    data = _bad_folder(tmp_path)
    summary = write_plan(plan_files(iter_input_files(data), 3), tmp_path / "plan.jsonl", root=data)
    assert (summary.files, summary.mini_batches) == (10, 4)
    assert summary.bytes == 6 * len("id\n1\n")  # bad entries count as 0 bytes
    assert summary.fingerprint == plan_fingerprint(data)


def test_a_tabular_plan_gives_each_bad_entry_one_slice_and_agrees_with_plan_fingerprint(
    tmp_path: Path, alarm: None
) -> None:
    data = _bad_folder(tmp_path)
    size = parse_mini_batch_size("100 rows", tabular=True)
    batches = list(plan_tabular(iter_input_files(data), size))
    assert [Path(b.items[0]["path"]).relative_to(data).as_posix() for b in batches] == EXPECTED
    bad = {Path(b.items[0]["path"]).name: b.items[0]["unusable"] for b in batches if "unusable" in b.items[0]}
    assert sorted(bad) == ["b-broken.csv", "d-loop.csv", "e-pipe.csv", "up"]
    assert bad["e-pipe.csv"].startswith(f"{data}/e-pipe.csv is a FIFO (named pipe), not a regular file")
    assert all(b.items[0]["rows"] is None for b in batches if "unusable" in b.items[0])  # one failed item each
    summary = write_plan(iter(batches), tmp_path / "plan.jsonl", root=data)
    assert summary.fingerprint == plan_fingerprint(data)


@pytest.mark.parametrize("tabular", [False, True])
def test_partitioned_plans_keep_bad_entries_and_agree_with_plan_fingerprint(
    tmp_path: Path, alarm: None, tabular: bool
) -> None:
    data = tmp_path / "data"
    for region in ("east", "west"):
        (data / f"region={region}").mkdir(parents=True)
        pd.DataFrame({"id": [1, 2], "day": ["1", "2"]}).to_csv(data / f"region={region}" / "a.csv", index=False)
    os.mkfifo(data / "region=west" / "b-pipe.csv")
    os.symlink(data / "gone.csv", data / "region=east" / "c-broken.csv")
    keys = ["region", "day"] if tabular else ["region"]
    batches = list(plan_partitions(data, keys, tabular=tabular))
    items = [item["path"] if tabular else item for batch in batches for item in batch.items]
    assert {f"{data}/region=west/b-pipe.csv", f"{data}/region=east/c-broken.csv"} <= set(items)
    summary = write_plan(iter(batches), tmp_path / "plan.jsonl", root=data)
    assert summary.fingerprint == plan_fingerprint(data)


def test_a_tabular_partition_plan_of_only_bad_entries_still_lists_them(tmp_path: Path, alarm: None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / "pipe.csv")
    batches = list(plan_partitions(data, ["day"], tabular=True))
    assert [b.partition for b in batches] == [{"day": None}]
    assert [item["path"] for item in batches[0].items] == [f"{data}/pipe.csv"]
    summary = write_plan(iter(batches), tmp_path / "plan.jsonl", root=data)
    assert summary.fingerprint == plan_fingerprint(data)


def test_the_fingerprint_changes_when_a_bad_entry_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x")
    os.symlink(tmp_path / "target.csv", data / "link.csv")  # broken: its target is outside the input
    before = plan_fingerprint(data)
    assert plan_fingerprint(data) == before  # stable while nothing changes: a resume is not refused
    (tmp_path / "target.csv").write_text("now the link leads to a file")
    assert plan_fingerprint(data) != before  # the input changed: a resume would score another input


def _as_nobody(function: Callable[[], Any]) -> Any:
    """``function()`` run by a user who is refused what is chmod 000 (root is refused nothing)."""
    if os.geteuid() != 0:
        return function()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        os.close(read)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result: Any = ("ok", function())
        except BaseException as exc:
            result = ("error", repr(exc))
        os.write(write, pickle.dumps(result))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        status, value = pickle.loads(handle.read())
    os.waitpid(child, 0)
    assert status == "ok", value
    return value


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder another user may enter (pytest's own are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="thresher-unlistable-"))
    folder.chmod(0o755)
    yield folder
    for path in (folder, *folder.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


def test_a_subfolder_that_cannot_be_listed_is_one_entry_with_its_reason(shared_tmp: Path) -> None:
    data = shared_tmp / "data"
    (data / "locked").mkdir(parents=True)
    for name in ("a.csv", "locked/inside.csv", "z.csv"):
        (data / name).write_text("x")
    data.chmod(0o755)
    (data / "locked").chmod(0o000)

    def plan() -> tuple[list[str], bool, str | None]:
        listed = [path.relative_to(data).as_posix() for path in iter_input_files(data)]
        plans = Path(tempfile.mkdtemp())
        summary = write_plan(plan_files(iter_input_files(data), 10), plans / "plan", root=data)
        shutil.rmtree(plans)
        return listed, summary.fingerprint == plan_fingerprint(data), unusable(str(data / "locked"))

    listed, agrees, why = _as_nobody(plan)
    assert listed == ["a.csv", "locked", "z.csv"]
    assert agrees
    assert why == (
        f"{data}/locked is a folder that cannot be listed: Permission denied. Give thresher's user read and execute "
        "permission on it, or remove it from the input folder."
    )
