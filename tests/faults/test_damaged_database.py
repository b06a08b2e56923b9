"""A damaged metadata database: every command a user runs says so, names the file and the fix.

Each kind of damage is done to a real copy of a workspace that the CLI built (a model, an endpoint, a
deployment, a completed job), and the commands run as real processes, as a user would run them after
the damage: no command may print a traceback, each must exit 1 with an ``ERROR:`` headline that names
the database file and a ``Fix:`` line.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults import damage
from tests.faults.workspaces import DEPLOYMENT, ENDPOINT, JOB, Result, Thresher

# What SQLite (or the folder) says, as the headline repeats it after the database's name.
HEADLINES = {
    "truncated": "is damaged: database disk image is malformed",
    "zeroed-header": "is damaged: file is not a database",
    "garbage-pages": "is damaged: database disk image is malformed",
    "not-a-database": "is damaged: file is not a database",
    "folder": "is a folder, not a database file",
}

# What `workspace check` lists for each: (the check that fails first, a phrase of its findings).
FIRST_FAILED_CHECK = {
    "truncated": ("integrity", "database disk image is malformed"),
    "zeroed-header": ("integrity", "file is not a database"),
    "garbage-pages": ("integrity", "database disk image is malformed"),
    "not-a-database": ("integrity", "file is not a database"),
    "folder": ("file", "is a folder, not a database file"),
}


# Kinds whose SQLite error is another kind's: every command is run for that one, three for these.
SAME_HEADLINE_AS = {"zeroed-header": "not-a-database", "garbage-pages": "truncated"}


def _user_commands(data: Path, backup: Path) -> list[list[str]]:
    return [
        ["model", "list"],
        ["batch-endpoint", "list"],
        ["batch-deployment", "list", "-e", ENDPOINT],
        ["job", "list"],
        ["job", "show", "-n", JOB],
        ["batch-endpoint", "invoke", "-n", ENDPOINT, "--input", str(data)],
        ["batch-deployment", "show", "-n", DEPLOYMENT, "-e", ENDPOINT],
        ["workspace", "show"],
        ["workspace", "backup", str(backup)],
    ]


def _assert_clear_error(result: Result, database: Path) -> None:
    assert result.code == 1, str(result)
    assert "Traceback" not in result.out + result.err, str(result)
    assert str(database) in result.headline, str(result)
    assert result.fix, str(result)


@pytest.mark.parametrize("kind", list(damage.KINDS))
def test_every_command_names_the_damaged_database_and_the_fix(
    kind: str, workspace_copy: Path, input_folder: Path, thresher: Thresher, tmp_path: Path
) -> None:
    database = workspace_copy / "thresher.db"
    damage.KINDS[kind](database)
    backup = tmp_path / "backup.db"
    commands = _user_commands(input_folder, backup)
    if kind in SAME_HEADLINE_AS:  # the same SQLite error as another kind: a read, a write and the backup
        commands = [args for args in commands if args[:2] in (["model", "list"], ["batch-endpoint", "invoke"])]
        commands.append(["workspace", "backup", str(backup)])
    for args in commands:
        result = thresher(*args, home=workspace_copy)
        _assert_clear_error(result, database)
        if args[0] != "workspace":  # the store's own headline, with the fix that leads out
            expected = f"ERROR: The metadata database {database} {HEADLINES[kind]}"
            assert result.headline.startswith(expected), str(result)
        if kind != "folder":
            assert "thresher workspace check" in result.fix and "thresher workspace backup FILE" in result.fix
    assert not backup.exists(), "a damaged database must not leave a backup behind"


@pytest.mark.parametrize("kind", list(damage.KINDS))
def test_workspace_check_lists_the_damage(kind: str, workspace_copy: Path, thresher: Thresher) -> None:
    database = workspace_copy / "thresher.db"
    damage.KINDS[kind](database)
    result = thresher("workspace", "check", home=workspace_copy)
    _assert_clear_error(result, database)
    report = json.loads(result.out)
    assert report["ok"] is False
    failed = [check for check in report["checks"] if not check["ok"]]
    name, phrase = FIRST_FAILED_CHECK[kind]
    assert failed[0]["check"] == name
    assert phrase in failed[0]["summary"] + " ".join(failed[0]["findings"])
    assert failed[0]["fix"], failed[0]
    assert f"{name}: " in result.headline


def test_damage_in_one_table_breaks_only_the_commands_that_read_it(
    workspace_copy: Path, input_folder: Path, thresher: Thresher
) -> None:
    database = workspace_copy / "thresher.db"
    damage.garbage_in_table(database, "jobs")
    models = thresher("model", "list", "--query", "[].name", "-o", "tsv", home=workspace_copy)
    assert models.code == 0 and models.out.split() == ["faults-model"], str(models)
    for args in (["job", "list"], ["job", "show", "-n", JOB], ["batch-endpoint", "list-jobs", "-n", ENDPOINT]):
        _assert_clear_error(thresher(*args, home=workspace_copy), database)
    # invoke reads the deployment fine, then cannot write the job: a write fails the same clear way
    invoked = thresher("batch-endpoint", "invoke", "-n", ENDPOINT, "--input", str(input_folder), home=workspace_copy)
    _assert_clear_error(invoked, database)
    assert invoked.headline == f"ERROR: The metadata database {database} is damaged: database disk image is malformed"

    checked = thresher("workspace", "check", "-o", "json", home=workspace_copy)
    assert checked.code == 1, str(checked)
    checks = {check["check"]: check for check in json.loads(checked.out)["checks"]}
    assert any("(table jobs)" in finding for finding in checks["integrity"]["findings"]), checks["integrity"]
    assert checks["tables"]["findings"] == ["jobs: database disk image is malformed"]
    assert checks["schema"]["ok"] is True


def test_a_stored_value_that_no_longer_parses_is_damage_too(workspace_copy: Path, thresher: Thresher) -> None:
    # SQLite keeps no checksums: a flipped byte inside a row's JSON is found only by parsing it
    database = workspace_copy / "thresher.db"
    with _sqlite(database) as connection:
        connection.execute('UPDATE assets SET spec = \'{"path": "mod\'')
    result = thresher("model", "list", home=workspace_copy)
    _assert_clear_error(result, database)
    assert "is damaged: a stored JSON value does not parse" in result.headline
    checked = thresher("workspace", "check", "-o", "json", home=workspace_copy)
    assert checked.code == 1
    tables = next(check for check in json.loads(checked.out)["checks"] if check["check"] == "tables")
    assert tables["findings"][0].startswith("assets: Unterminated string")


def test_an_unexpected_error_is_a_headline_with_its_traceback_in_a_file(
    workspace_copy: Path, thresher: Thresher, tmp_path: Path
) -> None:
    # a timestamp that no longer parses fails inside SQLAlchemy's row processing: no rule of the
    # store's names it, so the CLI's last resort must still give one headline, and keep the traceback
    with _sqlite(workspace_copy / "thresher.db") as connection:
        connection.execute("UPDATE jobs SET created_at = 'the day before yesterday'")
    result = thresher("job", "list", home=workspace_copy)
    assert result.code == 1, str(result)
    assert "Traceback" not in result.out + result.err
    assert result.headline.startswith("ERROR: Unexpected error in 'thresher job list': ValueError: "), str(result)
    assert "thresher workspace check" in result.fix
    saved = list(tmp_path.glob("thresher-traceback-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in result.headline
    assert "Traceback (most recent call last)" in saved[0].read_text()


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain SQLite connection to change a row behind thresher's back; committed and closed after."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()
