"""P4. Planning scale: a job over 1,000,000 input files, time to plan and the runner's peak memory.

The files are empty and live in a tmpfs (``/dev/shm`` where there is one), so listing them costs what
an object-store listing or a generated manifest would, and the disk is not the bottleneck. Two layouts:
1,000 folders of 1,000 files (a prefix per day, as object stores hold data) and one flat folder of
1,000,000 files (the hardest case for memory: the whole listing is one folder).

- thresher: invoke (mini_batch_size 10, Azure's default: 100,000 mini-batches) and watch the job until
  its plan is recorded; the runner's peak resident memory (``VmHWM``) is read from /proc while it lives.
  The job is then canceled: running 100,000 mini-batches is P2's subject.
- floor: a bare Python process that lists the same tree in sorted order, stats every file (thresher's
  input fingerprint does) and writes the list of mini-batches to a file.

    python -m bench.p4_planning --reps 3
"""

from __future__ import annotations

import json
import os
import resource
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from bench import common

CONTENDERS = ("thresher", "floor")
MINI_BATCH_SIZE = 10

NOTHING_PY = textwrap.dedent(
    """
    def init():
        pass


    def run(mini_batch):
        return mini_batch
    """
).lstrip()


def tmpfs_root(work: Path, smoke: bool) -> Path:
    """A folder in a tmpfs (``/dev/shm``) for the trees; the work folder for the smoke's small ones."""
    shm = Path("/dev/shm")
    usable = shm.is_dir() and os.access(shm, os.W_OK)
    root = shm / "thresher-bench" / "p4" if usable and not smoke else work / "trees"
    root.mkdir(parents=True, exist_ok=True)
    return root


def make_tree(folder: Path, folders: int, per_folder: int) -> None:
    """``folders`` x ``per_folder`` empty files (one folder: the files directly in ``folder``)."""
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
    for f in range(folders):
        target = folder if folders == 1 else folder / f"day={f:04d}"
        target.mkdir(exist_ok=True)
        base = os.fspath(target)
        for i in range(per_folder):
            os.close(os.open(f"{base}/part-{f * per_folder + i:07d}.bin", flags, 0o644))


def vm_hwm_mb(pid: int) -> float | None:
    """The process's peak resident memory (MB), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- contenders -----------------------------------------------------------------------------------


def run_thresher(args: dict[str, Any]) -> None:
    from thresher import Workspace

    with Workspace(args["home"]) as ws:
        invoked = time.monotonic()
        job = ws.jobs.invoke("plan", input=args["data"], output_path=args["out"])
        pid = None
        peak = 0.0
        planned_at = None
        while True:
            record = ws.jobs.get(job.name)
            if pid is None and record.runner:
                pid = common.runner_pid(record.runner)
            if pid is not None:
                peak = max(peak, vm_hwm_mb(pid) or 0.0)
            if planned_at is None and record.progress.plan is not None:
                planned_at = time.monotonic()
                planned_wall = time.time()
                peak_at_plan = peak
                plan = record.progress.plan
                started = record.started_at
                ws.jobs.cancel(job.name)
            if record.status in ("Completed", "Failed", "Canceled"):
                break
            time.sleep(0.02)
        if planned_at is None:
            raise SystemExit(f"job {job.name} ended {record.status} before its plan was seen: {record.headline}")
        if pid is not None:
            peak = max(peak, vm_hwm_mb(pid) or 0.0)
    common.report(
        job=job.name,
        runner=record.runner,
        plan_s=planned_at - invoked,
        claim_to_plan_s=planned_wall - started.timestamp() if started else None,
        invoke_to_claim_s=(started - job.created_at).total_seconds() if started else None,
        peak_rss_mb_at_plan=peak_at_plan,
        peak_rss_mb=peak,
        files=plan.files,
        mini_batches=plan.mini_batches,
        status=record.status,
    )


def run_floor(args: dict[str, Any]) -> None:
    started = time.monotonic()
    files = 0
    batch: list[str] = []
    mini_batches = 0
    with open(args["out"], "w", encoding="utf-8") as plan:

        def flush() -> None:
            nonlocal batch, mini_batches
            plan.write(json.dumps({"index": mini_batches, "items": batch}) + "\n")
            mini_batches += 1
            batch = []

        stack = [iter(sorted(os.scandir(args["data"]), key=lambda e: e.name))]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            if entry.is_dir():
                stack.append(iter(sorted(os.scandir(entry.path), key=lambda e: e.name)))
                continue
            os.stat(entry.path)
            files += 1
            batch.append(entry.path)
            if len(batch) == MINI_BATCH_SIZE:
                flush()
        if batch:
            flush()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    common.report(plan_s=time.monotonic() - started, peak_rss_mb=peak, files=files, mini_batches=mini_batches)


# -- the benchmark --------------------------------------------------------------------------------


def main_bench(options: Any) -> dict[str, Any]:
    reps = 1 if options.smoke else options.reps
    total = 2_000 if options.smoke else 1_000_000
    side = 40 if options.smoke else 1_000
    layouts = {
        "folders": (f"{side:,} folders x {total // side:,} files", side, total // side),
        "flat": (f"1 folder x {total:,} files", 1, total),
    }
    work = common.work_dir("p4", options.work, smoke=options.smoke)
    root = tmpfs_root(work, options.smoke)
    trees = {}
    for key, (label, folders, per) in layouts.items():
        print(f"  making {label} in {root} (once)", file=sys.stderr, flush=True)
        trees[key] = common.cached(
            root / key, {"folders": folders, "per": per}, lambda f, a=folders, b=per: make_tree(f, a, b)
        )
    code = work / "code"
    code.mkdir(exist_ok=True)
    (code / "score.py").write_text(NOTHING_PY)
    model = work / "model"
    model.mkdir(exist_ok=True)
    (model / "nothing.txt").write_text("no model\n")
    home = work / "ws"
    ws = common.workspace(home)
    settings = {"mini_batch_size": MINI_BATCH_SIZE, "max_concurrency_per_instance": 2}
    common.deploy(ws, work, endpoint="plan", model_dir=model, code_dir=code, settings=settings)
    ws.close()
    module = "bench.p4_planning"
    results: dict[str, dict[str, Any]] = {}
    commands = []
    for key in layouts:
        contenders = [
            common.Contender(
                "thresher",
                "thresher: invoke to plan recorded",
                module,
                {"home": str(home), "data": str(trees[key]), "out": str(work / "out" / key)},
                baseline=False,
            ),
            common.Contender(
                "floor",
                "bare sorted listing + stat + plan file (floor)",
                module,
                {"data": str(trees[key]), "out": str(work / f"floor-plan-{key}.jsonl")},
            ),
        ]
        commands += [c.shown(work).replace(str(root), "$SHM") for c in contenders]

        def before(contender: common.Contender, rep: int) -> None:
            if contender.name == "thresher":
                import shutil

                shutil.rmtree(contender.params["out"], ignore_errors=True)
                common.assert_cold(home)

        def after(contender: common.Contender, rep: int, measured: common.Measured) -> None:
            values = measured.report
            if contender.name == "thresher":
                common.end_thresher(home, values.get("runner"), timeout=120)  # the next run starts cold
            if values["files"] != total or values["mini_batches"] != -(-total // MINI_BATCH_SIZE):
                raise common.BenchError(
                    f"{contender.label} planned {values['files']} files in {values['mini_batches']} mini-batches; "
                    f"expected {total} in {-(-total // MINI_BATCH_SIZE)}"
                )

        runs = common.measure(contenders, reps, before=before, after=after)
        for name, measured in runs.items():
            results[f"{name}/{key}"] = {
                "plan_s": common.median(m.report["plan_s"] for m in measured),
                "peak_rss_mb": common.median(m.report["peak_rss_mb"] for m in measured),
                "process_s": common.median(m.seconds for m in measured),
            }
            if name == "thresher":
                results[f"{name}/{key}"]["peak_rss_mb_at_plan"] = common.median(
                    m.report["peak_rss_mb_at_plan"] for m in measured
                )
    plan_s = max(results[f"thresher/{key}"]["plan_s"] for key in layouts)
    peak = max(results[f"thresher/{key}"]["peak_rss_mb"] for key in layouts)
    rows = []
    for key, (label, _, _) in layouts.items():
        t, f = results[f"thresher/{key}"], results[f"floor/{key}"]
        rows.append(["thresher (invoke to plan recorded)", label, t["plan_s"], total / t["plan_s"], t["peak_rss_mb"]])
        rows.append(["bare listing + stat (floor)", label, f["plan_s"], total / f["plan_s"], f["peak_rss_mb"]])
    section: dict[str, Any] = {
        "verified": True,  # every check above passed
        "title": "Planning scale",
        "description": (
            f"A job over {total:,} empty input files in a tmpfs (so the disk is not the bottleneck), "
            f"mini_batch_size {MINI_BATCH_SIZE} ({-(-total // MINI_BATCH_SIZE):,} mini-batches). thresher's time "
            "runs from `invoke` to the plan being recorded in the job (runner start included); its memory is "
            "the detached runner's peak resident set (VmHWM) over its life until the job is canceled after "
            "planning. The floor's time and memory are its own process's."
        ),
        "reps": reps,
        "files": total,
        "results": {k: {n: common.rounded(v) for n, v in r.items()} for k, r in results.items()},
        "plan_s": common.rounded(plan_s),
        "peak_rss_mb": common.rounded(peak, 1),
        "figures": ["plan_s", "peak_rss_mb"],
        "tables": [
            {
                "columns": ["contender", "layout", "seconds to plan", "files/s", "peak memory MB"],
                "rows": rows,
            }
        ],
        "notes": [
            "`p4.plan_s` and `p4.peak_rss_mb` are the worse of the two layouts. `$SHM` is "
            f"`{root}`, where the trees are made once and kept between runs."
        ],
        "commands": commands,
        "targets": [
            common.target(f"B4: {total:,} files planned in under 20 s", f"{plan_s:.1f} s", plan_s < 20),
            common.target("B4: under 300 MB peak memory (runner)", f"{peak:.0f} MB", peak < 300),
        ],
    }
    return section


def main() -> None:
    common.main("p4", __doc__, CONTENDERS, globals(), main_bench)


if __name__ == "__main__":
    sys.exit(main())
