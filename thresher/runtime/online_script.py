"""Serving an Azure scoring script (``init()`` / ``run(...)``) on an online endpoint: the worker's ``Handler``.

``init`` imports the script (a module named after its file, its folder first on ``sys.path``), checks
that it has both functions and that ``run`` can be called (``online_call.RunShape``), reads any
Swagger file beside it, then calls ``init()``. ``handle`` calls ``run`` once per request and answers::

    200  run's value as JSON (or its AMLResponse, as it is)
    400  a body that does not fit run()'s parameters (the message names the parameter and the column)
    404  a request in another dialect than /score's (MLflow's /invocations, V2)
    415  a decorated run() and a body that is not JSON
    424  run() raised (body {"message": "<Type>: <message>"}, header x-ms-run-function-failed: True;
         the traceback goes to the error log only), or returned a value JSON cannot hold
    500  a fault of thresher's own

Every reply has the header ``x-ms-run-fn-exec-ms`` (time in ``run``) and timings parse, predict,
encode in ms. Example (what ``online_worker`` does)::

    handler = ScriptHandler("/code/score.py", "/logs/user/error/blue/worker-0.txt")
    handler.init()
    handler.warmup()                            # {"ms": 3.1, "rows": 1}, or {} without @input_schema
    [(reply, body)] = handler.handle([(request, b'{"data": [[1, 2, 3, 4]]}')])
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from thresher.runtime.entry import UserCodeError, describe, error_boundary, import_script
from thresher.runtime.online_call import SCHEMA, RequestError, RunShape
from thresher.runtime.online_protocol import SCORE, Answer, Exchange, OnlineReply, OnlineRequest
from thresher.runtime.online_reply import (
    EXEC_MS_HEADER,
    FAILED_HEADER,
    JSON,
    EncodeError,
    error_body,
    is_response,
    json_reply,
    response_reply,
)
from thresher.runtime.online_swagger import DEFAULT_VERSION, check_version, document, service_input, user_documents
from thresher.runtime.protocol import ErrorInfo

_WARMUP_REQUEST: OnlineRequest = {"id": "warmup", "method": "POST", "path": "/score", "query": ""}


@dataclass
class _Outcome:
    """One request's answer before it goes on the wire; ``failure`` keeps run()'s error for ``warmup``."""

    status: int
    headers: dict[str, str]
    body: bytes
    timing: dict[str, float]
    error: dict[str, Any] | None = None
    failure: ErrorInfo | None = None


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


class ScriptHandler:
    """The ``online_protocol.Handler`` of a deployment with a scoring script."""

    def __init__(self, script_path: str, error_log: str) -> None:
        self.script_path = os.path.abspath(script_path)
        self.error_log = error_log
        self._run: Callable[..., Any] | None = None
        self._shape: RunShape | None = None
        self._documents: dict[str, dict[str, Any]] = {}

    @property
    def shape(self) -> RunShape:
        """How ``run`` takes requests (after ``init``)."""
        if self._shape is None:
            raise RuntimeError("ScriptHandler.init() must be called before serving requests.")
        return self._shape

    def init(self) -> None:
        """Import the script, check ``init`` and ``run``, call ``init()``; ``UserCodeError`` when any fails."""
        name = os.path.basename(self.script_path)
        with error_boundary(self.error_log, f"init() of the scoring script {name} failed"):
            folder = os.path.dirname(self.script_path)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            module = import_script(self.script_path)
            missing = [f for f in ("init", "run") if not callable(getattr(module, f, None))]
            if missing:
                raise TypeError(
                    f"The scoring script {self.script_path} defines no {' and no '.join(f + '()' for f in missing)}; "
                    "an online deployment's script must define both init() (load the model) and run(raw_data)."
                )
            self._shape = RunShape.of(module.run, self.script_path)
            self._documents = user_documents(folder)
            module.init()
            self._run = module.run

    def warmup(self) -> dict[str, Any]:
        """Call ``run`` once on the ``@input_schema`` samples, as a request would; ``{}`` when undecorated."""
        shape = self.shape
        if shape.kind != SCHEMA or any(p.required and p.type is None for p in shape.parameters):
            return {}
        examples = {p.name: p.type.input_to_swagger().get("example") for p in shape.parameters if p.type is not None}
        body = json.dumps(examples).encode("utf-8")
        request: OnlineRequest = {**_WARMUP_REQUEST, "headers": {"content-type": JSON}, "length": len(body)}
        started = time.perf_counter()
        outcome = self._answer(request, body)
        if outcome.status != 200:
            said = (outcome.error or {}).get("message")
            failure: ErrorInfo = {"type": "WarmupError", "log": self.error_log, **(outcome.failure or {})}
            failure["message"] = f"the warm-up call of run() on the @input_schema samples got {outcome.status}: {said}"
            raise UserCodeError(failure)
        first = next(iter(examples.values()), None)
        rows = len(first) if isinstance(first, list) else 1
        return {"ms": round(_ms(started), 3), "rows": rows}

    def handle(self, exchanges: list[Exchange]) -> list[Answer]:
        """One answer per request, in order; user code never raises out of here."""
        answers: list[Answer] = []
        for request, body in exchanges:
            try:
                outcome = self._answer(request, body)
            except Exception as exc:  # a fault of thresher's own: the traceback goes to the error log
                error = describe(exc, f"thresher failed on request {request.get('id')}", self.error_log)
                message = f"thresher failed to serve the request: {error['type']}: {error['message']}"
                outcome = self._error(500, message, {}, error["type"])
            reply: OnlineReply = {
                "status": outcome.status,
                "headers": outcome.headers,
                "length": len(outcome.body),
                "timing": outcome.timing,
                "error": outcome.error,
            }
            answers.append((reply, outcome.body))
        return answers

    def document(self, op: dict[str, Any]) -> dict[str, Any]:
        """``{"op": "swagger", "version": "2"|"3"|"3.1"}``: the Swagger document (a user's file beside the
        script when there is one); ``{"op": "metadata"}``: what the script takes. ``ValueError`` otherwise."""
        shape = self.shape
        if op.get("op") == "metadata":
            listed = [{"name": p.name, "required": p.required, "typed": p.type is not None} for p in shape.parameters]
            return {
                "name": os.path.splitext(os.path.basename(self.script_path))[0],
                "kind": shape.kind,
                "inputs": listed,
            }
        if op.get("op") != "swagger":
            raise ValueError(f"A scoring script answers the swagger and metadata ops, not {op.get('op')!r}.")
        version = check_version(str(op.get("version") or DEFAULT_VERSION))
        if version in self._documents:
            return self._documents[version]
        inputs: dict[str, Any] | None = None
        if shape.kind == SCHEMA:
            inputs = service_input([(p.name, p.type, p.required) for p in shape.parameters if p.type is not None])
        output = dict(shape.output_type.input_to_swagger()) if shape.output_type is not None else None
        return document(version, inputs, output, os.environ)

    def _answer(self, request: OnlineRequest, body: bytes) -> _Outcome:
        run, shape = self._run, self.shape
        assert run is not None  # set by init() with the shape
        started = time.perf_counter()
        if request.get("dialect", SCORE) != SCORE:
            said = f"This deployment runs a scoring script, which serves /score only, not {request.get('path')!r}."
            return self._error(404, said, {}, "RequestError")
        try:
            args, kwargs = shape.arguments(request, body)
        except RequestError as bad:
            return self._error(bad.status, bad.message, {"parse": _ms(started)}, "RequestError")
        timing = {"parse": _ms(started)}
        started = time.perf_counter()
        try:
            with error_boundary(self.error_log, lambda: f"run() failed on request {request.get('id')}"):
                value = run(*args, **kwargs)
        except UserCodeError as failed:
            timing["predict"] = _ms(started)
            info = failed.error
            outcome = self._error(424, f"{info['type']}: {info['message']}", timing, info["type"])
            outcome.headers[FAILED_HEADER] = "True"
            outcome.failure = info
            return outcome
        timing["predict"] = _ms(started)
        started = time.perf_counter()
        try:
            status, headers, payload = response_reply(value) if is_response(value) else json_reply(value)
        except EncodeError as exc:  # logged without thresher's frames: the message says it all
            header = f"the value run() returned for request {request.get('id')} cannot be sent"
            describe(EncodeError(str(exc)), header, self.error_log)
            return self._error(424, str(exc), timing, "EncodeError")
        timing["encode"] = _ms(started)
        headers[EXEC_MS_HEADER] = f"{timing['predict']:.3f}"
        error = None if status == 200 else {"type": "AMLResponse", "message": f"run() answered status {status}"}
        return _Outcome(status, headers, payload, timing, error)

    def _error(self, status: int, message: str, timing: dict[str, float], kind: str) -> _Outcome:
        full = {"parse": 0.0, "predict": 0.0, "encode": 0.0, **timing}
        headers = {"content-type": JSON, EXEC_MS_HEADER: f"{full['predict']:.3f}"}
        return _Outcome(status, headers, error_body(message), full, {"type": kind, "message": message})
