"""Printing resources the way ``az`` does: ``-o json|jsonc|tsv|table|yaml|none`` after a JMESPath ``--query``.

JMESPath, rich and ruamel are imported by the query and the formats that use them: the default, JSON,
needs none of them, and every command pays for what it imports.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any

from thresher.errors import ThresherError


class OutputFormat(str, Enum):
    """The ``-o/--output`` choices (``az``'s names)."""

    json = "json"
    jsonc = "jsonc"
    tsv = "tsv"
    table = "table"
    yaml = "yaml"
    none = "none"


def apply_query(data: Any, query: str | None) -> Any:
    """Run a JMESPath query over the document(s); a bad query is an error naming it."""
    if not query:
        return data
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(query, data)
    except JMESPathError as exc:
        raise ThresherError(
            f"--query {query!r} is not a valid JMESPath expression: {exc}",
            fix='See https://jmespath.org for the syntax, e.g. --query settings.mini_batch_size or --query "[].name".',
        ) from exc


def emit(
    data: Any,
    output: OutputFormat = OutputFormat.json,
    query: str | None = None,
    *,
    columns: Sequence[str] = (),
) -> None:
    """Print the document(s), after the ``--query``, in the chosen format to standard output."""
    # A --query chooses the fields itself: the command's default table columns apply only without one.
    text = _formatted(apply_query(data, query), output, () if query else columns)
    if text:
        sys.stdout.write(text + "\n")


def _formatted(data: Any, output: OutputFormat, columns: Sequence[str]) -> str:
    if output is OutputFormat.none:
        return ""
    if output in (OutputFormat.json, OutputFormat.jsonc):
        return json.dumps(data, indent=2, default=str)
    if output is OutputFormat.yaml:
        from ruamel.yaml import YAML

        buffer = io.StringIO()
        yaml = YAML()
        yaml.default_flow_style = False
        yaml.dump(_plain(data), buffer)
        return buffer.getvalue().rstrip("\n")
    if output is OutputFormat.tsv:
        return _tsv(data)
    return _table(data, columns)


def _plain(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def _scalar(value: Any) -> str:
    # az prints booleans as True/False and nulls as empty fields in tsv.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return ""
    return str(value)


def _tsv_row(item: Any) -> str:
    if isinstance(item, dict):
        return "\t".join(_scalar(v) for v in item.values() if not isinstance(v, (dict, list)))
    if isinstance(item, list):
        return "\t".join(_scalar(v) for v in item)
    return _scalar(item)


def _tsv(data: Any) -> str:
    if isinstance(data, list):
        return "\n".join(_tsv_row(item) for item in data)
    return _tsv_row(data)


def _table(data: Any, columns: Sequence[str]) -> str:
    from rich.console import Console
    from rich.table import Table

    rows = data if isinstance(data, list) else [data]
    if not rows:
        return ""
    if not all(isinstance(row, dict) for row in rows):
        rows = [{"Result": row} for row in rows]
    names = [c for c in columns if any(c in row for row in rows)] or [
        key for key in rows[0] if not isinstance(rows[0][key], (dict, list))
    ]
    table = Table(show_edge=False, box=None, header_style="bold")
    for name in names:
        table.add_column(_title(name))
    for row in rows:
        table.add_row(*(_scalar(row.get(name)) for name in names))
    buffer = io.StringIO()
    Console(file=buffer, width=200, no_color=True, force_terminal=False).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
