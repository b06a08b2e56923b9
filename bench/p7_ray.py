"""P7, the Ray figures: thresher's jobs on a one-node Ray cluster, against Ray's own ways to do them.

The benchmark starts one Ray cluster of this machine (``ray.init(address="local", num_cpus=2)``, no
dashboard) and every Ray contender connects to it by its GCS address, as jobs reach a running
cluster: thresher through a compute of ``type: ray`` whose ``address`` is the cluster's (its detached
runner connects; one actor per worker slot supervises the worker process), the baselines with
``ray.init(address=...)``. Connecting is in every time; starting the cluster is in none.

1. *Overhead per mini-batch on Ray* (``p7.ms_per_minibatch``), defined as P2 defines it: tiny files,
   ``mini_batch_size`` 1, a ``run()`` that only notes ``time.monotonic_ns()``, 2 workers; the gaps
   between consecutive calls on one worker are what a mini-batch costs when the work costs nothing.
   Contenders: thresher on the ray compute; thresher on the local pool (P2's figure, side by side);
   a bare Ray actor pool (2 actors, one call in flight per actor: the round trip thresher's design
   pays, without its durable progress); Ray Data (``from_items(...).map_batches`` with an actor pool
   of 2, one block per item: the gaps between consecutive blocks on one actor).
2. *P1 on Ray* (``p7.p1_ray_ratio_to_ideal``): P1's data, model and scoring script, P1's ideal (the
   bare loop's time / 2 workers); thresher on the ray compute, on the local pool, and Ray Data
   (P1's pipeline) on the cluster. thresher's outputs are byte-identical to the bare loop's.

    python -m bench.p7_ray --reps 3      # only these figures, merged into P7's section of results.json
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import common, p1_tabular, p2_overhead

CONTENDERS = (
    "thresher_local",
    "thresher_ray",
    "ray_actor_pool",
    "ray_data_blocks",
    "p1_floor",
    "p1_thresher_local",
    "p1_thresher_ray",
    "p1_ray_data",
)
WORKERS = 2
RAY_COMPUTE = "ray1"
GOAL_MS = 2.0
MODULE = "bench.p7_ray"


# -- contenders (each runs in its own process) ----------------------------------------------------


def run_thresher_local(args: dict[str, Any]) -> None:
    p2_overhead.run_thresher(args)


def run_thresher_ray(args: dict[str, Any]) -> None:
    p2_overhead.run_thresher(args)


def run_ray_actor_pool(args: dict[str, Any]) -> None:
    import ray

    ray.init(address=args["address"], log_to_driver=False)

    @ray.remote(num_cpus=1)
    class Worker:
        def nothing(self, batch: list[str]) -> tuple[int, int]:
            return os.getpid(), time.monotonic_ns()

    actors = [Worker.remote() for _ in range(WORKERS)]  # type: ignore[attr-defined]
    batches = iter(p2_overhead._batches(args["data"], args["size"]))
    stamps: list[tuple[int, int]] = []
    pending = {}
    for actor in actors:  # one call in flight per actor, as thresher sends one task per idle worker
        batch = next(batches, None)
        if batch is not None:
            pending[actor.nothing.remote(batch)] = actor
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        actor = pending.pop(ready[0])
        pid, stamp = ray.get(ready[0])
        stamps.append((pid, stamp))
        batch = next(batches, None)
        if batch is not None:
            pending[actor.nothing.remote(batch)] = actor
    ray.shutdown()
    common.report(**p2_overhead.gap_figures(stamps))


class _BlockStamper:
    """Ray Data's UDF: notes which actor was called and when, once per block."""

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {"pid": [os.getpid()], "stamp": [time.monotonic_ns()], "items": [len(batch["path"])]}


def run_ray_data_blocks(args: dict[str, Any]) -> None:
    import ray

    ray.init(address=args["address"], log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    batches = p2_overhead._batches(args["data"], args["size"])[: args["blocks"]]
    items = [{"path": path} for batch in batches for path in batch]
    dataset = ray.data.from_items(items, override_num_blocks=len(batches))
    dataset = dataset.map_batches(_BlockStamper, concurrency=WORKERS, num_cpus=1, batch_size=None)
    rows = dataset.take_all()
    ray.shutdown()
    stamps = [(int(row["pid"]), int(row["stamp"])) for row in rows]
    common.report(items=sum(int(row["items"]) for row in rows), **p2_overhead.gap_figures(stamps))


def run_p1_floor(args: dict[str, Any]) -> None:
    p1_tabular.run_floor(args)


def run_p1_thresher_local(args: dict[str, Any]) -> None:
    p1_tabular.run_thresher(args)


def run_p1_thresher_ray(args: dict[str, Any]) -> None:
    p1_tabular.run_thresher(args)


def run_p1_ray_data(args: dict[str, Any]) -> None:
    p1_tabular.run_ray_data(args)


# -- the cluster and the workspaces ---------------------------------------------------------------


def start_cluster(pythonpath: list[str]) -> str:
    """A Ray of this machine, 2 CPUs, no dashboard, alive as long as this process; its GCS address.

    Its worker processes inherit this process's environment: ``pythonpath`` makes the baselines'
    scoring module importable in Ray Data's actors (the local baselines get it the same way)."""
    import ray

    os.environ["PYTHONPATH"] = os.pathsep.join([*pythonpath, str(common.REPO), os.environ.get("PYTHONPATH", "")])
    ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    address: str = ray.get_runtime_context().gcs_address
    return address


def workspaces(work: Path, address: str) -> dict[str, Path]:
    """Two workspaces: ``local`` (a local compute of 2 workers) and ``ray`` (the cluster's compute)."""
    from thresher.specs import parse_spec

    homes = {"local": work / "ws-local", "ray": work / "ws-ray"}
    for kind, home in homes.items():
        ws = common.workspace(home)
        if kind == "ray":
            document = {"name": RAY_COMPUTE, "type": "ray", "address": address, "max_instances": 1}
            ws.computes.create(parse_spec(document, "compute", base_dir=home))
        ws.close()
    return homes


def deploy(home: Path, work: Path, kind: str, **keys: Any) -> None:
    """Deploy an endpoint into the workspace at ``home`` on its ``kind`` compute."""
    from thresher import Workspace

    compute = f"azureml:{RAY_COMPUTE}" if kind == "ray" else "azureml:local2"
    with Workspace(home) as ws:
        common.deploy(ws, work, compute=compute, **keys)


# -- 1. overhead per mini-batch -------------------------------------------------------------------


def overhead(options: Any, work: Path, address: str, homes: dict[str, Path], reps: int) -> dict[str, Any]:
    """Overhead per mini-batch on Ray, P2's definition, with thresher local and Ray's baselines beside it."""
    files, blocks = (120, 60) if options.smoke else (4_000, 1_000)
    size = 1

    def build(folder: Path) -> None:
        for index in range(files):
            (folder / f"tiny-{index:06d}.txt").write_text(f"{index}\n")

    data = common.cached(work / "tiny", {"files": files}, build)
    expected = sorted(str(p) for p in data.iterdir() if not p.name.startswith("."))
    code, model, stamps = work / "nothing-code", work / "nothing-model", work / "stamps"
    code.mkdir(exist_ok=True)
    (code / "score.py").write_text(p2_overhead.NOTHING_PY)
    model.mkdir(exist_ok=True)
    (model / "nothing.txt").write_text("no model\n")
    settings = {"max_concurrency_per_instance": WORKERS, "environment_variables": {"BENCH_STAMPS": str(stamps)}}
    for kind, home in homes.items():
        deploy(home, work, kind, endpoint="nothing", model_dir=model, code_dir=code, settings=settings)
    base = {"data": str(data), "size": size}
    contenders = [
        common.Contender(
            "thresher_ray",
            "thresher, ray compute (2 actors)",
            MODULE,
            {**base, "home": str(homes["ray"]), "out": str(work / "out" / "nothing-ray")},
            baseline=False,
        ),
        common.Contender(
            "thresher_local",
            "thresher, local compute (2 workers)",
            MODULE,
            {**base, "home": str(homes["local"]), "out": str(work / "out" / "nothing-local")},
            baseline=False,
        ),
        common.Contender(
            "ray_actor_pool", "Ray actor pool (2 actors, 1 call in flight each)", MODULE, {**base, "address": address}
        ),
        common.Contender(
            "ray_data_blocks",
            f"Ray Data map_batches (actor pool of 2, {min(blocks, files):,} blocks)",
            MODULE,
            {**base, "address": address, "blocks": blocks},
        ),
    ]

    def before(contender: common.Contender, rep: int) -> None:
        if contender.name.startswith("thresher"):
            shutil.rmtree(contender.params["out"], ignore_errors=True)
            common.fresh(stamps)
            common.assert_cold(contender.params["home"])

    figures: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}

    def after(contender: common.Contender, rep: int, measured: common.Measured) -> None:
        values = measured.report
        calls = min(blocks, files) if contender.name == "ray_data_blocks" else files
        if contender.name.startswith("thresher"):
            common.end_thresher(contender.params["home"], values.get("runner"))  # the next run starts cold
            if Path(values["output_file"]).read_text().split() != expected:
                raise common.BenchError(f"{contender.label}: the output is not the list of input files")
            values = p2_overhead.gap_figures(p2_overhead.thresher_stamps(stamps))
        elif contender.name == "ray_data_blocks" and values.get("items") != calls:
            raise common.BenchError(f"{contender.label} saw {values.get('items')} items; expected {calls}")
        # A tiny smoke job may finish before the second worker is ready.
        workers_ok = 1 <= values["workers"] <= WORKERS if options.smoke else values["workers"] == WORKERS
        if values["calls"] != calls or not workers_ok:
            raise common.BenchError(
                f"{contender.label} made {values['calls']} calls on {values['workers']} workers; "
                f"expected {calls} on {WORKERS}"
            )
        figures[contender.name].append({**values, "wall_s": measured.seconds})

    common.measure(contenders, reps, before=before, after=after)
    results = {
        name: {
            "wall_s": common.median(r["wall_s"] for r in runs),
            "median_ms": common.median(r["gap_median_ms"] for r in runs),
            "p99_ms": common.median(r["gap_p99_ms"] for r in runs),
            "steady_per_s": common.median(r["steady_per_s"] for r in runs),
        }
        for name, runs in figures.items()
    }
    ray_ms = results["thresher_ray"]["median_ms"]
    rows = [
        [c.label, c.params.get("blocks", files) if c.name == "ray_data_blocks" else files]
        + [results[c.name][k] for k in ("wall_s", "steady_per_s", "median_ms", "p99_ms")]
        + [results[c.name]["median_ms"] / ray_ms]
        for c in contenders
    ]
    return {
        "files": files,
        "ray_data_blocks": min(blocks, files),
        "results": {k: {n: common.rounded(v, 4) for n, v in r.items()} for k, r in results.items()},
        "ms_per_minibatch": common.rounded(ray_ms, 4),
        "ms_per_minibatch_p99": common.rounded(results["thresher_ray"]["p99_ms"], 4),
        "local_ms_per_minibatch": common.rounded(results["thresher_local"]["median_ms"], 4),
        "ray_actor_pool_ms_per_call": common.rounded(results["ray_actor_pool"]["median_ms"], 4),
        "ray_data_ms_per_block": common.rounded(results["ray_data_blocks"]["median_ms"], 4),
        "ray_data_to_thresher_ray": common.rounded(results["ray_data_blocks"]["median_ms"] / ray_ms),
        "thresher_ray_to_actor_pool": common.rounded(ray_ms / results["ray_actor_pool"]["median_ms"]),
        "table": {
            "part": "ray",
            "title": f"Overhead per mini-batch on Ray: {files:,} tiny files, mini_batch_size 1, run() does nothing",
            "columns": [
                "contender",
                "mini-batches (blocks)",
                "seconds (whole job)",
                "mini-batches/s (steady)",
                "overhead/mini-batch median ms",
                "p99 ms",
                "x thresher on Ray",
            ],
            "rows": rows,
        },
        "commands": [c.shown(work) for c in contenders],
        "target": {"part": "ray"}
        | common.target(
            f"overhead per mini-batch on Ray under {GOAL_MS:g} ms (median)",
            f"{ray_ms:.3f} ms (bare actor pool {results['ray_actor_pool']['median_ms']:.3f} ms, "
            f"Ray Data {results['ray_data_blocks']['median_ms']:.2f} ms per block)",
            ray_ms < GOAL_MS,
        ),
    }


# -- 2. P1 on Ray ---------------------------------------------------------------------------------


def tabular(options: Any, work: Path, address: str, homes: dict[str, Path], reps: int) -> dict[str, Any]:
    """P1's job on the one-node cluster: thresher on Ray, on the local pool, and Ray Data; P1's ideal."""
    files, rows = (4, 50) if options.smoke else (200, 5000)
    paths = p1_tabular.prepare(common.work_dir("p1", options.work, smoke=options.smoke), files, rows)
    common.read_all(sorted(paths["data"].iterdir()))
    settings = {"mini_batch_size": p1_tabular.MINI_BATCH_SIZE, "max_concurrency_per_instance": WORKERS}
    for kind, home in homes.items():
        deploy(
            home, work, kind, endpoint="tabular", model_dir=paths["model"], code_dir=paths["code"], settings=settings
        )
    base = {"data": str(paths["data"]), "model": str(paths["model"])}
    code = [str(paths["code"])]
    contenders = [
        common.Contender("p1_floor", "bare loop, 1 process (floor)", MODULE, base, pythonpath=code),
        common.Contender(
            "p1_thresher_ray", "thresher, ray compute (2 actors)", MODULE, {**base, "home": str(homes["ray"])}, False
        ),
        common.Contender(
            "p1_thresher_local",
            "thresher, local compute (2 workers)",
            MODULE,
            {**base, "home": str(homes["local"])},
            False,
        ),
        common.Contender(
            "p1_ray_data",
            "Ray Data (actor pool of 2), on the cluster",
            MODULE,
            {**base, "address": address},
            pythonpath=code,
        ),
    ]
    outputs = {c.name: work / "out" / c.name for c in contenders}
    for contender in contenders:
        contender.params = {**contender.params, "out": str(outputs[contender.name])}
    reference: dict[str, Any] = {}

    def before(contender: common.Contender, rep: int) -> None:
        if contender.name.startswith("p1_thresher"):
            shutil.rmtree(outputs[contender.name], ignore_errors=True)  # thresher never overwrites an output
            common.assert_cold(contender.params["home"])
        else:
            common.fresh(outputs[contender.name])

    def after(contender: common.Contender, rep: int, measured: common.Measured) -> None:
        p1_name = contender.name.removeprefix("p1_")
        if p1_name.startswith("thresher"):
            common.end_thresher(contender.params["home"], measured.report.get("runner"))  # the next starts cold
            if not p1_tabular.same_bytes(
                outputs[contender.name] / "predictions.csv", outputs["p1_floor"] / "predictions.csv"
            ):
                raise common.BenchError(f"{contender.label}: predictions.csv is not byte-identical to the floor's")
        if rep == 0 and p1_name == "floor":
            reference["frame"] = p1_tabular.read_output("floor", outputs["p1_floor"])
        if rep == 0 or options.smoke:
            p1_tabular.check(p1_name, outputs[contender.name], reference.get("frame"), files * rows)

    runs = common.measure(contenders, reps, before=before, after=after)  # the floor first: the reference
    seconds = {name: common.seconds_of(measured) for name, measured in runs.items()}
    ideal = seconds["p1_floor"] / WORKERS
    ratio = {name: ideal / s for name, s in seconds.items()}
    total = files * rows
    table_rows: list[list[Any]] = [["ideal: floor / 2 workers", ideal, total / ideal, 1.0, "–"]]
    for contender in contenders:
        s = seconds[contender.name]
        table_rows.append([contender.label, s, total / s, ratio[contender.name], s / seconds["p1_thresher_ray"]])
    return {
        "p1_files": files,
        "p1_rows": total,
        "p1_seconds": {name: common.rounded(value) for name, value in seconds.items()},
        "p1_ray_ratio_to_ideal": common.rounded(ratio["p1_thresher_ray"]),
        "p1_local_ratio_to_ideal": common.rounded(ratio["p1_thresher_local"]),
        "p1_ray_data_ratio_to_ideal": common.rounded(ratio["p1_ray_data"]),
        "p1_ray_speedup_vs_ray_data": common.rounded(seconds["p1_ray_data"] / seconds["p1_thresher_ray"]),
        "p1_ray_invoke_to_done_s": common.rounded(
            common.median(m.report["invoke_to_done_s"] for m in runs["p1_thresher_ray"])
        ),
        "table": {
            "part": "ray",
            "title": f"P1 on a one-node Ray cluster: {files} CSV files x {rows:,} rows ({total:,} rows)",
            "columns": ["contender", "seconds (median)", "rows/s", "ratio to ideal", "x thresher on Ray"],
            "rows": table_rows,
        },
        "timeline": {
            **common.timeline_table(runs["p1_thresher_ray"], "thresher's P1 job on Ray, step by step"),
            "part": "ray",
        },
        "commands": [c.shown(work) for c in contenders],
        "target": {"part": "ray"}
        | common.target(
            "P1 on Ray: thresher faster than Ray Data on the same cluster",
            f"ratio to ideal {ratio['p1_thresher_ray']:.2f} (local pool {ratio['p1_thresher_local']:.2f}, "
            f"Ray Data {ratio['p1_ray_data']:.2f})",
            seconds["p1_thresher_ray"] < seconds["p1_ray_data"],
        ),
    }


# -- the section ----------------------------------------------------------------------------------


FIGURES = ["ms_per_minibatch", "ray_data_ms_per_block", "p1_ray_ratio_to_ideal"]


def main_bench(options: Any) -> dict[str, Any]:
    """Measure the Ray figures; returns what goes into P7's section (see ``merge``)."""
    import ray

    reps = 1 if options.smoke else options.reps
    work = common.work_dir("p7-ray", options.work, smoke=options.smoke)
    p1_code = common.work_dir("p1", options.work, smoke=options.smoke) / "code"
    address = start_cluster([str(p1_code)])
    try:
        homes = workspaces(work, address)
        small = overhead(options, work, address, homes, reps)
        p1 = tabular(options, work, address, homes, reps)
    finally:
        ray.shutdown()
    keys = {
        k: v for part in (small, p1) for k, v in part.items() if k not in ("table", "commands", "target", "timeline")
    }
    local_ms = small["local_ms_per_minibatch"]
    return {
        **keys,
        "ray_reps": reps,
        "figures": FIGURES,
        "description": (
            f"{RAY_MARK} One Ray cluster of this machine (2 CPUs, no dashboard), started by the benchmark; "
            "every Ray contender connects to it by address (thresher through a compute of `type: ray`: one "
            "actor per worker slot, each supervising a worker process). *Overhead per mini-batch* as in P2: "
            f"{small['files']:,} tiny files, mini_batch_size 1, a run() that does nothing, the gap between "
            "consecutive calls on one worker (Ray Data: between consecutive blocks on one actor of its pool). "
            f"*P1 on Ray*: P1's {p1['p1_files']} files x {p1['p1_rows'] // p1['p1_files']:,} rows, P1's ideal "
            "(the bare loop / 2); thresher's outputs are byte-identical to the bare loop's."
        ),
        "tables": [small["table"], p1["table"], p1["timeline"]],
        "notes": [
            f"On Ray a mini-batch costs thresher {small['ms_per_minibatch']:.2f} ms (local pool {local_ms:.2f} ms, "
            f"a bare Ray actor pool {small['ray_actor_pool_ms_per_call']:.2f} ms per call, Ray Data "
            f"{small['ray_data_ms_per_block']:.1f} ms per block: {small['ray_data_to_thresher_ray']:.1f}x "
            f"thresher's). P1 on Ray: ratio to ideal {p1['p1_ray_ratio_to_ideal']:.2f}, against "
            f"{p1['p1_local_ratio_to_ideal']:.2f} on the local pool and {p1['p1_ray_data_ratio_to_ideal']:.2f} for "
            f"Ray Data on the same cluster (Ray's repetitions: {reps}; measured on {_machine()})."
        ],
        "commands": small["commands"] + p1["commands"],
        "targets": [small["target"], p1["target"]],
    }


def _machine() -> str:
    """This machine in a few words (P7's figures may come from another machine than the Machine table's)."""
    info = common.machine_info()
    return f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, {info['os']}"


def merge(section: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """P7's section with the Ray figures of ``extra`` in place of any earlier ones (the control plane's kept)."""
    merged = dict(section)
    for key, value in extra.items():
        if key in ("figures", "tables", "notes", "commands", "targets"):
            merged[key] = [item for item in merged.get(key, []) if not _is_ray(item) and item not in value] + value
        elif key == "description":
            merged[key] = merged.get(key, "").split(RAY_MARK)[0].rstrip() + " " + value
        else:
            merged[key] = value
    return merged


RAY_MARK = "**On Ray.**"


def _is_ray(item: Any) -> bool:
    """Whether a table, note, command or target of P7's section came from this module."""
    if isinstance(item, dict):
        return item.get("part") == "ray"
    return isinstance(item, str) and (item.startswith("On Ray") or MODULE in item)


def main() -> None:
    """``python -m bench.p7_ray``: run a contender, or measure and merge into P7's section."""
    parser = common.arguments((__doc__ or "").splitlines()[0], CONTENDERS)
    options = parser.parse_args()
    if options.contender:
        globals()[f"run_{options.contender}"](json.loads(options.args))
        return
    empty = {"title": "Scale-out: control plane and Ray", "verified": True}
    section = common.save_part(options, "p7", main_bench(options), merge, empty)
    print(json.dumps({k: section[k] for k in FIGURES}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
