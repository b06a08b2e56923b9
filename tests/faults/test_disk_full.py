"""A full disk, for real: size-limited tmpfs mounts under the job's outputs or the whole workspace.

The job stops with a headline naming the disk, the path and the fix; nothing committed is lost; the
metadata database stays intact; once space is freed, ``job resume`` finishes with the output an
undisturbed run writes. CI runs as root, so mounting works; a refused mount fails the test.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import echoed, text_inputs
from tests.jobs.conftest import Bench
from thresher import Workspace
from thresher.specs import parse_spec

# Each row is ~1 KiB, so a few hundred files' output outgrows a small disk.
SCRIPT = """
import os

def run(mini_batch):
    return [os.path.basename(path) + " " + open(path).read().strip() * 100 for path in mini_batch]
"""


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """Mount a tmpfs of a given size at a folder under tmp_path; unmounted at the end."""
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.fail(f"cannot mount a tmpfs (tests run as root in CI): {done.stderr.strip()}", pytrace=False)
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """A file that takes all but ``leave`` bytes of the disk."""
    filler = disk / "filler.bin"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    filler.unlink()
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("wb") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_output_disk_stops_the_job_naming_it_and_resume_finishes_after_space_is_freed(
    bench: Bench, tmpfs: Callable[[str, str], Path]
) -> None:
    bench.deploy(SCRIPT, settings={"mini_batch_size": 20})
    folder = text_inputs(bench.root, 300, "{:09d}".format)
    disk = tmpfs("out", "4m")
    filler = _fill(disk, leave=150_000)  # the job's ~300 KB output does not fit
    job = bench.run(folder, output_path=str(disk / "score"))
    assert job.status == "Failed"
    headline = str(job.headline)
    assert headline.startswith(f"Job '{job.name}' stopped: the disk holding {disk}/score/")
    assert f"is full (mounted at {disk}, tmpfs, 4.0 MiB, " in headline
    assert "No space left on device" in headline
    assert "committed mini-batches are kept" in headline
    assert job.progress.mini_batches_done == 15  # every mini-batch was scored and committed; only the output failed
    error_file = Path(str(job.spec["folder"])) / "logs" / "job_error.txt"
    assert "Fix: Free space on that disk (thresher job prune --older-than 7d --yes" in error_file.read_text()
    assert sorted(p.name for p in disk.iterdir()) == ["filler.bin", "score"]
    assert list((disk / "score").iterdir()) == []  # no half-written output, no partial file
    filler.unlink()
    bench.ws.jobs.resume(job.name)
    ended = bench.ws.jobs.wait(job.name, timeout=60)
    assert ended.status == "Completed", ended.headline
    assert bench.output(ended) == echoed(folder, repeat=100)


def test_a_full_workspace_disk_stops_the_job_keeps_the_database_intact_and_resume_finishes(
    tmpfs: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    disk = tmpfs("ws", "16m")
    home = disk / "workspace"
    monkeypatch.setenv("THRESHER_HOME", str(home))
    monkeypatch.delenv("THRESHER_DATABASE_URL", raising=False)
    with Workspace(home) as ws:
        ws.batch_endpoints.create(parse_spec({"name": "scoring"}, "batch_endpoint", base_dir=tmp_path))
        bench = Bench(ws, tmp_path)
        bench.deploy(SCRIPT, settings={"mini_batch_size": 10})
        folder = text_inputs(
            tmp_path, 600, "{:09d}".format
        )  # ~600 KB of parts, then ~600 KB of output, in the workspace
        filler = _fill(disk, leave=700_000)
        job = bench.run(folder)
        assert job.status == "Failed"
        headline = str(job.headline)
        assert headline.startswith(f"Job '{job.name}' stopped: the disk holding {home}")
        assert f"is full (mounted at {disk}, tmpfs, 16.0 MiB, " in headline
        # Whichever write met the full disk first: a worker's part, or the runner's commit to the database.
        assert "No space left on device" in headline or "database or disk is full" in headline
        database = home / "thresher.db"
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        filler.unlink()
        ws.jobs.resume(job.name)
        ended = ws.jobs.wait(job.name, timeout=90)
        assert ended.status == "Completed", ended.headline
        assert bench.output(ended) == echoed(folder, repeat=100)
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
