"""``thresher workspace check`` and ``workspace backup`` on healthy workspaces, on SQLite and PostgreSQL.

The backup test is the one that matters most: a copy taken while another process keeps writing must
be one consistent moment of the database, readable by thresher, holding every row committed before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from tests.faults import damage
from tests.faults.workspaces import REPO, Thresher
from tests.pg import PostgresServer, free_port
from thresher.store.health import schema_head

WRITER = """
import itertools, os, sys
from pathlib import Path
from thresher import Workspace
from thresher.specs import parse_spec

home, model, progress, stop = (Path(arg) for arg in sys.argv[1:5])
with Workspace(home) as ws:
    spec = parse_spec({"name": "busy", "path": str(model)}, "model", base_dir=model.parent)
    for count in itertools.count(1):
        ws.models.create(spec)
        progress.with_suffix(".next").write_text(str(count))
        os.replace(progress.with_suffix(".next"), progress)  # a reader never sees it half written
        if stop.exists():
            break
"""


def test_a_healthy_workspace_passes_every_check(workspace_copy: Path, thresher: Thresher) -> None:
    result = thresher("workspace", "check", home=workspace_copy)
    assert result.code == 0, str(result)
    assert result.err == ""
    report = json.loads(result.out)
    assert report["ok"] is True
    assert [check["check"] for check in report["checks"]] == ["file", "integrity", "schema", "tables", "datastore"]
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    assert report["schema_revision"] == report["schema_head"] == schema_head()
    assert report["rows"]["assets"] >= 1 and report["rows"]["jobs"] == 1 and report["rows"]["deployments"] == 1

    table = thresher("workspace", "check", "-o", "table", home=workspace_copy)
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split() == ["Check", "Ok", "Summary"]
    # a long summary wraps onto lines whose first (Check) column is blank
    rows = [line for line in lines[1:] if not line.startswith(" " * 3)]
    assert [line.split()[:2] for line in rows] == [
        [name, "True"] for name in ("file", "integrity", "schema", "tables", "datastore")
    ]
    failing = thresher("workspace", "check", "--query", "checks[?!ok].check", "-o", "tsv", home=workspace_copy)
    assert failing.code == 0 and failing.out.strip() == ""


def test_check_changes_nothing_it_looks_at(workspace_copy: Path, thresher: Thresher) -> None:
    database = workspace_copy / "thresher.db"
    damage.garbage_pages(database)
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    assert thresher("workspace", "check", home=workspace_copy).code == 1
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert sorted(path.name for path in workspace_copy.glob("thresher.db*")) == ["thresher.db"]


def test_a_missing_datastore_folder_is_reported(
    workspace_copy: Path, populated_workspace: Path, thresher: Thresher, tmp_path: Path
) -> None:
    # the copy's database points at the original's datastore (paths are stored absolute): use the
    # original database itself, on a copy of the whole tree whose datastore then goes missing
    datastore = json.loads(thresher("workspace", "show", home=workspace_copy).out)["datastore_path"]
    assert datastore.startswith(str(populated_workspace))
    moved = tmp_path / "datastore-moved"
    os.rename(datastore, moved)
    try:
        result = thresher("workspace", "check", home=workspace_copy)
    finally:
        os.rename(moved, datastore)
    assert result.code == 1, str(result)
    failed = [check for check in json.loads(result.out)["checks"] if not check["ok"]]
    assert [check["check"] for check in failed] == ["datastore"]
    assert f"folder {datastore} is missing" in failed[0]["summary"]
    assert result.headline.startswith(f"ERROR: Workspace {workspace_copy} (database sqlite:///{workspace_copy}")
    assert "Restore" in result.fix


def test_show_names_the_database_revision_and_datastore(workspace_copy: Path, thresher: Thresher) -> None:
    result = thresher("workspace", "show", home=workspace_copy)
    assert result.code == 0, str(result)
    shown = json.loads(result.out)
    assert shown["home"] == str(workspace_copy)
    assert shown["database"] == f"sqlite:///{workspace_copy / 'thresher.db'}"
    assert shown["schema_revision"] == shown["schema_head"] == schema_head()
    assert shown["default_datastore"] == "workspaceblobstore"


def test_backup_of_a_live_workspace_is_consistent_and_complete(tmp_path: Path, thresher: Thresher) -> None:
    home = tmp_path / "ws"
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.txt").write_text("w\n")
    progress, stop, copy = tmp_path / "progress", tmp_path / "stop", tmp_path / "copy.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "THRESHER_HOME": str(home)}
    env.pop("THRESHER_DATABASE_URL", None)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), str(model), str(progress), str(stop)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        committed_before = _wait_for(progress, at_least=20, writer=writer)
        result = thresher("workspace", "backup", str(copy), home=home)
        committed_after = _count(progress)
        _wait_for(progress, at_least=committed_after + 10, writer=writer)  # it kept writing throughout
    finally:
        stop.touch()
        output, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0, output
    assert result.code == 0, str(result)
    document = json.loads(result.out)
    assert document["file"] == str(copy) and document["bytes"] == copy.stat().st_size
    copied = document["rows"]["assets"]
    assert committed_after > committed_before, "the writer must have written while the backup ran"
    assert committed_before <= copied <= committed_after + 1, (committed_before, copied, committed_after)

    with sqlite3.connect(copy) as connection:  # SQLite itself, not thresher, judges the copy
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    connection.close()
    assert not Path(f"{copy}-wal").exists()

    # opened as a workspace, the copy holds versions 1..n with none missing: one moment, not a smear
    url = f"sqlite:///{copy}"
    listed = thresher("model", "list", "-n", "busy", "--query", "[].version", home=home, database_url=url)
    assert listed.code == 0, str(listed)
    assert json.loads(listed.out) == [str(number) for number in range(1, copied + 1)]
    assert thresher("workspace", "check", home=home, database_url=url).code == 0


def test_backup_never_overwrites_a_file(workspace_copy: Path, thresher: Thresher, tmp_path: Path) -> None:
    precious = tmp_path / "precious.db"
    precious.write_text("last week's backup\n")
    result = thresher("workspace", "backup", str(precious), home=workspace_copy)
    assert result.code == 1, str(result)
    assert (
        result.headline
        == f"ERROR: The backup file {precious} already exists; thresher never overwrites a file with a backup."
    )
    assert "thresher workspace backup" in result.fix
    assert precious.read_text() == "last week's backup\n"
    assert sorted(path.name for path in tmp_path.iterdir() if "precious" in path.name) == ["precious.db"]


def test_every_workspace_command_help_shows_an_example(workspace_copy: Path, thresher: Thresher) -> None:
    for verb in ("check", "backup", "show"):
        result = thresher("workspace", verb, "--help", home=workspace_copy)
        assert result.code == 0, str(result)
        assert "Example" in result.out and f"thresher workspace {verb}" in result.out


# -- PostgreSQL ---------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_check_on_postgresql_reads_every_table(fresh_postgres_url: str, thresher: Thresher, tmp_path: Path) -> None:
    home = tmp_path / "ws"
    assert thresher("model", "list", home=home, database_url=fresh_postgres_url).code == 0  # creates the schema
    result = thresher("workspace", "check", home=home, database_url=fresh_postgres_url)
    assert result.code == 0, str(result)
    report = json.loads(result.out)
    assert [check["check"] for check in report["checks"]] == ["connection", "schema", "tables", "datastore"]
    assert all(check["ok"] for check in report["checks"])
    password = make_url(fresh_postgres_url).password
    assert password and password not in result.out

    shown = thresher("workspace", "show", home=home, database_url=fresh_postgres_url)
    assert json.loads(shown.out)["backend"] == "postgresql" and password not in shown.out


@pytest.mark.postgres
def test_backup_on_postgresql_gives_the_pg_dump_command(
    fresh_postgres_url: str, thresher: Thresher, tmp_path: Path
) -> None:
    url = make_url(fresh_postgres_url)
    target = tmp_path / "thresher.dump"
    result = thresher("workspace", "backup", str(target), home=tmp_path / "ws", database_url=fresh_postgres_url)
    assert result.code == 1, str(result)
    assert "is PostgreSQL" in result.headline and "***" in result.headline
    assert (
        f"pg_dump --host 127.0.0.1 --port {url.port} --username {url.username} --format custom "
        f"--file {target} {url.database}"
    ) in result.fix
    assert str(url.password) not in result.out + result.err
    assert not target.exists()


@pytest.mark.postgres
def test_a_missing_table_on_postgresql_is_damage(
    postgres_server: PostgresServer, fresh_postgres_url: str, thresher: Thresher, tmp_path: Path
) -> None:
    home = tmp_path / "ws"
    assert thresher("model", "list", home=home, database_url=fresh_postgres_url).code == 0
    url = make_url(fresh_postgres_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database, autocommit=True
    ) as connection:
        connection.execute("DROP TABLE job_mini_batches, jobs")
    result = thresher("job", "list", home=home, database_url=fresh_postgres_url)
    assert result.code == 1, str(result)
    assert "Traceback" not in result.err
    assert result.headline.startswith(f"ERROR: The metadata database {url.render_as_string(hide_password=True)} ")
    assert 'is damaged: relation "jobs" does not exist' in result.headline
    assert "pg_restore" in result.fix
    checked = thresher("workspace", "check", home=home, database_url=fresh_postgres_url)
    assert checked.code == 1
    tables = next(check for check in json.loads(checked.out)["checks"] if check["check"] == "tables")
    assert tables["findings"] == ["jobs: missing", "job_mini_batches: missing"]


@pytest.mark.postgres
def test_check_on_an_unreachable_postgresql_says_so(thresher: Thresher, tmp_path: Path) -> None:
    url = f"postgresql+psycopg://thresher:hunter2-not-shown@127.0.0.1:{free_port()}/thresher"
    result = thresher("workspace", "check", home=tmp_path / "ws", database_url=url)
    assert result.code == 1, str(result)
    assert "hunter2-not-shown" not in result.out + result.err
    failed = [check for check in json.loads(result.out)["checks"] if not check["ok"]]
    assert failed[0]["check"] == "connection"
    assert "Check that PostgreSQL is running" in failed[0]["fix"]


def _count(progress: Path) -> int:
    try:
        return int(progress.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _wait_for(progress: Path, *, at_least: int, writer: subprocess.Popen[str], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while (count := _count(progress)) < at_least:
        assert writer.poll() is None, f"the writer stopped after {count} versions"
        assert time.monotonic() < deadline, f"the writer made only {count} of {at_least} versions in {timeout} s"
        time.sleep(0.05)
    return count
