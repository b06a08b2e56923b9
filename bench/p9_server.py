"""P9. The server and the queue: jobs submitted per second through the REST API, and claim latency.

1. *Submissions*: a ``thresher server --no-runner`` (jobs are queued, nothing runs them) over a fresh
   workspace with the iris batch deployment of the server tests; ``clients`` threads, each with its own
   keep-alive HTTP connection (P6's lean client: bench/online_load.py), POST ``invocations`` batch-endpoint
   invocations in all (``/api/v1/batch-endpoints/
   iris-batch/jobs`` with an ``Idempotency-Key``, as the CLI sends them). Reported: submissions per
   second (all of them over the wall time) and each request's latency, median and p99. The floor is the
   same invocations made in-process with the local SDK (``ws.jobs.invoke(..., start_runner=False)``) by
   as many threads: what HTTP, authentication and idempotency add. Every job is checked queued once.
   Both on the workspace's SQLite database and on a durable PostgreSQL.
2. *Claim latency*: ``bench/p9_claims.py`` (4 ``thresher runner``s on a durable PostgreSQL, waking on
   ``LISTEN``): from a job queued to a runner holding it, p50 and p99.

    python -m bench.p9_server --reps 3
    python -m bench.p9_server --smoke
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench import common, online_load

CONTENDERS = ("rest", "sdk")
GOAL_SUBMISSIONS_PER_S = 500.0
GOAL_CLAIM_P99_MS = 50.0
NOTE_WHERE_TIME_GOES = (
    "Where a submission's time goes (profiled on this 2-core machine). In-process, `ws.jobs.invoke` took 3 to 4 ms: "
    "five read transactions for the endpoint, deployment, model, compute and datastore (1.5 ms), parsing the "
    "deployment's spec (0.15 ms), ten mkdirs for the job's folder and one durable commit (about 1 ms); now about "
    "1 ms: what an invocation reads is kept per request shape and checked by its rows' revision inside the job's "
    "own insert (one transaction per submission), the folder is four mkdirs (the runner makes the rest), and the "
    "jobs that a process's threads queue at the same moment share one commit. Through the server, every request "
    "of a --workers 2 server waited 40 ms for the client's delayed acknowledgement (uvicorn's shared socket had "
    "no TCP_NODELAY), and the token check and the idempotency key were two more read transactions on pool "
    "threads; now accepted tokens are kept (a revocation by another process is seen within 0.25 s) and the key "
    "is checked by the insert itself. Then the load generator: httpx took 0.6 to 0.8 ms of CPU per request on the "
    "cores the server needs; P6's socket client takes 0.1 ms. An ordinary invocation is now answered before "
    "FastAPI's routing and dependency solving (thresher/server/express.py), the job's answer is written by orjson, "
    "and the server runs on uvloop: 2.2 to 2.4 ms of server CPU per submission, measured from /proc with one server "
    "process. One process does more than two here (SQLite lets one process write at a time and has the other sleep "
    "while it waits; PostgreSQL's own processes need the same two cores). What is left is the invocation itself "
    "(resolving and checking the input path, the job's spec, the insert with its idempotency key: about 60% of the "
    "time the server holds the GIL) and uvicorn's request handling; this machine's run to run noise is about 20%."
)
# `thresher server --workers`: one. On these 2 cores two processes did less, on both databases: 488 against
# 546-584 submissions/s on SQLite, which lets one process write at a time and has the other sleep in steps of
# 1 to 100 ms while it waits; 369-393 against 385-448 on PostgreSQL, whose own processes need the cores too.
SERVER_WORKERS = 1


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def _deploy(work: Path, database_url: str | None) -> tuple[Any, Path]:
    """A workspace with the iris deployment; its settings and the data folder."""
    from tests.server.conftest import iris_project
    from thresher.sdk import Workspace
    from thresher.settings import load_settings
    from thresher.specs import load_spec

    project, _expected = iris_project(work / "iris", files=2)
    overrides: dict[str, Any] = {"home": work / "ws", "server": None}
    if database_url:
        overrides["database_url"] = database_url
    settings = load_settings(**overrides)
    with Workspace(settings=settings) as ws:
        ws.models.create(load_spec(_model_yaml(project), "model"))
        ws.computes.create(load_spec(_compute_yaml(project), "compute"))
        ws.batch_endpoints.create(load_spec(project / "endpoint.yml", "batch_endpoint"))
        ws.batch_deployments.create(load_spec(project / "deployment.yml", "batch_deployment"), set_default=True)
    return settings, project / "data"


def _model_yaml(project: Path) -> Path:
    path = project / "model.yml"
    path.write_text("name: iris-classifier\npath: model\n")
    return path


def _compute_yaml(project: Path) -> Path:
    path = project / "compute.yml"
    path.write_text("name: cpu\ntype: local\nmax_workers: 2\n")
    return path


def _threads(count: int, clients: int, call: Any) -> tuple[float, list[float]]:
    """``count`` calls of ``call(index)`` spread over ``clients`` threads: wall seconds and latencies (ms)."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    per = [list(range(c, count, clients)) for c in range(clients)]

    def work(indexes: list[int]) -> None:
        mine = []
        try:
            for index in indexes:
                started = time.perf_counter()
                call(index)
                mine.append((time.perf_counter() - started) * 1000)
        except BaseException as error:  # raised in the caller, once every thread ended
            errors.append(error)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(indexes,)) for indexes in per]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, latencies


def measure_rest(work: Path, invocations: int, clients: int, database_url: str | None) -> dict[str, Any]:
    """Invocations through a real server's REST API."""
    from tests.thresher_server import ThresherServer

    settings, data = _deploy(work, database_url)
    env = {"THRESHER_DATABASE_URL": database_url} if database_url else {}
    server = ThresherServer(settings.home, env=env)
    server.start("--no-runner", "--workers", str(SERVER_WORKERS))
    try:
        from thresher.sdk.remote import connect

        uploader = connect(server.url, server.token)
        path = uploader.local(str(data))
        uploader.close()
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        head = (
            f"POST /api/v1/batch-endpoints/iris-batch/jobs HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
        ).encode()
        body = json.dumps({"input": path}).encode()
        sockets = [online_load.connect(host, int(port)) for _ in range(clients)]
        buffers = [bytearray() for _ in range(clients)]
        names: list[str] = []

        def invoke(index: int) -> None:
            # One keep-alive connection per client, an Idempotency-Key per request, as the CLI sends them; the
            # request is written and its answer framed by bench/online_load.py (no HTTP library: P6's lean client).
            key = uuid.uuid4().hex
            request = head + f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
            answer = online_load.exchange(sockets[index % clients], request, buffers[index % clients])
            if answer.status != 201:
                raise RuntimeError(f"invocation {index}: {answer.status} {answer.body[:300]!r}")
            names.append(json.loads(answer.body)["name"])

        for index in range(min(20, invocations)):  # warm: connections, imports on the server's side
            invoke(index)
        names.clear()
        seconds, latencies = _threads(invocations, clients, invoke)
        for sock in sockets:
            sock.close()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}) as session:
            listed = session.get("/api/v1/jobs", params={"limit": invocations + 100}).json()
    finally:
        server.stop()
    if len(set(names)) != invocations or len(listed) != invocations + min(20, invocations):
        raise RuntimeError(f"{len(set(names))} jobs answered and {len(listed)} listed for {invocations} invocations")
    return {"seconds": seconds, "latencies": latencies}


def measure_sdk(work: Path, invocations: int, clients: int, database_url: str | None) -> dict[str, Any]:
    """The same invocations in-process with the local SDK (the floor)."""
    from thresher.sdk import Workspace

    settings, data = _deploy(work, database_url)
    with Workspace(settings=settings) as ws:
        for _ in range(min(20, invocations)):
            ws.jobs.invoke("iris-batch", input=str(data), start_runner=False)
        seconds, latencies = _threads(
            invocations, clients, lambda _i: ws.jobs.invoke("iris-batch", input=str(data), start_runner=False)
        )
        total = len(ws.jobs.list(limit=None))
    if total != invocations + min(20, invocations):
        raise RuntimeError(f"{total} jobs listed for {invocations} invocations")
    return {"seconds": seconds, "latencies": latencies}


def main_bench(options: argparse.Namespace) -> dict[str, Any]:
    from bench.p9_claims import measure_claims

    invocations = 30 if options.smoke else 1_000
    clients = 8
    reps = 1 if options.smoke else options.reps
    work = common.work_dir("p9", options.work, smoke=options.smoke)
    results: dict[str, list[dict[str, Any]]] = {}
    server = None
    try:
        from bench.p7_control_plane import start_postgres

        server, skipped = start_postgres()
        if server is None:
            print(f"  {skipped}", file=sys.stderr)
        for rep in range(reps):
            for database in ("sqlite", "postgres"):
                if database == "postgres" and server is None:
                    continue
                for contender, measure in (("rest", measure_rest), ("sdk", measure_sdk)):
                    url = server.create_database(f"p9_{contender}_{rep}") if database == "postgres" else None
                    folder = work / f"{database}-{contender}-{rep}"
                    shutil.rmtree(folder, ignore_errors=True)
                    result = measure(folder, invocations, clients, url)
                    results.setdefault(f"{contender}_{database}", []).append(result)
                    rate = invocations / result["seconds"]
                    print(
                        f"  {contender} on {database}, run {rep + 1}: {rate:,.0f} submissions/s, p50 "
                        f"{statistics.median(result['latencies']):.1f} ms, p99 "
                        f"{_percentile(result['latencies'], 0.99):.1f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
        claims = [measure_claims(20 if options.smoke else 200, 4) for _ in range(reps)]
    finally:
        if server is not None:
            server.stop()

    def figures(key: str) -> tuple[float | None, float | None, float | None]:
        runs = results.get(key)
        if not runs:
            return None, None, None
        rate = statistics.median(invocations / r["seconds"] for r in runs)
        p50 = statistics.median(statistics.median(r["latencies"]) for r in runs)
        p99 = statistics.median(_percentile(r["latencies"], 0.99) for r in runs)
        return rate, p50, p99

    rows = []
    for key, label in (
        ("rest_sqlite", "REST API, SQLite"),
        ("sdk_sqlite", "local SDK in-process (floor), SQLite"),
        ("rest_postgres", "REST API, PostgreSQL"),
        ("sdk_postgres", "local SDK in-process (floor), PostgreSQL"),
    ):
        rate, p50, p99 = figures(key)
        if rate is not None:
            rows.append([label, common.rounded(rate), common.rounded(p50, 2), common.rounded(p99, 2)])
    rest_rate, rest_p50, rest_p99 = figures("rest_sqlite")
    pg_rate, _pg_p50, _pg_p99 = figures("rest_postgres")
    claim_p50 = statistics.median(c["claim_p50_ms"] for c in claims)
    claim_p99 = statistics.median(c["claim_p99_ms"] for c in claims)
    best_rate = max(r for r in (rest_rate, pg_rate) if r is not None)
    size = "smoke sizes: " if options.smoke else ""
    section: dict[str, Any] = {
        "verified": True,
        "title": "Server: submissions and claims",
        "description": (
            f"{invocations:,} batch-endpoint invocations through a `thresher server --no-runner --workers "
            f"{SERVER_WORKERS}` (queued only) from "
            f"{clients} concurrent HTTP clients (one keep-alive connection each, written and read by P6's socket "
            "client, an Idempotency-Key per request, as the CLI "
            "sends), beside the same invocations made in-process with the local SDK by as many threads; on the "
            "workspace's SQLite and on a durable PostgreSQL. Every invocation is checked to have queued exactly one "
            "job. Claim latency: `bench/p9_claims.py`, 4 `thresher runner` processes on a durable PostgreSQL waking "
            "on LISTEN, from a job's row inserted to a runner holding it."
        ),
        "reps": reps,
        "invocations": invocations,
        "clients": clients,
        "smoke_sizes": bool(options.smoke),
        "submissions_per_s": common.rounded(best_rate),
        "submissions_per_s_sqlite": common.rounded(rest_rate),
        "submissions_per_s_postgres": common.rounded(pg_rate),
        "submit_p50_ms": common.rounded(rest_p50, 2),
        "submit_p99_ms": common.rounded(rest_p99, 2),
        "claim_p50_ms": common.rounded(claim_p50, 2),
        "claim_p99_ms": common.rounded(claim_p99, 2),
        "figures": ["submissions_per_s", "submit_p50_ms", "submit_p99_ms", "claim_p50_ms", "claim_p99_ms"],
        "commands": [
            f"python -m bench.p9_server --reps {reps}" + (" --smoke" if options.smoke else ""),
            f"python -m bench.p9_claims --jobs {20 if options.smoke else 200} --runners 4 --reps {reps}",
        ],
        "tables": [
            {
                "title": f"Invocations from {clients} clients (medians of {reps})",
                "columns": ["contender", "submissions per second", "latency p50 ms", "latency p99 ms"],
                "rows": rows,
            }
        ],
        "notes": [
            "`p9.submissions_per_s` is the better of the two databases through the REST API; "
            "`p9.submit_p50_ms`/`p99` are on SQLite. Each invocation reads the endpoint and deployment, checks "
            "the input, makes the job's folder and queues the job, as `batch-endpoint invoke` does.",
            NOTE_WHERE_TIME_GOES,
        ],
        "targets": [
            common.target(
                f"{size}more than {GOAL_SUBMISSIONS_PER_S:g} submissions per second through the REST API",
                f"{best_rate:,.0f}/s",
                best_rate > GOAL_SUBMISSIONS_PER_S,
            ),
            common.target(
                f"{size}claim latency p99 under {GOAL_CLAIM_P99_MS:g} ms with 4 runners on PostgreSQL",
                f"{claim_p99:.1f} ms",
                claim_p99 < GOAL_CLAIM_P99_MS,
            ),
        ],
    }
    return section


def main() -> None:
    parser = common.arguments((__doc__ or "p9").splitlines()[0], CONTENDERS)
    options = parser.parse_args()
    section = main_bench(options)
    common.save_section(common.results_path(options), "p9", section)
    print({k: section[k] for k in section["figures"]})


if __name__ == "__main__":
    main()
