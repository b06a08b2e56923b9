"""``python -m thresher.runtime.online_worker``: one worker of an online deployment.

Started by the online front in the deployment's environment (see ``online_protocol`` for the
contract). It loads the scoring script or the MLflow model (``init()``), predicts once on a known-good
input (the model's input example, or the script's schema sample) so that readiness means "answers
quickly", says ``ready``, then answers ``score`` ops one at a time until told to shut down or its
socket closes (the front went away: the worker goes too).

User code never raises through here: the handler turns its errors into replies; a failing ``init()``
or warm-up is reported as ``init_failed`` and the process exits with code 3.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Any

from thresher.runtime import online_protocol
from thresher.runtime.entry import UserCodeError, describe
from thresher.runtime.online_protocol import Answer, Exchange, Handler, OnlineConfig


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
    """Answer ops until ``shutdown`` or the front's end closes."""
    while True:
        frame = channel.receive()
        if frame is None:
            return
        header, bodies = frame
        op = header.get("op")
        if op == "score":
            exchanges: list[Exchange] = list(zip(header.get("requests") or [], bodies))
            answers: list[Answer] = handler.handle(exchanges)
            replies = []
            for reply, body in answers:
                reply["length"] = len(body)
                replies.append(reply)
            channel.send({"event": "replies", "replies": replies}, [body for _, body in answers])
        elif op in ("swagger", "metadata"):
            try:
                document = handler.document(header)
            except Exception as exc:  # an unknown swagger version, a broken user swagger file: the front says so
                document = {"error": f"{type(exc).__name__}: {exc}"}
            channel.send({"event": "document", "document": document})
        elif op == "shutdown":
            return


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
    ready = {"event": "ready", "seconds": round(time.perf_counter() - began, 3), "warmup": warmup}
    ready["matrices"] = bool(getattr(handler, "reads_matrices", False))
    channel.send(ready)
    serve(channel, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
