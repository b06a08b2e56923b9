"""P7. The control plane's ceiling: mini-batches per second one runner plans, dispatches and commits durably.

A batch job over 100,000 empty files (``mini_batch_size: 1``, ``output_action: summary_only``: 100,000
mini-batches) runs through the real runner (``run_job``: planning the input, the scheduling loop, the
grouped commits of finished mini-batches and the job's progress, the end-of-job reports) on an
executor whose tasks cost nothing: ``ZeroCostExecutor`` has 64 workers that are ready at once and
finish every task the moment it is submitted. What remains is thresher's own cost per mini-batch,
which bounds how many workers (a cluster's cores or GPUs) one runner can keep busy: a runner that
commits R mini-batches per second feeds at most R x (seconds per mini-batch) workers.

Contenders, each a process that opens the workspace, queues the job (no detached runner), claims it
and calls ``run_job`` (the only timed part):

- sqlite: the workspace's SQLite database (WAL, ``synchronous=FULL``: every commit reaches the disk).
- postgres: a PostgreSQL server started for the benchmark on 127.0.0.1 (``tests/pg.py``), with its
  durable defaults (``fsync`` and ``synchronous_commit`` on, unlike the test suite's server).

Phases are timed through the runner's phase seam (``Faults.reached``): *plan* is claim to plan
persisted (listing, fingerprinting, writing ``plan.jsonl`` and recording it), *dispatch+commit* is
plan to every mini-batch committed, *finalize* is the reports and the final status.

The section also holds the Ray figures (overhead per mini-batch on Ray, P1 on a one-node Ray
cluster), measured after these by ``bench/p7_ray.py``.

    python -m bench.p7_control_plane --reps 3
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from thresher.executors.base import Event, Task, TaskDone, WorkerConfig, WorkerReady
from thresher.scheduler.faults import Faults

CONTENDERS = ("sqlite", "postgres")
WORKERS = 64
ENDPOINT = "zero"
GOAL_PER_S = 10_000

NOTHING_PY = textwrap.dedent(
    """
    def init():
        pass


    def run(mini_batch):
        return mini_batch
    """
).lstrip()


class ZeroCostExecutor:
    """An executor whose tasks cost nothing: a declared seam for measuring the scheduler alone.

    ``start`` makes ``nodes * per_node`` workers that are ready at once (a ``WorkerReady`` each on the
    first poll); ``submit`` finishes the task on the spot, so the next ``poll`` reports it done with
    every item succeeded and no part written (the job's output action is ``summary_only``).
    """

    def __init__(self) -> None:
        self._workers: list[str] = []
        self._free: list[str] = []
        self._events: list[Event] = []
        self.submitted = 0

    def start(self, config: WorkerConfig, *, nodes: int, per_node: int) -> None:
        self._workers = [f"node-{n}/process{p:03d}" for n in range(nodes) for p in range(per_node)]
        self._events = [WorkerReady(worker, 0.0) for worker in self._workers]

    def idle_workers(self) -> int:
        return len(self._free)

    def live_workers(self) -> int:
        return len(self._workers)

    def submit(self, task: Task) -> str:
        if not self._free:
            raise RuntimeError("no idle worker")
        worker = self._free.pop()
        items = len(task.items)
        self._events.append(TaskDone(task.id, worker, items, items, 0, None, 0.0))
        self.submitted += 1
        return worker

    def poll(self, timeout: float) -> list[Event]:
        events, self._events = self._events, []
        for event in events:  # a worker is idle again once its event is read
            self._free.append(event.worker)
        return events

    def kill(self, worker: str, reason: str) -> None:
        raise RuntimeError(f"a zero-cost task never times out ({worker} {reason})")

    def shutdown(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        self._free = []


@dataclass(frozen=True)
class PhaseClock(Faults):
    """The runner's phase seam, used to time phases: when each phase was first reached (perf_counter)."""

    stamps: dict[str, float] = field(default_factory=dict)

    def reached(self, phase: str, *, attempt: int, path: str) -> None:
        self.stamps.setdefault(phase, time.perf_counter())


# -- contenders (each runs in its own process) ----------------------------------------------------


def _run_job(args: Mapping[str, Any]) -> None:
    from thresher import Workspace
    from thresher.scheduler.launch import runner_id, stale_before
    from thresher.scheduler.runner import run_job

    profile = args.get("profile")
    with Workspace(args["home"], database_url=args.get("url")) as ws:
        job = ws.jobs.invoke(ENDPOINT, input=args["data"], output_path=args["out"], start_runner=False)
        store, runner = ws.instance.store, runner_id()
        claimed = store.claim_job(runner, stale_before=stale_before(), name=job.name)
        if claimed is None:
            raise SystemExit(f"job {job.name} could not be claimed")
        clock = PhaseClock()
        executors: list[ZeroCostExecutor] = []

        def executor_factory(spec: Any) -> ZeroCostExecutor:
            executors.append(ZeroCostExecutor())
            return executors[-1]

        profiler = _start_profiler() if profile else None
        started = time.perf_counter()
        done = run_job(store, claimed, runner, executor_factory, settings=ws.settings, faults=clock)
        ended = time.perf_counter()
        if profiler is not None:
            _stop_profiler(profiler, Path(profile))
        if done is None or done.status != "Completed":
            raise SystemExit(f"job {job.name} ended {done and done.status}: {done and done.headline}")
        committed = store.mini_batches(job.name)
        stamps = clock.stamps
        common.report(
            job=job.name,
            mini_batches=done.progress.mini_batches_done,
            planned=done.progress.mini_batches_total,
            committed_rows=len(committed),
            committed_items=sum(record.succeeded for record in committed),
            distinct=len({record.index for record in committed}),
            submitted=sum(e.submitted for e in executors),
            plan_s=stamps["planned"] - started,
            dispatch_s=stamps["dispatched"] - stamps["planned"],
            finalize_s=ended - stamps["dispatched"],
            total_s=ended - started,
        )
        store.delete_job(job.name)  # not timed: the next repetition starts from the same database


def run_sqlite(args: dict[str, Any]) -> None:
    _run_job(args)


def run_postgres(args: dict[str, Any]) -> None:
    _run_job(args)


def _start_profiler() -> Any:
    try:
        from pyinstrument import Profiler
    except ImportError:  # the standard library's profiler when the bench extra is not installed
        import cProfile

        profiler: Any = cProfile.Profile()
        profiler.enable()
        return profiler
    profiler = Profiler(interval=0.0005)
    profiler.start()
    return profiler


def _stop_profiler(profiler: Any, output: Path) -> None:
    if hasattr(profiler, "output_text"):
        profiler.stop()
        output.write_text(profiler.output_text(show_all=True))
        return
    import io
    import pstats

    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(60)
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(40)
    output.write_text(text.getvalue())


# -- the benchmark --------------------------------------------------------------------------------


def make_files(folder: Path, count: int) -> None:
    """``count`` empty files, names in input order."""
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
    base = os.fspath(folder)
    for index in range(count):
        os.close(os.open(f"{base}/item-{index:07d}.bin", flags, 0o644))


def deploy(home: Path, work: Path, url: str | None) -> None:
    """A workspace (SQLite at ``home``, or the database at ``url``) with the zero endpoint deployed."""
    from thresher import Workspace
    from thresher.specs import parse_spec

    common.fresh(home)
    code = work / "code"
    code.mkdir(exist_ok=True)
    (code / "score.py").write_text(NOTHING_PY)
    model = work / "model"
    model.mkdir(exist_ok=True)
    (model / "nothing.txt").write_text("no model\n")
    with Workspace(home, database_url=url) as ws:
        ws.computes.create(parse_spec({"name": "local2", "type": "local", "max_workers": 2}, "compute", base_dir=home))
        settings = {
            "mini_batch_size": 1,
            "max_concurrency_per_instance": WORKERS,
            "output_action": "summary_only",
            "retry_settings": {"max_retries": 0, "timeout": 3600},
        }
        common.deploy(ws, work, endpoint=ENDPOINT, model_dir=model, code_dir=code, settings=settings)


def start_postgres() -> tuple[Any, str | None]:
    """A durable PostgreSQL server and the URL of an empty database, or (None, why not)."""
    try:
        from tests.pg import PostgresError, PostgresServer
    except ImportError as exc:  # psycopg missing
        return None, f"PostgreSQL not measured: {exc}"
    try:
        server = PostgresServer(durable=True)
    except PostgresError as exc:  # the server's binaries are not installed
        return None, f"PostgreSQL not measured: {exc}"
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server, None


def main_bench(options: Any) -> dict[str, Any]:
    files = 2_000 if options.smoke else 100_000
    reps = 1 if options.smoke else options.reps
    work = common.work_dir("p7", options.work, smoke=options.smoke)
    shm = Path("/dev/shm")
    root = shm / "thresher-bench" / "p7" if shm.is_dir() and os.access(shm, os.W_OK) and not options.smoke else work
    root.mkdir(parents=True, exist_ok=True)
    print(f"  making {files:,} empty files in {root} (once)", file=sys.stderr, flush=True)
    data = common.cached(root / "data", {"files": files}, lambda folder: make_files(folder, files))
    server, skipped = start_postgres()
    try:
        contenders = []
        for name in CONTENDERS:
            if name == "postgres" and server is None:
                continue
            url = server.create_database("p7") if name == "postgres" else None
            home = work / f"ws-{name}"
            deploy(home, work, url)
            params = {"home": str(home), "data": str(data), "out": str(work / "out" / name)}
            if url is not None:
                params["url"] = url
            label = {"sqlite": "SQLite (WAL, synchronous=FULL)", "postgres": "PostgreSQL (fsync, synchronous_commit)"}
            contenders.append(common.Contender(name, label[name], "bench.p7_control_plane", params, baseline=False))

        def after(contender: common.Contender, rep: int, measured: common.Measured) -> None:
            values = measured.report
            expected = {
                "mini_batches": files,
                "planned": files,
                "committed_rows": files,
                "committed_items": files,
                "distinct": files,
                "submitted": files,
            }
            wrong = {k: values.get(k) for k, v in expected.items() if values.get(k) != v}
            if wrong:
                raise common.BenchError(f"{contender.label}: expected {files:,} of each, got {wrong}")

        runs = common.measure(contenders, reps, after=after)
        if options.profile:  # one more run each, under the profiler, not counted: profilers slow Python down
            for contender in contenders:
                output = work / f"profile-{contender.name}.txt"
                profiled = common.Contender(
                    **{**vars(contender), "params": {**contender.params, "profile": str(output)}}
                )
                common.run(profiled)
                print(f"  profile of {contender.label}: {output}", file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()
    results: dict[str, dict[str, float]] = {}
    for name, measured in runs.items():
        phase = {k: common.median(m.report[k] for m in measured) for k in ("plan_s", "dispatch_s", "finalize_s")}
        claimed_to_committed = common.median(m.report["plan_s"] + m.report["dispatch_s"] for m in measured)
        results[name] = {
            "per_s": files / claimed_to_committed,
            "plan_per_s": files / phase["plan_s"],
            "dispatch_commit_per_s": files / phase["dispatch_s"],
            "with_finalize_per_s": files / common.median(m.report["total_s"] for m in measured),
            **phase,
            "process_s": common.median(m.seconds for m in measured),
        }
    rows = []
    for contender in contenders:
        r = results[contender.name]
        rows.append(
            [
                contender.label,
                r["per_s"],
                r["plan_s"],
                r["plan_per_s"],
                r["dispatch_s"],
                r["dispatch_commit_per_s"],
                r["finalize_s"],
                r["with_finalize_per_s"],
            ]
        )
    section: dict[str, Any] = {
        "verified": True,  # every count above was checked against the database
        "title": "Scale-out: control plane and Ray",
        "description": (
            f"The control plane's ceiling: a job over {files:,} empty files, mini_batch_size 1 ({files:,} "
            f"mini-batches), run by the real runner (`run_job`) on an executor whose tasks cost nothing "
            f"({WORKERS} workers, every task done the moment it is submitted). *Mini-batches/s* counts the "
            "mini-batches over the time from claim to every mini-batch committed (planning the input, "
            "dispatching, collecting and committing each group durably); the phases are shown apart, and "
            "the last column adds the end-of-job reports. Every repetition checks that each mini-batch was "
            "submitted once and committed once, with its item."
        ),
        "reps": reps,
        "files": files,
        "workers": WORKERS,
        "results": {k: {n: common.rounded(v) for n, v in r.items()} for k, r in results.items()},
        "figures": [],
        "tables": [
            {
                "columns": [
                    "database",
                    "mini-batches/s (plan + dispatch + commit)",
                    "plan s",
                    "plan mini-batches/s",
                    "dispatch+commit s",
                    "dispatch+commit mini-batches/s",
                    "finalize s",
                    "mini-batches/s with finalize",
                ],
                "rows": rows,
            }
        ],
        "notes": [],
        "commands": [c.shown(work).replace(c.params.get("url", "$DATABASE_URL"), "$DATABASE_URL") for c in contenders],
        "targets": [],
    }
    for name in CONTENDERS:
        if name not in results:
            continue
        key = f"control_plane_per_s_{name}"
        section[key] = common.rounded(results[name]["per_s"], 1)
        section[f"{key}_dispatch_commit"] = common.rounded(results[name]["dispatch_commit_per_s"], 1)
        section[f"{key}_plan"] = common.rounded(results[name]["plan_per_s"], 1)
        section["figures"].append(key)
        per_s = results[name]["per_s"]
        section["targets"].append(
            common.target(
                f"control plane over {GOAL_PER_S:,} mini-batches/s ({name}, plan + dispatch + commit)",
                f"{per_s:,.0f}/s",
                per_s > GOAL_PER_S,
            )
        )
    if skipped:
        section["postgres_skipped"] = skipped
        section["notes"].append(skipped)
    from bench import p7_ray, p7_remote  # the Ray and remote-table figures share the section

    section = p7_ray.merge(section, p7_ray.main_bench(options))
    return p7_remote.merge(section, p7_remote.main_bench(options))


def main() -> None:
    common.main("p7", __doc__, CONTENDERS, globals(), main_bench)


if __name__ == "__main__":
    sys.exit(main())
