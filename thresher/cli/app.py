"""The ``thresher`` command: az ml's resource commands, run against a local workspace.

The root imports only typer: each command group (``groups.py``) loads when a command line names it,
so ``thresher --version`` and ``thresher --help`` start in a fraction of the time a command that
opens the workspace takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from thresher import __version__
from thresher.cli.groups import LazyGroups

app = typer.Typer(
    name="thresher",
    cls=LazyGroups,
    help="Batch inference for Python models, on this machine or a cluster. Speaks az ml's commands: "
    "replace 'az ml' with 'thresher' in a deploy script. The workspace is THRESHER_HOME (default ./.thresher).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"thresher {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """thresher: self-hosted batch inference and ML pipelines."""


# az options that select an Azure subscription or workspace, or change how az waits: accepted so that
# Azure scripts run unchanged, and ignored (the workspace is THRESHER_HOME).
_IGNORED_WITH_VALUE = {"--resource-group", "-g", "--workspace-name", "-w", "--subscription"}
_IGNORED_FLAGS = {"--no-wait", "--only-show-errors", "--web"}


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """Rewrite az-style arguments into what the parser takes.

    Drops the Azure-only options above, and expands ``--set a=1 b=2`` (az takes several values after
    one ``--set``) into ``--set a=1 --set b=2``.
    """
    result: list[str] = []
    items = list(argv)
    index = 0
    while index < len(items):
        token = items[index]
        name = token.split("=", 1)[0]
        if name in _IGNORED_WITH_VALUE:
            index += 1 if "=" in token else 2
            continue
        if token in _IGNORED_FLAGS:
            index += 1
            continue
        result.append(token)
        index += 1
        if token == "--set":
            if index < len(items):
                result.append(items[index])
                index += 1
            while index < len(items) and not items[index].startswith("-") and "=" in items[index]:
                result.extend(["--set", items[index]])
                index += 1
    return result
