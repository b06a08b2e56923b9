"""Azure ML scoring scripts in their documented shapes run unchanged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.jobs.conftest import Bench, csv_folder


def test_list_of_strings_script(bench: Bench) -> None:
    folder = csv_folder(bench.root, 5)
    bench.deploy(
        """
        import os

        def init():
            global model_dir
            model_dir = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model")

        def run(mini_batch):
            # Each element becomes one line of the output, written with str().
            resultList = []
            for path in mini_batch:
                size = os.path.getsize(path)
                resultList.append("{}: {}".format(os.path.basename(path), size))
            return resultList
        """,
        settings={"mini_batch_size": 2},
    )
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    lines = bench.output(job).splitlines()
    assert lines == [f"{p.name}: {p.stat().st_size}" for p in sorted(folder.glob("*.csv"))]


def test_summary_only_script_writes_its_own_parquet_files(bench: Bench) -> None:
    folder = csv_folder(bench.root, 4)
    bench.deploy(
        """
        import glob
        import os
        from pathlib import Path

        import pandas as pd

        def init():
            global output_path, factor
            output_path = os.environ["AZUREML_BI_OUTPUT_PATH"]
            factor = float(open(glob.glob(os.environ["AZUREML_MODEL_DIR"] + "/*/weights.txt")[-1]).read())

        def run(mini_batch):
            for file_path in mini_batch:
                data = pd.read_csv(file_path)
                data["prediction"] = data["value"] * factor
                data.to_parquet(os.path.join(output_path, Path(file_path).stem + ".parquet"))
            return mini_batch
        """,
        settings={"mini_batch_size": 3, "output_action": "summary_only"},
        model="3",
    )
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    assert job.spec["output_file"] is None
    out = Path(str(job.spec["output_dir"]))
    written = sorted(p.name for p in out.glob("*.parquet"))
    assert written == [f"file-{i:05d}.parquet" for i in range(4)]
    frame = pd.read_parquet(out / "file-00002.parquet")
    assert frame["prediction"].tolist() == [v * 3 for v in pd.read_csv(folder / "file-00002.csv")["value"]]
    assert not (out / "predictions.csv").exists()
    assert job.progress.items_succeeded == 4


def test_program_arguments_reach_parse_known_args(bench: Bench) -> None:
    folder = csv_folder(bench.root, 3)
    bench.deploy(
        """
        import argparse
        import os

        def init():
            global threshold
            parser = argparse.ArgumentParser()
            parser.add_argument("--my_arg", type=float, default=0.0)
            args, _ = parser.parse_known_args()
            threshold = args.my_arg

        def run(mini_batch):
            return [f"{os.path.basename(p)} {threshold}" for p in mini_batch]
        """,
        settings={"program_arguments": "--my_arg 0.75 --other x"},
    )
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    assert bench.output(job).splitlines() == [f"file-{i:05d}.csv 0.75" for i in range(3)]


def test_entry_script_helper_and_model_path(bench: Bench) -> None:
    folder = csv_folder(bench.root, 4)
    bench.deploy(
        """
        import os

        from azureml.core.model import Model
        from azureml_user.parallel_run import EntryScript

        def init():
            global weights
            entry_script = EntryScript()
            logger = entry_script.logger
            logger.info("init on %s", entry_script.agent_name)
            weights = open(os.path.join(Model.get_model_path("m"), "weights.txt")).read()

        def run(mini_batch):
            entry_script = EntryScript()
            entry_script.logger.info("scoring %d files", len(mini_batch))
            return [f"{os.path.basename(p)},{weights},{entry_script.agent_name}" for p in mini_batch]
        """,
        settings={"mini_batch_size": 2},
        model="w42",
    )
    job = bench.run(folder)
    assert job.status == "Completed", job.headline
    rows = [line.split(",") for line in bench.output(job).splitlines()]
    assert [r[0] for r in rows] == [f"file-{i:05d}.csv" for i in range(4)]
    assert {r[1] for r in rows} == {"w42"}
    assert all(r[2].startswith("process") for r in rows)
    logs = list((Path(str(job.spec["folder"])) / "logs" / "user" / "entry_script_log").rglob("*.txt"))
    text = "".join(p.read_text() for p in logs)
    assert "init on process" in text and "scoring 2 files" in text
