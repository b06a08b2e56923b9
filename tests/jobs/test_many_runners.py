"""``thresher runner``: several runner processes serving one PostgreSQL queue, and what a fault does to them.

Real runner processes (``python -m thresher runner``), real workers, a real PostgreSQL server. A runner
killed with SIGKILL has its job taken over by another on the same host (its pid is gone); a runner paused
with SIGSTOP has its job taken over once its heartbeat is older than ``runner_stale_seconds`` (2 s here),
and when it is continued it can change nothing of that job.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import echoed, text_inputs
from tests.jobs.conftest import Bench
from thresher import Workspace
from thresher.scheduler.jobspec import JobSpec
from thresher.specs import parse_spec
from thresher.store import TERMINAL, JobRecord, SqlStore

pytestmark = pytest.mark.postgres

STALE_SECONDS = 2.0

ECHO_SCRIPT = """
import os, time

def init():
    pass

def run(mini_batch):
    time.sleep(0.15)
    return [f"{os.path.basename(p)} {open(p).read().strip()}" for p in mini_batch]
"""


# Item 1 is held by the first worker that gets it (the paused runner's) until the test releases it: that
# worker writes its part after the other runner committed the same mini-batch.
HELD_SCRIPT = """
import os, time

def init():
    pass

def run(mini_batch):
    time.sleep(0.15)
    if any(os.path.basename(p) == "item-0001.txt" for p in mini_batch):
        try:
            os.rename({hold!r}, {hold!r} + ".taken")
        except OSError:
            pass
        else:
            while not os.path.exists({release!r}):
                time.sleep(0.02)
    return [f"{{os.path.basename(p)}} {{open(p).read().strip()}}" for p in mini_batch]
"""


class Runner:
    """One ``thresher runner`` process, its log in a file."""

    def __init__(self, bench: Bench, name: str, **environment: str) -> None:
        self.log = bench.root / f"runner-{name}.log"
        env = {
            **os.environ,
            "THRESHER_HOME": str(bench.ws.settings.workspace_dir),
            "THRESHER_DATABASE_URL": str(bench.ws.settings.database_url),
            "THRESHER_RUNNER_STALE_SECONDS": str(STALE_SECONDS),
            "THRESHER_DEFAULT_MAX_WORKERS": "2",
            **environment,
        }
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "thresher", "runner"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.id = f"{os.uname().nodename}:{self.process.pid}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def state(self) -> str:
        """The process's state letter (R, S, T for stopped, Z, ...), or "" once it is gone."""
        try:
            return Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return ""

    def stop(self) -> int:
        """SIGTERM (after SIGCONT, should it be paused), then its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture
def pg_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_postgres_url: str) -> Iterator[Bench]:
    home = tmp_path / "ws"
    monkeypatch.setenv("THRESHER_HOME", str(home))
    monkeypatch.setenv("THRESHER_DATABASE_URL", fresh_postgres_url)
    with Workspace(home, database_url=fresh_postgres_url) as ws:
        ws.batch_endpoints.create(parse_spec({"name": "scoring"}, "batch_endpoint", base_dir=tmp_path))
        yield Bench(ws, tmp_path)


@pytest.fixture
def store(fresh_postgres_url: str) -> Iterator[SqlStore]:
    """The workspace's database, read as the runners wrote it."""
    with SqlStore(fresh_postgres_url) as opened:
        yield opened


@pytest.fixture
def runners() -> Iterator[list[Runner]]:
    started: list[Runner] = []
    yield started
    for runner in started:
        runner.stop()


def _wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not reached within {timeout} s")


def _queue(bench: Bench, folder: Path, count: int) -> list[str]:
    return [bench.ws.jobs.invoke(bench.endpoint, input=str(folder), start_runner=False).name for _ in range(count)]


def _all_ended(bench: Bench, names: list[str]) -> list[JobRecord] | None:
    jobs = [bench.ws.jobs.get(name) for name in names]
    return jobs if all(job.status in TERMINAL for job in jobs) else None


def test_two_runners_serve_20_jobs_and_one_killed_mid_job_loses_and_doubles_nothing(
    pg_bench: Bench, store: SqlStore, runners: list[Runner]
) -> None:
    bench = pg_bench
    folder = text_inputs(bench.root, 6)
    bench.deploy(ECHO_SCRIPT, settings={"mini_batch_size": 1, "max_concurrency_per_instance": 1})
    first = Runner(bench, "a")
    runners.append(first)
    # The reference: a job that one runner ran alone.
    [alone] = _queue(bench, folder, 1)
    reference = _wait_for(lambda: _all_ended(bench, [alone]), what="the first job ends")[0]
    assert reference.status == "Completed", reference.headline
    expected = bench.output(reference)
    assert expected == echoed(folder)

    runners.append(Runner(bench, "b"))
    names = _queue(bench, folder, 19)
    victim = _wait_for(
        lambda: next(
            (
                job
                for job in bench.ws.jobs.list(limit=None)
                if job.runner == first.id and job.status == "Running" and 1 <= job.progress.mini_batches_done < 6
            ),
            None,
        ),
        what="runner a in the middle of a job",
    )
    first.process.kill()
    first.process.wait()
    ended = _wait_for(lambda: _all_ended(bench, names), timeout=120, what="every job ends")

    assert [job.status for job in ended] == ["Completed"] * 19, [job.headline for job in ended]
    assert all(bench.output(job) == expected for job in ended)
    taken = bench.ws.jobs.get(victim.name)
    assert (taken.runner, taken.attempt) == (runners[1].id, 2)
    for job in ended:
        assert [m.index for m in store.mini_batches(job.name)] == list(range(6))
    log = first.text() + runners[1].text()
    for name in names:  # each job completed once: one runner says so, once
        assert log.count(f"job {name}: Completed:") == 1, name
    assert f"claimed job {victim.name} (attempt 2)" in runners[1].text()


def _snapshot(bench: Bench, store: SqlStore, job: JobRecord) -> dict[str, Any]:
    """What a woken runner must not change: the job's row, committed rows, their parts, output and reports."""
    folder = Path(str(job.spec["folder"]))
    record = bench.ws.jobs.get(job.name)
    committed = store.mini_batches(job.name)
    parts = JobSpec.from_dict(dict(job.spec)).job_folder.parts

    def file(path: Path) -> tuple[str, int] | None:
        if not path.exists():
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns

    assert committed and all((parts / name).is_file() for m in committed for name in m.parts)
    return {
        "job": (record.status, record.headline, record.runner, record.attempt, record.ended_at, record.progress),
        "rows": [(m.index, m.parts, m.succeeded, m.worker, m.attempts) for m in committed],
        "parts": {name: file(parts / name) for m in committed for name in m.parts},
        "output": file(Path(str(job.spec["output_file"]))),
        "output_folder": sorted(p.name for p in Path(str(job.spec["output_file"])).parent.iterdir()),
        "reports": {
            name: file(folder / "logs" / name)
            for name in ("job_result.txt", "job_error.txt", "sys/processed_mini_batches.csv")
        },
    }


@pytest.mark.parametrize("phase", ["committed", "assembled"])
def test_a_runner_paused_until_its_job_was_taken_over_changes_nothing_of_it_when_continued(
    pg_bench: Bench, store: SqlStore, runners: list[Runner], phase: str
) -> None:
    bench = pg_bench
    folder = text_inputs(bench.root, 8)
    hold, release = bench.root / "hold", bench.root / "release"
    script = HELD_SCRIPT.format(hold=str(hold), release=str(release)) if phase == "committed" else ECHO_SCRIPT
    hold.write_text("")
    bench.deploy(script, settings={"mini_batch_size": 1, "max_concurrency_per_instance": 2})
    [name] = _queue(bench, folder, 1)
    paused = Runner(bench, "paused", THRESHER_FAULT_INJECTION=f"{phase}=pause")  # SIGSTOPs itself there
    runners.append(paused)
    _wait_for(lambda: paused.state() == "T", what=f"the runner pauses at phase {phase}")
    held = bench.ws.jobs.get(name)
    assert (held.runner, held.attempt) == (paused.id, 1)

    taker = Runner(bench, "taker")
    runners.append(taker)
    [job] = _wait_for(lambda: _all_ended(bench, [name]), timeout=90, what="the job ends on the other runner")
    assert job.status == "Completed", job.headline
    assert (job.runner, job.attempt) == (taker.id, 2)
    assert bench.output(job) == echoed(folder)
    before = _snapshot(bench, store, job)
    if phase == "committed":  # the paused runner's worker finishes mini-batch 1 now, after the other's commit
        assert not hold.exists()
        release.write_text("")
        parts = JobSpec.from_dict(dict(job.spec)).job_folder.parts
        _wait_for(lambda: list(parts.glob("000000001-*-a1.*")), what="the paused runner's worker writes its part")

    paused.process.send_signal(signal.SIGCONT)
    _wait_for(lambda: "another runner took it over" in paused.text(), what="the woken runner finds out")
    assert paused.process.poll() is None  # it goes on serving the queue
    assert paused.stop() == 143
    assert _snapshot(bench, store, job) == before
    assert bench.output(job) == echoed(folder)
