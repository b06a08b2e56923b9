"""Transient storage errors: retried with backoff, never counted against items, bounded by an outage limit.

A timeout, a dropped or refused connection, throttling (429, S3's SlowDown) or a 5xx answer says the
storage is briefly unwell, not that the data is wrong: ``retrying`` runs the operation again with
exponential backoff (with jitter, capped at 10 s) until it succeeds or the storage has been failing
for ``outage_limit`` seconds (``THRESHER_STORAGE_OUTAGE_SECONDS``, default 300), and then raises
``StorageUnavailableError`` naming the place. Anything else (not found, access denied, a bad key) is
raised at once: retrying cannot fix it.

    data = retrying("datastore 'lake' (s3://bucket)", lambda: fs.cat_file(path))
"""

from __future__ import annotations

import errno
import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

from thresher.errors import StorageUnavailableError

T = TypeVar("T")

DEFAULT_OUTAGE_SECONDS = 300.0
_FIRST_DELAY = 0.2
_MAX_DELAY = 10.0
_TRANSIENT_ERRNOS = {
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.ETIMEDOUT,
    errno.EPIPE,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EAGAIN,
}
_TRANSIENT_NAMES = {
    # botocore
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ResponseStreamingError",
    "IncompleteReadError",
    # aiohttp (adlfs, gcsfs, http)
    "ClientConnectionError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "ClientOSError",
    "ClientPayloadError",
    # azure-core
    "ServiceRequestError",
    "ServiceResponseError",
    "ServiceRequestTimeoutError",
    "ServiceResponseTimeoutError",
}
_THROTTLING_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "ServerBusy",
    "InternalError",
    "ServiceUnavailable",
    "OperationTimedOut",
    "RequestTimeTooSkewed",
}


def outage_limit() -> float:
    """The workspace's outage limit in seconds (``THRESHER_STORAGE_OUTAGE_SECONDS``)."""
    try:
        return float(os.environ.get("THRESHER_STORAGE_OUTAGE_SECONDS", DEFAULT_OUTAGE_SECONDS))
    except ValueError:
        return DEFAULT_OUTAGE_SECONDS


def _status(exc: BaseException) -> int | None:
    for attribute in ("status_code", "status"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return getattr(exc, "error_code", None)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is an error that retrying can cure (see the module docstring)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
            return False
        if isinstance(current, TimeoutError | ConnectionError):
            return True
        if isinstance(current, OSError) and current.errno in _TRANSIENT_ERRNOS:
            return True
        if any(kind.__name__ in _TRANSIENT_NAMES for kind in type(current).__mro__):
            return True
        status = _status(current)
        if status is not None and (status == 429 or status >= 500):
            return True
        if _code(current) in _THROTTLING_CODES:
            return True
        current = current.__cause__ or current.__context__
    return False


def retrying(
    label: str,
    operation: Callable[[], T],
    *,
    limit: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``operation()``, retried while it fails transiently, for at most ``limit`` seconds of outage."""
    limit = outage_limit() if limit is None else limit
    began = time.monotonic()
    delay = _FIRST_DELAY
    while True:
        try:
            return operation()
        except Exception as exc:
            if not is_transient(exc):
                raise
            waited = time.monotonic() - began
            if waited >= limit:
                raise StorageUnavailableError(label, waited, exc) from exc
            sleep(min(delay * (0.5 + random.random()), max(0.0, limit - waited)))
            delay = min(delay * 2, _MAX_DELAY)
