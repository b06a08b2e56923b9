"""How a scoring script's ``run`` is called for one HTTP request, as Azure's inference server calls it.

``RunShape.of(run)`` reads ``run``'s signature and decorations once, at ``init``, and refuses what
cannot be called (``*args``, ``**kwargs``, positional-only parameters, ``@rawhttp`` together with
``@input_schema``); ``RunShape.arguments`` then builds each request's arguments:

- undecorated ``run(raw_data)``: the POST body as text (not UTF-8: 400), or for a GET the query
  string as a JSON object string (a repeated key becomes a list);
- ``@input_schema``: the body must be JSON (415) and a JSON object (400); each parameter gets the key
  of its name, converted by its type (missing without a default: 400; not fitting its type: 400,
  naming the parameter and the column, never the data);
- ``@rawhttp``: the request itself, as an ``AMLRequest``;
- a parameter named ``request_headers`` gets the request's headers as a dict (names without case).

The decorators leave their marks as attributes on ``run`` (literal names shared with the shims).
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

from thresher.runtime.online_protocol import OnlineRequest
from thresher.runtime.online_schema import SchemaError, json_kind

INPUTS_ATTR = "__thresher_input_schema__"  # inference_schema.schema_decorators.INPUTS_ATTR
OUTPUT_ATTR = "__thresher_output_schema__"  # inference_schema.schema_decorators.OUTPUT_ATTR
RAWHTTP_ATTR = "__thresher_rawhttp__"  # azureml_inference_server_http.api.aml_request.RAWHTTP_ATTR
HEADERS_PARAMETER = "request_headers"
RAW, SCHEMA, RAWHTTP = "raw", "schema", "rawhttp"


class RequestError(Exception):
    """A request ``run`` cannot be called with: ``status`` (400, 415) and a message that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HeaderDict(dict):  # type: ignore[type-arg]
    """The request's headers for ``request_headers``: a dict whose lookups ignore case."""

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(key.lower() if isinstance(key, str) else key)

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key.lower() if isinstance(key, str) else key, default)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a decorated ``run``: its ``@input_schema`` type (None: passed as sent)."""

    name: str
    has_default: bool
    type: Any = None
    convert: bool = True
    optional: bool = False

    @property
    def required(self) -> bool:
        """Whether a request must send it."""
        return not (self.has_default or self.optional)


@dataclass(frozen=True)
class RunShape:
    """How ``run`` takes a request: ``kind`` is RAW, SCHEMA or RAWHTTP."""

    kind: str
    parameters: tuple[Parameter, ...]
    takes_headers: bool
    output_type: Any = None
    request_class: Any = None

    @classmethod
    def of(cls, run: Callable[..., Any], where: str) -> RunShape:
        """Read ``run``'s signature and decorations; ``TypeError`` naming ``where`` (the script) when unusable."""
        inputs: dict[str, dict[str, Any]] = dict(getattr(run, INPUTS_ATTR, None) or {})
        request_class = getattr(run, RAWHTTP_ATTR, None)
        if inputs and request_class is not None:
            raise TypeError(
                f"{where}: run() is decorated with both @rawhttp and @input_schema; a @rawhttp run() gets the whole "
                "request, so remove @input_schema (or @rawhttp, to get the body's keys as arguments)."
            )
        try:
            signature = inspect.signature(run)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: cannot read the parameters of run(): {exc}") from None
        refused = {
            inspect.Parameter.VAR_POSITIONAL: "*{}",
            inspect.Parameter.VAR_KEYWORD: "**{}",
            inspect.Parameter.POSITIONAL_ONLY: "{} (positional-only)",
        }
        bad = [refused[p.kind].format(p.name) for p in signature.parameters.values() if p.kind in refused]
        if bad:
            raise TypeError(
                f"{where}: run() takes {', '.join(bad)}; the server passes each argument by its name, so run() must "
                "name its parameters, e.g. def run(raw_data) or, with @input_schema, def run(data, threshold=0.5)."
            )
        takes_headers = HEADERS_PARAMETER in signature.parameters
        parameters = tuple(
            Parameter(p.name, p.default is not inspect.Parameter.empty, **_decoration(inputs.get(p.name)))
            for p in signature.parameters.values()
            if p.name != HEADERS_PARAMETER
        )
        unknown = sorted(set(inputs) - {p.name for p in parameters})
        if unknown:
            raise TypeError(
                f"{where}: @input_schema names {', '.join(map(repr, unknown))}, which run() does not take (it takes "
                f"{', '.join(repr(p.name) for p in parameters) or 'nothing'}); make the names match."
            )
        kind = RAWHTTP if request_class is not None else SCHEMA if inputs else RAW
        if kind != SCHEMA:
            what = "the request" if kind == RAWHTTP else "the request body"
            if not parameters:
                raise TypeError(f"{where}: run() takes no parameter; it must take one, which gets {what}.")
            extra = [p.name for p in parameters[1:] if not p.has_default]
            if extra:
                raise TypeError(
                    f"{where}: run() takes {', '.join(map(repr, extra))} besides {parameters[0].name!r} (which gets "
                    f"{what}) and {'they have' if len(extra) > 1 else 'it has'} no default; give a default, or "
                    "decorate run() with @input_schema to fill parameters from the body's keys."
                )
        return cls(kind, parameters, takes_headers, getattr(run, OUTPUT_ATTR, None), request_class)

    def arguments(self, request: OnlineRequest, body: bytes) -> tuple[list[Any], dict[str, Any]]:
        """``run``'s positional and keyword arguments for one request; ``RequestError`` when there are none."""
        headers = request.get("headers") or {}
        kwargs: dict[str, Any] = {HEADERS_PARAMETER: HeaderDict(headers)} if self.takes_headers else {}
        method = (request.get("method") or "POST").upper()
        if self.kind == RAWHTTP:
            path = request.get("path") or "/score"
            made = self.request_class(method, path, request.get("query") or "", headers, body)
            return [made], kwargs
        if method == "GET":
            payload: Any = query_object(request.get("query") or "")
        elif self.kind == RAW:
            try:
                return [body.decode("utf-8")], kwargs
            except UnicodeDecodeError as exc:
                raise RequestError(
                    400,
                    f"The request body is not UTF-8 text (byte {exc.start} is not valid); run(raw_data) gets the "
                    "body as text: send UTF-8, or decorate run() with @rawhttp to get the bytes.",
                ) from None
        else:
            payload = json_body(body, self.parameters)
        if self.kind == RAW:
            return [json.dumps(payload)], kwargs
        kwargs.update(self.converted(payload))
        return [], kwargs

    def converted(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Each parameter's value from ``payload``, converted by its type."""
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            if parameter.name not in payload:
                if parameter.required:
                    sent = ", ".join(map(repr, list(payload)[:10])) or "none"
                    raise RequestError(
                        400,
                        f"The body has no key {parameter.name!r}, and run()'s parameter {parameter.name!r} has no "
                        f"default: send it, as {{{json.dumps(parameter.name)}: ...}} (keys sent: {sent}).",
                    )
                if not parameter.has_default:
                    values[parameter.name] = None
                continue
            value = payload[parameter.name]
            if parameter.type is not None and parameter.convert and not (value is None and parameter.optional):
                value = _convert(parameter, value)
            values[parameter.name] = value
        return values


def _decoration(entry: dict[str, Any] | None) -> dict[str, Any]:
    if entry is None:
        return {}
    return {"type": entry["type"], "convert": bool(entry.get("convert", True)), "optional": bool(entry.get("optional"))}


def _convert(parameter: Parameter, value: Any) -> Any:
    try:
        return parameter.type.deserialize_input(value)
    except SchemaError as exc:
        reason = str(exc)
    except Exception as exc:  # a parameter type of the user's own: its message is all there is
        reason = f"{type(exc).__name__}: {exc}"
    raise RequestError(
        400,
        f"Parameter {parameter.name!r} of run() does not fit its @input_schema type: {reason}. Send values like "
        "the type's sample (GET /swagger.json shows it).",
    )


def query_object(query: str) -> dict[str, Any]:
    """A query string as a JSON-able object; a key given several times gets the list of its values."""
    values: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in values:
            values[key] = value
        elif isinstance(values[key], list):
            values[key].append(value)
        else:
            values[key] = [values[key], value]
    return values


def json_body(body: bytes, parameters: tuple[Parameter, ...]) -> dict[str, Any]:
    """The body of a request to a decorated ``run``: a JSON object, or a ``RequestError`` (415, 400)."""
    names = ", ".join(json.dumps(p.name) + ": ..." for p in parameters)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        where = f" ({exc.msg} at line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise RequestError(
            415,
            f"The request body is not JSON{where}; run() is decorated with @input_schema, so the body must be a "
            f"JSON object of its parameters: {{{names}}}.",
        ) from None
    if not isinstance(payload, dict):
        raise RequestError(
            400,
            f"The request body is {json_kind(payload)}; run() is decorated with @input_schema, so the body must "
            f"be a JSON object of its parameters: {{{names}}}.",
        )
    return payload
