"""P6's report: the cells it measures, what they gave, and results.json's section made of them.

The figures, tables, goals (issue 13's, met or missed) and notes that ``docs/benchmarks.md`` shows; see
bench/p6_online.py for what each figure means.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench import online_peers as peers

GOAL_OVERHEAD_MS, GOAL_VS_AZURE, GOAL_VS_MLFLOW, GOAL_P99_MS = 0.3, 1.1, 5.0, 30.0
GOAL_COLD_S, GOAL_ROWS, GOAL_MEMORY = 3.0, 0.8, 1.1


@dataclass(frozen=True)
class Cell:
    """One load: body format, rows per body, connections."""

    fmt: str
    rows: int
    connections: int

    @property
    def key(self) -> str:
        return f"{self.fmt}-{self.rows}-c{self.connections}"


def plan(smoke: bool) -> tuple[list[Cell], int, tuple[int, ...]]:
    """The cells, the high concurrency and the body sizes (smoke runs: CSV and Parquet at 10 rows only)."""
    high, sizes = (2, (1, 10)) if smoke else (8, (1, 100, 10_000))
    cells = [Cell("json", 1, 1), *(Cell("json", n, high) for n in sizes), Cell("split", 1, high)]
    cells += [Cell(fmt, n, high) for fmt in ("csv", "parquet") for n in sizes if n > 1 or not smoke]
    return cells, high, sizes


@dataclass
class Runs:
    """Every measurement, by target: per cell, the load generator's figures of each repetition."""

    cells: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    start_s: dict[str, list[float]] = field(default_factory=dict)
    memory: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    probes: dict[str, str] = field(default_factory=dict)

    def median(self, target: str, key: str, metric: str) -> float | None:
        values = [run[metric] for run in self.cells.get(target, {}).get(key, []) if run.get(metric) is not None]
        return common.median(values) if values else None


FAMILIES = {
    "azure": 'Azure `{"input_data": ...}`',
    "mlflow": "MLflow `dataframe_split`",
    "v2": "V2 columnar (`/v2/models/hgb/infer`)",
}
FORMATS = {"json": "JSON", "split": "dataframe_split", "csv": "CSV", "parquet": "Parquet"}


def section(
    runs: Runs,
    cells: list[Cell],
    options: argparse.Namespace,
    work: Path,
    selected: list[str],
    bare_runs: list[dict[str, Any]],
    shape: tuple[int, tuple[int, ...]],
    bare: common.Contender,
    every: Sequence[str],
) -> dict[str, Any]:
    """results.json's p6: figures, tables, targets, notes (``shape``: the high concurrency, the body sizes)."""
    smoke, (high, sizes) = options.smoke, shape
    reps = 1 if smoke else options.reps
    one, busy = "json-1-c1", f"json-1-c{high}"
    order = ["null", "floor", *[n for n in peers.PEERS if n != "floor"], "thresher_w1", "thresher_w2"]
    measured = [name for name in order if name in runs.cells]

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    th_rate = runs.median("thresher_w2", busy, "req_per_s")
    floor_p50, th_p50 = runs.median("floor", one, "p50_ms"), runs.median("thresher_w1", one, "p50_ms")
    overhead = th_p50 - floor_p50 if th_p50 is not None and floor_p50 is not None else None
    cold = common.median(runs.start_s["thresher_w2"]) if runs.start_s.get("thresher_w2") else None
    bare_rate = {size: size / common.median(r["pyfunc"][str(size)] for r in bare_runs) for size in sizes}
    rows_ratios = {
        f"{FORMATS[cell.fmt]}, {cell.rows:,} row{'s' * (cell.rows > 1)}": ratio(
            runs.median("thresher_w1", cell.key, "rows_per_s"), bare_rate[cell.rows]
        )
        for cell in cells
        if cell.connections == high and cell.key in runs.cells.get("thresher_w1", {})
    }
    worst = min(((v, k) for k, v in rows_ratios.items() if v is not None), default=(None, None))

    def rss(name: str) -> float | None:
        values = [m["rss_per_worker_mb"] for m in runs.memory.get(name, []) if m.get("rss_per_worker_mb")]
        return common.median(values) if values else None

    figures: dict[str, float | None] = {
        "p50_overhead_ms": overhead,
        "speedup_vs_azure_server": ratio(th_rate, runs.median("azmlinfsrv_w2", busy, "req_per_s")),
        "speedup_vs_mlflow_serve": ratio(th_rate, runs.median("mlflow_serve", busy, "req_per_s")),
        "speedup_vs_mlserver_batching": ratio(th_rate, runs.median("mlserver_batching", busy, "req_per_s")),
        "p99_ms_c8": runs.median("thresher_w2", busy, "p99_ms"),
        "cold_start_s": cold,
        "rows_ratio_min": worst[0],
        "memory_ratio": ratio(rss("thresher_w1"), rss("floor")),
    }
    unmeasured = {key: why_missing(runs, NEEDS[key], selected) for key, value in figures.items() if value is None}

    table1 = []
    for name in measured:
        loads = runs.cells[name]
        errors = sum(run["requests"] - run["ok"] for key in loads for run in loads[key])
        route = peers.PEERS[name].json.family if name in peers.PEERS else "azure"
        table1.append(
            [
                runs.labels[name],
                FAMILIES[route] if name != "null" else "any",
                common.rounded(common.median(runs.start_s[name]), 2) if runs.start_s.get(name) else None,
                *(
                    common.rounded(runs.median(name, key, metric), 2)
                    for key in (one, busy)
                    for metric in ("req_per_s", "p50_ms", "p99_ms")
                ),
                common.rounded(rss(name), 0),
                errors,
            ]
        )
    columns = [(fmt, size) for fmt in FORMATS for size in sizes if fmt != "split" or size == 1]
    columns = [c for c in columns if any(f"{c[0]}-{c[1]}-c{high}" in runs.cells.get(n, {}) for n in measured)]
    raw_rate = {size: size / common.median(r["sklearn"][str(size)] for r in bare_runs) for size in sizes}
    table2 = [
        ["predict in-process (pyfunc, one process, no HTTP)", *(common.rounded(bare_rate[s], 0) for _, s in columns)],
        [
            "... the scikit-learn model's own predict (no signature)",
            *(common.rounded(raw_rate[s], 0) for _, s in columns),
        ],
    ]
    for name in measured:
        if name != "null":
            table2.append(
                [
                    runs.labels[name],
                    *(common.rounded(runs.median(name, f"{f}-{s}-c{high}", "rows_per_s"), 0) for f, s in columns),
                ]
            )
    table3, own = generator_table(runs, one, busy, floor_p50)
    size = "smoke sizes: " if smoke else ""

    def goal(text: str, key: str, shown: str, met: bool) -> dict[str, Any]:
        if figures[key] is None:
            return common.target(size + text, f"not measured: {unmeasured.get(key) or 'see the notes'}", False)
        return common.target(size + text, shown, met)

    c8 = f"c={high}"
    targets = [
        goal(
            f"p50 within {GOAL_OVERHEAD_MS} ms of the bare ASGI app (c=1, 1 row)",
            "p50_overhead_ms",
            f"{fmt_signed(overhead)} ms",
            overhead is not None and overhead <= GOAL_OVERHEAD_MS,
        ),
        goal(
            f"{c8}, 1 row: at least {GOAL_VS_AZURE}x azmlinfsrv (2 workers)",
            "speedup_vs_azure_server",
            f"{common.fmt(figures['speedup_vs_azure_server'])}x",
            (figures["speedup_vs_azure_server"] or 0) >= GOAL_VS_AZURE,
        ),
        goal(
            f"{c8}, 1 row: at least {GOAL_VS_MLFLOW:g}x mlflow models serve",
            "speedup_vs_mlflow_serve",
            f"{common.fmt(figures['speedup_vs_mlflow_serve'])}x",
            (figures["speedup_vs_mlflow_serve"] or 0) >= GOAL_VS_MLFLOW,
        ),
        goal(
            f"{c8}, 1 row: at least MLServer with adaptive batching, at p99 <= {GOAL_P99_MS:g} ms",
            "speedup_vs_mlserver_batching",
            f"{common.fmt(figures['speedup_vs_mlserver_batching'])}x, p99 {common.fmt(figures['p99_ms_c8'])} ms",
            (figures["speedup_vs_mlserver_batching"] or 0) >= 1 and (figures["p99_ms_c8"] or 1e9) <= GOAL_P99_MS,
        ),
        goal(
            f"rows/s at least {GOAL_ROWS}x bare predict, every body size and format ({c8}, 1 worker)",
            "rows_ratio_min",
            f"lowest {common.fmt(worst[0])}x ({worst[1]})",
            (worst[0] or 0) >= GOAL_ROWS,
        ),
        goal(
            f"cold start (deployment create to first 200, environment built) at most {GOAL_COLD_S:g} s",
            "cold_start_s",
            f"{common.fmt(cold)} s",
            (cold or 1e9) <= GOAL_COLD_S,
        ),
        goal(
            f"memory per worker at most {GOAL_MEMORY}x the bare app's",
            "memory_ratio",
            f"{common.fmt(figures['memory_ratio'])}x ({common.fmt(rss('thresher_w1'))} MiB vs "
            f"{common.fmt(rss('floor'))} MiB)",
            (figures["memory_ratio"] or 1e9) <= GOAL_MEMORY,
        ),
    ]
    notes = notes_for(runs, own, floor_p50, rows_ratios)
    duration, warmup = options.duration, options.warmup
    return {
        "verified": True,
        "title": "Online endpoints",
        "description": (
            (
                "**Smoke sizes** (1-second cells, c=2 for c=8, 1- and 10-row bodies, CSV and Parquet cells for "
                "thresher w1 only, its workers in this interpreter: no environment built). "
                if smoke
                else ""
            )
            + "thresher's online endpoint (no-code MLflow deployments, made with the CLI) against a bare ASGI app "
            "(the floor), Azure's inference server with a `score.py`, `mlflow models serve` and MLServer with and "
            "without adaptive batching: the same model (HistGradientBoostingRegressor, 100 iterations, 20 float "
            "features, an MLflow model saved with cloudpickle) and the same rows; each server a process tree of its "
            "own, timed from spawn to its first 200 on a real scoring request, its answers checked against the "
            "model's own predictions for every body format, then loaded closed-loop by bench/online_load.py "
            f"({warmup:g} s warm-up, then {duration:g} s per cell), then stopped. Repetitions interleaved; one math "
            "thread per process; medians of the repetitions."
        ),
        "reps": reps,
        "smoke_sizes": bool(smoke),
        "contenders": selected,
        "skipped": runs.skipped,
        "parquet": runs.probes,
        **{k: common.rounded(v, 3) for k, v in figures.items()},
        "figures": list(figures),
        "unmeasured": unmeasured,
        "rows_ratios": {k: common.rounded(v, 3) for k, v in rows_ratios.items()},
        "bare_predict_ms": {str(s): common.rounded(1000 * s / bare_rate[s], 3) for s in sizes},
        "raw": {"cells": runs.cells, "start_s": runs.start_s, "memory": runs.memory},
        "commands": [
            "python -m bench.p6_online"
            + (" --smoke" if smoke else f" --reps {reps}")
            + ("" if set(selected) == set(every) else f" --contenders {','.join(selected)}")
            + "".join(
                f" --{name.replace('_', '-')} {getattr(options, name):g}"
                for name, default in (
                    ("duration", 0.8 if smoke else 5.0),
                    ("warmup", 0.2 if smoke else 2.0),
                    ("busy_limit", 0.15),
                    ("patience", 300.0),
                )
                if getattr(options, name) != default
            ),
            f"python -m bench.online_load run --port PORT --request $WORK/requests/TARGET-CELL.http "
            f"--connections N --duration {duration:g} --warmup {warmup:g}",
            bare.shown(work),
        ],
        "tables": [
            {
                "title": f"1-row JSON bodies (medians of {reps})",
                "columns": [
                    "contender",
                    "body",
                    "start to first 200 s",
                    "c=1 req/s",
                    "c=1 p50 ms",
                    "c=1 p99 ms",
                    f"{c8} req/s",
                    f"{c8} p50 ms",
                    f"{c8} p99 ms",
                    "RSS per worker MiB",
                    "non-2xx",
                ],
                "rows": table1,
            },
            {
                "title": f"Rows per second by body, {c8} (medians of {reps})",
                "columns": ["contender", *(f"{FORMATS[f]} {s:,} row{'s' * (s > 1)}" for f, s in columns)],
                "rows": table2,
            },
            {"title": "The load generator, weighed", "columns": ["measure", "value"], "rows": table3},
        ],
        "notes": notes,
        "targets": targets,
    }


NEEDS = {  # the runs each figure is made of
    "p50_overhead_ms": ("thresher_w1", "floor"),
    "speedup_vs_azure_server": ("thresher_w2", "azmlinfsrv_w2"),
    "speedup_vs_mlflow_serve": ("thresher_w2", "mlflow_serve"),
    "speedup_vs_mlserver_batching": ("thresher_w2", "mlserver_batching"),
    "p99_ms_c8": ("thresher_w2",),
    "cold_start_s": ("thresher_w2",),
    "rows_ratio_min": ("thresher_w1",),
    "memory_ratio": ("thresher_w1", "floor"),
}


def why_missing(runs: Runs, needed: Sequence[str], selected: Sequence[str]) -> str:
    """Why a figure made of the ``needed`` runs is None: the first of them that is missing, and why."""
    for name in needed:
        contender = "thresher" if name.startswith("thresher") else name
        if name in runs.skipped:
            return f"{name}: {runs.skipped[name]}"
        if contender not in selected:
            return f"{contender} was not run (--contenders)"
        if name not in runs.cells:
            return f"{name} gave no measurement"
    return "see the notes"


def fmt_signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def generator_table(
    runs: Runs, one: str, busy: str, floor_p50: float | None
) -> tuple[list[list[Any]], dict[str, float | None]]:
    """What the load generator costs: the null server's round trip, its own time and CPU per request."""
    cpu = [r["client_cpu_us_per_request"] for t in runs.cells.values() for c in t.values() for r in c]
    own = {
        "null": runs.median("null", one, "client_own_us_p50"),
        "floor": runs.median("floor", one, "client_own_us_p50"),
        "cpu": common.median(v for v in cpu if v is not None) if cpu else None,
    }
    share = own["floor"] / 1000 / floor_p50 if own["floor"] is not None and floor_p50 else None
    rows: list[tuple[str, float | None]] = [
        (
            "null server, c=1: p50 ms (loopback, kernel, this generator and the null server)",
            runs.median("null", one, "p50_ms"),
        ),
        (f"null server, c={busy.rsplit('c', 1)[1]}: req/s", runs.median("null", busy, "req_per_s")),
        ("generator's own time per request, µs (p50; sending and parsing), against the null server", own["null"]),
        ("... the same during the floor's c=1 cell", own["floor"]),
        ("... as a share of the floor's c=1 p50", share),
        ("generator CPU per request, µs (median over every cell; system calls included)", own["cpu"]),
    ]
    return [[label, common.rounded(value, 4)] for label, value in rows], own


def notes_for(
    runs: Runs, own: dict[str, float | None], floor_p50: float | None, rows_ratios: dict[str, float | None]
) -> list[str]:
    """The section's notes: what each contender is, what was skipped and why, how to read the figures."""
    notes = [
        "Contenders: *floor*: bench/online_floor.py under uvicorn (httptools, 1 process), pyfunc `predict` in "
        "the event loop. *azmlinfsrv*: `azmlinfsrv --entry_script score.py --model_dir $MODEL --worker_count N` "
        f"({peers.AZMLINFSRV}, gunicorn sync workers: a connection per request, `Connection: close`), the "
        "script loading `model.pkl` with cloudpickle and calling the scikit-learn model's own predict on "
        "`input_data`. *mlflow serve*: `mlflow models serve -m $MODEL --env-manager local -w 1` (this "
        "interpreter's mlflow-skinny, FastAPI and uvicorn). *MLServer*: `mlserver start` with "
        f"{', '.join(peers.MLSERVER)}, `parallel_workers` 1, the mlserver_mlflow runtime; batching is "
        "`max_batch_size` 16, `max_batch_time` 2 ms. *thresher*: `w1` is the endpoint's first deployment (its "
        "start column: `online-deployment create` to first 200, the serving process already started by "
        "`online-endpoint create`); `w2` the second, created while `w1` idles; its start column is "
        "`p6.cold_start_s`. Its `RSS per worker` counts only the new deployment's workers. "
        "Peers' venvs are made by the benchmark (`uv`, under `$WORK/venvs`), with "
        f"{', '.join(peers.pinned())} as in this interpreter, so every server unpickles the same model.",
        "Logging as each server comes: azmlinfsrv logs every request, MLServer and mlflow serve keep uvicorn's "
        "access log, thresher writes its access log; the floor logs nothing.",
        "RSS per worker: the resident memory of each process of a server's tree that has scikit-learn's "
        "compiled modules mapped (it loaded the model), sampled after its last cell; for thresher, its "
        "online worker processes. No CPU pinning: on 2 cores the servers with 2 workers need both, and the "
        "load generator shares them with every contender alike.",
    ]
    if own["floor"] is not None:
        share = f" ({own['floor'] / 1000 / floor_p50:.1%} of the floor's c=1 p50)" if floor_p50 else ""
        notes.append(
            "The load generator (bench/online_load.py: a thread per connection, blocking sockets, no HTTP "
            f"library) spends a median {common.fmt(own['null'])} µs of its own per request against the null server "
            f"and {common.fmt(own['floor'])} µs during the floor's c=1 cell{share}: sending (the kernel's loopback "
            "delivery included) and parsing the answer, slower when caches went cold while the server worked. It "
            "is in every contender's latency alike and cancels out of `p6.p50_overhead_ms`, a difference of two "
            "p50s. Its CPU time per request (system calls and the wake-ups of a thread that slept while the server "
            f"worked included; {common.fmt(own['cpu'])} µs, median over every cell) is what it takes from the "
            "cores the servers share. `wrk` is not used: it is not installed here, and this generator reports "
            "the statuses and the reconnects that gunicorn's `Connection: close` forces."
        )
    if runs.skipped:
        notes.append("Not measured: " + "; ".join(f"*{k}*: {v}" for k, v in sorted(runs.skipped.items())) + ".")
    if runs.probes:
        notes.append(
            "Parquet bodies on /invocations (probed with a 10-row body; measured where taken): "
            + "; ".join(f"*{k}*: {v}" for k, v in sorted(runs.probes.items()))
            + ". azmlinfsrv's script and MLServer's V2 route take no Parquet."
        )
    if rows_ratios:
        notes.append(
            "thresher w1's rows/s over bare in-process pyfunc predict, by body: "
            + ", ".join(f"{k}: {common.fmt(v)}" for k, v in rows_ratios.items())
            + "."
        )
    return notes
