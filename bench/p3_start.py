"""P3. Start latency: from invoke to the first mini-batch done, and the whole job for 1 file.

The P1 deployment (the diabetes model, its scoring script) with an environment of its own (scikit-learn
and pandas, pinned to the versions that trained the model), on one CSV file of 5,000 rows:

- environment build: ``thresher environment build`` with no built environment (uv's package cache warm:
  the first build ever also downloads the packages), and again with it built (the reuse).
- thresher, cold (the environment built, no thresher process alive: checked): ``invoke`` through the
  SDK; the first mini-batch is done when ``run()`` returns in a worker (the scoring script notes the
  time, on the system-wide monotonic clock); the whole job ends when the job is Completed; the process
  time adds Python start, imports and exit.
- thresher, warm: the same job invoked a second time on the same deployment, on the workers an untimed
  first job left alive (warm compute).
- floor: a bare Python process that loads the model, scores the file and writes the output.
- Ray: ``ray.init``, one actor that loads the model and scores the file, ``ray.shutdown``.

    python -m bench.p3_start --reps 3
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import common, p1_tabular

CONTENDERS = ("thresher", "thresher_warm", "floor", "ray", "build")

NOTE_DONE = """

# The benchmark's addition: note when run() returns (the first mini-batch done).
import time as _time

_score_run = run


def run(mini_batch):
    result = _score_run(mini_batch)
    open(os.path.join(os.environ["BENCH_STAMPS"], f"{os.getpid()}-{_time.monotonic_ns()}"), "w").close()
    return result
"""


def conda_yaml() -> str:
    """The environment: the Python and package versions that trained the model (a pickle needs them)."""
    python = ".".join(map(str, sys.version_info[:2]))
    pins = [f"{p}=={metadata.version(p)}" for p in ("scikit-learn", "pandas")]
    return "\n".join(
        [
            "name: bench-sklearn",
            "channels: [conda-forge]",
            "dependencies:",
            f"  - python={python}",
            "  - pip",
            "  - pip:",
            *(f"      - {pin}" for pin in pins),
            "",
        ]
    )


# -- contenders -----------------------------------------------------------------------------------


def run_thresher(args: dict[str, Any]) -> None:
    result = common.thresher_invoke(args["home"], "start", args["data"], output_path=args["out"])
    stamps = [int(name.split("-")[1]) for name in os.listdir(args["stamps"])]
    if not stamps:
        raise SystemExit("run() noted no mini-batch")
    first = (min(stamps) / 1e9) - result["invoked_at"]
    common.report(first_minibatch_s=first, **result)


run_thresher_warm = run_thresher  # the same client: warm or cold is the state the workspace is in


def run_floor(args: dict[str, Any]) -> None:
    import score  # type: ignore[import-not-found]

    model = score.load_model(args["model"])
    with open(os.path.join(args["out"], "predictions.csv"), "w", encoding="utf-8", newline="") as out:
        for path in sorted(Path(args["data"]).iterdir()):
            score.write_rows(score.score_file(model, str(path)), out)
    common.report()


def run_ray(args: dict[str, Any]) -> None:
    started = time.monotonic()
    import ray
    import score

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    initialized = time.monotonic()

    @ray.remote(num_cpus=1)
    class Scorer:
        def __init__(self, model_dir: str) -> None:
            self.model = score.load_model(model_dir)

        def score(self, path: str) -> Any:
            return score.score_file(self.model, path)

    actor = Scorer.remote(args["model"])  # type: ignore[attr-defined]
    path = str(next(Path(args["data"]).iterdir()))
    frame = ray.get(actor.score.remote(path))
    done = time.monotonic()
    with open(os.path.join(args["out"], "predictions.csv"), "w", encoding="utf-8", newline="") as out:
        score.write_rows(frame, out)
    ray.shutdown()
    common.report(ray_init_s=initialized - started, first_minibatch_s=done - started)


def run_build(args: dict[str, Any]) -> None:
    env = dict(os.environ, THRESHER_HOME=args["home"])
    command = [sys.executable, "-m", "thresher", "environment", "build", args["env"]]  # this tree's thresher
    started = time.monotonic()
    process = subprocess.run([*command, "-o", "json"], env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stdout}\n{process.stderr}")
    common.report(seconds=seconds, build=json.loads(process.stdout))


# -- the benchmark --------------------------------------------------------------------------------


def main_bench(options: Any) -> dict[str, Any]:
    reps = 1 if options.smoke else options.reps
    rows = 50 if options.smoke else 5000
    work = common.work_dir("p3", options.work, smoke=options.smoke)
    paths = p1_tabular.prepare(work, 1, rows)
    (paths["code"] / "score.py").write_text(p1_tabular.SCORE_PY + NOTE_DONE)
    env_dir = work / "environment"
    env_dir.mkdir(exist_ok=True)
    (env_dir / "conda.yaml").write_text(conda_yaml())
    stamps = work / "stamps"
    home = work / "ws"
    from thresher.specs import parse_spec

    ws = common.workspace(home, idle_time_before_scale_down=common.WARM_IDLE_SECONDS)
    ws.environments.create(
        parse_spec({"name": "bench-sklearn", "conda_file": str(env_dir / "conda.yaml")}, "environment", base_dir=work)
    )
    settings = {
        "mini_batch_size": 1,
        "max_concurrency_per_instance": 2,
        "environment_variables": {"BENCH_STAMPS": str(stamps)},
    }
    common.deploy(
        ws,
        work,
        endpoint="start",
        model_dir=paths["model"],
        code_dir=paths["code"],
        settings=settings,
        environment="azureml:bench-sklearn@latest",
    )
    ws.close()
    envs = home / "envs"
    module = "bench.p3_start"
    outputs = {name: work / "out" / name for name in ("thresher", "thresher_warm", "thresher_prime", "floor", "ray")}
    base = {"data": str(paths["data"]), "model": str(paths["model"])}
    code = [str(paths["code"])]
    build_args = {"home": str(home), "env": "bench-sklearn@latest"}
    contenders = [
        common.Contender("build", "environment build (nothing built)", module, build_args, baseline=False),
        common.Contender("build", "environment build (built: reuse)", module, build_args, baseline=False),
        common.Contender(
            "thresher",
            "thresher, cold (environment built)",
            module,
            {**base, "home": str(home), "stamps": str(stamps), "out": str(outputs["thresher"])},
            baseline=False,
        ),
        common.Contender(
            "thresher_warm",
            "thresher, warm: 2nd job",
            module,
            {**base, "home": str(home), "stamps": str(stamps), "out": str(outputs["thresher_warm"])},
            baseline=False,
        ),
        common.Contender(
            "floor", "bare process (floor)", module, {**base, "out": str(outputs["floor"])}, pythonpath=code
        ),
        common.Contender(
            "ray", "Ray: ray.init + 1 actor", module, {**base, "out": str(outputs["ray"])}, pythonpath=code
        ),
    ]
    labels = [c.label for c in contenders]
    results: dict[str, list[common.Measured]] = {label: [] for label in labels}
    prime_args = {**base, "home": str(home), "stamps": str(stamps), "out": str(outputs["thresher_prime"])}
    cold_warm = common.ColdWarm(home, common.Contender("thresher", "priming job", module, prime_args, False))

    def before(contender: common.Contender, rep: int) -> None:
        if contender.label == labels[0]:
            shutil.rmtree(envs, ignore_errors=True)  # nothing built: the next build builds
        elif contender.name.startswith("thresher"):
            shutil.rmtree(outputs[contender.name], ignore_errors=True)
            if contender.name == "thresher":
                cold_warm.before_cold()
            else:
                cold_warm.before_warm()
            common.fresh(stamps)  # after the priming job: the timed job's run() calls only
        elif contender.name in outputs:
            common.fresh(outputs[contender.name])

    def after(contender: common.Contender, rep: int, measured: common.Measured) -> None:
        if contender.name == "build":
            built = measured.report["build"]
            reused = contender.label == labels[1]
            if bool(built.get("reused")) != reused:
                raise common.BenchError(f"{contender.label}: thresher reported reused={built.get('reused')}")
        if contender.name == "thresher":
            cold_warm.after_cold(measured)
        elif contender.name == "thresher_warm":
            cold_warm.after_warm(measured)
        if contender.name in outputs and contender.name != "floor":
            ours = (outputs[contender.name] / "predictions.csv").read_bytes()
            if ours != (outputs["floor"] / "predictions.csv").read_bytes():
                raise common.BenchError(f"{contender.label}'s output differs from the floor's")
        results[contender.label].append(measured)

    order = [*contenders[:2], contenders[4], contenders[2], contenders[3], contenders[5]]  # floor before checks
    common.measure(order, reps, before=before, after=after)

    def med(label: str, key: str | None = None) -> float:
        runs = results[label]
        return common.median(m.seconds if key is None else m.report[key] for m in runs)

    thresher, warm, floor, ray = labels[2], labels[3], labels[4], labels[5]
    first = med(thresher, "first_minibatch_s")
    job = med(thresher, "invoke_to_done_s")
    warm_first = med(warm, "first_minibatch_s")
    bare = med(floor)
    build, reuse = med(labels[0], "seconds"), med(labels[1], "seconds")
    ray_first = med(ray, "first_minibatch_s")
    table = [
        ["thresher, cold: environment built (SDK invoke)", first, job, med(thresher)],
        [
            "thresher, warm: 2nd job on the deployment (SDK invoke)",
            warm_first,
            med(warm, "invoke_to_done_s"),
            med(warm),
        ],
        ["bare process: the whole 1-file job (floor)", None, None, bare],
        ["Ray: ray.init + 1 actor", ray_first, None, med(ray)],
    ]
    section: dict[str, Any] = {
        "verified": True,  # every check above passed
        "title": "Start latency",
        "description": (
            f"One CSV file of {rows:,} rows through the P1 model and scoring script, in an environment of "
            "its own (a conda.yaml pinning scikit-learn and pandas), 2 workers. *First mini-batch*: from "
            "`invoke` (or the process start, for Ray) to the first `run()` returning. *Whole job*: from "
            "`invoke` to the job Completed (output assembled). *Process*: the whole client process, Python "
            "start and imports included. *Bare process*: one Python process that loads the model, scores the "
            "file and writes the output, from spawn to exit. Every output is byte-identical to the floor's."
        ),
        "reps": reps,
        "first_minibatch_s": common.rounded(first),
        "job_1_file_s": common.rounded(job),
        "process_1_file_s": common.rounded(med(thresher)),
        "bare_process_s": common.rounded(bare),
        "warm_first_minibatch_s": common.rounded(warm_first),
        "warm_job_1_file_s": common.rounded(med(warm, "invoke_to_done_s")),
        "warm_process_1_file_s": common.rounded(med(warm)),
        **cold_warm.figures(),
        "env_build_s": common.rounded(build),
        "env_reuse_s": common.rounded(reuse),
        "ray_first_minibatch_s": common.rounded(ray_first),
        "ray_init_s": common.rounded(med(ray, "ray_init_s")),
        "figures": [
            "first_minibatch_s",
            "job_1_file_s",
            "bare_process_s",
            "warm_first_minibatch_s",
            "warm_idle_memory_mb",
            "env_build_s",
            "env_reuse_s",
        ],
        "tables": [
            {
                "columns": ["contender", "first mini-batch s", "whole job s", "process s"],
                "rows": table,
            },
            common.timeline_table(results[thresher], "thresher's cold job for 1 file, step by step"),
            common.timeline_table(results[warm], "thresher's warm job for 1 file, step by step"),
            {
                "title": "Environments (`thresher environment build`, the whole CLI process)",
                "columns": ["", "seconds"],
                "rows": [["build (nothing built; uv package cache warm)", build], ["reuse (built)", reuse]],
            },
        ],
        "notes": [
            "The `build` commands time `THRESHER_HOME=$WORK/ws .venv/bin/python -m thresher environment build "
            "bench-sklearn@latest -o json` (the CLI process, from spawn to exit); before the first, the "
            "workspace's built environments (`$WORK/ws/envs`) are deleted.",
            common.COLD_WARM_NOTE,
        ],
        "commands": [c.shown(work) for c in contenders],
    }
    section["notes"].append(common.memory_note(section))
    section["targets"] = [
        common.target(
            "B3: first mini-batch done within 1 s of invoke (cold, environment built)", f"{first:.2f} s", first <= 1.0
        ),
        common.target(
            "P3 cold: first mini-batch (after invoke) no later than a bare process finishes the whole 1-file job",
            f"{first:.2f} s against {bare:.2f} s",
            first <= bare,
        ),
        common.target(
            "P3 warm: first mini-batch at most 0.15 s after invoke", f"{warm_first:.3f} s", warm_first <= 0.15
        ),
        common.memory_target(section),
    ]
    return section


def main() -> None:
    common.main("p3", __doc__, CONTENDERS, globals(), main_bench)


if __name__ == "__main__":
    sys.exit(main())
