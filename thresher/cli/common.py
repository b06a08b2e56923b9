"""What every command shares: the workspace, spec building from files and flags, and option types."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from thresher.cli.output import OutputFormat
from thresher.errors import ThresherError
from thresher.sdk import Workspace
from thresher.specs import Kind, Spec, load_spec, parse_spec

OutputOpt = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="Output format: json, jsonc, tsv, table, yaml or none.")
]
QueryOpt = Annotated[
    str | None,
    typer.Option("--query", help="JMESPath query applied to the output, as in az (e.g. --query name)."),
]
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="YAML file describing the resource (Azure ML v2 YAML works)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a field: --set key.subkey=value (repeatable, as in az ml)."),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def workspace() -> Workspace:
    """The workspace named by THRESHER_HOME / THRESHER_DATABASE_URL (default ./.thresher)."""
    return Workspace()


def flag_overrides(flags: dict[str, Any]) -> list[str]:
    """Flags given on the command line as ``--set`` items, applied over the file's keys."""
    return [f"{key}={value}" for key, value in flags.items() if value is not None]


def build_spec(kind: Kind, file: Path | None, flags: dict[str, Any], sets: Sequence[str] | None) -> Spec:
    """A spec from ``--file`` (flags override its keys, then ``--set``), or from the flags alone."""
    overrides = flag_overrides(flags) + list(sets or [])
    if file is not None:
        return load_spec(file, kind, overrides=overrides)
    document = {key: value for key, value in flags.items() if value is not None}
    return parse_spec(document, kind, base_dir=Path.cwd(), source="<command line>", overrides=list(sets or []))


def absolute(path: str | None) -> str | None:
    """A path flag resolved against the current folder (URIs unchanged), as az resolves --path."""
    if path is None or "://" in path or path.startswith("azureml:"):
        return path
    return str(Path(path).expanduser().resolve())


def split_name_version(name: str, version: str | None) -> tuple[str, str | None]:
    """``NAME:VER`` or ``NAME@latest`` -> (name, version); an explicit --version wins."""
    if version is None:
        if "@" in name:
            base, _, label = name.partition("@")
            return base, None if label == "latest" else label
        if ":" in name:
            base, _, ver = name.rpartition(":")
            return base, ver
    return name, version


def confirm(message: str, yes: bool) -> None:
    """Ask before a destructive operation unless --yes; without a terminal, insist on --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ThresherError(f"{message} needs confirmation.", fix="Add --yes to confirm.")
    if not typer.confirm(f"{message}?", default=False):
        raise typer.Exit(1)


def require(value: str | None, flag: str, example: str) -> str:
    """A required option's value, or an error that shows how to give it."""
    if not value:
        raise ThresherError(f"{flag} is required here.", fix=f"For example: {example}")
    return value
