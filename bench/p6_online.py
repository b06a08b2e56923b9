"""P6. Online endpoints: thresher's no-code MLflow deployments against the self-hosted peers, same model, same bodies.

    python -m bench.p6_online --reps 3                       # what `make bench` runs (installs the peers' venvs)
    python -m bench.p6_online --smoke --no-venv-peers        # tiny, as tests/bench/test_smoke.py runs it
    python -m bench.p6_online --contenders floor,mlflow_serve --duration 3

The model: a HistGradientBoostingRegressor (100 iterations) on 20 float features (synthetic, numpy),
saved with ``mlflow.sklearn.save_model`` (cloudpickle, a signature and an input example). Contenders,
each its own process tree, started, waited for until its first 200 on a real scoring request (that wait
is its start time), checked to return the model's own predictions for every body format it takes, then
loaded, then stopped; repetitions interleaved; one math thread per process (``OMP_NUM_THREADS=1``):

- ``null``: a server answering every request at once (bench/online_load.py): weighs the load generator;
- ``floor``: a bare ASGI app under uvicorn (httptools, 1 process) doing json -> DataFrame -> pyfunc predict
  -> json (bench/online_floor.py);
- ``azmlinfsrv_w1``/``_w2``: Azure's ``azureml-inference-server-http`` with a ``score.py`` loading the same
  model, 1 and 2 workers (``WORKER_COUNT``), in its own venv;
- ``mlflow_serve``: ``mlflow models serve --env-manager local -w 1``;
- ``mlserver``/``mlserver_batching``: MLServer 1.7.1 with mlserver-mlflow, V2 REST, without and with
  adaptive batching (16 requests / 2 ms), in its own venv (``uvloop<0.22``); skipped, with the reason,
  where it does not run;
- ``thresher``: an online endpoint (``auth_mode: key``) made with ``thresher online-endpoint create`` and
  two no-code MLflow deployments made with ``thresher online-deployment create``: ``w1`` (all traffic,
  ``WORKER_COUNT`` 1) and ``w2`` (``WORKER_COUNT`` 2, reached with the ``azureml-model-deployment`` header).

Bodies: Azure's ``{"input_data": {"columns", "data"}}`` to ``/score`` (floor, azmlinfsrv, thresher),
MLflow's ``dataframe_split`` to ``/invocations`` (mlflow serve; also measured on the floor and thresher),
V2 columnar (MLServer), CSV to ``/invocations`` (floor, mlflow serve, thresher); Parquet where a server
takes it (probed). Load: bench/online_load.py, closed loop, N keep-alive connections, ``--warmup`` then
``--duration`` seconds per cell.

Figures (``bench/results.json``, section ``p6``; thresher's, so None when it was not run):

- ``p50_overhead_ms``: thresher w1's p50 minus the floor's, c=1, 1-row JSON (goal <= 0.3 ms);
- ``speedup_vs_azure_server`` / ``_vs_mlflow_serve`` / ``_vs_mlserver_batching``: thresher w2's req/s at
  c=8 with 1-row JSON over azmlinfsrv w2's, mlflow serve's, MLServer-with-batching's (goals 1.1, 5, 1);
- ``p99_ms_c8``: thresher w2's p99 at c=8, 1 row (goal <= 30 ms);
- ``cold_start_s``: ``online-deployment create`` of the second deployment (w2) to its first 200 through the
  header, the environment already built (goal <= 3 s);
- ``rows_ratio_min``: the lowest over body sizes and formats of thresher w1's rows/s at c=8 over bare
  in-process pyfunc predict's (goal >= 0.8);
- ``memory_ratio``: RSS of a thresher worker over the floor's process (goal <= 1.1).

Smoke runs (``--smoke``): 1-second cells, c=1 and c=2 (c=2 stands for c=8), 1- and 10-row bodies, the
CSV and Parquet cells for thresher w1 only (every server's every format is still checked once), thresher's
workers in this interpreter (no environment built), no busy-machine check. A full run refuses to measure
(exit 3, saying which processes keep the cores busy) when the cores stay busier than ``--busy-limit``
(0.15) for ``--patience`` (300 s) before a contender.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import common, online_load
from bench import online_peers as peers
from bench.online_peers import Route
from bench.online_report import Cell, Runs, plan, section
from bench.online_thresher import Scoring, ThresherOnline

ALL = ("null", *peers.PEERS, "thresher")
VENV_PEERS = tuple(name for name, peer in peers.PEERS.items() if peer.venv)
FEATURES = [f"f{index:02d}" for index in range(20)]
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")


class Busy(RuntimeError):
    """The machine stayed busy: the benchmark refuses to measure."""


# -- model and bodies -----------------------------------------------------------------------------


@functools.cache
def rows(count: int) -> Any:
    """The first ``count`` of 10,000 fixed rows of 20 float features (6 decimals, as a client would send)."""
    import numpy as np
    import pandas as pd

    values = np.random.default_rng(6).normal(size=(max(count, 10_000), len(FEATURES))).round(6)
    return pd.DataFrame(values[:count], columns=FEATURES)


def prepare(work: Path) -> Path:
    """The MLflow model (cached): HGB-100 on 20 synthetic features, cloudpickle, signature, input example."""

    def build(folder: Path) -> None:
        import mlflow.sklearn
        import pandas as pd
        from mlflow.models import infer_signature
        from sklearn.datasets import make_regression
        from sklearn.ensemble import HistGradientBoostingRegressor

        x, y = make_regression(n_samples=5_000, n_features=len(FEATURES), n_informative=12, noise=10, random_state=0)
        frame = pd.DataFrame(x, columns=FEATURES)
        model = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(frame, y)
        folder.rmdir()  # save_model makes it
        mlflow.sklearn.save_model(
            model,
            str(folder),
            serialization_format="cloudpickle",  # skops, MLflow's default, refuses HistGradientBoosting's trees
            signature=infer_signature(frame.head(100), model.predict(frame.head(100))),
            input_example=frame.head(3),
        )

    key = {"model": "p6-hgb-100-20f", "mlflow": metadata.version("mlflow-skinny"), "sklearn": peers.pinned()}
    return common.cached(work / "model", key, build)


def encode(family: str, frame: Any) -> tuple[bytes, str]:
    """The body of ``frame`` in a family: ``azure``, ``mlflow`` (dataframe_split), ``v2``, ``csv``, ``parquet``."""
    split = {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}
    if family == "azure":
        return json.dumps({"input_data": split}).encode(), "application/json"
    if family == "mlflow":
        return json.dumps({"dataframe_split": split}).encode(), "application/json"
    if family == "v2":
        inputs = [
            {"name": name, "shape": [len(frame)], "datatype": "FP64", "data": frame[name].tolist()} for name in frame
        ]
        return json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode(), "application/json"
    if family == "csv":
        return frame.to_csv(index=False).encode(), "text/csv"
    if family == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue(), PARQUET_TYPES[0]
    raise ValueError(family)


def predictions(body: bytes) -> list[float]:
    """The predictions in any server's answer: a list, ``{"predictions": ...}`` or V2 ``outputs``."""
    value: Any = json.loads(body)
    if isinstance(value, dict):
        value = value["outputs"][0]["data"] if "outputs" in value else value["predictions"]
    flat: list[float] = []
    for item in value:
        flat.extend(item if isinstance(item, list) else [item])
    return [float(item) for item in flat]


# -- what is loaded -------------------------------------------------------------------------------


@dataclass
class Target:
    """A server being measured: its port, routes by body format, and the headers every request carries."""

    name: str
    label: str
    port: int
    routes: dict[str, Route]
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_types: dict[str, str] = field(default_factory=dict)  # format -> Content-Type, where not the default

    def request(self, fmt: str, frame: Any) -> bytes:
        """The raw HTTP/1.1 request of ``frame`` in format ``fmt``."""
        route = self.routes[fmt]
        body, content_type = encode(route.family, frame)
        lines = [f"POST {route.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"Content-Type: {self.content_types.get(fmt, content_type)}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Bench:
    """The run's settings and what it collects."""

    options: argparse.Namespace
    work: Path
    model: Path
    cells: list[Cell]
    runs: Runs = field(default_factory=Runs)
    expected: Any = None  # the pyfunc model, loaded here to check answers

    def quiet(self) -> None:
        """Wait for a quiet machine before a contender; Busy when it stays busy (never in smoke runs)."""
        if self.options.smoke:
            return
        limit, deadline = self.options.busy_limit, time.monotonic() + self.options.patience
        while (busy := common.busy_fraction()) > limit:
            if time.monotonic() > deadline:
                why = "; ".join(peers.busiest()) or "no single process stands out"
                raise Busy(
                    f"P6 refuses to measure: the machine stayed {busy:.0%} busy for {self.options.patience:g} s "
                    f"(limit {limit:.0%}, --busy-limit). Busiest now: {why}"
                )
            print(f"  waiting for a quiet machine ({busy:.0%} busy)", file=sys.stderr, flush=True)
            time.sleep(2.0)
        common.BUSY_BEFORE_RUNS.append(busy)

    def verify(self, target: Target) -> None:
        """Each route answers the model's own predictions for a 10-row body; BenchError otherwise."""
        import numpy as np

        frame = rows(10)
        wanted = self.expected.predict(frame)
        for fmt in target.routes:
            answer = exchange_once(target.port, target.request(fmt, frame))
            if answer.status != 200:
                raise common.BenchError(f"{target.label}, {fmt}: {answer.status} {answer.body[:500]!r}")
            got = predictions(answer.body)
            if not np.allclose(got, wanted, rtol=1e-6, atol=1e-6):
                raise common.BenchError(f"{target.label}, {fmt}: predictions {got[:3]} differ from {wanted[:3]}")

    def probe_parquet(self, target: Target, invocations: str) -> None:
        """Whether ``target`` takes a Parquet body on /invocations; if so, its ``parquet`` route."""
        import numpy as np

        frame, said = rows(10), []
        for content_type in PARQUET_TYPES:
            probe = Target(target.name, target.label, target.port, {"parquet": Route(invocations, "parquet")})
            probe.headers, probe.content_types = target.headers, {"parquet": content_type}
            answer = exchange_once(target.port, probe.request("parquet", frame))
            if answer.status == 200 and np.allclose(predictions(answer.body), self.expected.predict(frame)):
                target.routes["parquet"], target.content_types["parquet"] = Route(invocations, "parquet"), content_type
                self.runs.probes[target.name] = f"takes Parquet ({content_type})"
                return
            said.append(f"{content_type}: {answer.status} {answer.body[:120].decode(errors='replace')}")
        self.runs.probes[target.name] = "no Parquet: " + "; ".join(said)

    def _generate(self, target: Target, cell: Cell, path: Path, duration: float) -> dict[str, Any]:
        """One load generator process on ``cell``'s request in ``path``: its figures."""
        command = [sys.executable, "-m", "bench.online_load", "run", "--port", str(target.port)]
        command += ["--request", str(path), "--connections", str(cell.connections)]
        command += ["--duration", str(duration), "--warmup", str(self.options.warmup)]
        done = subprocess.run(
            command,
            cwd=common.REPO,
            env=common.baseline_env(),
            capture_output=True,
            text=True,
            timeout=duration + self.options.warmup + 300,
            check=False,
        )
        if done.returncode != 0:
            raise common.BenchError(f"the load generator failed on {target.label}: {done.stderr[-2000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        figures["rows_per_s"] = figures["ok"] * cell.rows / figures["duration_s"]
        return figures

    def load(self, target: Target) -> None:
        """Every cell that applies to ``target``, one load generator process each."""
        self.runs.labels.setdefault(target.name, target.label)
        for cell in self.cells:
            if cell.fmt not in target.routes or (target.name == "null" and cell.rows > 1):
                continue
            if self.options.smoke and (cell.fmt, cell.rows) != ("json", 1) and target.name != "thresher_w1":
                continue  # smoke: bodies of every format are checked by verify(); thresher w1's make rows_ratio_min
            path = self.work / "requests" / f"{target.name}-{cell.key}.http"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(target.request(cell.fmt, rows(cell.rows)))
            figures = self._generate(target, cell, path, self.options.duration)
            if figures["ok"] == 0 and self.options.smoke:
                # a smoke cell is a second long: on a machine that every benchmark of the suite shares at once,
                # no answer may come in it; a longer window tells a slow server from one that does not answer
                figures = self._generate(target, cell, path, 10 * self.options.duration)
            if figures["ok"] == 0:
                raise common.BenchError(f"{target.label}, {cell.key}: no 2xx answer: {figures}")
            self.runs.cells.setdefault(target.name, {}).setdefault(cell.key, []).append(figures)
            print(
                f"    {target.name} {cell.key}: {figures['req_per_s']:.0f} req/s, p50 {figures['p50_ms']:.2f} ms, "
                f"p99 {figures['p99_ms']:.2f} ms, statuses {figures['statuses']}",
                file=sys.stderr,
                flush=True,
            )


def exchange_once(port: int, request: bytes) -> online_load.Answer:
    """One request on a fresh connection."""
    with online_load.connect("127.0.0.1", port, timeout=120) as sock:
        return online_load.exchange(sock, request, bytearray())


# -- contenders -----------------------------------------------------------------------------------


def run_bare(args: dict[str, Any]) -> None:
    """In-process predict, no HTTP: median seconds per call of pyfunc's and the bare scikit-learn model's."""
    import cloudpickle
    import mlflow.pyfunc

    pyfunc = mlflow.pyfunc.load_model(args["model"])
    with open(Path(args["model"]) / "model.pkl", "rb") as handle:
        raw = cloudpickle.load(handle)
    timed: dict[str, dict[str, float]] = {"pyfunc": {}, "sklearn": {}}
    for size in args["sizes"]:
        frame = rows(size)
        for name, model in (("pyfunc", pyfunc), ("sklearn", raw)):
            for _ in range(3):  # warm
                model.predict(frame)
            seconds: list[float] = []
            budget = time.monotonic() + args["seconds"]
            while len(seconds) < 3 or time.monotonic() < budget:
                began = time.perf_counter()
                model.predict(frame)
                seconds.append(time.perf_counter() - began)
            timed[name][str(size)] = common.median(seconds)
    common.report(**timed)


def measure_null(bench: Bench, rep: int) -> None:
    port = peers.free_port()
    command = [sys.executable, "-m", "bench.online_load", "null-server", "--port", str(port)]
    log = (bench.work / "logs" / f"null-{rep}.log").open("wb")
    process = subprocess.Popen(command, cwd=common.REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = peers.Started(process, port, bench.work / "logs" / f"null-{rep}.log", handles=[log])
    try:
        target = Target("null", "null server (answers at once)", port, {"json": Route("/score", "azure")})
        peers.wait_for_200(port, target.request("json", rows(1)), alive=lambda: None, timeout=30)
        bench.load(target)
    finally:
        server.stop()


def measure_peer(bench: Bench, peer: peers.Peer, bins: dict[str, Path], rep: int) -> None:
    def probe(port: int) -> bytes:
        return Target(peer.name, peer.label, port, peer.routes()).request("json", rows(1))

    started = peers.start(peer, bench.work, bench.model, bins, probe, rep)
    try:
        target = Target(peer.name, peer.label, started.port, peer.routes())
        bench.verify(target)
        if peer.csv is not None:  # an /invocations route: does it take Parquet too (mlflow 3 does)
            bench.probe_parquet(target, peer.csv.path)
        bench.runs.start_s.setdefault(peer.name, []).append(started.start_s)
        bench.load(target)
        bench.runs.memory.setdefault(peer.name, []).append(peers.memory(peers.tree([started.process.pid])))
    finally:
        started.stop()


def measure_thresher(bench: Bench, thresher: ThresherOnline, rep: int) -> None:
    """Endpoint, w1 (all traffic) loaded, then w2 created (the cold start) and loaded, endpoint deleted."""
    thresher.create_endpoint()
    try:
        scoring: Scoring | None = None
        seen: list[int] = []
        for name, workers in (("w1", 1), ("w2", 2)):
            began = time.monotonic()
            creating = thresher.start_deployment(name, workers, all_traffic=name == "w1")
            alive = functools.partial(thresher.create_note, creating, name)
            scoring = scoring or wait_scoring(thresher, alive)
            routes = {"json": Route(scoring.score_path, "azure"), "split": Route(scoring.invocations_path, "mlflow")}
            routes["csv"] = Route(scoring.invocations_path, "csv")
            headers = [("Authorization", f"Bearer {scoring.key}"), ("azureml-model-deployment", name)]
            label = f"thresher, no-code MLflow, {workers} worker{'s' * (workers > 1)}"
            target = Target(f"thresher_{name}", label, scoring.port, routes, headers)
            # The first deployment may build the model's environment (not in smoke runs: this Python).
            timeout = peers.START_TIMEOUT * (4 if name == "w1" else 1)
            peers.wait_for_200(scoring.port, target.request("json", rows(1)), alive=alive, timeout=timeout)
            bench.runs.start_s.setdefault(target.name, []).append(time.monotonic() - began)
            if creating.wait(timeout=300) != 0:
                raise common.BenchError(str(alive()))
            bench.verify(target)
            bench.probe_parquet(target, scoring.invocations_path)
            bench.load(target)
            workers_now = [pid for pid in thresher.workers() if pid not in seen]
            sample = peers.memory(workers_now)
            sample["rss_total_mb"] = sum(peers.rss_mb(pid) for pid in peers.tree(thresher.processes()))
            bench.runs.memory.setdefault(target.name, []).append(sample)
            seen += workers_now
    finally:
        thresher.delete()


def wait_scoring(thresher: ThresherOnline, failed: Callable[[], str | None], timeout: float = 120.0) -> Scoring:
    """The endpoint's scoring address and key, once ``online-endpoint show`` gives a ``scoring_uri``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return thresher.scoring()
        except common.BenchError:
            if (note := failed()) is not None:
                raise common.BenchError(note) from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- the benchmark --------------------------------------------------------------------------------


def choose(options: argparse.Namespace) -> list[str]:
    """The contenders to run, in ALL's order."""
    wanted = set(options.contenders.split(",")) if options.contenders else set(ALL)
    unknown = wanted - set(ALL)
    if unknown:
        raise SystemExit(f"--contenders: unknown {sorted(unknown)}; choose from {', '.join(ALL)}")
    if options.no_venv_peers:
        wanted -= set(VENV_PEERS)
    return [name for name in ALL if name in wanted]


def main_bench(options: argparse.Namespace) -> dict[str, Any]:
    import mlflow.pyfunc

    reps = 1 if options.smoke else options.reps
    work = common.work_dir("p6", options.work, smoke=options.smoke)
    selected = choose(options)
    thresher = None
    if "thresher" in selected:  # before anything is built: a missing CLI fails at once
        thresher = ThresherOnline(work, work / "model", this_python=options.smoke)
        thresher.check()
    model = prepare(work)
    (work / "logs").mkdir(exist_ok=True)
    cells, high, sizes = plan(options.smoke)
    bench = Bench(options, work, model, cells, expected=mlflow.pyfunc.load_model(str(model)))
    for name in set(VENV_PEERS) - set(selected):
        bench.runs.skipped[name] = "not selected (--no-venv-peers or --contenders)"
    bins: dict[str, Path] = {}
    for venv in sorted({peers.PEERS[name].venv or "" for name in selected if name in peers.PEERS} - {""}):
        try:
            bins[venv] = peers.ensure_venv(work, venv)
        except common.BenchError as error:
            for name in VENV_PEERS:
                if peers.PEERS[name].venv == venv:
                    bench.runs.skipped[name] = f"its venv could not be installed: {error}"
    if thresher is not None:
        thresher.prepare()
    bare = common.Contender(
        "bare", "predict in-process", "bench.p6_online", {"model": str(model), "sizes": list(sizes), "seconds": 2.0}
    )
    if options.smoke:
        bare.params["seconds"] = 0.2
    bare_runs: list[dict[str, Any]] = []
    for rep in range(reps):
        bench.quiet()
        bare_runs.append(common.run(bare).report)
        for name in selected:
            if name in bench.runs.skipped:
                continue
            bench.quiet()
            print(f"  rep {rep + 1}/{reps}: {name}", file=sys.stderr, flush=True)
            began = time.monotonic()
            if name == "null":
                measure_null(bench, rep)
            elif name == "thresher":
                assert thresher is not None
                measure_thresher(bench, thresher, rep)
            else:
                try:
                    measure_peer(bench, peers.PEERS[name], bins, rep)
                except common.BenchError as error:
                    if peers.PEERS[name].venv is None:
                        raise
                    bench.runs.skipped[name] = f"did not run: {' '.join(str(error).split())[:600]}"
                    print(f"  {name} skipped: {bench.runs.skipped[name]}", file=sys.stderr, flush=True)
            print(f"  ({name}: {time.monotonic() - began:.1f} s)", file=sys.stderr, flush=True)
    return section(bench.runs, bench.cells, options, work, selected, bare_runs, (high, sizes), bare, ALL)


def main() -> None:
    parser = common.arguments((__doc__ or "p6").splitlines()[0], ("bare",))
    parser.add_argument("--contenders", default="", help=f"comma-separated, of: {', '.join(ALL)} (default all)")
    parser.add_argument("--no-venv-peers", action="store_true", help=f"skip {', '.join(VENV_PEERS)} (no venv)")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per cell (5; smoke 0.8)")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured seconds first (2; smoke 0.2)")
    parser.add_argument("--busy-limit", type=float, default=0.15, help="refuse when the cores stay busier")
    parser.add_argument("--patience", type=float, default=300.0, help="seconds to wait for a quiet machine")
    options = parser.parse_args()
    if options.contender:
        run_bare(json.loads(options.args))
        return
    if options.duration is None:
        options.duration = 0.8 if options.smoke else 5.0
    if options.warmup is None:
        options.warmup = 0.2 if options.smoke else 2.0
    try:
        section = main_bench(options)
    except Busy as busy:
        print(str(busy), file=sys.stderr, flush=True)
        sys.exit(3)
    common.save_section(common.results_path(options), "p6", section)
    for target in section["targets"]:
        print(f"  {'met' if target['met'] else 'MISSED'}: {target['target']}: {target['measured']}", file=sys.stderr)
    print(json.dumps({k: section[k] for k in section["figures"]}, indent=2))


if __name__ == "__main__":
    main()
