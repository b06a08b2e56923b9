"""The runner's doorbell: a client that queues a job rings it, and the idle runner's wait ends there
instead of at its next poll of the database (the latency itself is measured by benchmarks, not here).
"""

from __future__ import annotations

from pathlib import Path

from thresher.scheduler.launch import WAKE_FILE, wake_runner
from thresher.scheduler.service import Doorbell
from thresher.settings import Settings


def test_a_ring_ends_the_wait_and_is_answered_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws")
    settings.workspace_dir.mkdir()
    doorbell = Doorbell(settings.workspace_dir / WAKE_FILE)
    assert doorbell.wait(0.05) is False  # nobody rang: the whole timeout
    wake_runner(settings)
    wake_runner(settings)  # two clients before the runner looks: one claim serves both
    assert doorbell.wait(600) is True  # would take ten minutes if the ring were missed
    assert doorbell.answer() is False


def test_ringing_a_workspace_without_a_folder_is_harmless(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "missing")
    wake_runner(settings)  # no runner, no folder: nothing to wake, and no error
    assert not settings.workspace_dir.exists()
    assert Doorbell(settings.workspace_dir / WAKE_FILE).answer() is False
