"""Records on the wire: what the server sends and the remote client reads back into the same records.

The SDK's operations return frozen dataclasses (``AssetRecord``, ``JobRecord``, ``EnvironmentBuild``,
...). ``encode`` turns one (or a list of them) into JSON data; ``decode`` rebuilds it from its type's
annotations, so a record that came over HTTP is equal to the one the local workspace returns.
Errors travel as ``{"type", "message", "fix"}`` and come back as the same ``ThresherError`` subclass.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import thresher.errors as errors_module
from thresher.errors import Problem, SpecError, ThresherError

T = TypeVar("T")


def encode(value: Any) -> Any:
    """JSON data for a record, a list or mapping of them, or plain data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_json = getattr(value, "to_json", None)
        if callable(to_json):  # JobProgress and its parts have their own JSON form
            return to_json()
        return {field.name: encode(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    return value


def decode(kind: type[T] | Any, data: Any) -> T:
    """The value of type ``kind`` that ``encode`` turned into ``data``."""
    return typing.cast(T, _decode(kind, data))


def _decode(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return _decode(options[0], data) if len(options) == 1 else data
    if origin in (list, tuple) or kind in (list, tuple):
        args = typing.get_args(kind)
        item = args[0] if args else Any
        items = [_decode(item, value) for value in data]
        return tuple(items) if origin is tuple or kind is tuple else items
    if kind is datetime:
        return datetime.fromisoformat(data)
    if kind is Path:
        return Path(data)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        from_json = getattr(kind, "from_json", None)
        if callable(from_json):
            return from_json(data)
        hints = _hints(kind)
        return kind(**{name: _decode(hints[name], data[name]) for name in hints if name in data})
    return data


@cache
def _hints(kind: type[Any]) -> dict[str, Any]:
    names = {field.name for field in dataclasses.fields(kind) if field.init}
    return {name: hint for name, hint in typing.get_type_hints(kind).items() if name in names}


def error_json(error: ThresherError) -> dict[str, Any]:
    """An error as the server sends it: its class, headline and fix (and a spec error's problems)."""
    return error.to_dict()


def error_from_json(data: Mapping[str, Any]) -> ThresherError:
    """The ``ThresherError`` subclass an error's JSON names (ThresherError itself for an unknown name)."""
    kind = getattr(errors_module, str(data.get("type")), None)
    if not (isinstance(kind, type) and issubclass(kind, ThresherError)):
        kind = ThresherError
    error = kind.__new__(kind)
    ThresherError.__init__(error, str(data.get("message")), fix=data.get("fix"))
    if isinstance(error, SpecError):
        error.problems = [Problem(**problem) for problem in data.get("problems") or []]
    return error
