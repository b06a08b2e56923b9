"""What the store's methods are given, checked before anything is written: kinds, modes, names, JSON data.

A wrong ``kind`` or ``mode`` is a programming error (``ValueError``); a name or version that the
database cannot hold is the user's (``ResourceError``, with the fix); data that is not JSON is a
``TypeError`` naming what it was for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from thresher.errors import ResourceError
from thresher.store.records import KIND_NAMES, LATEST, SAVE_MODES
from thresher.store.schema import NAME_LENGTH


def plain_json(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A private deep copy of ``value`` as plain JSON data (tuples become lists); TypeError if not JSON."""

    def _mapping(obj: object) -> object:
        if isinstance(obj, Mapping):
            return dict(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON data")

    try:
        copied = json.loads(json.dumps(value, default=_mapping, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The {what} must be JSON data (dicts, lists, str, numbers, bools, None): {exc}") from None
    if not isinstance(copied, dict):
        raise TypeError(f"The {what} must be a mapping, not {type(value).__name__}")
    return copied


def check_kind(kind: str, allowed: tuple[str, ...]) -> None:
    """ValueError unless ``kind`` is one of ``allowed``."""
    if kind not in allowed:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(allowed)}")


def check_mode(mode: str) -> None:
    """ValueError unless ``mode`` is one of SAVE_MODES."""
    if mode not in SAVE_MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(SAVE_MODES)}")


def check_name(kind: str, field: str, value: str) -> None:
    """ResourceError unless the name (or version: ``field``) fits its column."""
    if not value or len(value) > NAME_LENGTH:
        raise ResourceError(
            f"{KIND_NAMES[kind].singular} {field} {value!r} must be 1 to {NAME_LENGTH} characters long.",
            fix=f"Give the {KIND_NAMES[kind].singular} a {field} of 1 to {NAME_LENGTH} characters.",
        )


def check_version(kind: str, name: str, version: str) -> None:
    """ResourceError unless ``version`` can be an explicit version (it fits, and is not ``latest``)."""
    check_name(kind, "version", version)
    if version == LATEST:
        raise ResourceError(
            f"{KIND_NAMES[kind].singular} {name!r} cannot have version {LATEST!r}: "
            "the word stands for the newest version.",
            fix="Choose another version, or leave the version out to get the next number.",
        )
