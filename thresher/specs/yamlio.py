"""Reading a YAML file into plain Python data plus the line of every key, for messages with file:line.

ruamel is imported when a file is read: the runner and most commands read no YAML, and would pay
for the import at every start.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from thresher.errors import Problem, SpecError

KeyPath = tuple[str | int, ...]


class LineMap:
    """1-based line of each key path in a YAML document (the key's line for mapping entries)."""

    def __init__(self, lines: Mapping[KeyPath, int] | None = None) -> None:
        self._lines = dict(lines or {})

    def add(self, path: KeyPath, line: int) -> None:
        """Record that ``path`` is written on 1-based ``line``."""
        self._lines[path] = line

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of its nearest written ancestor; None if nothing is known."""
        for end in range(len(path), -1, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_yaml(path: Path, source: str) -> tuple[dict[str, Any], LineMap]:
    """Load the top-level mapping of the YAML file ``path``; ``source`` names it in problems.

    Raises SpecError for a missing file, a syntax error (with its line) or a top level that is not a
    mapping.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    fix = f"Correct {path.name} and run the command again."
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"the file does not exist (looked for {path.absolute()})"
        raise _error(source, None, message, path, "Check the path of the YAML file.") from None
    except IsADirectoryError:
        message = "is a folder; give the path of a YAML file"
        raise _error(source, None, message, path, "Give the path of the YAML file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _error(source, None, f"the file cannot be read: {error}", path, fix) from None
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"the file is not valid YAML: {error.problem or error.context}"
        raise _error(source, line, message, path, fix) from None
    except YAMLError as error:
        raise _error(source, None, f"the file is not valid YAML: {error}", path, fix) from None
    if document is None:
        raise _error(source, None, "the file is empty; it must hold a mapping such as 'name: ...'", path, fix)
    if not isinstance(document, CommentedMap):
        what = "a list" if isinstance(document, CommentedSeq) else f"the value {document!r}"
        message = f"the top level is {what}; it must be a mapping of keys such as 'name: ...'"
        raise _error(source, 1, message, path, fix)
    lines = LineMap()
    data = _plain(document, (), lines)
    assert isinstance(data, dict)
    return data, lines


def _plain(node: Any, path: KeyPath, lines: LineMap) -> Any:
    """ruamel's round-trip nodes as plain dict/list/str/int/float/bool, recording each key's line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        if not path:
            lines.add((), node.lc.line + 1)
        out: dict[str, Any] = {}
        for key, value in node.items():
            name = str(key)
            lines.add((*path, name), node.lc.key(key)[0] + 1)
            out[name] = _plain(value, (*path, name), lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            lines.add((*path, index), node.lc.item(index)[0] + 1)
            items.append(_plain(value, (*path, index), lines))
        return items
    return _scalar(node)


def _scalar(node: Any) -> Any:
    from ruamel.yaml.comments import TaggedScalar

    if isinstance(node, TaggedScalar):
        return node.value
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime.date | datetime.datetime):
        return node.isoformat()
    return node


def _error(source: str, line: int | None, message: str, path: Path, fix: str) -> SpecError:
    return SpecError([Problem(source, line, "", f"{message}.")], what=f"file {path.name}", fix=fix)
