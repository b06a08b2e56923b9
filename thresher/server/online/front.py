"""The online endpoints' HTTP front: a plain ASGI app, one port, every endpoint below ``/endpoints/<name>``.

Routes of an endpoint (all need its key or token as ``Authorization: Bearer ...``)::

    GET  /endpoints/<name>/                    "Healthy" once a deployment is ready (Azure's GET /)
    POST /endpoints/<name>/score               Azure: run(raw_data), or no-code {"input_data": ...}
    GET  /endpoints/<name>/score?k=v           Azure: the query string as a JSON object, for run()
    GET  /endpoints/<name>/swagger.json        ?version=2|3|3.1, from the script's decorators or the signature
    POST /endpoints/<name>/invocations         MLflow: dataframe_split, dataframe_records, instances, inputs, CSV
    GET  /endpoints/<name>/ping | /health      MLflow's health routes
    GET  /endpoints/<name>/v2/health/live|ready, /v2/models/<m>[/ready], POST /v2/models/<m>/infer
                                               Open Inference Protocol (``<m>``: a deployment, or any name)

and, for the whole front, ``GET /`` (liveness) and ``GET /metrics`` (Prometheus). A request goes to the
deployment named by its ``azureml-model-deployment`` header (a 0 % deployment included), else to one
drawn by the endpoint's ``traffic``; a share of those (``mirror_traffic``) is copied to the mirror
deployment, whose answer is compared with the live one and dropped. Every answer has ``x-request-id``,
``azureml-model-deployment`` and a ``Server-Timing`` header (parse, queue, batch, predict, encode, total).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import parse_qs

from thresher.runtime import online_protocol
from thresher.server.online.dispatch import Expired, LiveDeployment, Rejected
from thresher.server.online.metrics import CONTENT_TYPE, OnlineMetrics
from thresher.server.online.mirror import MirrorStats
from thresher.server.online.workers import WorkerGone

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
MAX_BODY_BYTES = 100 * 1024 * 1024
DEPLOYMENT_HEADER = "azureml-model-deployment"
_JSON = b"application/json"


@dataclass
class ServedEndpoint:
    """An endpoint as the front serves it now (replaced whole when its configuration changes)."""

    name: str
    check: Callable[[str], bool]  # is this bearer credential valid for the endpoint
    traffic: dict[str, int]
    mirror: tuple[str, int] | None
    deployments: dict[str, LiveDeployment] = field(default_factory=dict)
    no_code: set[str] = field(default_factory=set)  # deployments serving an MLflow model without a script


class Answer(Exception):
    """An answer the front gives itself (no worker): status, message, extra headers."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or []


class Front:
    """The ASGI app (see the module docstring). ``endpoints`` is kept current by the serving process."""

    def __init__(self, access_log: TextIO | None = None) -> None:
        self.endpoints: dict[str, ServedEndpoint] = {}
        self.mirrors: dict[str, MirrorStats] = {}
        self.metrics = OnlineMetrics(self._worker_pids, self._depths)
        self._access = access_log
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        began = time.monotonic()
        path: str = scope["path"]
        if not path.startswith("/endpoints/"):
            await self._global(path, send)
            return
        name, _, rest = path[len("/endpoints/") :].partition("/")
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        answer_headers = [(b"x-request-id", request_id.encode("latin-1"))]
        deployment = ""
        try:
            endpoint = self.endpoints.get(name)
            if endpoint is None:
                raise Answer(
                    404, f"No online endpoint '{name}' is served here. List them with: thresher online-endpoint list"
                )
            _authorize(endpoint, headers.get("authorization", ""))
            route = "/" + rest
            dialect = _dialect(route, scope["method"])
            if dialect is None:
                await self._meta(endpoint, route, scope, headers, send, answer_headers)
                return
            deployment, live, named = self._pick(endpoint, headers, route)
            if dialect == online_protocol.INVOCATIONS and deployment not in endpoint.no_code:
                raise Answer(404, f"Deployment '{deployment}' runs a scoring script, which answers POST /score only.")
            body = await _read_body(receive)
            request: online_protocol.OnlineRequest = {
                "id": request_id,
                "dialect": dialect,
                "method": scope["method"],
                "path": route,
                "query": scope.get("query_string", b"").decode("latin-1"),
                "headers": headers,
            }
            pending = await self._submit(live, deployment, request, body, began)
            reply, out = pending.future.result()
            status = int(reply.get("status") or 200)
            answer_headers += _reply_headers(reply, deployment, pending, began)
            await _respond(send, status, out, answer_headers)
            self._done(endpoint.name, deployment, status, began, scope, request_id)
            if endpoint.mirror is not None and not named and status == 200:
                self._maybe_mirror(endpoint, request, body, out, (time.monotonic() - began) * 1000)
        except Answer as answer:
            answer_headers += answer.headers
            await _respond(send, answer.status, _message(answer.message), answer_headers)
            self._done(name, deployment, answer.status, began, scope, request_id)

    async def _submit(
        self, live: LiveDeployment, deployment: str, request: online_protocol.OnlineRequest, body: bytes, began: float
    ) -> Any:
        try:
            return await live.submit(request, body, began)
        except Rejected as rejected:
            retry = [(b"retry-after", str(rejected.retry_after).encode())] if rejected.retry_after else []
            self.metrics.rejections.labels(live.key.split("/")[0], deployment, str(rejected.status)).inc()
            raise Answer(rejected.status, rejected.message, retry) from None
        except Expired:
            limits = live.limits
            timeout = int(limits.timeout_s * 1000) if limits else 0
            raise Answer(
                408,
                f"The request took longer than request_timeout_ms ({timeout} ms) on deployment '{deployment}'; a "
                "worker still running it was replaced. Raise request_settings.request_timeout_ms if the model "
                "needs longer.",
            ) from None
        except WorkerGone as gone:
            raise Answer(
                502,
                f"The worker serving the request on deployment '{deployment}' exited ({gone}); a new one is starting. "
                f"Its log: thresher online-deployment get-logs -n {deployment} -e {live.key.split('/')[0]}",
            ) from None

    def _pick(self, endpoint: ServedEndpoint, headers: dict[str, str], route: str) -> tuple[str, LiveDeployment, bool]:
        """(deployment, its live state, whether the caller named it)."""
        named = headers.get(DEPLOYMENT_HEADER)
        if named is None and route.startswith("/v2/models/"):
            model = route[len("/v2/models/") :].split("/", 1)[0]
            named = model if model in endpoint.deployments else None
        if named is not None:
            live = endpoint.deployments.get(named)
            if live is None:
                known = ", ".join(sorted(endpoint.deployments)) or "none"
                raise Answer(404, f"Endpoint '{endpoint.name}' has no deployment '{named}' (deployments: {known}).")
            return named, live, True
        draw, total = random.random() * 100, 0
        for deployment, share in endpoint.traffic.items():
            total += share
            if share and draw < total and deployment in endpoint.deployments:
                return deployment, endpoint.deployments[deployment], False
        if endpoint.traffic:
            raise Answer(
                503,
                f"Endpoint '{endpoint.name}' sends its traffic ({_shares(endpoint.traffic)}) to no deployment that is "
                "served. See: thresher online-deployment list -e " + endpoint.name,
            )
        raise Answer(
            503,
            f"Endpoint '{endpoint.name}' sends no traffic to any deployment. Set it with: thresher online-endpoint "
            f'update -n {endpoint.name} --traffic "<deployment>=100", or name a deployment with the '
            f"{DEPLOYMENT_HEADER} header.",
        )

    def _maybe_mirror(
        self, endpoint: ServedEndpoint, request: online_protocol.OnlineRequest, body: bytes, live: bytes, live_ms: float
    ) -> None:
        assert endpoint.mirror is not None
        deployment, share = endpoint.mirror
        if random.random() * 100 >= share:
            return
        stats = self.mirrors.setdefault(endpoint.name, MirrorStats(deployment))
        if stats.deployment != deployment:
            stats = self.mirrors[endpoint.name] = MirrorStats(deployment)
        target = endpoint.deployments.get(deployment)
        if target is None or not target.serving:
            stats.dropped += 1
            return
        task = asyncio.get_running_loop().create_task(
            self._mirror(endpoint.name, target, deployment, stats, request, body, live, live_ms)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _mirror(
        self,
        endpoint: str,
        target: LiveDeployment,
        deployment: str,
        stats: MirrorStats,
        request: online_protocol.OnlineRequest,
        body: bytes,
        live: bytes,
        live_ms: float,
    ) -> None:
        began = time.monotonic()
        self.metrics.mirrored.labels(endpoint, deployment).inc()
        try:
            pending = await target.submit(request, body, began)
        except Rejected:
            stats.dropped += 1
            return
        except (Expired, WorkerGone):
            stats.failed += 1
            return
        reply, out = pending.future.result()
        if int(reply.get("status") or 200) != 200:
            stats.failed += 1
            return
        stats.add(live, out, live_ms, (time.monotonic() - began) * 1000)

    async def _meta(
        self,
        endpoint: ServedEndpoint,
        route: str,
        scope: Scope,
        headers: dict[str, str],
        send: Send,
        answer_headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Health, readiness, swagger and V2 metadata routes."""
        ready = any(live.serving for live in endpoint.deployments.values())
        if route in ("/", "/ping", "/health", "/v2/health/ready", "/v2/health/live"):
            live_only = route == "/v2/health/live"
            ok = live_only or ready
            await _respond(
                send, 200 if ok else 503, b"Healthy" if ok else _message("No deployment is ready yet."), answer_headers
            )
            return
        if route == "/swagger.json" or (route.startswith("/v2/models/") and scope["method"] == "GET"):
            if route.endswith("/ready"):
                _, live, _ = self._pick(endpoint, headers, route)
                await _respond(send, 200 if live.serving else 503, b"", answer_headers)
                return
            _deployment, live, _ = self._pick(endpoint, headers, route)
            if route == "/swagger.json":
                version = (parse_qs(scope.get("query_string", b"").decode()).get("version") or ["2"])[0]
                op: dict[str, Any] = {"op": "swagger", "version": version}
            else:
                op = {"op": "metadata"}
            document = await live.document(op)
            if set(document) == {"error"}:
                raise Answer(400, f"No {op['op']} document: {document['error']}")
            await _respond(send, 200, json.dumps(document).encode(), [*answer_headers, (b"content-type", _JSON)])
            return
        raise Answer(
            404, f"No route {scope['method']} {route} on an online endpoint; POST /score is the scoring route."
        )

    async def _global(self, path: str, send: Send) -> None:
        if path == "/metrics":
            await _respond(send, 200, self.metrics.render(), [(b"content-type", CONTENT_TYPE.encode())])
        elif path == "/":
            await _respond(send, 200, b"Healthy", [])
        else:
            await _respond(send, 404, _message(f"No route {path}; endpoints are below /endpoints/<name>/."), [])

    def _done(self, endpoint: str, deployment: str, status: int, began: float, scope: Scope, request_id: str) -> None:
        seconds = time.monotonic() - began
        self.metrics.requests.labels(endpoint, deployment, str(status)).inc()
        if deployment:
            self.metrics.latency.labels(endpoint, deployment).observe(seconds)
        if self._access is not None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            client = scope.get("client") or ("-", 0)
            self._access.write(
                f"{stamp} {client[0]} {endpoint} {deployment or '-'} {scope['method']} {scope['path']} {status} "
                f"{seconds * 1000:.2f}ms {request_id}\n"
            )

    def _worker_pids(self) -> list[tuple[str, str, str, int]]:
        return [
            (endpoint.name, deployment, worker.name, worker.pid)
            for endpoint in self.endpoints.values()
            for deployment, live in endpoint.deployments.items()
            for worker in live.workers
        ]

    def _depths(self) -> list[tuple[str, str, int]]:
        return [
            (endpoint.name, deployment, live.pending)
            for endpoint in self.endpoints.values()
            for deployment, live in endpoint.deployments.items()
        ]


def _authorize(endpoint: ServedEndpoint, authorization: str) -> None:
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Answer(
            401,
            f"Endpoint '{endpoint.name}' needs its key: send Authorization: Bearer <key>. Get it with: thresher "
            f"online-endpoint get-credentials -n {endpoint.name}",
            [(b"www-authenticate", b"Bearer")],
        )
    if not endpoint.check(credential.strip()):
        raise Answer(
            401,
            f"The key or token sent is not valid for endpoint '{endpoint.name}' (regenerated, expired, or another "
            f"endpoint's). Get the current one with: thresher online-endpoint get-credentials -n {endpoint.name}",
            [(b"www-authenticate", b'Bearer error="invalid_token"')],
        )


def _dialect(route: str, method: str) -> str | None:
    if route == "/score" and method in ("GET", "POST"):
        return online_protocol.SCORE
    if route == "/invocations" and method == "POST":
        return online_protocol.INVOCATIONS
    if route.startswith("/v2/models/") and route.endswith("/infer") and method == "POST":
        return online_protocol.V2
    return None


def _reply_headers(
    reply: online_protocol.OnlineReply, deployment: str, pending: Any, began: float
) -> list[tuple[bytes, bytes]]:
    timing = reply.get("timing") or {}
    dispatched = pending.dispatched or began
    queue_ms = max(0.0, (dispatched - pending.arrived - pending.batch_s - pending.read_s) * 1000)
    parts = [
        f"parse;dur={timing.get('parse', 0) + pending.read_s * 1000:.3f}",
        f"queue;dur={queue_ms:.3f}",
        f"batch;dur={pending.batch_s * 1000:.3f}",
        f"predict;dur={timing.get('predict', 0):.3f}",
        f"encode;dur={timing.get('encode', 0):.3f}",
        f"total;dur={(time.monotonic() - began) * 1000:.3f}",
    ]
    headers = [(DEPLOYMENT_HEADER.encode(), deployment.encode()), (b"server-timing", ", ".join(parts).encode())]
    if pending.batch_size > 1:
        headers.append((b"x-thresher-batch-size", str(pending.batch_size).encode()))
    for key, value in (reply.get("headers") or {}).items():
        headers.append((key.lower().encode("latin-1"), str(value).encode("latin-1")))
    if not any(key == b"content-type" for key, _ in headers):
        headers.append((b"content-type", _JSON))
    return headers


def _shares(traffic: dict[str, int]) -> str:
    return " ".join(f"{name}={share}" for name, share in traffic.items())


def _message(text: str) -> bytes:
    return json.dumps({"message": text}).encode()


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Answer(
                413, f"The request body is over {MAX_BODY_BYTES // (1024 * 1024)} MiB; send fewer rows per request."
            )
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    if not any(key == b"content-type" for key, _ in headers):
        headers = [*headers, (b"content-type", _JSON if body[:1] in (b"{", b"[") else b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``port`` (0, or taken: any free port).

    Made with ``IPPROTO_TCP`` named: asyncio sets ``TCP_NODELAY`` only on accepted sockets whose protocol
    says TCP, and an accepted socket takes its listener's. Without it every keep-alive answer sent in
    two writes (head, body) waits ~40 ms for the client's delayed ACK (the trap of uvicorn --workers).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in [port, 0] if port else [0]:
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            if candidate == 0:
                raise
            continue
        sock.listen(2048)
        sock.setblocking(False)
        return sock
    raise AssertionError("unreachable")
