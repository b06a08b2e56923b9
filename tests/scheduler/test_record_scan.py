"""Record boundaries found chunk by chunk match a plain reading of the file, whatever the chunk size."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.runtime.tabular import read_slices
from thresher.scheduler.planner import BatchSize, plan_tabular
from thresher.scheduler.record_scan import RecordScanner


def _record_ends(data: bytes, start: int, quote: bytes | None) -> list[int]:
    """The reference: offsets just after each record, by walking every byte."""
    ends, in_quote = [], False
    for position in range(start, len(data)):
        byte = data[position : position + 1]
        if quote is not None and byte == quote:
            in_quote = not in_quote
        elif byte == b"\n" and not in_quote:
            ends.append(position + 1)
    if (ends[-1] if ends else start) < len(data):
        ends.append(len(data))  # an unterminated last record
    return ends


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=60).map(lambda b: bytes(b'a,"\n\r'[x % 5] for x in b)),
    chunk=st.integers(1, 9),
    steps=st.lists(st.tuples(st.sampled_from(["rows", "until"]), st.integers(1, 6)), max_size=12),
    quoted=st.booleans(),
)
def test_advance_finds_the_same_record_ends_as_a_byte_walk(
    data: bytes, chunk: int, steps: list[tuple[str, int]], quoted: bool
) -> None:
    quote = b'"' if quoted else None
    ends = _record_ends(data, 0, quote)
    scanner = RecordScanner(io.BytesIO(data), 0, quote=quote, chunk=chunk)
    position, done = 0, 0
    for kind, amount in steps:
        if kind == "rows":
            expected = ends[done : done + amount]
            offset, rows = scanner.advance(rows=amount)
        else:
            expected = []
            for end in ends[done:]:
                expected.append(end)
                if end >= position + amount:
                    break
            offset, rows = scanner.advance(until=position + amount)
        assert rows == len(expected)
        assert offset == (expected[-1] if expected else len(data))
        position, done = offset, done + rows


def test_cuts_across_read_chunks_in_a_file_of_several_megabytes(tmp_path: Path) -> None:
    rows = 60_000
    frame = pd.DataFrame(
        {"n": range(rows), "text": [f'line {i}\n"quoted" {"x" * (i % 50)}' if i % 3 else f"t{i}" for i in range(rows)]}
    )
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    assert path.stat().st_size > 2 * (1 << 20)
    for size in (BatchSize("rows", 7_000), BatchSize("bytes", 300_000)):
        pieces = [batch.items[0] for batch in plan_tabular([path], size)]
        assert sum(piece["rows"] for piece in pieces) == rows
        pd.testing.assert_frame_equal(read_slices(pieces), frame)
