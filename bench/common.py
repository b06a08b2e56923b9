"""What every benchmark shares: running contenders, statistics, machine facts, results.json, markdown.

Every contender runs as its own process (``python -m bench.pN_x CONTENDER ...``), timed from spawn to
exit, so start-up (Python, imports, ``ray.init``, thresher's detached runner and workers) is in every
time, as a user would see it. A contender prints one ``BENCH-REPORT {json}`` line with what it did
(rows written, its own finer timings) for checks. Repetitions are interleaved (rep 1 of every
contender, then rep 2, ...) so that drift of the machine hits every contender alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from tests import processes  # the repository's tests package: stdlib only, shared with the test suite

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results.json"
NOTES = REPO / "bench" / "NOTES.md"
DOC = REPO / "docs" / "benchmarks.md"
REPORT_PREFIX = "BENCH-REPORT "
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
PACKAGES = ("thresher", "numpy", "pandas", "pyarrow", "scikit-learn", "ray", "mlflow", "mlflow-skinny")


class BenchError(RuntimeError):
    """A contender failed or produced a wrong answer."""


# -- arguments and places -------------------------------------------------------------------------


def arguments(description: str, contenders: Sequence[str]) -> argparse.ArgumentParser:
    """The options every benchmark takes; ``contender`` runs one contender (what the benchmark spawns)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("contender", nargs="?", choices=list(contenders), help="run one contender (internal)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repetition, every code path")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (medians are reported)")
    parser.add_argument("--results", type=Path, default=None, help="results.json to update")
    parser.add_argument("--work", type=Path, default=None, help="where data and workspaces go")
    parser.add_argument("--profile", action="store_true", help="run thresher's runner under pyinstrument")
    parser.add_argument("--args", default="{}", help="the contender's parameters as JSON (internal)")
    return parser


def work_dir(name: str, override: Path | None = None, *, smoke: bool = False) -> Path:
    """``$THRESHER_BENCH_DIR/<name>`` (default ``/tmp/thresher-bench``); smoke runs get their own."""
    base = override or Path(os.environ.get("THRESHER_BENCH_DIR") or Path(tempfile.gettempdir()) / "thresher-bench")
    path = base / ("smoke" if smoke else "full") / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def main(
    key: str,
    doc: str | None,
    contenders: Sequence[str],
    namespace: dict[str, Any],
    main_bench: Callable[[argparse.Namespace], dict[str, Any]],
) -> None:
    """A benchmark script's command line: run one contender (``run_<name>`` in ``namespace``) in this
    process, or the whole benchmark, saving its section under ``key`` and printing its figures."""
    parser = arguments((doc or key).splitlines()[0], contenders)
    options = parser.parse_args()
    if options.contender:
        namespace[f"run_{options.contender}"](json.loads(options.args))
        return
    section = main_bench(options)
    save_section(results_path(options), key, section)
    print(json.dumps({k: section[k] for k in section["figures"]}, indent=2))


def results_path(options: argparse.Namespace) -> Path:
    """Where results go: ``--results``, else bench/results.json (smoke runs never touch it)."""
    if options.results is not None:
        return Path(options.results)
    if options.smoke:
        return work_dir("", options.work, smoke=True) / "results.json"
    return RESULTS


def fresh(path: Path) -> Path:
    """An empty folder at ``path``."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# -- contenders ---------------------------------------------------------------------------------


@dataclass
class Contender:
    """One way to do the benchmark's job, run as a process."""

    name: str  # key in results: thresher, floor, mp_pool, ray_core, ray_data, ...
    label: str  # as shown in the table
    module: str  # bench.p1_tabular
    params: dict[str, Any]  # passed as --args JSON
    baseline: bool = True  # baselines get 1 math thread per process and PYTHONPATH (see baseline_env)
    pythonpath: list[str] = field(default_factory=list)
    timeout: float = 600.0

    @property
    def command(self) -> list[str]:
        """The exact command line."""
        return [sys.executable, "-m", self.module, self.name, "--args", json.dumps(self.params, sort_keys=True)]

    def shown(self, work: Path) -> str:
        """The command as the docs show it: repository-relative interpreter, ``$WORK`` for the data folder."""
        env = ""
        if self.baseline:
            env = " ".join(f"{v}=1" for v in THREAD_VARIABLES) + " "
            if self.pythonpath:
                env += "PYTHONPATH=" + ":".join(self.pythonpath) + " "
        text = env + shlex.join([".venv/bin/python", *self.command[1:]])
        return text.replace(str(work), "$WORK")


@dataclass
class Measured:
    """One run of a contender."""

    seconds: float
    report: dict[str, Any]


def report(**values: Any) -> None:
    """Print the contender's report line (the last thing a contender prints)."""
    print(REPORT_PREFIX + json.dumps(values, default=str), flush=True)


def baseline_env(pythonpath: Iterable[str] = ()) -> dict[str, str]:
    """A baseline's environment: one math thread per process (a careful user's setting), its modules importable.

    thresher gets the unchanged environment: it sets the threads of its workers itself.
    """
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = "1"
    paths = [*pythonpath, str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run(contender: Contender) -> Measured:
    """Run the contender once, timed from spawn to exit; its report line is parsed."""
    if contender.baseline:
        env = baseline_env(contender.pythonpath)
    else:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        env.pop(IDLE_VARIABLE, None)  # the benchmarks' computes set the idle time (see WARM_IDLE_SECONDS)
    started = time.perf_counter()
    process = subprocess.run(
        contender.command, cwd=REPO, env=env, capture_output=True, text=True, timeout=contender.timeout, check=False
    )
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise BenchError(
            f"{contender.label} failed (exit {process.returncode}): {shlex.join(contender.command)}\n"
            f"{process.stdout[-3000:]}\n{process.stderr[-5000:]}"
        )
    lines = [line for line in process.stdout.splitlines() if line.startswith(REPORT_PREFIX)]
    values = json.loads(lines[-1][len(REPORT_PREFIX) :]) if lines else {}
    return Measured(seconds, values)


def measure(
    contenders: Sequence[Contender],
    reps: int,
    *,
    before: Callable[[Contender, int], None] | None = None,
    after: Callable[[Contender, int, Measured], None] | None = None,
) -> dict[str, list[Measured]]:
    """Run every contender ``reps`` times, interleaved; ``before``/``after`` prepare and check each run."""
    runs: dict[str, list[Measured]] = {c.name: [] for c in contenders}
    for rep in range(reps):
        for contender in contenders:
            if before is not None:
                before(contender, rep)
            if reps > 1:
                BUSY_BEFORE_RUNS.append(wait_quiet())
            measured = run(contender)
            if after is not None:
                after(contender, rep, measured)
            runs[contender.name].append(measured)
            print(f"  rep {rep + 1}/{reps} {contender.label}: {measured.seconds:.3f} s", file=sys.stderr, flush=True)
    return runs


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # total, idle + iowait


def busy_fraction(seconds: float = 0.5) -> float:
    """How busy the machine's cores were over ``seconds`` (0 idle, 1 every core busy)."""
    total0, idle0 = _cpu_times()
    time.sleep(seconds)
    total1, idle1 = _cpu_times()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


BUSY_BEFORE_RUNS: list[float] = []  # how busy the cores were just before each timed run (this process)


def wait_quiet(limit: float = 0.15, patience: float = 300.0) -> float:
    """Wait (up to ``patience`` seconds) until other processes leave the cores alone: timings are wall-clock.

    Returns how busy the cores were when the wait ended.
    """
    deadline = time.monotonic() + patience
    while (busy := busy_fraction()) > limit:
        if time.monotonic() > deadline:
            print(f"  the machine stayed {busy:.0%} busy; measuring anyway", file=sys.stderr, flush=True)
            return busy
        print(f"  waiting for a quiet machine ({busy:.0%} busy)", file=sys.stderr, flush=True)
        time.sleep(2.0)
    return busy


# -- statistics -----------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    """The median."""
    return float(statistics.median(list(values)))


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def seconds_of(runs: Sequence[Measured]) -> float:
    """The median wall time of a contender's runs."""
    return median(m.seconds for m in runs)


def rounded(value: float | None, digits: int = 3) -> float | None:
    """``value`` to ``digits`` significant-ish decimals (None stays None)."""
    return None if value is None else round(float(value), digits)


# -- thresher ------------------------------------------------------------------------------------


def thresher_invoke(
    home: str,
    endpoint: str,
    input: str,
    *,
    output_path: str | None = None,
    overrides: Sequence[str] = (),
    timeout: float = 1800,
    poll: float = 0.05,
) -> dict[str, Any]:
    """Invoke a job through the SDK and wait for its end (what the thresher contender process does)."""
    imported = time.monotonic()
    from thresher import Workspace

    with Workspace(home) as ws:
        invoked, invoked_wall = time.monotonic(), time.time()
        job = ws.jobs.invoke(endpoint, input=input, output_path=output_path, overrides=list(overrides))
        done = ws.jobs.wait(job.name, timeout=timeout, poll=poll)
        ended = time.monotonic()
    if done.status != "Completed":
        raise SystemExit(f"thresher job {job.name} ended {done.status}: {done.headline}")
    return {
        "job": done.name,
        "runner": done.runner,
        "folder": done.spec.get("folder"),
        "output_file": done.spec.get("output_file"),
        "import_s": invoked - imported,
        "invoked_at": invoked,
        "invoke_to_done_s": ended - invoked,
        "progress": done.progress.to_json(),
        "timeline": job_timeline(done, invoked_wall, ended - invoked),
    }


TIMELINE = {
    "claimed": "runner started and claimed the job",
    "workers_spawned": "plan written, environment ready: workers spawned",
    "first_task": "first mini-batch handed to a worker (workers ready)",
    "first_part": "first mini-batch done",
    "last_part": "last mini-batch done",
    "completed": "output assembled, job Completed",
    "seen": "the client saw it Completed",
}


def job_timeline(job: Any, invoked_wall: float, seen_s: float) -> dict[str, float | None]:
    """Seconds from ``invoke`` to each step of a finished job, read from its folder and record.

    Workers are spawned once the plan is written and the environment is ready (``work/plan.jsonl``,
    ``logs/sys/environment.txt``); a mini-batch is done when its part is written; the first task started
    one mini-batch's ``seconds`` (processed_mini_batches.csv) before its part.
    """
    import csv

    folder = Path(str(job.spec["folder"]))
    steps = [folder / "work" / "plan.jsonl", folder / "logs" / "sys" / "environment.txt"]
    spawned = max((p.stat().st_mtime for p in steps if p.exists()), default=None)
    parts = sorted(p.stat().st_mtime for p in (folder / "work" / "parts").glob("*") if p.is_file())
    first_task = None
    processed = folder / "logs" / "sys" / "processed_mini_batches.csv"
    if parts and processed.exists():
        with processed.open(encoding="utf-8") as handle:
            first = next(csv.DictReader(handle), None)
        if first is not None:
            first_task = parts[0] - float(first["seconds"]) - invoked_wall

    def since(stamp: float | None) -> float | None:
        return None if stamp is None else round(stamp - invoked_wall, 4)

    return {
        "claimed": since(job.started_at.timestamp() if job.started_at else None),
        "workers_spawned": since(spawned),
        "first_task": None if first_task is None else round(first_task, 4),
        "first_part": since(parts[0] if parts else None),
        "last_part": since(parts[-1] if parts else None),
        "completed": since(job.ended_at.timestamp() if job.ended_at else None),
        "seen": round(seen_s, 4),
    }


def timeline_table(runs: Sequence[Measured], title: str) -> dict[str, Any]:
    """The medians of thresher's job timelines, as a table."""
    rows = []
    for key, label in TIMELINE.items():
        values = [m.report["timeline"][key] for m in runs if m.report.get("timeline", {}).get(key) is not None]
        if values:
            rows.append([label, median(values)])
    return {"title": title, "columns": ["step", "seconds after invoke (median)"], "rows": rows}


def runner_pid(runner: str | None) -> int | None:
    """The pid of a runner named ``host:pid``."""
    if not runner or ":" not in runner:
        return None
    return int(runner.rsplit(":", 1)[1])


def wait_for_exit(pid: int | None, timeout: float = 20.0) -> None:
    """Wait until process ``pid`` is gone (a runner idles a few seconds before it exits)."""
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                if handle.read().split(") ", 1)[1][0] == "Z":
                    return
        except (OSError, IndexError):
            return
        time.sleep(0.05)
    raise BenchError(f"thresher's runner (pid {pid}) did not exit within {timeout:g} s")


# -- cold and warm ---------------------------------------------------------------------------------
#
# *Cold*: no thresher process of the workspace is alive when the client starts (the environment is
# built and the OS file cache is warm). *Warm*: the previous job of the same deployment ended less than
# the idle time ago, so its runner and its initialised workers serve the job. Warm compute is on by
# default, so after every thresher run the benchmarks end the pools (as ``thresher compute stop`` does)
# and wait for the runner to exit; a cold run checks that nothing of the workspace is left.

WARM_MARK = "warm, kept from job"  # the job overview's line for a job bound to warm workers
WARM_IDLE_SECONDS = 600  # the bench computes' idle time: longer than wait_quiet's patience (300 s)
IDLE_VARIABLE = "THRESHER_IDLE_TIME_BEFORE_SCALE_DOWN"  # would override it (0: warm compute off); not passed on


def thresher_processes(home: Path | str) -> dict[int, str]:
    """The workspace's thresher processes alive now (runner, workers, templates): pid -> command line.

    They are told from other workspaces' by ``THRESHER_HOME`` in their environment (the runner sets it,
    and its workers inherit it)."""
    return processes.thresher_processes(environ=f"\0THRESHER_HOME={home}\0")


def assert_cold(home: Path | str) -> None:
    """Raise BenchError unless no thresher process of the workspace is alive (what a cold run starts from)."""
    alive = thresher_processes(home)
    if alive:
        listed = "; ".join(f"{pid}: {command}" for pid, command in sorted(alive.items()))
        raise BenchError(f"a cold run must start with no thresher process alive, but {home} has: {listed}")


def warm_pools(home: Path | str) -> list[dict[str, Any]]:
    """The warm pools the workspace's runner keeps now, of every compute (``thresher compute show``)."""
    from thresher import Workspace
    from thresher.scheduler.warm import read_state

    with Workspace(home) as ws:
        pools: list[dict[str, Any]] = read_state(ws.settings)["pools"]
    return pools


def idle_pools(home: Path | str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The workspace's warm pools once every one is parked (idle) after its job, with its workers' memory."""
    deadline = time.monotonic() + timeout
    while True:
        pools = warm_pools(home)
        if pools and all(p.get("state") == "idle" for p in pools):
            return pools
        if time.monotonic() > deadline:
            raise BenchError(f"{home}: no idle warm pool {timeout:g} s after the job; pools: {pools}")
        time.sleep(0.05)


def end_thresher(home: Path | str, runner: str | None, timeout: float = 30.0) -> list[dict[str, Any]]:
    """End the workspace's warm pools (``Workspace.computes.stop`` for each compute that has one) and wait
    for its runner to exit, so that the next run starts cold; the pools as they were."""
    from thresher import Workspace

    pools = warm_pools(home)
    if pools:
        with Workspace(home) as ws:
            for compute in sorted({str(p["compute"]) for p in pools}):
                ws.computes.stop(compute, timeout=timeout)
    wait_for_exit(runner_pid(runner), timeout=timeout)
    deadline = time.monotonic() + timeout  # workers leave after their runner: a pipe closed, or a kill
    while thresher_processes(home):
        if time.monotonic() > deadline:
            assert_cold(home)
        time.sleep(0.05)
    return pools


def check_warm(report: dict[str, Any], previous: str | None = None) -> str:
    """The overview line saying the job ran on warm workers (kept from job ``previous`` when given);
    BenchError if it did not."""
    overview = Path(str(report["folder"])) / "logs" / "job_progress_overview.txt"
    lines = [line for line in overview.read_text(encoding="utf-8").splitlines() if WARM_MARK in line]
    if not lines or (previous is not None and not any(f"{WARM_MARK} {previous}" in line for line in lines)):
        raise BenchError(
            f"job {report.get('job')} was to run on the warm workers of job {previous or 'the priming job'}, "
            f"but {overview} has no line with '{WARM_MARK} {previous or ''}'"
        )
    return lines[0]


def pools_memory_mb(pools: Sequence[dict[str, Any]]) -> float:
    """The resident memory of the pools' workers, in MiB (as ``thresher compute show`` gives it)."""
    return sum(int(p.get("memory_bytes") or 0) for p in pools) / 2**20


@dataclass
class ColdWarm:
    """Cold and warm runs of one thresher deployment, as ``measure``'s ``before`` and ``after`` steps.

    A cold run starts with nothing of the workspace alive (checked) and its pools are ended after it.
    Before a warm run, ``prime`` (the same client and deployment, another output folder) runs once,
    untimed, and its runner and workers are left alive; the measured run must then be served by them
    (its overview says so), and after it the idle pools' memory is noted and the pools are ended.
    """

    home: Path
    prime: Contender
    primed_job: str | None = None
    memory_mb: list[float] = field(default_factory=list)  # per warm run: the idle pools' resident memory
    workers: list[int] = field(default_factory=list)  # per warm run: the idle pools' workers

    def before_cold(self) -> None:
        """Check that the run starts cold."""
        assert_cold(self.home)

    def after_cold(self, measured: Measured) -> None:
        """End the pools the cold run left, and its runner."""
        end_thresher(self.home, measured.report.get("runner"))

    def before_warm(self) -> None:
        """Run the priming job (cold, untimed) and leave its workers warm."""
        assert_cold(self.home)
        shutil.rmtree(self.prime.params["out"], ignore_errors=True)  # thresher never overwrites an output
        primed = run(self.prime)
        self.primed_job = str(primed.report["job"])
        idle_pools(self.home)  # parked, waiting for the next job

    def after_warm(self, measured: Measured) -> None:
        """Check the run was served by the priming job's workers; note their memory; end them."""
        check_warm(measured.report, self.primed_job)
        pools = idle_pools(self.home)
        self.memory_mb.append(pools_memory_mb(pools))
        self.workers.append(sum(int(p.get("workers") or 0) for p in pools))
        end_thresher(self.home, measured.report.get("runner"))

    def figures(self) -> dict[str, Any]:
        """The warm idle workers' memory (medians over the warm runs)."""
        if not self.memory_mb:
            return {}
        return {
            "warm_idle_memory_mb": rounded(median(self.memory_mb), 1),
            "warm_idle_workers": int(median(self.workers)),
        }


COLD_WARM_NOTE = (
    "*Cold*: no thresher process of the workspace is alive when the client starts (checked before every "
    "cold run; the environment is built and the OS file cache is warm); the warm pools a run leaves are "
    "ended after it (`Workspace.computes.stop`, as `thresher compute stop`) and its runner waited for. "
    "*Warm*: the same job invoked a second time on the same deployment: an untimed first job leaves its "
    "runner and its initialised workers alive (warm compute, the compute's `idle_time_before_scale_down` "
    f"set to {WARM_IDLE_SECONDS} s so that waiting for a quiet machine cannot end them), then the timed "
    "client invokes it again; each warm run is checked to have run on the first job's workers (its "
    f"`logs/job_progress_overview.txt` says `{WARM_MARK} ...`)."
)


def memory_note(section: dict[str, Any]) -> str:
    """What the warm idle workers hold, for a section's notes."""
    return (
        f"Warm idle workers: {section.get('warm_idle_workers')} worker processes holding "
        f"{fmt(section.get('warm_idle_memory_mb'))} MiB resident in all (`warm_idle_memory_mb`: the sum of "
        "their RSS after the warm job, as `thresher compute show --query warm_workers` reports it; pages "
        "the processes share are counted once per process)."
    )


def memory_target(section: dict[str, Any]) -> dict[str, Any]:
    """The issue's goal that the memory of warm idle workers is reported."""
    memory = section.get("warm_idle_memory_mb")
    measured = f"{fmt(memory)} MiB, {section.get('warm_idle_workers')} workers" if memory else "not reported"
    return target("memory of warm idle workers reported", measured, bool(memory))


def start_profiled_runner(home: Path, output: Path) -> subprocess.Popen[bytes]:
    """Start the workspace's runner under pyinstrument (``invoke`` then finds it alive and uses it)."""
    env = dict(os.environ, THRESHER_HOME=str(home))
    env.pop("THRESHER_DATABASE_URL", None)
    env.pop(IDLE_VARIABLE, None)
    command = [sys.executable, "-m", "pyinstrument", "--show-all", "-o", str(output)]
    command += ["-m", "thresher.scheduler.service"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = home / "runner.lock"
    deadline = time.monotonic() + 30
    import fcntl

    while time.monotonic() < deadline:  # wait until it holds the runner lock
        if lock.exists():
            with lock.open("a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(handle, fcntl.LOCK_UN)
                except BlockingIOError:
                    return process
        time.sleep(0.02)
    raise BenchError("the profiled runner did not start")


def workspace(home: Path, *, idle_time_before_scale_down: int | None = None) -> Any:
    """A fresh thresher workspace at ``home`` with a local compute of 2 workers (``local2``), whose warm
    workers are kept ``idle_time_before_scale_down`` seconds after a job (thresher's default: 120)."""
    from thresher import Workspace
    from thresher.specs import parse_spec

    fresh(home)
    ws = Workspace(home)
    document: dict[str, Any] = {"name": "local2", "type": "local", "max_workers": 2}
    if idle_time_before_scale_down is not None:
        document["idle_time_before_scale_down"] = idle_time_before_scale_down
    ws.computes.create(parse_spec(document, "compute", base_dir=home))
    return ws


def deploy(
    ws: Any,
    root: Path,
    *,
    endpoint: str,
    model_dir: Path,
    settings: dict[str, Any],
    code_dir: Path | None = None,
    script: str = "score.py",
    model_type: str = "custom_model",
    environment: str | None = None,
    name: str = "bench",
    compute: str = "azureml:local2",
) -> None:
    """Register the model, create the endpoint and its default deployment (nothing timed)."""
    from thresher.specs import parse_spec

    model_name = f"{endpoint}-model"
    ws.models.create(
        parse_spec({"name": model_name, "path": str(model_dir), "type": model_type}, "model", base_dir=root)
    )
    if not any(e.name == endpoint for e in ws.batch_endpoints.list()):
        ws.batch_endpoints.create(parse_spec({"name": endpoint}, "batch_endpoint", base_dir=root))
    document: dict[str, Any] = {
        "name": name,
        "endpoint_name": endpoint,
        "type": "model",
        "model": f"azureml:{model_name}@latest",
        "compute": compute,
        "settings": settings,
    }
    if code_dir is not None:
        document["code_configuration"] = {"code": str(code_dir), "scoring_script": script}
    if environment is not None:
        document["environment"] = environment
    spec = parse_spec(document, "batch_deployment", base_dir=root)
    ws.batch_deployments.create(spec, set_default=True)


# -- data -----------------------------------------------------------------------------------------


def diabetes_model() -> Any:
    """A HistGradientBoostingRegressor trained on scikit-learn's bundled diabetes data (nothing downloaded)."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import HistGradientBoostingRegressor

    frame = load_diabetes(as_frame=True).frame
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0)
    model.fit(frame.drop(columns="target"), frame["target"])
    return model


def diabetes_frames(files: int, rows: int, seed: int = 0) -> Iterable[Any]:
    """``files`` DataFrames of ``rows`` diabetes-shaped rows: real rows resampled, with a little noise."""
    import numpy as np
    from sklearn.datasets import load_diabetes

    features = load_diabetes(as_frame=True).data
    rng = np.random.default_rng(seed)
    scale = features.std().to_numpy() * 0.05
    for _ in range(files):
        sample = features.sample(n=rows, replace=True, random_state=int(rng.integers(1 << 31)))
        noisy = sample.to_numpy() + rng.normal(0.0, 1.0, size=sample.shape) * scale
        yield sample.__class__(noisy, columns=features.columns)


def cached(folder: Path, key: dict[str, Any], build: Callable[[Path], None]) -> Path:
    """``folder`` built by ``build`` once per ``key`` (a marker file remembers which key built it)."""
    marker = folder.parent / f".{folder.name}.built.json"  # beside it: the folder holds only data
    if marker.exists() and json.loads(marker.read_text()) == key:
        return folder
    marker.unlink(missing_ok=True)
    fresh(folder)
    build(folder)
    marker.write_text(json.dumps(key))
    return folder


def read_all(paths: Iterable[Path]) -> None:
    """Read files once so every contender finds them in the page cache."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass


# -- machine and results --------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU, Python and the versions of the packages that matter."""
    memory_kib = 0
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def save_section(path: Path, key: str, section: dict[str, Any]) -> dict[str, Any]:
    """Put one benchmark's section into results.json (other sections are kept); returns the whole document."""
    document: dict[str, Any] = {}
    if path.exists():
        document = json.loads(path.read_text())
    document["machine"] = machine_info()
    section["measured_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if BUSY_BEFORE_RUNS:
        section["busy_before_runs_max"] = round(max(BUSY_BEFORE_RUNS), 2)
    document[key] = section
    ordered = {k: document[k] for k in sorted(document, key=lambda k: (k != "machine", k))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ordered, indent=2) + "\n")
    return ordered


def save_part(
    options: argparse.Namespace,
    key: str,
    extra: dict[str, Any],
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
    empty: dict[str, Any],
) -> dict[str, Any]:
    """Merge one part of a section (``extra``, with ``merge``) into results.json; the merged section.

    Only part of the section was measured: the Machine table keeps describing the rest (the part's
    note names its machine)."""
    path = results_path(options)
    document = json.loads(path.read_text()) if path.exists() else {}
    section = merge(document.get(key, empty), extra)
    saved = save_section(path, key, section)
    if "machine" in document and document["machine"] != saved["machine"]:
        path.write_text(json.dumps({**saved, "machine": document["machine"]}, indent=2) + "\n")
    return section


def lookup(document: dict[str, Any], dotted: str) -> Any:
    """``document["p1"]["ratio_to_ideal"]`` for ``"p1.ratio_to_ideal"``."""
    value: Any = document
    for part in dotted.split("."):
        value = value[part]
    return value


def fmt(value: Any) -> str:
    """A table cell."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(document: dict[str, Any]) -> str:
    """docs/benchmarks.md from results.json (and the hand-written bench/NOTES.md)."""
    machine = document.get("machine", {})
    lines = [
        "# Benchmarks",
        "",
        "thresher against the baselines a user would pick instead, measured side by side in one run by",
        "`make bench` (which installs the baselines: `pip install -e '.[dev,bench]'`, then",
        "`python -m bench.run_all`). This file and `bench/results.json` are written by that run (the closing",
        "note comes from `bench/NOTES.md`). Every time is wall-clock for the whole job as a user sees it,",
        "start-up included: each contender is a fresh process timed from spawn to exit (Python start, imports,",
        "`ray.init`, thresher's detached runner and workers, writing the output). Figures are medians of the",
        "repetitions; a *speedup* above 1 means thresher is faster; a *ratio to ideal* of 1 means no",
        "overhead at all (ideal = the bare single-process loop's time divided by thresher's 2 workers).",
        "Every contender's output is checked against the bare loop's, so a fast wrong answer fails the run.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| cores | {machine.get('cores')} (usable: {machine.get('usable_cores')}) |",
        f"| memory | {machine.get('memory_gib')} GiB |",
        f"| CPU | {machine.get('cpu')} |",
        f"| OS | {machine.get('os')} |",
        f"| Python | {machine.get('python')} |",
        "| packages | " + ", ".join(f"{k} {v}" for k, v in (machine.get("packages") or {}).items()) + " |",
        f"| OPENBLAS_CORETYPE | {machine.get('OPENBLAS_CORETYPE') or 'unset'} |",
        "",
        "Baselines run with `OMP_NUM_THREADS=MKL_NUM_THREADS=OPENBLAS_NUM_THREADS=1` per process (what a",
        "careful user sets for a process pool on 2 cores; Ray sets the same for its workers); thresher runs",
        "with the environment unchanged, as it sets its workers' thread counts itself. In the commands",
        "`$WORK` is the benchmark's data folder (`$THRESHER_BENCH_DIR`, default `/tmp/thresher-bench/full`).",
        "",
    ]
    targets: list[list[str]] = []
    for key in sorted(k for k in document if k.startswith("p")):
        section = document[key]
        lines += [f"## {key.upper()}. {section.get('title', key)}", ""]
        if section.get("error"):
            lines += [f"**Not measured in the last run:** {section['error']}", ""]
            continue
        lines += [section.get("description", ""), ""]
        busy = section.get("busy_before_runs_max")
        load = f" Other processes kept the cores at most {busy:.0%} busy just before a timed run." if busy else ""
        lines.append(f"Repetitions: {section.get('reps')}; measured {section.get('measured_at')}.{load}")
        lines.append("")
        for table in section.get("tables", []):
            if table.get("title"):
                lines += [f"**{table['title']}**", ""]
            lines.append("| " + " | ".join(table["columns"]) + " |")
            lines.append("|" + "|".join("---" for _ in table["columns"]) + "|")
            for row in table["rows"]:
                lines.append("| " + " | ".join(fmt(cell) for cell in row) + " |")
            lines.append("")
        figures = section.get("figures", [])
        if figures:
            lines.append("results.json: " + ", ".join(f"`{key}.{name}` = {fmt(section.get(name))}" for name in figures))
            lines.append("")
        for note in section.get("notes", []):
            lines += [note, ""]
        if section.get("commands"):
            lines += ["Commands (each run as its own process, in the repository root):", "", "```"]
            lines += section["commands"]
            lines += ["```", ""]
        for target in section.get("targets", []):
            verdict = "met" if target["met"] else "**missed**"
            targets.append([key.upper(), target["target"], target["measured"], verdict])
    if targets:
        lines += ["## Targets", "", "| | target | measured | |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in targets]
        lines.append("")
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)


def write_markdown(document: dict[str, Any], path: Path = DOC) -> None:
    """Write docs/benchmarks.md."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(document))


def target(text: str, measured: str, met: bool) -> dict[str, Any]:
    """One line of the targets table."""
    return {"target": text, "measured": measured, "met": bool(met)}
