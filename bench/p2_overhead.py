"""P2. Per-mini-batch overhead: 20,000 tiny files, mini_batch_size 1 and 10, a run() that does nothing.

Every contender calls a function that does nothing but note the time (``time.monotonic_ns``, one clock
for every process on Linux) on 2 workers. The gaps between consecutive calls on the same worker are the
cost of one mini-batch as that worker sees it (the round trip: dispatch, call, report, next dispatch);
their median and p99 are the overhead per mini-batch. Contenders:

- thresher: 2 workers; ``run()`` returns its mini-batch (each item succeeded) and the job writes its
  ``append_row`` output and commits progress durably in SQLite, as every job does.
- ProcessPoolExecutor(2), one call in flight per worker: the bare round trip, the floor.
- ProcessPoolExecutor(2).map: calls queued ahead of the workers (no round trip to wait for).
- Ray actor calls: 2 actors, every call submitted at once, ``ray.init`` included.
- Ray tasks: ``num_cpus=1`` tasks on 2 CPUs, every task submitted at once, ``ray.init`` included.

    python -m bench.p2_overhead --reps 3
"""

from __future__ import annotations

import itertools
import os
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import common

CONTENDERS = ("thresher", "ppe_roundtrip", "ppe_map", "ray_actors", "ray_tasks")
WORKERS = 2
SIZES = (1, 10)

NOTHING_PY = textwrap.dedent(
    '''
    """run() does nothing but note when it was called; shutdown() saves the notes for the benchmark."""

    import os
    import time

    _called = []


    def init():
        pass


    def run(mini_batch):
        _called.append(time.monotonic_ns())
        return mini_batch


    def shutdown():
        with open(os.path.join(os.environ["BENCH_STAMPS"], f"{os.getpid()}.txt"), "w") as handle:
            handle.write("\\n".join(map(str, _called)))
    '''
).lstrip()


def nothing(batch: list[str]) -> tuple[int, int]:
    """The baselines' run(): the worker and the time it was called."""
    return os.getpid(), time.monotonic_ns()


# -- figures from the notes -----------------------------------------------------------------------


def gap_figures(stamps: list[tuple[int, int]]) -> dict[str, Any]:
    """Per-worker gaps between consecutive calls (ms): median, p99; and the steady rate of calls per second."""
    per_worker: dict[int, list[int]] = defaultdict(list)
    for pid, stamp in stamps:
        per_worker[pid].append(stamp)
    gaps = []
    for values in per_worker.values():
        values.sort()
        gaps += [(b - a) / 1e6 for a, b in itertools.pairwise(values)]
    every = sorted(stamp for _, stamp in stamps)
    span = (every[-1] - every[0]) / 1e9 if len(every) > 1 else 0.0
    return {
        "calls": len(stamps),
        "workers": len(per_worker),
        "gap_median_ms": common.median(gaps) if gaps else None,
        "gap_p99_ms": common.percentile(gaps, 99) if gaps else None,
        "steady_per_s": (len(every) - 1) / span if span > 0 else None,
    }


def _batches(data: str, size: int) -> list[list[str]]:
    files = sorted(os.path.join(data, name) for name in os.listdir(data))
    return [files[i : i + size] for i in range(0, len(files), size)]


# -- contenders (each runs in its own process) ----------------------------------------------------


def run_thresher(args: dict[str, Any]) -> None:
    result = common.thresher_invoke(
        args["home"], "nothing", args["data"], output_path=args["out"], overrides=[f"mini_batch_size={args['size']}"]
    )
    common.report(**result)


def run_ppe_roundtrip(args: dict[str, Any]) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    batches = iter(_batches(args["data"], args["size"]))
    stamps = []
    with ProcessPoolExecutor(WORKERS) as pool:
        pending = {pool.submit(nothing, batch) for batch in (next(batches, None) for _ in range(WORKERS)) if batch}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                stamps.append(future.result())
                batch = next(batches, None)
                if batch is not None:
                    pending.add(pool.submit(nothing, batch))
    common.report(**gap_figures(stamps))


def run_ppe_map(args: dict[str, Any]) -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(WORKERS) as pool:
        stamps = list(pool.map(nothing, _batches(args["data"], args["size"])))
    common.report(**gap_figures(stamps))


def run_ray_actors(args: dict[str, Any]) -> None:
    import ray

    ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)

    @ray.remote(num_cpus=1)
    class Worker:
        def nothing(self, batch: list[str]) -> tuple[int, int]:
            return os.getpid(), time.monotonic_ns()

    actors = [Worker.remote() for _ in range(WORKERS)]  # type: ignore[attr-defined]
    batches = _batches(args["data"], args["size"])
    stamps = ray.get([actors[i % WORKERS].nothing.remote(batch) for i, batch in enumerate(batches)])
    ray.shutdown()
    common.report(**gap_figures([tuple(s) for s in stamps]))


def run_ray_tasks(args: dict[str, Any]) -> None:
    import ray

    ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    remote_nothing = ray.remote(num_cpus=1)(nothing)
    stamps = ray.get([remote_nothing.remote(batch) for batch in _batches(args["data"], args["size"])])
    ray.shutdown()
    common.report(**gap_figures([tuple(s) for s in stamps]))


# -- the benchmark --------------------------------------------------------------------------------


def thresher_stamps(folder: Path) -> list[tuple[int, int]]:
    """The notes thresher's workers saved at shutdown()."""
    stamps = []
    for path in folder.glob("*.txt"):
        pid = int(path.stem)
        stamps += [(pid, int(line)) for line in path.read_text().split()]
    return stamps


def main_bench(options: Any) -> dict[str, Any]:
    files = 500 if options.smoke else 20_000
    reps = 1 if options.smoke else options.reps
    work = common.work_dir("p2", options.work, smoke=options.smoke)

    def build(folder: Path) -> None:
        for index in range(files):
            (folder / f"tiny-{index:06d}.txt").write_text(f"{index}\n")

    data = common.cached(work / "data", {"files": files}, build)
    expected = sorted(str(p) for p in data.iterdir() if not p.name.startswith("."))
    code = work / "code"
    code.mkdir(exist_ok=True)
    (code / "score.py").write_text(NOTHING_PY)
    model = work / "model"
    model.mkdir(exist_ok=True)
    (model / "nothing.txt").write_text("no model\n")
    stamps_dir = work / "stamps"
    home = work / "ws"
    ws = common.workspace(home)
    settings = {
        "max_concurrency_per_instance": WORKERS,
        "environment_variables": {"BENCH_STAMPS": str(stamps_dir)},
    }
    common.deploy(ws, work, endpoint="nothing", model_dir=model, code_dir=code, settings=settings)
    ws.close()
    module = "bench.p2_overhead"
    labels = {
        "thresher": "thresher (2 workers, durable progress)",
        "ppe_roundtrip": "ProcessPoolExecutor(2), round trip (floor)",
        "ppe_map": "ProcessPoolExecutor(2).map, queued ahead",
        "ray_actors": "Ray actor calls (2 actors)",
        "ray_tasks": "Ray tasks (2 CPUs)",
    }
    contenders = []
    for size in SIZES:
        for name in CONTENDERS:
            if options.smoke and name.startswith("ray") and size != SIZES[-1]:
                continue  # the smoke runs Ray's code paths once: ray.init dominates its time
            params: dict[str, Any] = {"data": str(data), "size": size}
            if name == "thresher":
                params.update(home=str(home), out=str(work / "out" / f"mbs{size}"))
            contender = common.Contender(f"{name}", labels[name], module, params, baseline=name != "thresher")
            contenders.append(contender)

    def key(contender: common.Contender) -> str:
        return f"{contender.name}/{contender.params['size']}"

    figures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    walls: dict[str, list[float]] = defaultdict(list)
    profiler: list[Any] = []

    def before(contender: common.Contender, rep: int) -> None:
        if contender.name == "thresher":
            import shutil

            shutil.rmtree(contender.params["out"], ignore_errors=True)
            common.fresh(stamps_dir)
            if options.profile and rep == reps - 1 and contender.params["size"] == 1:
                profiler.append(common.start_profiled_runner(home, work / "runner-profile.txt"))
            else:
                common.assert_cold(home)

    def after(contender: common.Contender, rep: int, measured: common.Measured) -> None:
        size = contender.params["size"]
        mini_batches = -(-files // size)
        values = measured.report
        if contender.name == "thresher":
            common.end_thresher(home, values.get("runner"))  # the next run starts cold
            lines = Path(values["output_file"]).read_text().split()
            if lines != expected:
                raise common.BenchError(f"thresher's output (mini_batch_size {size}) is not the list of input files")
            values = gap_figures(thresher_stamps(stamps_dir))
        # A tiny smoke job may finish before the second worker is ready.
        workers_ok = 1 <= values["workers"] <= WORKERS if options.smoke else values["workers"] == WORKERS
        if values["calls"] != mini_batches or not workers_ok:
            raise common.BenchError(
                f"{contender.label} made {values['calls']} calls on {values['workers']} workers; "
                f"expected {mini_batches} on {WORKERS}"
            )
        figures[key(contender)].append(values)
        walls[key(contender)].append(measured.seconds)

    # measure() keys runs by name; each (contender, size) pair is measured in its own group.
    for size in SIZES:
        group = [c for c in contenders if c.params["size"] == size]
        common.measure(group, reps, before=before, after=after)
    for process in profiler:
        process.wait(timeout=60)

    def summary(name: str, size: int) -> dict[str, Any]:
        runs = figures[f"{name}/{size}"]
        wall = common.median(walls[f"{name}/{size}"])
        mini_batches = -(-files // size)
        return {
            "wall_s": wall,
            "per_s": mini_batches / wall,
            "steady_per_s": common.median(r["steady_per_s"] for r in runs),
            "median_ms": common.median(r["gap_median_ms"] for r in runs),
            "p99_ms": common.median(r["gap_p99_ms"] for r in runs),
        }

    results = {
        f"{name}/{size}": summary(name, size) for size in SIZES for name in CONTENDERS if figures[f"{name}/{size}"]
    }
    thresher, floor = results["thresher/1"], results["ppe_roundtrip/1"]
    rows = []
    for size in SIZES:
        for name in CONTENDERS:
            if f"{name}/{size}" not in results:
                continue
            r = results[f"{name}/{size}"]
            rows.append([labels[name], size, r["wall_s"], r["per_s"], r["steady_per_s"], r["median_ms"], r["p99_ms"]])
    section: dict[str, Any] = {
        "verified": True,  # every check above passed
        "title": "Per-mini-batch overhead",
        "description": (
            f"{files:,} tiny files, mini_batch_size 1 and 10, a run() that does nothing, {WORKERS} workers. "
            "*Whole job*: mini-batches per second over the whole job, start-up included. *Steady*: between the "
            "first and the last call. *Overhead per mini-batch*: the gap between consecutive calls on one "
            "worker (median and p99 over every gap of every repetition's run, medians over repetitions), i.e. "
            "the round trip a mini-batch costs a worker when run() itself costs nothing. thresher's output "
            "(the list of input files, in order) is checked, and every contender's number of calls."
        ),
        "reps": reps,
        "files": files,
        "results": {k: {n: common.rounded(v, 4) for n, v in r.items()} for k, r in results.items()},
        "ms_per_minibatch": common.rounded(thresher["median_ms"], 4),
        "ms_per_minibatch_p99": common.rounded(thresher["p99_ms"], 4),
        "floor_ms_per_minibatch": common.rounded(floor["median_ms"], 4),
        "minibatches_per_s": common.rounded(thresher["per_s"], 1),
        "ms_per_minibatch_size10": common.rounded(results["thresher/10"]["median_ms"], 4),
        "figures": ["ms_per_minibatch", "ms_per_minibatch_p99", "floor_ms_per_minibatch", "minibatches_per_s"],
        "tables": [
            {
                "columns": [
                    "contender",
                    "mini_batch_size",
                    "seconds (whole job)",
                    "mini-batches/s (whole job)",
                    "mini-batches/s (steady)",
                    "overhead/mini-batch median ms",
                    "p99 ms",
                ],
                "rows": rows,
            }
        ],
        "commands": [c.shown(work) for c in contenders],
        "targets": [
            common.target(
                "B2: at most 0.5 ms overhead per mini-batch (median), durable progress",
                f"{thresher['median_ms']:.3f} ms (floor {floor['median_ms']:.3f} ms)",
                thresher["median_ms"] <= 0.5,
            ),
            common.target(
                "P2 with warm compute: unchanged or better, at most 0.35 ms per mini-batch (median)",
                f"{thresher['median_ms']:.3f} ms",
                thresher["median_ms"] <= 0.35,
            ),
        ],
    }
    return section


def main() -> None:
    common.main("p2", __doc__, CONTENDERS, globals(), main_bench)


if __name__ == "__main__":
    sys.exit(main())
