"""settings.mini_batch_size as users write it: file counts, sizes, row counts, and the mistakes."""

from __future__ import annotations

import pytest

from thresher.errors import SpecError
from thresher.scheduler.planner import BatchSize, parse_mini_batch_size


@pytest.mark.parametrize(
    ("value", "tabular", "expected"),
    [
        (10, False, BatchSize("files", 10)),
        ("10", False, BatchSize("files", 10)),
        (" 7 ", False, BatchSize("files", 7)),
        ("3 files", False, BatchSize("files", 3)),
        (500, True, BatchSize("rows", 500)),
        ("500", True, BatchSize("rows", 500)),
        ("5000 rows", True, BatchSize("rows", 5000)),
        ("1 row", True, BatchSize("rows", 1)),
        ("1MB", True, BatchSize("bytes", 1024**2)),
        ("100kb", True, BatchSize("bytes", 100 * 1024)),
        ("10 mb", True, BatchSize("bytes", 10 * 1024**2)),
        ("2Gb", True, BatchSize("bytes", 2 * 1024**3)),
        ("64k", True, BatchSize("bytes", 64 * 1024)),
        ("4096b", True, BatchSize("bytes", 4096)),
        ("1mb", True, BatchSize("bytes", 1024**2)),  # the form the spec loader normalises to
    ],
)
def test_accepted_forms(value: int | str, tabular: bool, expected: BatchSize) -> None:
    assert parse_mini_batch_size(value, tabular=tabular) == expected


@pytest.mark.parametrize("value", ["ten", "1.5mb", "-3", "10 parsecs", "", "mb", True, 2.5, None])
def test_unreadable_values_name_the_value_and_the_accepted_forms(value: object) -> None:
    with pytest.raises(SpecError) as caught:
        parse_mini_batch_size(value, tabular=True)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "settings.mini_batch_size is" in message
    assert repr(value) in message or f"'{value}'" in message
    assert "'5000 rows'" in message and "'1MB'" in message
    assert caught.value.fix


@pytest.mark.parametrize("value", [0, "0", "0kb", "0 rows"])
def test_zero_is_refused(value: int | str) -> None:
    with pytest.raises(SpecError, match="at least 1"):
        parse_mini_batch_size(value, tabular=True)


@pytest.mark.parametrize("value", ["1MB", "5000 rows"])
def test_sizes_and_row_counts_are_refused_for_file_inputs(value: str) -> None:
    with pytest.raises(SpecError, match="folder of files") as caught:
        parse_mini_batch_size(value, tabular=False)
    assert caught.value.fix is not None and "number of files" in caught.value.fix


def test_a_file_count_is_refused_for_tabular_inputs() -> None:
    with pytest.raises(SpecError, match="tabular") as caught:
        parse_mini_batch_size("10 files", tabular=True)
    assert caught.value.fix is not None and "rows" in caught.value.fix
