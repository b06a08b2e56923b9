"""``python -m thresher.runtime.online_worker``: one worker of an online deployment.

Started by the online front in the deployment's environment (see ``online_protocol`` for the
contract). It loads the scoring script or the MLflow model (``init()``), predicts once on a known-good
input (the model's input example, or the script's schema sample) so that readiness means "answers
quickly", says ``ready``, then answers ``score`` ops in order until told to shut down or its socket
closes (the front went away: the worker goes too). An MLflow model's worker reads (parses and fits to
the signature) the next batch on a second thread while the model predicts the current one.

User code never raises through here: the handler turns its errors into replies; a failing ``init()``
or warm-up is reported as ``init_failed`` and the process exits with code 3.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import socket
import sys
import threading
import time
from typing import Any

from thresher.runtime import online_protocol
from thresher.runtime.entry import UserCodeError, describe
from thresher.runtime.online_protocol import Answer, Exchange, Handler, OnlineConfig, ReadAhead


def _handler(config: OnlineConfig) -> Handler:
    error_log = config.get("error_log") or os.devnull
    script = config.get("script")
    if script:
        from thresher.runtime.online_script import ScriptHandler

        return ScriptHandler(script, error_log)
    from thresher.runtime.online_mlflow import MlflowHandler

    return MlflowHandler(str(config.get("model_dir") or "."), error_log, name=config.get("deployment"))


class Channel:
    """The worker's end of its socket pair: whole frames in and out."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)

    def send(self, header: dict[str, Any], bodies: list[bytes] | None = None) -> None:
        self._sock.sendall(online_protocol.encode_frame(header, bodies or []))

    def receive(self) -> tuple[dict[str, Any], list[bytes]] | None:
        """The next frame, or None once the front closed its end."""
        prefix = self._exactly(4)
        if prefix is None:
            return None
        payload = self._exactly(online_protocol.frame_length(prefix))
        if payload is None:
            return None
        return online_protocol.decode_payload(payload)

    def _exactly(self, count: int) -> bytes | None:
        chunks, left = [], count
        while left:
            chunk = self._sock.recv(min(left, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def serve(channel: Channel, handler: Handler) -> None:
    """Answer ops until ``shutdown`` or the front's end closes; a handler that can (``ReadAhead``) reads the
    next batch on a thread of its own while the model predicts the one before."""
    if isinstance(handler, ReadAhead):
        _serve_reading_ahead(channel, handler, handler)
        return
    while True:
        frame = channel.receive()
        if frame is None:
            return
        header, bodies = frame
        op = header.get("op")
        if op == "score":
            _reply(channel, handler.handle(_exchanges(header, bodies)))
        elif op in ("swagger", "metadata"):
            _document(channel, handler, header)
        elif op == "shutdown":
            return


def _serve_reading_ahead(channel: Channel, handler: Handler, ahead: ReadAhead) -> None:
    inbox: queue.Queue[tuple[dict[str, Any], Any] | None] = queue.Queue()

    def read() -> None:
        try:
            while True:
                frame = channel.receive()
                if frame is None:
                    break
                header, bodies = frame
                op = header.get("op")
                inbox.put((header, ahead.prepare(_exchanges(header, bodies)) if op == "score" else None))
                if op == "shutdown":
                    return
        except BaseException as exc:  # a fault of thresher's own: the worker exits, the front replaces it
            print(f"reading requests failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        inbox.put(None)

    threading.Thread(target=read, name="read-ahead", daemon=True).start()
    while True:
        item = inbox.get()
        if item is None:
            return
        header, prepared = item
        op = header.get("op")
        if op == "score":
            _reply(channel, ahead.finish(prepared))
        elif op in ("swagger", "metadata"):
            _document(channel, handler, header)
        elif op == "shutdown":
            return


def _exchanges(header: dict[str, Any], bodies: list[bytes]) -> list[Exchange]:
    return list(zip(header.get("requests") or [], bodies))


def _reply(channel: Channel, answers: list[Answer]) -> None:
    replies = []
    for reply, body in answers:
        reply["length"] = len(body)
        replies.append(reply)
    channel.send({"event": "replies", "replies": replies}, [body for _, body in answers])


def _document(channel: Channel, handler: Handler, header: dict[str, Any]) -> None:
    try:
        document = handler.document(header)
    except Exception as exc:  # an unknown swagger version, a broken user swagger file: the front says so
        document = {"error": f"{type(exc).__name__}: {exc}"}
    channel.send({"event": "document", "document": document})


def main() -> int:
    """The worker process: init, warm up, say ready, serve; the exit code."""
    config: OnlineConfig = json.loads(os.environ[online_protocol.CONFIG_ENV])
    channel = Channel(int(os.environ[online_protocol.FD_ENV]))
    began = time.perf_counter()
    try:
        handler = _handler(config)
        handler.init()
        warmup = handler.warmup() if config.get("warmup", True) else {}
        tune = getattr(handler, "cost_curve", None) if config.get("tune_batching") else None
        if tune is not None:
            warmup["cost_curve"] = {str(size): ms for size, ms in tune().items()}
    except UserCodeError as failed:
        channel.send({"event": "init_failed", "error": dict(failed.error)})
        return online_protocol.INIT_FAILED_EXIT_CODE
    except Exception as exc:  # thresher's own loading failed (a missing file, a model that is not MLflow)
        error = describe(exc, "the online worker could not start", config.get("error_log") or os.devnull)
        channel.send({"event": "init_failed", "error": dict(error)})
        return online_protocol.INIT_FAILED_EXIT_CODE
    # What init() loaded lives as long as the worker: out of the collector's sight, a full collection no
    # longer walks the model and its libraries (measured: tens of ms, now and then, on 10,000-row bodies).
    gc.collect()
    gc.freeze()
    ready = {"event": "ready", "seconds": round(time.perf_counter() - began, 3), "warmup": warmup}
    if isinstance(handler, ReadAhead):
        ready["read_ahead"] = online_protocol.READ_AHEAD_DEPTH
    channel.send(ready)
    serve(channel, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
