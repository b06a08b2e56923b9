"""A workspace made by an earlier thresher opens with this one, and shows the user what it held.

``fixtures/workspace-961f46f.db.gz`` is the SQLite database of a workspace made with thresher at
commit 961f46f through its CLI (see ``fixtures/README.md``): model ``legacy-model`` version 1,
endpoint ``legacy-ep``, deployment ``legacy-dep`` (a small scoring script, mini_batch_size 2), and
job ``legacy-job`` that scored 5 files and completed. Opening it migrates it to this thresher's
schema if that has moved on. The checks are what a user reads, not how rows are stored.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.faults.workspaces import Thresher

FIXTURE = Path(__file__).parent / "fixtures" / "workspace-961f46f.db.gz"


@pytest.fixture
def old_workspace(tmp_path: Path) -> Path:
    home = tmp_path / "old-ws"
    home.mkdir()
    with gzip.open(FIXTURE, "rb") as packed, (home / "thresher.db").open("wb") as database:
        shutil.copyfileobj(packed, database)
    return home


def _json(thresher: Thresher, home: Path, *args: str) -> Any:
    result = thresher(*args, home=home)
    assert result.code == 0, str(result)
    return json.loads(result.out)


def test_a_workspace_from_961f46f_opens_and_shows_what_it_held(old_workspace: Path, thresher: Thresher) -> None:
    models = _json(thresher, old_workspace, "model", "list")
    assert [(m["name"], m["version"]) for m in models] == [("legacy-model", "1")]

    endpoints = _json(thresher, old_workspace, "batch-endpoint", "list")
    assert [e["name"] for e in endpoints] == ["legacy-ep"]
    assert endpoints[0]["defaults"]["deployment_name"] == "legacy-dep"

    deployments = _json(thresher, old_workspace, "batch-deployment", "list", "-e", "legacy-ep")
    assert [d["name"] for d in deployments] == ["legacy-dep"]
    assert deployments[0]["model"] == "azureml:legacy-model:1"
    assert deployments[0]["settings"]["mini_batch_size"] == 2

    jobs = _json(thresher, old_workspace, "job", "list")
    assert [(j["name"], j["status"]) for j in jobs] == [("legacy-job", "Completed")]

    job = _json(thresher, old_workspace, "job", "show", "-n", "legacy-job")
    assert job["status"] == "Completed"
    assert job["endpoint_name"] == "legacy-ep" and job["deployment_name"] == "legacy-dep"
    assert (job["items_succeeded"], job["items_failed"]) == (5, 0)
    assert job["headline"].startswith("Job 'legacy-job' completed: 5 of 5 items succeeded.")

    # the database itself is sound after opening; its datastore folder stayed on the machine that made it
    checked = thresher("workspace", "check", "--query", "checks[?check!='datastore']", home=old_workspace)
    assert [(c["check"], c["ok"]) for c in json.loads(checked.out)] == [
        ("file", True),
        ("integrity", True),
        ("schema", True),
        ("tables", True),
    ]
