"""Which storage errors pass by themselves, and retrying those until an outage is too long.

``classify`` reads an exception from any storage library (botocore/s3fs, azure-core/adlfs, aiohttp,
gcsfs, the OS) without importing any of them: by class names, HTTP status codes and error codes,
following ``__cause__``/``__context__`` (fsspec backends wrap the library's error in an OSError).

``retrying`` calls an operation again on transient failures (timeouts, 5xx, throttling, dropped or
refused connections) with capped, jittered exponential backoff, never on a wrong key or a missing
object, and gives up with ``StorageUnavailableError`` once failures have lasted ``outage_limit``
seconds: the job stops resumable, with a headline naming the datastore.

Example::

    data = retrying(target.label, lambda: fs.cat_file(path), outage_limit=settings.storage_outage_limit)
"""

from __future__ import annotations

import errno
import random
import time
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, TypeVar

from thresher.errors import StorageError, StorageUnavailableError

T = TypeVar("T")
OUTAGE_LIMIT = 300.0  # seconds; the default of THRESHER_STORAGE_OUTAGE_LIMIT


class Fault(str, Enum):
    """What kind of failure a storage error is."""

    AUTH = "auth"  # wrong or missing credentials, no permission: retrying cannot help
    NOT_FOUND = "not_found"  # no such container, bucket or object
    UNREACHABLE = "unreachable"  # no connection: refused, unknown host, connect timeout
    TIMEOUT = "timeout"  # connected, but no answer in time
    THROTTLED = "throttled"  # 429, 503 SlowDown, ServerBusy
    SERVER = "server"  # 5xx
    DROPPED = "dropped"  # the connection broke mid-request
    OTHER = "other"  # anything else (a bug, a bad request): not retried

    @property
    def transient(self) -> bool:
        """Whether waiting and trying again can succeed."""
        return self in _TRANSIENT


_TRANSIENT = frozenset({Fault.UNREACHABLE, Fault.TIMEOUT, Fault.THROTTLED, Fault.SERVER, Fault.DROPPED})

_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AuthorizationFailure",
    "AuthenticationFailed",
    "AuthorizationPermissionMismatch",
    "InvalidAuthenticationInfo",
    "AccountIsDisabled",
}
_NOT_FOUND_CODES = {"NoSuchBucket", "NoSuchKey", "NotFound", "ContainerNotFound", "BlobNotFound", "ResourceNotFound"}
_THROTTLE_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServerBusy",
    "TooManyRequests",
}
_TIMEOUT_CODES = {"RequestTimeout", "OperationTimedOut"}
_SERVER_CODES = {"InternalError", "ServiceUnavailable", "InternalServerError"}

# Class names (the class or any base) of the libraries' own exceptions, so that none needs importing here.
_BY_NAME: tuple[tuple[Fault, frozenset[str]], ...] = (
    (Fault.AUTH, frozenset({"ClientAuthenticationError", "NoCredentialsError", "PartialCredentialsError"})),
    (Fault.NOT_FOUND, frozenset({"ResourceNotFoundError"})),
    (
        Fault.UNREACHABLE,
        frozenset({"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError", "ServiceRequestError"}),
    ),
    (
        Fault.TIMEOUT,
        frozenset(
            {
                "ReadTimeoutError",
                "ServerTimeoutError",
                "FSTimeoutError",
                "ServiceRequestTimeoutError",
                "ServiceResponseTimeoutError",
            }
        ),
    ),
    (
        Fault.DROPPED,
        frozenset(
            {
                "ConnectionClosedError",
                "ServerDisconnectedError",
                "ClientPayloadError",
                "ClientOSError",
                "ServiceResponseError",
                "IncompleteReadError",
                "ResponseStreamingError",
                "ProtocolError",
            }
        ),
    ),
)
_ERRNO_FAULTS = {
    errno.ECONNREFUSED: Fault.UNREACHABLE,
    errno.EHOSTUNREACH: Fault.UNREACHABLE,
    errno.ENETUNREACH: Fault.UNREACHABLE,
    errno.ECONNRESET: Fault.DROPPED,
    errno.EPIPE: Fault.DROPPED,
    errno.ECONNABORTED: Fault.DROPPED,
    errno.ETIMEDOUT: Fault.TIMEOUT,
    errno.EREMOTEIO: Fault.SERVER,  # s3fs's translation of a 500
    errno.EBUSY: Fault.THROTTLED,  # s3fs's translation of a 503
}


def classify(error: BaseException) -> Fault:
    """The kind of failure ``error`` is; the first link of its cause chain that says wins."""
    for link in _chain(error):
        fault = _classify_one(link)
        if fault is not None:
            return fault
    return Fault.OTHER


def retrying(
    label: str,
    operation: Callable[[], T],
    *,
    outage_limit: float = OUTAGE_LIMIT,
    first_delay: float = 0.2,
    max_delay: float = 15.0,
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """``operation()``, called again while it fails transiently, for at most ``outage_limit`` seconds of failures.

    ``label`` names the place in messages (``RemoteURL.label``). Non-transient errors (a wrong key, a
    missing object, a bug) are raised at once, as they are.
    """
    started: float | None = None
    attempt = 0
    while True:
        began = time.monotonic()
        try:
            return operation()
        except Exception as exc:
            fault = classify(exc)
            if not fault.transient:
                raise
            now = time.monotonic()
            started = began if started is None else started  # the outage began with the first failed try
            outage = now - started
            if outage >= outage_limit:
                raise _unavailable(label, outage, outage_limit, f"{fault.value}: {_headline(exc)}") from exc
            delay = min(max_delay, first_delay * 2**attempt) * random.uniform(0.5, 1.0)
            sleep(min(delay, max(outage_limit - outage, 0.0) + 0.01))
            attempt += 1


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _classify_one(error: BaseException) -> Fault | None:
    names = {cls.__name__ for cls in type(error).__mro__}
    status, code = _status_and_code(error)
    if code in _AUTH_CODES or status in (401, 403):
        return Fault.AUTH
    if code in _NOT_FOUND_CODES or status == 404:
        return Fault.NOT_FOUND
    if code in _THROTTLE_CODES or status == 429:
        return Fault.THROTTLED
    if code in _TIMEOUT_CODES or status == 408:
        return Fault.TIMEOUT
    if code in _SERVER_CODES or (status is not None and status >= 500):
        return Fault.THROTTLED if status == 503 else Fault.SERVER
    for fault, classes in _BY_NAME:
        if names & classes:
            return fault
    if isinstance(error, PermissionError):
        return Fault.AUTH
    if isinstance(error, FileNotFoundError):
        return Fault.NOT_FOUND
    if isinstance(error, (TimeoutError,)):
        return Fault.TIMEOUT
    if isinstance(error, ConnectionRefusedError):
        return Fault.UNREACHABLE
    if isinstance(error, ConnectionError):
        return Fault.DROPPED
    if isinstance(error, OSError) and error.errno in _ERRNO_FAULTS:
        return _ERRNO_FAULTS[error.errno]
    if "gaierror" in names:  # an unknown host name
        return Fault.UNREACHABLE
    return None


def _status_and_code(error: BaseException) -> tuple[int | None, str | None]:
    """The HTTP status and the service's error code, from botocore, azure-core or aiohttp errors."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        details = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        status = meta.get("HTTPStatusCode")
        code = details.get("Code")
        if status is None and isinstance(code, str) and code.isdigit():
            status = int(code)
        return (int(status) if status is not None else None), (str(code) if code else None)
    status = getattr(error, "status_code", None)  # azure-core HttpResponseError
    if status is None and type(error).__module__.startswith("aiohttp"):
        status = getattr(error, "status", None)  # aiohttp ClientResponseError
    code = getattr(error, "error_code", None)  # azure-storage's code (ContainerNotFound, ...)
    code_text = getattr(code, "value", code)
    return (int(status) if isinstance(status, int) else None), (str(code_text) if code_text else None)


def _headline(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _unavailable(label: str, outage: float, limit: float, detail: str) -> StorageUnavailableError:
    error = StorageUnavailableError(
        f"Storage at {label} has failed for {outage:.0f} s, over the outage limit of {limit:g} s ({detail}). "
        "The job is resumable: nothing committed is lost.",
        fix="Once the storage answers again, resume the job with: thresher job resume NAME "
        "(THRESHER_STORAGE_OUTAGE_LIMIT sets how long failures are retried).",
    )
    error.where, error.seconds, error.detail = label, outage, detail
    return error


def not_answering(error: StorageUnavailableError, what: str) -> StorageError:
    """The error for a command (not a job) whose storage stayed down: no job exists yet to resume."""
    return StorageError(
        f"{what} {error.where} did not answer for {error.seconds:.0f} s ({error.detail}).",
        fix="Check that the storage is up and reachable from this machine, then run the command again "
        "(THRESHER_STORAGE_OUTAGE_LIMIT sets how long thresher retries).",
    )
