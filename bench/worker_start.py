"""Worker start: from ``LocalExecutor.start()`` to the worker's ``ready``, spawned or forked from a template.

P1's scoring script (``import pandas`` at its top) and model (a HistGradientBoosting regressor, whose
unpickling imports scikit-learn), one worker with a thread share of 1 (``--workers 2``: two at once).
Each repetition runs in a fresh process, as a runner's first job does; contenders are interleaved:

- ``spawn``: ``python -m thresher.runtime.worker`` (``THRESHER_WORKER_TEMPLATE=0``);
- ``fork_cold``: the first worker of the process, so the template's start and imports are in the time;
- ``fork_warm``: a worker forked from a template that a previous job in the process started (later jobs
  of a runner, replacement workers).

    python -m bench.worker_start --reps 7
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import common, p1_tabular

CONTENDERS = ("spawn", "fork_cold", "fork_warm")


def _contender(name: str, work: Path, workers: int) -> None:
    from thresher.executors.base import WorkerReady
    from thresher.executors.local import LocalExecutor
    from thresher.runtime.protocol import WorkerConfig

    places = p1_tabular.prepare(work, files=1, rows=10)
    model_dir = work / "model-root"
    model_dir.mkdir(exist_ok=True)
    if not (model_dir / "model").exists():
        (model_dir / "model").symlink_to(places["model"])

    def config(job: str) -> WorkerConfig:
        folder = work / "jobs" / f"{job}-{os.getpid()}"
        return WorkerConfig.from_dict(
            {
                "job": job,
                "script": str(places["code"] / "score.py"),
                "code_dir": str(places["code"]),
                "model_dir": str(model_dir),
                "output_dir": str(folder / "out"),
                "parts_dir": str(folder / "parts"),
                "logs_dir": str(folder / "logs"),
                "threads": max(1, (os.cpu_count() or 1) // workers),
            }
        )

    def ready_after(job: str) -> tuple[float, list[int]]:
        executor = LocalExecutor(worker_template=name != "spawn")
        began = time.perf_counter()
        executor.start(config(job), nodes=1, per_node=workers)
        ready = 0
        while ready < workers:
            events = executor.poll(60)
            ready += sum(isinstance(event, WorkerReady) for event in events)
            if not events:
                raise common.BenchError(f"{name}: no worker ready after 60 s")
        seconds = time.perf_counter() - began
        parents = [_parent(executor.pid(f"node-0/process{n:03d}") or 0) for n in range(workers)]
        executor.shutdown()
        return seconds, parents

    if name == "fork_warm":
        ready_after("warm-up")
    seconds, parent_pids = ready_after("measured")
    parents = set(parent_pids)
    forked = parents != {os.getpid()}
    if forked != (name != "spawn"):
        raise common.BenchError(f"{name}: workers' parents {parents}, this process {os.getpid()}")
    print(common.REPORT_PREFIX + json.dumps({"seconds": seconds}), flush=True)


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def main() -> None:
    parser = common.arguments(__doc__ or "", CONTENDERS)
    parser.add_argument("--workers", type=int, default=1, help="workers started at once")
    parser.add_argument("--patience", type=float, default=300.0, help="seconds to wait for a quiet machine")
    options = parser.parse_args()
    work = common.work_dir("worker_start", options.work, smoke=options.smoke)
    if options.contender:
        _contender(options.contender, work, options.workers)
        return
    p1_tabular.prepare(work, files=1, rows=10)  # the model is trained here, not in a timed process
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    env = {**os.environ, "PYTHONPATH": str(common.REPO)}
    for _ in range(1 if options.smoke else options.reps):
        for name in CONTENDERS:
            common.wait_quiet(patience=options.patience)
            command = [sys.executable, "-m", "bench.worker_start", name, "--workers", str(options.workers)]
            command += ["--work", str(work)]
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=common.REPO, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith(common.REPORT_PREFIX)]
            if done.returncode != 0 or not lines:
                raise common.BenchError(f"{name} failed:\n{done.stdout}\n{done.stderr}")
            times[name].append(json.loads(lines[-1][len(common.REPORT_PREFIX) :])["seconds"])
    medians = {name: common.median(values) for name, values in times.items()}
    print(f"start() to ready, {options.workers} worker(s), medians of {len(times['spawn'])}:")
    for name in CONTENDERS:
        print(f"  {name:10s} {medians[name]:.3f} s   {' '.join(f'{v:.3f}' for v in times[name])}")
    for name in ("fork_cold", "fork_warm"):
        print(f"  spawn / {name}: {medians['spawn'] / medians[name]:.2f}x")
    print(json.dumps({"workers": options.workers, "times": times, "medians": medians}))


if __name__ == "__main__":
    main()
