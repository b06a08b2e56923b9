"""``thresher job delete`` and ``job prune``: old jobs' folders and rows go, running jobs and users' own
output folders never do."""

from __future__ import annotations

import sqlite3
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from tests.cli.conftest import Result
from thresher import Workspace
from thresher.specs import parse_spec
from thresher.store import JobRecord

SCRIPT = """
import os, time

def run(mini_batch):
    time.sleep(float(os.environ.get("PAUSE", "0")))
    return [os.path.basename(path) for path in mini_batch]
"""


def _deploy(ws: Workspace, root: Path, pause: str = "0") -> Path:
    code = root / "code"
    code.mkdir(exist_ok=True)
    (code / "score.py").write_text(textwrap.dedent(SCRIPT))
    (root / "model").mkdir(exist_ok=True)
    (root / "model" / "w.txt").write_text("w")
    if not ws.models.list():
        ws.models.create(parse_spec({"name": "m", "path": str(root / "model")}, "model", base_dir=root))
        ws.batch_endpoints.create(parse_spec({"name": "cleanup-ep"}, "batch_endpoint", base_dir=root))
    document = {
        "name": "d",
        "endpoint_name": "cleanup-ep",
        "type": "model",
        "model": "azureml:m@latest",
        "code_configuration": {"code": str(code), "scoring_script": "score.py"},
        "settings": {"mini_batch_size": 1, "environment_variables": {"PAUSE": pause}},
    }
    ws.batch_deployments.create(parse_spec(document, "batch_deployment", base_dir=root), set_default=True)  # type: ignore[arg-type]
    data = root / "data"
    data.mkdir(exist_ok=True)
    for index in range(3):
        (data / f"f{index}.txt").write_text("x")
    return data


def _completed(ws: Workspace, data: Path, **kwargs: str) -> JobRecord:
    job = ws.jobs.invoke("cleanup-ep", input=str(data), **kwargs)
    ended = ws.jobs.wait(job.name, timeout=60)
    assert ended.status == "Completed", ended.headline
    return ended


def _age(home: Path, name: str, days: int) -> None:
    """Make a job look as if it ended ``days`` ago (its row's ended_at, as SQLite stores it)."""
    with sqlite3.connect(home / "thresher.db") as connection:
        (ended,) = connection.execute("SELECT ended_at FROM jobs WHERE name = ?", (name,)).fetchone()
        older = datetime.fromisoformat(ended) - timedelta(days=days)
        connection.execute("UPDATE jobs SET ended_at = ? WHERE name = ?", (older.isoformat(sep=" "), name))


def test_job_delete_removes_the_folder_and_the_rows_but_never_a_running_job(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    with Workspace(home) as ws:
        data = _deploy(ws, tmp_path)
        done = _completed(ws, data)
        _deploy(ws, tmp_path, pause="2")
        running = ws.jobs.invoke("cleanup-ep", input=str(data))
        while ws.jobs.get(running.name).status != "Running":
            time.sleep(0.05)
    folder = Path(str(done.spec["folder"]))
    assert folder.is_dir()
    refused = cli("job", "delete", "--name", running.name, "--yes")
    assert refused.code == 1
    assert f"Job '{running.name}' is Running; only a job that ended" in refused.err
    assert f"thresher job cancel --name {running.name}" in refused.err
    unconfirmed = cli("job", "delete", "--name", done.name)
    assert unconfirmed.code == 1 and "needs confirmation" in unconfirmed.err and "--yes" in unconfirmed.err
    deleted = cli("job", "delete", "--name", done.name, "--yes", "-o", "json")
    assert deleted.code == 0, deleted.err
    document = deleted.json()
    assert (document["name"], document["status"], document["deleted"]) == (done.name, "Completed", True)
    assert document["bytes"] > 0 and document["kept_output"] is None
    assert not folder.exists()
    assert cli("job", "show", "--name", done.name).code == 1
    cli("job", "cancel", "--name", running.name)
    with Workspace(home) as ws:
        ws.jobs.wait(running.name, timeout=30)


def test_job_prune_deletes_jobs_older_than_asked_and_keeps_outputs_outside_the_job_folder(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    own_output = tmp_path / "my-predictions"
    with Workspace(home) as ws:
        data = _deploy(ws, tmp_path)
        old = _completed(ws, data)
        old_elsewhere = _completed(ws, data, output_path=str(own_output))
        recent = _completed(ws, data)
    _age(home, old.name, days=8)
    _age(home, old_elsewhere.name, days=30)
    dry = cli("job", "prune", "--older-than", "7d", "--dry-run", "-o", "json")
    assert dry.code == 0, dry.err
    assert sorted(entry["name"] for entry in dry.json()) == sorted([old.name, old_elsewhere.name])
    assert all(entry["deleted"] is False for entry in dry.json())
    assert "2 jobs, would free" in dry.err
    assert Path(str(old.spec["folder"])).is_dir()
    pruned = cli("job", "prune", "--older-than", "7d", "--yes", "-o", "json")
    assert pruned.code == 0, pruned.err
    by_name = {entry["name"]: entry for entry in pruned.json()}
    assert set(by_name) == {old.name, old_elsewhere.name}
    assert by_name[old_elsewhere.name]["kept_output"] == str(own_output)
    assert (own_output / "predictions.csv").read_text().split() == ["f0.txt", "f1.txt", "f2.txt"]
    assert not Path(str(old.spec["folder"])).exists()
    assert not Path(str(old_elsewhere.spec["folder"])).exists()
    listed = cli("job", "list", "--query", "[].name", "-o", "tsv")
    assert listed.out.split() == [recent.name]
    bad = cli("job", "prune", "--older-than", "7x", "--yes")
    assert bad.code == 1
    assert "--older-than is '7x'; it must be a number with a unit: s, m, h, d or w" in bad.err
