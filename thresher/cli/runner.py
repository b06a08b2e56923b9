"""``thresher runner``: one of any number of processes serving the queue of the workspace's database.

Imported by the root command, so it imports only typer: the runner itself (the scheduler, the store,
the executors) loads when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

RUNNER_HELP = (
    "Serve the queue of the workspace's database until stopped: claim queued jobs (and the jobs of runners "
    "that died) and run them.\n\n"
    "Start any number, on any machines that reach the database (THRESHER_DATABASE_URL, PostgreSQL) and the "
    "datastores: each claims with FOR UPDATE SKIP LOCKED, so no job is run twice, and wakes at once when a "
    "job is queued (LISTEN/NOTIFY). A runner that dies (kill -9, its machine) has its jobs taken over by "
    "another: at once on the same host, after THRESHER_RUNNER_STALE_SECONDS (default 30) without its "
    "heartbeat on any host; they resume from their committed mini-batches. A runner that was only paused and "
    "wakes up after that can no longer write anything of those jobs. SIGTERM or Ctrl-C puts its running "
    "jobs back in the queue. On SQLite (one machine) it works too, beside the runner that invoke starts.\n\n"
    "It logs one line per claim and per finished job to stdout."
)
RUNNER_EPILOG = (
    "Example: THRESHER_DATABASE_URL=postgresql+psycopg://thresher@db/thresher thresher runner (docs/runners.md)"
)


def runner_command(
    idle_exit: Annotated[
        float | None,
        typer.Option(
            "--idle-exit",
            min=0,
            help="Exit once the queue has been empty (and no warm worker kept) for this many seconds. Default: never.",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="How this runner appears in the database (jobs' runner, heartbeats). Default: host:pid, which "
            "also lets runners on this host take its jobs over as soon as its process is gone.",
        ),
    ] = None,
) -> None:
    """``thresher runner``: serve the queue until stopped or idle."""
    from thresher.runner import run_queue
    from thresher.settings import load_settings

    raise typer.Exit(run_queue(load_settings(), name=name, idle_exit=idle_exit))
