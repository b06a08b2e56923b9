"""The command line: ``thresher <resource> <verb> [flags]``, a thin layer over ``thresher.sdk``."""

from __future__ import annotations

import sys
import tempfile
import traceback
from collections.abc import Sequence

from thresher.errors import ThresherError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; thresher's errors become a headline and a fix line on stderr, and exit code 1."""
    from thresher.cli.app import app

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # Standalone mode prints usage errors itself and ends every run with SystemExit.
        app(args=args, prog_name="thresher")
    except ThresherError as exc:
        report(exc)
        return 1
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Not one of thresher's errors: a bug, or a failure nobody turned into a message yet (e.g.
        # damage in the database that SQLite did not notice). A user still gets one headline; the
        # traceback, which only a developer needs, goes to a file.
        report(unexpected(exc, args))
        return 1
    return 0


def report(error: ThresherError) -> None:
    """Print an error as ``ERROR: <headline>`` and ``Fix: <fix>``."""
    from rich.console import Console  # here, not at the top: ``thresher --version`` prints without rich
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]ERROR:[/] {escape(error.message)}", markup=True, emoji=False)
    if error.fix:
        console.print(f"[bold]Fix:[/] {escape(error.fix)}", markup=True, emoji=False)


def unexpected(exc: Exception, args: Sequence[str]) -> ThresherError:
    """The error a user sees for an exception thresher did not expect, its traceback saved to a file."""
    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    command = " ".join(["thresher", *args])
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="thresher-traceback-", suffix=".txt", delete=False, encoding="utf-8"
        ) as handle:
            handle.write(f"{command}\n\n{traceback.format_exc()}")
        where = f"Its traceback is in {handle.name}."
    except OSError as write_error:
        where = f"Its traceback could not be written to a file ({write_error})."
    return ThresherError(
        f"Unexpected error in '{command}': {what}. {where}",
        fix="If the metadata database may be damaged, run: thresher workspace check. Otherwise this is a bug "
        "in thresher: please report it with the traceback file.",
    )


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["main", "run"]
