"""``thresher workspace check|backup|show``: looking after the workspace itself.

None of them opens the metadata store (which migrates the database): ``check`` and ``backup`` must
work on a database that cannot be opened, and none of the three should change what it looks at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thresher.cli.common import OutputOpt, QueryOpt, workspace
from thresher.cli.groups import group_app
from thresher.cli.output import OutputFormat, emit
from thresher.sdk.health import backup_document, check_document, workspace_document

workspace_app = group_app("workspace")

CHECK_COLUMNS = ("check", "ok", "summary")


@workspace_app.command(
    "check",
    epilog="Examples:\n\n  thresher workspace check -o table\n\n"
    '  thresher workspace check --query "checks[?!ok].findings"',
)
def workspace_check(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Check the database (file, integrity, schema, every row) and the default datastore; exit 1 if not ok."""
    with workspace() as ws:
        report = ws.check()
    document = check_document(report)
    if output is OutputFormat.table and not query:
        emit(document["checks"], output, columns=CHECK_COLUMNS)  # one row per check reads best
    else:
        emit(document, output, query)
    error = report.error()
    if error is not None:
        raise error


@workspace_app.command(
    "backup",
    epilog="Example: thresher workspace backup backups/thresher-$(date +%F).db",
)
def workspace_backup(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the copy (must not exist).")],
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Copy the live SQLite database to FILE as one consistent snapshot, checked; never overwrites FILE."""
    with workspace() as ws:
        emit(backup_document(ws.backup(file)), output, query)


@workspace_app.command("show", epilog="Example: thresher workspace show --query schema_revision -o tsv")
def workspace_show(output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """Show the workspace: home, database (password hidden), schema revision and default datastore."""
    with workspace() as ws:
        emit(workspace_document(ws.show()), output, query)
