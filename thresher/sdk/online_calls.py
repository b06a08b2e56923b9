"""Calling an online endpoint, and reading its logs: what ``invoke`` and ``get-logs`` do.

``score`` posts a body to a scoring URI with the endpoint's key, as any HTTP client would (``invoke``
goes to the endpoint itself, not through a thresher server, as ``az ml online-endpoint invoke`` goes
to the scoring URI). ``deployment_logs`` and ``endpoint_logs`` read the tails of the files the
serving process writes: each worker's output (``init()``'s prints, the script's logging, crashes) and
the access log.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import ThresherError

DEPLOYMENT_HEADER = "azureml-model-deployment"


@dataclass(frozen=True)
class ScoreResponse:
    """An endpoint's answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def deployment(self) -> str | None:
        """The deployment that answered."""
        return self.headers.get(DEPLOYMENT_HEADER)

    def json(self) -> Any:
        return json.loads(self.body)

    def message(self) -> str:
        """The error message of a non-2xx answer (its ``message``, or its text)."""
        try:
            document = self.json()
        except ValueError:
            return self.body.decode("utf-8", "replace")[:2000]
        if isinstance(document, dict) and "message" in document:
            return str(document["message"])
        return json.dumps(document)[:2000]


def score(
    scoring_uri: str,
    body: bytes,
    *,
    credential: str,
    deployment: str | None = None,
    content_type: str = "application/json",
    timeout: float = 200.0,
) -> ScoreResponse:
    """POST ``body`` to ``scoring_uri`` with ``Authorization: Bearer <credential>``."""
    import httpx

    headers = {"authorization": f"Bearer {credential}", "content-type": content_type}
    if deployment:
        headers[DEPLOYMENT_HEADER] = deployment
    try:
        answer = httpx.post(scoring_uri, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ThresherError(
            f"Could not reach the endpoint at {scoring_uri}: {exc}.",
            fix="Check that it is served: thresher online-endpoint show -n <name> (its serving process restarts "
            "with any online-endpoint command, or with thresher server).",
        ) from exc
    return ScoreResponse(answer.status_code, dict(answer.headers), answer.content)


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file ([] when it does not exist)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]
    except OSError:
        return []


def deployment_logs(folder: Path, lines: int) -> str:
    """The last ``lines`` lines of each worker's log of a deployment (``online/logs/<endpoint>/<deployment>``),
    and of its error log (the tracebacks of ``init()`` and ``run()``)."""
    parts = []
    for path in [*sorted(folder.glob("*.log")), folder / "errors.txt"]:
        text = tail(path, lines)
        if text:
            parts.append(f"==== {path.name}\n" + "\n".join(text))
    return "\n".join(parts)


def endpoint_logs(access_log: Path, endpoint: str, lines: int) -> str:
    """The endpoint's last ``lines`` requests in the access log: time, client, endpoint, deployment, method,
    path, status, duration, request id."""
    mine = []
    try:
        with access_log.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split(" ", 3)
                if len(fields) > 2 and fields[2] == endpoint:
                    mine.append(line.rstrip("\n"))
    except OSError:
        return ""
    return "\n".join(mine[-lines:])
