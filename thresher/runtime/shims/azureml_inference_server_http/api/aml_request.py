"""``AMLRequest`` and ``@rawhttp``: a scoring script that wants the whole HTTP request::

    @rawhttp
    def run(request):
        if request.method == "GET":
            return AMLResponse(request.full_path, 200)
        image = request.files["image"].read() if request.files else request.get_data()
        return AMLResponse(json.dumps(predict(image)), 200, {"Content-Type": "application/json"})

``AMLRequest`` offers what scripts use of the Flask request Azure passes: ``method``, ``path``,
``full_path``, ``url``, ``headers``, ``args``, ``data``, ``get_data()``, ``get_json()``, ``json``,
``query_string``, ``content_type``, ``mimetype``, ``form``, ``files``, ``values``, ``cookies``.
Unlike Flask, ``get_json()`` reads the body whatever its content type (a script that works on Azure
works here).
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from http.cookies import SimpleCookie
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import parse_qsl

from ._structures import FileStorage, Headers, MultiDict

__all__ = ["AMLRequest", "rawhttp"]

RAWHTTP_ATTR = "__thresher_rawhttp__"  # set on run() by @rawhttp: the request class to build
F = TypeVar("F", bound=Callable[..., Any])


def rawhttp(func: F) -> F:
    """Mark ``run`` as taking the HTTP request (an ``AMLRequest``) as its first argument."""
    setattr(func, RAWHTTP_ATTR, AMLRequest)
    return func


class AMLRequest:
    """One HTTP request to the scoring route, as a Flask request shows it."""

    def __init__(
        self,
        method: str = "GET",
        path: str = "/score",
        query_string: str | bytes = b"",
        headers: Mapping[str, str] | None = None,
        data: bytes = b"",
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query_string = query_string.encode("latin-1") if isinstance(query_string, str) else query_string
        self.headers = Headers(headers)
        self.data = bytes(data)
        self.args = MultiDict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))
        self._json: Any = None
        self._json_read = False
        self._form: tuple[MultiDict, MultiDict] | None = None

    @property
    def full_path(self) -> str:
        """The path and the query string: ``/score?x=1`` (``/score?`` without one, as in Flask)."""
        return f"{self.path}?{self.query_string.decode('latin-1')}"

    @property
    def host(self) -> str:
        """The ``Host`` header (``localhost`` when there is none)."""
        return str(self.headers.get("host") or "localhost")

    @property
    def url(self) -> str:
        """The full URL of the request."""
        query = self.query_string.decode("latin-1")
        return f"http://{self.host}{self.path}" + (f"?{query}" if query else "")

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header, as sent."""
        value = self.headers.get("content-type")
        return None if value is None else str(value)

    @property
    def mimetype(self) -> str:
        """The content type without its parameters, in lower case: ``application/json``."""
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def content_length(self) -> int:
        """The body's length in bytes."""
        return len(self.data)

    @property
    def is_json(self) -> bool:
        """Whether the content type says JSON."""
        mimetype = self.mimetype
        return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        """The body: bytes, or text with ``as_text=True`` (undecodable bytes replaced)."""
        return self.data.decode("utf-8", "replace") if as_text else self.data

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body parsed as JSON; a body that is not JSON raises ``ValueError`` (None when ``silent``)."""
        if self._json_read:
            return self._json
        try:
            value = json.loads(self.data.decode("utf-8"))
        except ValueError as exc:
            if silent:
                return None
            where = f" (line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            raise ValueError(f"The request body is not valid JSON{where}; send a JSON body.") from None
        self._json, self._json_read = value, True
        return value

    @property
    def json(self) -> Any:
        """``get_json()``."""
        return self.get_json()

    def _parse_form(self) -> tuple[MultiDict, MultiDict]:
        if self._form is None:
            form: list[tuple[str, Any]] = []
            files: list[tuple[str, Any]] = []
            if self.mimetype == "application/x-www-form-urlencoded":
                form = parse_qsl(self.data.decode("utf-8", "replace"), keep_blank_values=True)
            elif self.mimetype == "multipart/form-data":
                head = f"Content-Type: {self.content_type}\r\n\r\n".encode("latin-1", "replace")
                message: Any = BytesParser(policy=HTTP).parsebytes(head + self.data)
                for part in message.iter_parts() if message.is_multipart() else ():
                    name = part.get_param("name", header="content-disposition")
                    content = part.get_payload(decode=True) or b""
                    if part.get_filename() is not None:
                        files.append((name, FileStorage(content, part.get_filename(), name, part.get("content-type"))))
                    else:
                        form.append((name, content.decode(part.get_content_charset() or "utf-8", "replace")))
            self._form = (MultiDict(form), MultiDict(files))
        return self._form

    @property
    def form(self) -> MultiDict:
        """The fields of a form body (urlencoded or multipart), without its files."""
        return self._parse_form()[0]

    @property
    def files(self) -> MultiDict:
        """The files of a ``multipart/form-data`` body, by field name (``FileStorage`` objects)."""
        return self._parse_form()[1]

    @property
    def values(self) -> MultiDict:
        """The query string's and the form's fields together."""
        return MultiDict(self.args.items(multi=True) + self.form.items(multi=True))

    @property
    def cookies(self) -> dict[str, str]:
        """The ``Cookie`` header's values."""
        jar: SimpleCookie = SimpleCookie()
        jar.load(str(self.headers.get("cookie") or ""))
        return {name: morsel.value for name, morsel in jar.items()}

    def __repr__(self) -> str:
        return f"<AMLRequest {self.url!r} [{self.method}]>"
