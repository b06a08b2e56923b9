"""The command line: ``thresher <resource> <verb> [flags]``, a thin layer over ``thresher.sdk``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from thresher.errors import ThresherError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; thresher's errors become a headline and a fix line on stderr, and exit code 1."""
    from thresher.cli.app import app
    from thresher.cli.common import normalize_argv

    args = normalize_argv(sys.argv[1:] if argv is None else argv)
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
    return 0


def report(error: ThresherError) -> None:
    """Print an error as ``ERROR: <headline>`` and ``Fix: <fix>``."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]ERROR:[/] {escape(error.message)}", markup=True, emoji=False)
    if error.fix:
        console.print(f"[bold]Fix:[/] {escape(error.fix)}", markup=True, emoji=False)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["main", "run"]
