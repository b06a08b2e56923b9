"""``--set key.path=value`` overrides, as ``az ml ... --set`` applies them to a YAML document."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from thresher.errors import Problem, SpecError

KeyPath = tuple[str | int, ...]
SOURCE = "--set"
_EXAMPLE = "settings.mini_batch_size=20"


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``"a.b.c=value"`` applied in order.

    The value is read as a YAML scalar or flow value (``5`` -> 5, ``true`` -> True, ``[a, b]`` -> a
    list, ``{k: v}`` -> a dict); anything else stays text. Missing intermediate mappings are created.
    Malformed items raise one SpecError listing all of them, with source ``--set``.

    >>> apply_overrides({"settings": {}}, ["settings.retry_settings.timeout=60"])
    {'settings': {'retry_settings': {'timeout': 60}}}
    """
    result, _, problems = merge_overrides(data, overrides)
    if problems:
        raise SpecError(
            problems, what="--set overrides", fix=f"Write each override as key.path=value, e.g. {_EXAMPLE}."
        )
    return result


def merge_overrides(
    data: Mapping[str, Any], overrides: Sequence[str]
) -> tuple[dict[str, Any], list[KeyPath], list[Problem]]:
    """Apply what can be applied: ``(new data, key paths that were set, problems)``."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    applied: list[KeyPath] = []
    problems: list[Problem] = []
    for item in overrides:
        key, equals, raw = item.partition("=")
        parts = key.strip().split(".")
        if not equals or not all(part.strip() for part in parts):
            problems.append(
                Problem(SOURCE, None, key.strip(), f"'{item}' is not key.path=value; write it like {_EXAMPLE}.")
            )
            continue
        path, problem = _assign(result, [part.strip() for part in parts], parse_value(raw), item)
        if problem is not None:
            problems.append(problem)
        else:
            applied.append(path)
    return result, applied, problems


def parse_value(raw: str) -> Any:
    """A ``--set`` value: a YAML scalar or flow collection, else the text as written."""
    text = raw.strip()
    if not text:
        return ""
    from ruamel.yaml import YAML  # here: importing it costs every command that sets nothing
    from ruamel.yaml.error import YAMLError

    try:
        value = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return raw
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list) and text.startswith("["):
        return value
    if isinstance(value, dict) and text.startswith("{"):
        return value
    return raw


def _assign(data: dict[str, Any], parts: list[str], value: Any, item: str) -> tuple[KeyPath, Problem | None]:
    node: Any = data
    path: list[str | int] = []
    for part in parts:
        key = _key(node, part)
        if key is None:
            return tuple(path), _not_a_mapping(item, path, node)
        path.append(key)
        if len(path) == len(parts):
            node[key] = value
            break
        if isinstance(node, dict) and node.get(key) is None:
            node[key] = {}
        node = node[key]
    return tuple(path), None


def _key(node: Any, part: str) -> str | int | None:
    if isinstance(node, dict):
        return part
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return int(part)
    return None


def _not_a_mapping(item: str, path: Sequence[str | int], found: Any) -> Problem:
    where = ".".join(str(part) for part in path) or "the top level"
    kind = "a list" if isinstance(found, list) else repr(found)
    return Problem(SOURCE, None, where, f"'{item}' cannot be applied: {where} is {kind}, not a mapping.")
