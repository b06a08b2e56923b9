"""Turning pydantic's validation errors into Problems a user can act on: file:line, key path, rule.

pydantic reports ``loc`` paths through the models (with union tags such as ``InlineModel`` in them);
:class:`Locator` maps them back to the key the user wrote, its line, and whether it came from ``--set``.
"""

from __future__ import annotations

import difflib
import inspect
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from thresher.errors import Problem
from thresher.specs.overrides import SOURCE as OVERRIDE_SOURCE
from thresher.specs.yamlio import KeyPath, LineMap

_RULES = {
    "int_type": "it must be a whole number.",
    "int_parsing": "it must be a whole number.",
    "int_from_float": "it must be a whole number.",
    "float_type": "it must be a number.",
    "float_parsing": "it must be a number.",
    "bool_type": "it must be true or false.",
    "bool_parsing": "it must be true or false.",
    "string_type": "it must be text.",
    "dict_type": "it must be a mapping (key: value).",
    "model_type": "it must be a mapping (key: value).",
    "model_attributes_type": "it must be a mapping (key: value).",
    "list_type": "it must be a list.",
    "string_too_short": "it must not be empty.",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


class Locator:
    """Where a key path came from: the file and line, or ``--set``; and how to print it.

    ``moved`` maps a key path after normalisation to the path the user wrote (legacy deployments);
    ``overridden`` lists the key paths that ``--set`` assigned.
    """

    def __init__(
        self,
        source: str,
        lines: LineMap | None = None,
        moved: Mapping[KeyPath, KeyPath] | None = None,
        overridden: Iterable[KeyPath] = (),
    ) -> None:
        self.source = source
        self._lines = lines
        self._moved = dict(moved or {})
        self._overridden = list(overridden)

    def written(self, path: KeyPath) -> KeyPath:
        """The key path as the user wrote it."""
        for end in range(len(path), 0, -1):
            original = self._moved.get(path[:end])
            if original is not None:
                return original + path[end:]
        return path

    def problem(self, path: KeyPath, message: str) -> Problem:
        """A Problem about ``path`` (already as written) with the source and line it came from."""
        dotted = dotted_path(path)
        if any(path[: len(set_path)] == set_path for set_path in self._overridden):
            return Problem(OVERRIDE_SOURCE, None, dotted, message)
        line = self._lines.line_of(path) if self._lines is not None else None
        return Problem(self.source, line, dotted, message)


def dotted_path(path: Sequence[str | int]) -> str:
    """``("settings", "retry_settings", "timeout")`` -> ``settings.retry_settings.timeout``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def problems_from(error: ValidationError, model: type[BaseModel], locator: Locator) -> list[Problem]:
    """One Problem per pydantic error, located and worded for the user."""
    problems = []
    for detail in error.errors(include_url=False):
        data_path, parents = _walk(model, detail["loc"])
        written = locator.written(data_path)
        kind = detail["type"]
        if kind in ("missing", "spec_missing"):
            message = detail["msg"] if kind == "spec_missing" else f"required key '{dotted_path(written)}' is missing."
            problems.append(locator.problem(written[:-1], message))
        elif kind == "extra_forbidden":
            problems.append(locator.problem(written, _unknown_key(written, parents, model)))
        else:
            problems.append(locator.problem(written, _describe(detail, dotted_path(written))))
    return problems


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems without duplicates, by line (file problems first, ``--set`` problems last)."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0, p.source, p.path, p.message))


def show(value: Any) -> str:
    """A value as it reads in a message: 'text', 5, true, a mapping, a list."""
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 80 else f"'{value[:77]}...'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "empty"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


def _describe(detail: ErrorDetails, dotted: str) -> str:
    kind, context = detail["type"], detail.get("ctx") or {}
    subject = dotted or "the spec"
    if kind in ("value_error", "assertion_error"):
        text = str(context.get("error", detail["msg"]))
        return f"{subject} {text}" if dotted else text
    if kind == "spec_rule":
        return f"{subject} {detail['msg']}"
    if kind == "spec_value":
        rule = detail["msg"]
    elif kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        bound = context.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        rule = f"it must be {words} {bound}."
    elif kind in ("literal_error", "enum"):
        rule = f"it must be one of {context.get('expected')}."
    else:
        rule = _RULES.get(kind, detail["msg"].rstrip(".") + ".")
    return f"{subject} is {show(detail['input'])}; {rule}"


def _unknown_key(written: KeyPath, parents: list[type[BaseModel]], model: type[BaseModel]) -> str:
    key = str(written[-1])
    message = f"unknown key '{key}'"
    hint = getattr(model, "misplaced_key_hint", None)
    if len(written) == 1 and callable(hint) and (text := hint(key)):
        return f"{message}; {text}"
    valid = sorted({name for parent in parents for name in _field_names(parent)})
    close = difflib.get_close_matches(key, valid, n=1)
    if close:
        return f"{message}; did you mean '{close[0]}'?"
    return f"{message}; valid keys here are {', '.join(valid)}." if valid else f"{message}."


def _field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _walk(model: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[KeyPath, list[type[BaseModel]]]:
    """The data key path of ``loc`` (union tags dropped) and the models that hold its last key."""
    candidates: list[tuple[str | None, Any]] = [(None, model)]
    path: list[str | int] = []
    parents: list[type[BaseModel]] = [model]
    for part in loc:
        tagged: list[tuple[str | None, Any]] = [(tag, tp) for tag, tp in candidates if tag == part]
        if tagged:
            candidates = tagged
            continue
        parents = [member for _, member in candidates if _is_model(member)]
        path.append(part)
        candidates = [member for _, tp in candidates for member in _step(tp, part)]
    return tuple(path), parents


def _step(tp: Any, part: str | int) -> list[tuple[str | None, Any]]:
    if _is_model(tp):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return _members(field.annotation)
        return []
    origin, args = get_origin(tp), get_args(tp)
    if origin in (dict, Mapping) and len(args) == 2:
        return _members(args[1])
    if origin in (list, Sequence) and args and isinstance(part, int):
        return _members(args[0])
    return []


def _members(tp: Any) -> list[tuple[str | None, Any]]:
    """The alternatives of an annotation, each with its union Tag (if any)."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *metadata = get_args(tp)
        tag: str | None = next((item.tag for item in metadata if isinstance(item, Tag)), None)
        return [(tag or inner_tag, member) for inner_tag, member in _members(inner)]
    if origin in (Union, types.UnionType):
        return [member for arg in get_args(tp) for member in _members(arg)]
    if tp is type(None):
        return []
    return [(None, tp)]


def _is_model(tp: Any) -> bool:
    return inspect.isclass(tp) and issubclass(tp, BaseModel)
