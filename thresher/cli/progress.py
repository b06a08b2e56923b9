"""Following a job in the terminal: a live progress bar, then a summary of how it ended."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from thresher.sdk import Workspace
from thresher.sdk.job_documents import job_document
from thresher.store import TERMINAL, JobRecord

POLL_SECONDS = 0.25
STUCK_GRACE_SECONDS = 5.0


def stream(ws: Workspace, name: str, console: Console | None = None) -> JobRecord:
    """Show the job's progress until it ends; return the ended job."""
    console = console or Console(stderr=True, highlight=False)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("mini-batches · {task.fields[items]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(escape(name), total=None, items="waiting for a runner")
        stuck_since: float | None = None
        while True:
            job = ws.jobs.get(name)
            note = ws.jobs.note(job)
            document = job_document(job, note=note)
            rate = document["items_per_second"]
            items = (
                f"{document['items_succeeded']:,} items ok, {document['items_failed']:,} failed"
                + (f", {rate:,.1f}/s" if rate else "")
                + f" · {job.status}"
            )
            progress.update(bar, total=document["mini_batches"], completed=document["mini_batches_done"], items=items)
            if job.status in TERMINAL:
                break
            # Orphaned, or queued with no runner: give up after a grace (a runner just started takes a moment).
            unserved = ws.jobs.unserved(job)
            stuck_since = (stuck_since or time.monotonic()) if note or unserved else None
            if stuck_since is not None and time.monotonic() - stuck_since > STUCK_GRACE_SECONDS:
                note = note or unserved
                break
            time.sleep(POLL_SECONDS)
    summarize(job, console, note)
    return job


def summarize(job: JobRecord, console: Console, note: str | None = None) -> None:
    """The end of a job in a few lines: headline, first failures, where outputs and logs are."""
    document = job_document(job, note=note)
    color = {"Completed": "green", "Failed": "red", "Canceled": "yellow"}.get(job.status, "white")
    console.print(f"[bold {color}]{job.status}[/]: {escape(job.headline or '')}")
    if note:
        console.print(f"  [yellow]{escape(note)}[/]")
    fix = (job.error or {}).get("fix")
    if job.status == "Failed" and fix:
        console.print(f"  [bold]Fix:[/] {escape(str(fix))}")
    for failure in document["first_failures"][:5]:
        console.print(f"  [red]✗[/] {escape(str(failure.get('item')))}: {escape(str(failure.get('error')))}")
        if failure.get("log"):
            console.print(f"    traceback: {escape(str(failure['log']))}")
    console.print(f"  logs:   {escape(str(document['logs']))}")


def stream_pipeline(ws: Workspace, name: str, console: Console | None = None) -> JobRecord:
    """Follow a pipeline job: a bar of its steps, a line as each step ends (reused, ran, failed), then how
    the pipeline ended."""
    console = console or Console(stderr=True, highlight=False)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps · {task.fields[state]}"),
        TimeElapsedColumn(),
    )
    reported: set[str] = set()
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(escape(name), total=None, state="waiting for a runner")
        stuck_since: float | None = None
        while True:
            job = ws.jobs.get(name)
            steps = ws.jobs.list(parent_job_name=name, limit=None)
            document = job_document(job, steps=steps)
            for row in document["steps"]:
                if row["status"] in TERMINAL and row["job"] not in reported:
                    reported.add(row["job"])
                    color = {"Completed": "green", "Failed": "red"}.get(row["status"], "yellow")
                    how = f"reused from {row['reused_from']}" if row["reused_from"] else row["headline"] or ""
                    progress.console.print(f"  [{color}]{row['status']}[/] {escape(row['step'])}: {escape(how)}")
            total = len(document["steps"])
            progress.update(bar, total=total, completed=document["steps_completed"], state=job.status)
            if job.status in TERMINAL:
                break
            note = ws.jobs.note(job)
            stuck_since = (stuck_since or time.monotonic()) if note or ws.jobs.unserved(job) else None
            if stuck_since is not None and time.monotonic() - stuck_since > STUCK_GRACE_SECONDS:
                console.print(
                    f"[yellow]No runner serves this pipeline now. Resume with: thresher job resume --name "
                    f"{escape(name)}[/]"
                )
                break
            time.sleep(POLL_SECONDS)
    color = {"Completed": "green", "Failed": "red", "Canceled": "yellow"}.get(job.status, "white")
    console.print(f"[bold {color}]{job.status}[/]: {escape(job.headline or '')}")
    for output, path in document["outputs"].items():
        console.print(f"  output {escape(output)}: {escape(str(path))}")
    return job


def stream_command(ws: Workspace, name: str, console: Console | None = None) -> JobRecord:
    """Follow a pipeline's command step: wait for its end, then its headline and where its output is."""
    console = console or Console(stderr=True, highlight=False)
    with console.status(f"{escape(name)}: running"):
        job = ws.jobs.wait(name, poll=POLL_SECONDS)
    document = job_document(job)
    color = {"Completed": "green", "Failed": "red", "Canceled": "yellow"}.get(job.status, "white")
    console.print(f"[bold {color}]{job.status}[/]: {escape(job.headline or '')}")
    console.print(f"  logs:   {escape(str(document['logs']))}")
    return job
