"""Looking after a workspace: ``check`` it, ``backup`` its database, ``show`` where it lives.

These look at the metadata database without opening the store (``thresher.store.health``), so they
work on a workspace whose database cannot be opened, which is when they are needed most.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import StorageError, StoreError, ThresherError
from thresher.settings import Settings
from thresher.store.backup import BackupRecord, backup_database
from thresher.store.engine import mask, parse_url
from thresher.store.health import Check, DatabaseReport, check_database, registered_spec, schema_head, schema_revision


@dataclass(frozen=True)
class WorkspaceCheck:
    """What ``Workspace.check()`` found: the database's checks, then the default datastore's."""

    home: Path
    database: DatabaseReport
    datastore: Check

    @property
    def checks(self) -> tuple[Check, ...]:
        """Every check, in the order they ran."""
        return (*self.database.checks, self.datastore)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)

    def error(self) -> ThresherError | None:
        """The error to report when a check failed: every problem in the headline, each fix after it."""
        problems = [check for check in self.checks if not check.ok]
        if not problems:
            return None
        listed = "; ".join(f"{check.name}: {check.summary}" for check in problems)
        fixes = " ".join(dict.fromkeys(check.fix for check in problems if check.fix))
        kind = StorageError if problems == [self.datastore] else StoreError
        return kind(
            f"Workspace {self.home} (database {self.database.database}) failed {len(problems)} of "
            f"{len(self.checks)} checks: {listed}",
            fix=fixes or None,
        )


@dataclass(frozen=True)
class WorkspaceInfo:
    """Where a workspace keeps things, and the schema revision of its database."""

    home: Path
    database: str  # the URL, password hidden
    backend: str
    schema_revision: str | None  # None: the database has no schema yet
    schema_head: str
    default_datastore: str
    datastore_path: Path


def check_workspace(settings: Settings) -> WorkspaceCheck:
    """Check the metadata database and the default datastore's folder; changes nothing."""
    report = check_database(settings.resolved_database_url)
    return WorkspaceCheck(settings.workspace_dir, report, _datastore_check(settings, report))


def backup_workspace(settings: Settings, target: str | Path) -> BackupRecord:
    """A checked copy of the workspace's SQLite database at ``target`` (never overwritten)."""
    return backup_database(settings.resolved_database_url, Path(target))


def describe_workspace(settings: Settings) -> WorkspaceInfo:
    """Home, database, schema revision and default datastore; StoreError when the database is unreadable."""
    url = settings.resolved_database_url
    parsed = parse_url(url)
    revision = schema_revision(url)
    return WorkspaceInfo(
        home=settings.workspace_dir,
        database=mask(parsed),
        backend=parsed.get_backend_name(),
        schema_revision=revision,
        schema_head=schema_head(),
        default_datastore=settings.default_datastore,
        datastore_path=_datastore_path(settings),
    )


def _datastore_path(settings: Settings) -> Path:
    """The default datastore's folder as registered in the database, else where a new one would go."""
    spec = registered_spec(settings.resolved_database_url, "datastore", settings.default_datastore)
    if spec is not None and spec.get("type", "local") == "local" and spec.get("path"):
        return Path(str(spec["path"]))
    return settings.datastores_dir / settings.default_datastore


def _datastore_check(settings: Settings, report: DatabaseReport) -> Check:
    path = _datastore_path(settings)
    name = settings.default_datastore
    if not path.exists():
        versions, jobs = report.rows.get("assets", 0), report.rows.get("jobs", 0)
        if versions or jobs:
            return Check(
                "datastore",
                False,
                f"The default datastore {name}'s folder {path} is missing, but the database records "
                f"{versions} asset versions and {jobs} jobs whose files are kept there.",
                fix=f"Restore {path} from a backup, or point THRESHER_HOME at the workspace folder that has it.",
            )
        return Check("datastore", True, f"{path} does not exist yet: the first registered file creates it.")
    if not path.is_dir():
        return Check(
            "datastore",
            False,
            f"The default datastore {name}'s path {path} is not a folder.",
            fix=f"Move {path} aside so that thresher can create the folder there.",
        )
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        return Check(
            "datastore",
            False,
            f"The default datastore {name}'s folder {path} cannot be read and written by this user.",
            fix=f"Give this user read and write access to {path}.",
        )
    return Check("datastore", True, f"{path} is a folder this user can read and write.")


def check_document(check: WorkspaceCheck) -> dict[str, Any]:
    """``thresher workspace check``'s document: the verdict, then one entry per check."""
    return {
        "ok": check.ok,
        "home": str(check.home),
        "database": check.database.database,
        "schema_revision": check.database.revision,
        "schema_head": check.database.head,
        "checks": [
            {"check": c.name, "ok": c.ok, "summary": c.summary, "findings": list(c.findings), "fix": c.fix}
            for c in check.checks
        ],
        "rows": dict(check.database.rows),
    }


def backup_document(record: BackupRecord) -> dict[str, Any]:
    """``thresher workspace backup``'s document: what was copied where, and what the copy holds."""
    return {"database": record.database, "file": str(record.file), "bytes": record.bytes, "rows": dict(record.rows)}


def workspace_document(info: WorkspaceInfo) -> dict[str, Any]:
    """``thresher workspace show``'s document."""
    return {
        "home": str(info.home),
        "database": info.database,
        "backend": info.backend,
        "schema_revision": info.schema_revision,
        "schema_head": info.schema_head,
        "default_datastore": info.default_datastore,
        "datastore_path": str(info.datastore_path),
    }
