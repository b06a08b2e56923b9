"""The contract between an online endpoint's front (``thresher.server.online``) and its workers.

An online worker is started as ``python -m thresher.runtime.online_worker`` in the deployment's
environment, with one end of a Unix socket pair whose fd number is in ``THRESHER_ONLINE_FD`` and its
configuration (``OnlineConfig``) as JSON in ``THRESHER_ONLINE``. Standard library only, valid on
Python 3.8, like ``protocol``.

Every message is one frame: a 4-byte big-endian length, then that many bytes: a JSON header line
(UTF-8, ending in ``\\n``) followed by the bodies the header's entries announce, back to back::

    front -> worker   {"op": "score", "requests": [OnlineRequest, ...]}   + their bodies
                      {"op": "swagger", "version": "2"}                   (no body)
                      {"op": "metadata"}                                  (no body)
                      {"op": "shutdown"}
    worker -> front   {"event": "ready", "seconds": s, "warmup": {...}, "matrices": b}
                                                      (init() and one warm-up done; b: it takes matrices)
                      {"event": "init_failed", "error": ErrorInfo}        (then exit code 3)
                      {"event": "replies", "replies": [OnlineReply, ...]} + their bodies
                      {"event": "document", "document": {...}}            (answer to swagger / metadata)

A ``score`` op carries one request, or several that the front batched for an MLflow model (the
worker predicts them at once and answers each). Replies come back in the order of the requests.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Protocol, Sequence, Tuple, TypedDict

CONFIG_ENV = "THRESHER_ONLINE"
FD_ENV = "THRESHER_ONLINE_FD"
INIT_FAILED_EXIT_CODE = 3
MAX_FRAME_BYTES = 1 << 31
_LENGTH = struct.Struct(">I")

# Dialects: how a request's body is to be read, decided by the front from the route.
SCORE = "score"  # Azure's /score: the scoring script's run(), or the no-code MLflow input_data body
INVOCATIONS = "invocations"  # MLflow's /invocations bodies (dataframe_split, ..., CSV)
V2 = "v2"  # Open Inference Protocol REST: /v2/models/<name>/infer


class OnlineRequest(TypedDict, total=False):
    """One HTTP request as the worker sees it (its body travels after the header)."""

    id: str  # the request id (x-request-id), for logs
    dialect: str  # SCORE | INVOCATIONS | V2
    method: str  # GET | POST
    path: str  # the route below the endpoint, e.g. /score
    query: str  # the raw query string
    headers: dict[str, str]  # lower-case names
    length: int  # bytes of body
    matrix: dict[str, Any]  # when the front read the body ahead: online_payloads.Matrix.header(); the body is
    # then the matrix's float64 bytes (the front does so only for workers whose ready event said "matrices")


class OnlineReply(TypedDict, total=False):
    """One answer: status, headers, and timings in ms (its body travels after the header).

    ``status`` 200 on success; 400 for a body that does not fit (the message names the column);
    415 for a body that is not JSON where JSON is needed; 424 when the model's code raised (its
    message, never the data); 500 for a fault of thresher's own.
    """

    status: int
    headers: dict[str, str]
    length: int
    timing: dict[str, float]  # parse, predict, encode (ms)
    error: dict[str, Any] | None  # ErrorInfo-like {"type", "message"} when status is not 200


class OnlineConfig(TypedDict, total=False):
    """What an online worker is told (``THRESHER_ONLINE``)."""

    endpoint: str
    deployment: str
    script: str | None  # the scoring script's path; None: a no-code MLflow model
    code_dir: str | None
    model_dir: str | None
    worker: str  # e.g. blue/instance-0/worker-1, for logs
    error_log: str  # where tracebacks of init() and run() are appended
    warmup: bool  # predict once on the model's input example before saying ready
    tune_batching: bool  # and time predict on batch sizes 1..64 of it (the ready event carries the cost curve)


def encode_frame(header: dict[str, Any], bodies: Sequence[bytes] = ()) -> bytes:
    """One frame: the header as a JSON line, then ``bodies``; the caller sets each entry's ``length``."""
    head = (json.dumps(header, separators=(",", ":"), default=str) + "\n").encode()
    payload = b"".join([head, *bodies])
    return _LENGTH.pack(len(payload)) + payload


def frame_length(prefix: bytes) -> int:
    """The payload length announced by a frame's 4-byte prefix."""
    return int(_LENGTH.unpack(prefix)[0])


def decode_payload(payload: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """A frame's payload back into (header, bodies), cutting bodies by the ``length`` of each entry
    of the header's ``requests`` or ``replies`` list."""
    end = payload.index(b"\n")
    header = json.loads(payload[:end])
    entries = header.get("requests") or header.get("replies") or []
    bodies, at = [], end + 1
    for entry in entries:
        length = int(entry.get("length") or 0)
        bodies.append(payload[at : at + length])
        at += length
    return header, bodies


Exchange = Tuple[OnlineRequest, bytes]
Answer = Tuple[OnlineReply, bytes]


class Handler(Protocol):
    """What an online worker serves with: a scoring script (``online_script.ScriptHandler``) or a
    no-code MLflow model (``online_mlflow.MlflowHandler``). User code runs only inside these methods,
    which turn its exceptions into replies (``handle``) or raise ``entry.UserCodeError`` (``init``).

    Example (what ``online_worker`` does)::

        handler.init()                      # the script's init(), or loading the model
        warm = handler.warmup()             # one prediction on a known-good input; {} when none is known
        answers = handler.handle([(request, body), ...])   # one answer per request, in order
    """

    def init(self) -> None:
        """Load the model (run the script's ``init()``); raises ``UserCodeError`` when it fails."""

    def warmup(self) -> dict[str, Any]:
        """Predict once on the model's input example (or the script's schema sample), so the first
        request is not the slow one; returns what it measured, e.g. ``{"ms": 1.2, "rows": 1}``, or ``{}``
        when there is no known-good input. Raises ``UserCodeError`` when the prediction fails."""

    def handle(self, exchanges: list[Exchange]) -> list[Answer]:
        """Answer each request (several only for a batch the front formed); never raises for user code."""

    def document(self, op: dict[str, Any]) -> dict[str, Any]:
        """The answer to a ``swagger`` or ``metadata`` op (the Swagger/OpenAPI document; V2 model metadata)."""
