"""P5. No-code MLflow: 100 Parquet files, 1,000,000 rows, the diabetes MLflow model, no scoring script.

Contenders, each predicting every row with the same MLflow model (a HistGradientBoostingRegressor
trained on scikit-learn's bundled diabetes data, saved with ``mlflow.sklearn.save_model`` and a
signature):

- thresher: an ``mlflow_model`` deployment without a scoring script (the built-in MLflow driver), 2
  workers, in the environment the model's own files define (built before the timed runs), cold: no
  thresher process alive when the client starts (checked).
- thresher_warm: the same job invoked a second time on the same deployment, on the workers an untimed
  first job left alive (warm compute).
- floor: a bare loop that loads the pyfunc model once, then reads, predicts and writes each file in
  the driver's output format (thresher's ideal is its time / 2).
- mlflow models predict: ``--env-manager local`` on the same rows as one CSV file (made beforehand,
  untimed): what an MLflow user would do.
- ray_data: ``read_parquet -> map_batches`` (the pyfunc model in an actor pool of 2, ``num_cpus=0.5``)
  ``-> write_csv``.

    python -m bench.p5_mlflow --reps 3
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import common

CONTENDERS = ("thresher", "thresher_warm", "floor", "mlflow_predict", "ray_data")
WORKERS = 2
MINI_BATCH_SIZE = 10


def prepare(work: Path, files: int, rows: int) -> dict[str, Path]:
    """Parquet files, the same rows as one CSV, and the MLflow model (cached between runs)."""

    def build_data(folder: Path) -> None:
        for index, frame in enumerate(common.diabetes_frames(files, rows, seed=5)):
            frame.to_parquet(folder / f"patients-{index:04d}.parquet", index=False)

    def build_csv(folder: Path) -> None:
        import pandas as pd

        parts = [pd.read_parquet(path) for path in sorted(data.glob("*.parquet"))]
        pd.concat(parts, ignore_index=True).to_csv(folder / "all.csv", index=False)

    def build_model(folder: Path) -> None:
        import mlflow.sklearn
        from mlflow.models import infer_signature

        model = common.diabetes_model()
        sample = next(iter(common.diabetes_frames(1, 100, seed=0)))
        folder.rmdir()  # save_model wants to create it
        signature = infer_signature(sample, model.predict(sample))
        # pyarrow: the driver reads Parquet in the model's environment, and MLflow does not list it.
        mlflow.sklearn.save_model(
            model,
            str(folder),
            signature=signature,
            serialization_format="cloudpickle",  # skops, MLflow's default, refuses HistGradientBoosting's trees
            extra_pip_requirements=[f"pyarrow=={metadata.version('pyarrow')}"],
        )

    data = common.cached(work / "data", {"files": files, "rows": rows}, build_data)
    csv = common.cached(work / "csv", {"files": files, "rows": rows}, build_csv)
    model = common.cached(work / "model", {"model": "hgb-100-mlflow-pyarrow"}, build_model)
    return {"data": data, "csv": csv / "all.csv", "model": model}


def _files(data: str) -> list[str]:
    return sorted(os.path.join(data, name) for name in os.listdir(data) if name.endswith(".parquet"))


def write_driver_rows(predictions: Any, file_name: str, handle: Any) -> None:
    """The driver's output format: ``row,prediction,file_name``, no header."""
    import pandas as pd

    values = predictions.to_numpy().ravel() if hasattr(predictions, "to_numpy") else predictions
    frame = pd.DataFrame({"row": range(len(values)), "prediction": values, "file_name": file_name})
    frame.to_csv(handle, header=False, index=False, lineterminator="\n")


# -- contenders -----------------------------------------------------------------------------------


def run_thresher(args: dict[str, Any]) -> None:
    common.report(**common.thresher_invoke(args["home"], "mlflow", args["data"], output_path=args["out"]))


run_thresher_warm = run_thresher  # the same client: warm or cold is the state the workspace is in


def run_floor(args: dict[str, Any]) -> None:
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(args["model"])
    rows = 0
    with open(os.path.join(args["out"], "predictions.csv"), "w", encoding="utf-8", newline="") as out:
        for path in _files(args["data"]):
            frame = pd.read_parquet(path)
            write_driver_rows(model.predict(frame), os.path.basename(path), out)
            rows += len(frame)
    common.report(rows=rows)


def run_mlflow_predict(args: dict[str, Any]) -> None:
    import subprocess

    command = [os.path.join(os.path.dirname(sys.executable), "mlflow"), "models", "predict"]
    output = os.path.join(args["out"], "predictions.json")
    command += ["-m", args["model"], "-i", args["csv"], "-t", "csv", "-o", output, "--env-manager", "local"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    common.report(command=command)


class _PyfuncScorer:
    def __init__(self, model_dir: str) -> None:
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(model_dir)

    def __call__(self, batch: Any) -> Any:
        import pandas as pd

        predictions = self.model.predict(batch.drop(columns=["path"]))
        values = predictions.to_numpy().ravel() if hasattr(predictions, "to_numpy") else predictions
        return pd.DataFrame(
            {
                "row": batch.groupby("path").cumcount().to_numpy(),  # a batch holds whole files (checked)
                "prediction": values,
                "file_name": batch["path"].map(os.path.basename).to_numpy(),
            }
        )


def run_ray_data(args: dict[str, Any]) -> None:
    import ray

    ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    dataset = ray.data.read_parquet(args["data"], include_paths=True)
    dataset = dataset.map_batches(
        _PyfuncScorer,
        fn_constructor_args=(args["model"],),
        concurrency=WORKERS,
        num_cpus=0.5,  # 1 would starve the read and write tasks on 2 cores (Ray issue 44687)
        batch_size=None,
        batch_format="pandas",
    )
    dataset.write_csv(args["out"])
    ray.shutdown()
    common.report()


# -- checks ---------------------------------------------------------------------------------------


def read_output(name: str, out: Path) -> Any:
    """(file_name, row, prediction) sorted by file and row; for mlflow predict the predictions in row order."""
    import pandas as pd

    if name == "mlflow_predict":
        document = json.loads((out / "predictions.json").read_text())
        values = document["predictions"] if isinstance(document, dict) else document
        flat = [v[0] if isinstance(v, list) else (next(iter(v.values())) if isinstance(v, dict) else v) for v in values]
        return pd.DataFrame({"prediction": flat})
    if name == "ray_data":
        frame = pd.concat([pd.read_csv(p) for p in sorted(out.glob("*.csv"))], ignore_index=True)
    else:
        frame = pd.read_csv(out / "predictions.csv", header=None, names=["row", "prediction", "file_name"])
    return frame.sort_values(["file_name", "row"], kind="stable").reset_index(drop=True)


def check(name: str, out: Path, reference: Any, expected_rows: int) -> None:
    """Every row once, with the floor's prediction."""
    import numpy as np

    frame = read_output(name, out)
    if len(frame) != expected_rows:
        raise common.BenchError(f"{name} wrote {len(frame):,} predictions; expected {expected_rows:,}")
    if reference is None:
        return
    if name != "mlflow_predict" and not (
        (frame["file_name"].to_numpy() == reference["file_name"].to_numpy()).all()
        and (frame["row"].to_numpy() == reference["row"].to_numpy()).all()
    ):
        raise common.BenchError(f"{name}'s (file, row) pairs differ from the floor's")
    if not np.allclose(frame["prediction"].to_numpy(float), reference["prediction"].to_numpy(float), rtol=1e-12):
        raise common.BenchError(f"{name}'s predictions differ from the floor's")


# -- the benchmark --------------------------------------------------------------------------------


def main_bench(options: Any) -> dict[str, Any]:
    files, rows = (4, 250) if options.smoke else (100, 10_000)
    reps = 1 if options.smoke else options.reps
    work = common.work_dir("p5", options.work, smoke=options.smoke)
    paths = prepare(work, files, rows)
    common.read_all([*sorted(paths["data"].iterdir()), paths["csv"]])
    home = work / "ws"
    ws = common.workspace(home, idle_time_before_scale_down=common.WARM_IDLE_SECONDS)
    settings = {"mini_batch_size": MINI_BATCH_SIZE, "max_concurrency_per_instance": WORKERS}
    environment = None
    if options.smoke:
        # The smoke skips building the model's environment (P3's smoke builds one): an environment with no
        # dependency file runs the workers in the interpreter that runs thresher, which has MLflow.
        from thresher.specs import parse_spec

        image = {"name": "this-python", "image": "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference"}
        ws.environments.create(parse_spec(image, "environment", base_dir=work))
        environment = "azureml:this-python@latest"
    common.deploy(
        ws,
        work,
        endpoint="mlflow",
        model_dir=paths["model"],
        settings=settings,
        model_type="mlflow_model",
        environment=environment,
    )
    ws.close()
    outputs = {name: work / "out" / name for name in (*CONTENDERS, "thresher_prime")}
    base = {"data": str(paths["data"]), "model": str(paths["model"])}
    module = "bench.p5_mlflow"
    contenders = [
        common.Contender(
            "thresher", "thresher (MLflow driver, 2 workers), cold", module, {**base, "home": str(home)}, False
        ),
        common.Contender(
            "thresher_warm",
            "thresher (MLflow driver, 2 workers), warm: 2nd job",
            module,
            {**base, "home": str(home)},
            False,
        ),
        common.Contender("floor", "bare pyfunc loop, 1 process (floor)", module, base),
        common.Contender(
            "mlflow_predict", "mlflow models predict (one CSV)", module, {**base, "csv": str(paths["csv"])}
        ),
        common.Contender("ray_data", "Ray Data + pyfunc (actor pool of 2)", module, base),
    ]
    for contender in contenders:
        contender.params = {**contender.params, "out": str(outputs[contender.name])}
    if not options.smoke:
        # The model's environment is built by a first job, untimed: the timed jobs find it warm.
        print("  warm-up job (builds the model's environment)", file=sys.stderr, flush=True)
        shutil.rmtree(outputs["thresher"], ignore_errors=True)
        warm = common.run(contenders[0])
        common.end_thresher(home, warm.report.get("runner"))
    prime_args = {**base, "home": str(home), "out": str(outputs["thresher_prime"])}
    cold_warm = common.ColdWarm(home, common.Contender("thresher", "priming job", module, prime_args, False))
    reference: dict[str, Any] = {}

    def before(contender: common.Contender, rep: int) -> None:
        if contender.name == "thresher":
            shutil.rmtree(outputs["thresher"], ignore_errors=True)
            cold_warm.before_cold()
        elif contender.name == "thresher_warm":
            shutil.rmtree(outputs["thresher_warm"], ignore_errors=True)
            cold_warm.before_warm()
        else:
            common.fresh(outputs[contender.name])

    def after(contender: common.Contender, rep: int, measured: common.Measured) -> None:
        if contender.name == "thresher":
            cold_warm.after_cold(measured)
        elif contender.name == "thresher_warm":
            ours, cold = (outputs[name] / "predictions.csv" for name in ("thresher_warm", "thresher"))
            if ours.read_bytes() != cold.read_bytes():
                raise common.BenchError(f"{contender.label}: predictions.csv differs from the cold run's")
            cold_warm.after_warm(measured)
        if rep == 0 and contender.name == "floor":
            reference["frame"] = read_output("floor", outputs["floor"])
        if rep == 0 or options.smoke:
            check(contender.name, outputs[contender.name], reference.get("frame"), files * rows)

    ordered = [contenders[2], *contenders[:2], *contenders[3:]]
    runs = common.measure(ordered, reps, before=before, after=after)
    seconds = {name: common.seconds_of(measured) for name, measured in runs.items()}
    total = files * rows
    ideal = seconds["floor"] / WORKERS
    table = [["ideal: floor / 2 workers", ideal, total / ideal, 1.0, None, None]]
    for contender in contenders:
        s = seconds[contender.name]
        table.append([contender.label, s, total / s, ideal / s, s / seconds["thresher"], s / seconds["thresher_warm"]])
    section: dict[str, Any] = {
        "verified": True,  # every check above passed
        "title": "No-code MLflow",
        "description": (
            f"{files} Parquet files x {rows:,} rows ({total:,} rows), the diabetes MLflow model (scikit-learn "
            "HistGradientBoostingRegressor with a signature), no scoring script. thresher: 2 workers, "
            f"mini_batch_size {MINI_BATCH_SIZE}, the model's environment built before the timed runs. "
            "`mlflow models predict` gets the same rows as one CSV file (written beforehand, untimed). "
            "Every output's predictions equal the floor's."
        ),
        "reps": reps,
        "rows": total,
        "seconds": {k: common.rounded(v) for k, v in seconds.items()},
        "ideal_s": common.rounded(ideal),
        "ratio_to_ideal": common.rounded(ideal / seconds["thresher"]),
        "speedup_vs_mlflow_predict": common.rounded(seconds["mlflow_predict"] / seconds["thresher"]),
        "speedup_vs_ray_data": common.rounded(seconds["ray_data"] / seconds["thresher"]),
        "warm_ratio_to_ideal": common.rounded(ideal / seconds["thresher_warm"]),
        "warm_speedup_vs_mlflow_predict": common.rounded(seconds["mlflow_predict"] / seconds["thresher_warm"]),
        **cold_warm.figures(),
        "figures": [
            "ratio_to_ideal",
            "speedup_vs_mlflow_predict",
            "speedup_vs_ray_data",
            "warm_ratio_to_ideal",
            "warm_speedup_vs_mlflow_predict",
            "warm_idle_memory_mb",
        ],
        "tables": [
            {
                "columns": [
                    "contender",
                    "seconds (median)",
                    "rows/s",
                    "ratio to ideal",
                    "thresher cold speedup",
                    "thresher warm speedup",
                ],
                "rows": table,
            },
            common.timeline_table(runs["thresher"], "thresher's cold job, step by step"),
            common.timeline_table(runs["thresher_warm"], "thresher's warm job, step by step"),
        ],
        "commands": [c.shown(work) for c in contenders],
    }
    section["notes"] = [common.COLD_WARM_NOTE, common.memory_note(section)]
    section["targets"] = [
        common.target(
            "B5: at least 0.9 of ideal", f"{section['ratio_to_ideal']:.2f}", section["ratio_to_ideal"] >= 0.9
        ),
        common.target(
            "B5: at least 2x mlflow models predict",
            f"{section['speedup_vs_mlflow_predict']:.2f}x",
            section["speedup_vs_mlflow_predict"] >= 2,
        ),
        common.target(
            "B5: faster than Ray Data", f"{section['speedup_vs_ray_data']:.2f}x", section["speedup_vs_ray_data"] > 1
        ),
        common.target(
            "P5 cold: at least 0.8 of ideal", f"{section['ratio_to_ideal']:.2f}", section["ratio_to_ideal"] >= 0.8
        ),
        common.target(
            "P5 warm: at least 1.0 of ideal and at least 2x mlflow models predict",
            f"{section['warm_ratio_to_ideal']:.2f} of ideal, {section['warm_speedup_vs_mlflow_predict']:.2f}x",
            section["warm_ratio_to_ideal"] >= 1.0 and section["warm_speedup_vs_mlflow_predict"] >= 2,
        ),
        common.memory_target(section),
    ]
    return section


def main() -> None:
    common.main("p5", __doc__, CONTENDERS, globals(), main_bench)


if __name__ == "__main__":
    sys.exit(main())
