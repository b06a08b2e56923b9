"""What a deployment's queue hands each worker: a request read ahead goes as a matrix only to workers that said
they take matrices (after an update, the next revision's workers may be a scoring script's)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from thresher.runtime.online_payloads import read_matrix
from thresher.runtime.online_protocol import OnlineRequest
from thresher.server.online.dispatch import Pending


def test_a_request_read_ahead_goes_as_sent_to_a_worker_that_takes_no_matrices() -> None:
    body = json.dumps({"input_data": {"columns": ["a", "b"], "data": [[1.5, 2.5]] * 5000}}).encode()
    request: OnlineRequest = {"id": "r-1", "dialect": "score", "headers": {"content-type": "application/json"}}
    matrix = read_matrix(body, "application/json", score=True)
    assert matrix is not None
    loop = asyncio.new_event_loop()
    try:
        pending = Pending(request, body, 0.0, 1.0, loop.create_future())
        pending.ahead = ({**request, "matrix": matrix.header()}, matrix.values.tobytes())
        mlflow_worker, script_worker = SimpleNamespace(matrices=True), SimpleNamespace(matrices=False)
        assert pending.sent_to(mlflow_worker) == pending.ahead  # type: ignore[arg-type]
        assert pending.sent_to(script_worker) == (request, body)  # type: ignore[arg-type]
        assert pending.size == 5000 * 2 * 8  # what a batch counts: the bytes the worker will get
    finally:
        loop.close()
