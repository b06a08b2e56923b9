"""Two servers (two Workspace objects on one PostgreSQL database) firing the same due slots concurrently."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from tests.schedules.conftest import utc, write_schedule
from thresher import Workspace
from thresher.store.service import FireRecord

SLOTS = 12


@pytest.mark.postgres
def test_two_firers_never_fire_the_same_slot_twice(tmp_path: Path, project: Path, fresh_postgres_url: str) -> None:
    home = tmp_path / "ws"
    start = utc("2024-03-01T00:00:30")
    text = "name: every-minute\ntrigger: {type: cron, expression: '* * * * *'}\ncreate_job: ./pipeline.yml\n"
    with (
        Workspace(home, database_url=fresh_postgres_url) as first,
        Workspace(home, database_url=fresh_postgres_url) as second,
    ):
        first.schedules.create(write_schedule(project, text), now=start)
        made: dict[str, list[FireRecord]] = {"first": [], "second": []}
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def serve(label: str, ws: Workspace) -> None:
            try:
                for minute in range(1, SLOTS + 1):
                    barrier.wait(timeout=30)  # both find the same slot due at the same moment
                    made[label] += ws.schedules.fire_due(start + timedelta(minutes=minute), start_runner=False)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=serve, args=item) for item in (("first", first), ("second", second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        fired = made["first"] + made["second"]
        assert sorted(f.slot for f in fired) == [f"2024-03-01T00:{m:02d}:00Z" for m in range(1, SLOTS + 1)]
        assert all(f.job for f in fired)
        jobs = first.jobs.list()
        assert len(jobs) == SLOTS
        assert sorted(job.spec["schedule_slot"] for job in jobs) == sorted(f.slot for f in fired)
        assert len(first.schedules.fires("every-minute")) == SLOTS
