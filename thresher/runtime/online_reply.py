"""What a scoring script's ``run`` returned, as an HTTP reply.

A response object (the shim's ``AMLResponse``, or a Flask/werkzeug response) is used as it is: its
status, body and headers. Anything else is ``json.dumps``'d with status 200 and
``application/json``: numpy arrays and scalars as lists and numbers, DataFrames as records, Series
and Index as lists, dates as ISO 8601 text. A value JSON cannot hold raises ``EncodeError`` naming
its type (the handler answers 424).
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

JSON = "application/json"
FAILED_HEADER = "x-ms-run-function-failed"
EXEC_MS_HEADER = "x-ms-run-fn-exec-ms"


class EncodeError(TypeError):
    """``run`` returned a value that cannot be sent as JSON; the message names its type and the fix."""


def is_response(value: Any) -> bool:
    """Whether ``value`` is an HTTP response object (``AMLResponse``, a Flask ``Response``)."""
    return isinstance(getattr(value, "status_code", None), int) and callable(getattr(value, "get_data", None))


def response_reply(value: Any) -> tuple[int, dict[str, str], bytes]:
    """A response object's status, headers and body, as they are."""
    body = value.get_data()
    if isinstance(body, str):
        body = body.encode("utf-8")
    raw = getattr(value, "headers", None) or {}
    headers = {str(k): str(v) for k, v in (raw.items() if hasattr(raw, "items") else raw)}
    return int(value.status_code), headers, bytes(body)


def json_reply(value: Any) -> tuple[int, dict[str, str], bytes]:
    """``value`` as a 200 JSON reply; ``EncodeError`` when JSON cannot hold it."""
    try:
        text = json.dumps(value, default=_plain)
    except EncodeError:
        raise
    except (TypeError, ValueError) as exc:  # ValueError: a circular reference
        raise EncodeError(f"run() returned a value JSON cannot hold ({exc})") from None
    return 200, {"content-type": JSON}, text.encode("utf-8")


def error_body(message: str) -> bytes:
    """Azure's error body: ``{"message": ...}``."""
    return json.dumps({"message": message}).encode("utf-8")


def _plain(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy and pandas values (already imported by the script) as plain ones."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        plain = value.tolist()
        if isinstance(plain, bytes):
            raise _unencodable(value)
        return plain
    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(value, pd.DataFrame):
            return value.to_dict(orient="records")
        if isinstance(value, (pd.Series, pd.Index, pd.Categorical)):
            return value.tolist()
        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timedelta):
            return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise _unencodable(value)


def _unencodable(value: Any) -> EncodeError:
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return EncodeError(
        f"run() returned a value of type {name}, which JSON cannot hold; return lists, dicts, numbers and strings "
        "(numpy arrays and pandas objects are converted), or an AMLResponse for other content"
    )
