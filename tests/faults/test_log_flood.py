"""A scoring script that floods stdout and stderr: the job finishes, and each worker log stays capped,
rotated once, with a line saying where the earlier output went and how much was dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jobs.conftest import Bench

FLOOD_SCRIPT = """
import os, sys

LINE = "x" * 1023 + "\\n"

def run(mini_batch):
    for _ in range(1024):  # 1 MiB to each stream per mini-batch
        sys.stdout.write(LINE)
        sys.stderr.write(LINE)
    print("last words of", os.path.basename(mini_batch[-1]), flush=True)
    return [os.path.basename(path) for path in mini_batch]
"""
CAP = 256 * 1024


def test_a_script_that_floods_its_output_gets_capped_rotated_logs(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THRESHER_WORKER_LOG_MAX_BYTES", str(CAP))
    bench.deploy(FLOOD_SCRIPT, settings={"mini_batch_size": 1})
    folder = bench.root / "data"
    folder.mkdir()
    for index in range(6):
        (folder / f"item-{index}.txt").write_text("x")
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    assert bench.output(job).split() == [f"item-{index}" + ".txt" for index in range(6)]
    logs = Path(str(job.spec["folder"])) / "logs" / "user"
    for kind, suffix in (("stdout", ".stdout.txt"), ("stderr", ".stderr.txt")):
        current = logs / kind / "node-0" / f"process000{suffix}"
        rotated = current.with_name(current.name + ".1")
        assert current.stat().st_size <= CAP and rotated.stat().st_size <= CAP
        assert sorted(p.name for p in current.parent.iterdir()) == [current.name, rotated.name]
        first = current.read_text().splitlines()[0]
        assert f"this log reached its cap of {CAP:,} bytes; the output before this line is in {rotated.name}" in first
        assert "bytes of older output were dropped" in first  # 6 MiB written, at most 512 KiB kept
        assert "(THRESHER_WORKER_LOG_MAX_BYTES sets the cap)" in first
    assert current.read_text().count("x" * 1023) > 0
    assert "last words of item-5.txt" in (logs / "stdout" / "node-0" / "process000.stdout.txt").read_text()
