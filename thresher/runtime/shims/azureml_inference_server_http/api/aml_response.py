"""``AMLResponse``: what a ``@rawhttp`` script returns to choose the status, body and headers::

    return AMLResponse(png_bytes, 200, {"Content-Type": "image/png"})
    return AMLResponse({"error": "no image"}, 400, json_str=True)

The body is a str (sent as UTF-8) or bytes; with ``json_str=True`` (or for any other value, such as
a dict) it is the value as ``json.dumps`` writes it.
Without a ``Content-Type`` header the body is ``text/html; charset=utf-8`` (Flask's default), or
``application/json`` with ``json_str=True``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Mapping

from ._structures import Headers

__all__ = ["AMLResponse"]

_FAILED_HEADER = "x-ms-run-function-failed"


class AMLResponse:
    """An HTTP response returned by ``run``, used as it is (status, body, headers).

    ``headers`` is accepted as another name of ``response_headers``; ``run_function_failed=True`` adds
    the ``x-ms-run-function-failed: True`` header, as Azure does for a run that failed.
    """

    def __init__(
        self,
        message: Any,
        status_code: int = 200,
        response_headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = int(status_code)
        self.headers = Headers(dict(response_headers or {}, **(headers or {})))
        if json_str or not isinstance(message, (str, bytes, bytearray, memoryview, type(None))):
            body = json.dumps(message).encode("utf-8")
            default_type = "application/json"
        else:
            body = message.encode("utf-8") if isinstance(message, str) else bytes(message or b"")
            default_type = "text/html; charset=utf-8"
        self.data = body
        if "content-type" not in self.headers:
            self.headers["Content-Type"] = default_type
        if run_function_failed:
            self.headers[_FAILED_HEADER] = "True"

    @property
    def status(self) -> str:
        """``"200 OK"``: the code and its reason phrase."""
        try:
            return f"{self.status_code} {HTTPStatus(self.status_code).phrase}"
        except ValueError:
            return str(self.status_code)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header."""
        return str(self.headers["content-type"])

    @property
    def mimetype(self) -> str:
        """The content type without its parameters."""
        return self.content_type.split(";")[0].strip().lower()

    def get_data(self, as_text: bool = False) -> Any:
        """The body: bytes, or text with ``as_text=True``."""
        return self.data.decode("utf-8", "replace") if as_text else self.data

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.data.decode("utf-8"))
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"<AMLResponse {len(self.data)} bytes [{self.status}]>"
