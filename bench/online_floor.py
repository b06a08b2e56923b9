"""P6's floor: the least an HTTP server can do to serve the model, a bare ASGI app under uvicorn.

    P6_MODEL_DIR=<mlflow model> python -m uvicorn bench.online_floor:app --http httptools --port 8000

It loads the MLflow model with ``mlflow.pyfunc.load_model`` at import (as a no-code deployment does, the
signature enforced by pyfunc's ``predict``) and answers, in the event loop itself (no thread hop):

- ``GET /``: ``Healthy``;
- ``POST /score``: Azure's ``{"input_data": {"columns": [...], "data": [[...]]}}``;
- ``POST /invocations``: MLflow's ``{"dataframe_split": {...}}``, CSV (``text/csv``) or Parquet
  (``application/vnd.apache.parquet``);

each as json -> DataFrame -> ``predict`` -> ``{"predictions": [...]}``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import mlflow.pyfunc
import pandas as pd

Message = MutableMapping[str, Any]
MODEL = mlflow.pyfunc.load_model(os.environ["P6_MODEL_DIR"])


def _frame(path: str, content_type: bytes, body: bytes) -> pd.DataFrame:
    if path == "/invocations" and content_type.startswith(b"text/csv"):
        return pd.read_csv(io.BytesIO(body))
    if path == "/invocations" and content_type.startswith(b"application/vnd.apache.parquet"):
        return pd.read_parquet(io.BytesIO(body))
    payload = json.loads(body)
    split = payload["input_data"] if path == "/score" else payload["dataframe_split"]
    return pd.DataFrame(split["data"], columns=split["columns"])


async def _reply(send: Callable[[Message], Awaitable[None]], status: int, body: bytes, kind: bytes) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    """The ASGI app (see the module docstring)."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    path = scope["path"]
    if scope["method"] == "GET" and path == "/":
        await _reply(send, 200, b"Healthy", b"text/plain")
        return
    if scope["method"] != "POST" or path not in ("/score", "/invocations"):
        await _reply(send, 404, b'{"message": "not found"}', b"application/json")
        return
    content_type = dict(scope["headers"]).get(b"content-type", b"application/json")
    try:
        predictions = MODEL.predict(_frame(path, content_type, b"".join(chunks)))
    except Exception as error:  # the floor answers like a server would, and the benchmark counts it
        await _reply(send, 400, json.dumps({"message": str(error)}).encode(), b"application/json")
        return
    values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
    await _reply(send, 200, json.dumps({"predictions": values}).encode(), b"application/json")
