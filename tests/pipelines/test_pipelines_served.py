"""A pipeline through a real thresher server: it runs, fails on a bug, is fixed on the client's machine and
resumed, and the steps before the fixed one are not run again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import served_workspace
from tests.pipelines.conftest import Project
from tests.pipelines.test_pipeline_jobs import _expected_summary, _steps, _summary


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The project's workspace, served by a thresher server (this module's tests are the server's)."""
    for key in ("THRESHER_DATABASE_URL", "THRESHER_SERVER", "THRESHER_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    yield from served_workspace(tmp_path, monkeypatch)


def test_a_pipeline_fixed_on_the_client_resumes_through_the_server(project: Project) -> None:
    aggregate = project.root / "agg" / "agg.py"
    good = aggregate.read_text()
    aggregate.write_text(good.replace("values = []", "values = []\nraise ValueError('no predictions file yet')"))
    failed = project.run()
    assert failed.code != 0
    pipeline = project.latest()
    shown = project.cli("job", "show", "-n", pipeline, "-o", "json").json()
    assert shown["status"] == "Failed" and "ValueError: no predictions file yet" in shown["headline"]
    before = _steps(project, pipeline)

    aggregate.write_text(good)  # the fix, on this machine: resume sends the pipeline's folder again
    resumed = project.cli("job", "resume", "-n", pipeline, "--stream", "-o", "none")
    assert resumed.code == 0, resumed.err
    after = _steps(project, pipeline)
    for step in ("prepare", "score"):
        assert after[step]["name"] == before[step]["name"] and after[step]["attempt"] == 1
    assert after["aggregate"]["status"] == "Completed" and after["aggregate"]["name"] == f"{pipeline}.aggregate-2"
    assert _summary(project, pipeline) == _expected_summary(project)
