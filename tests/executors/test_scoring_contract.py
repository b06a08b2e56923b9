"""What an Azure scoring script sees when an executor runs it: the contract of DESIGN.md section 3."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.executors.conftest import Job, of_type, run_task, start, task
from thresher.executors.base import Executor, TaskDone, WorkerReady


def test_init_runs_once_per_worker_and_run_gets_absolute_paths(job: Job, executor: Executor) -> None:
    config = job.config(
        f"""
        import os, json
        def init():
            with open(os.path.join({str(job.root)!r}, "init-" + str(os.getpid())), "w"):
                pass
        def run(mini_batch):
            return [json.dumps([p, os.path.isabs(p), os.path.exists(p)]) for p in mini_batch]
        """
    )
    events = start(executor, config, nodes=2, per_node=2)
    assert sorted(e.worker for e in of_type(events, WorkerReady)) == [
        "node-0/process000",
        "node-0/process001",
        "node-1/process000",
        "node-1/process001",
    ]
    inputs = job.input_files(12)
    for index in range(6):
        assert isinstance(run_task(executor, task(inputs[2 * index : 2 * index + 2], mini_batch=index)), TaskDone)
    assert len(list(job.root.glob("init-*"))) == 4
    lines = [json.loads(line) for part in sorted(job.parts.iterdir()) for line in part.read_text().splitlines()]
    assert [line[0] for line in lines] == inputs
    assert all(absolute and exists for _, absolute, exists in lines)


def test_environment_arguments_and_imports(job: Job, executor: Executor) -> None:
    (job.code / "helpers").mkdir(parents=True)
    (job.code / "helpers" / "__init__.py").write_text("LABEL = 'from a sibling package'\n")
    config = job.config(
        """
        import argparse, glob, json, os, sys
        from helpers import LABEL

        def init():
            global args
            parser = argparse.ArgumentParser()
            parser.add_argument("--my_arg", type=int)
            args, _ = parser.parse_known_args()

        def run(mini_batch):
            model_dir = os.environ["AZUREML_MODEL_DIR"]
            return [json.dumps({
                "my_arg": args.my_arg,
                "argv0": sys.argv[0],
                "label": LABEL,
                "module": __name__,
                "weights": open(os.path.join(model_dir, "model", "weights.txt")).read(),
                "globbed": glob.glob(model_dir + "/*/"),
                "thresher_model_dir": os.environ["THRESHER_MODEL_DIR"],
                "output": os.environ["AZUREML_BI_OUTPUT_PATH"],
                "thresher_output": os.environ["THRESHER_OUTPUT_DIR"],
                "custom": os.environ["MY_SETTING"],
                "worker": os.environ["THRESHER_WORKER_NAME"],
                "run_id": os.environ["AZUREML_RUN_ID"],
                "mlflow": os.environ["MLFLOW_TRACKING_URI"],
                "cwd": os.getcwd(),
            })]
        """,
        program_arguments=["--my_arg", "42", "--other", "x"],
        environment_variables={"MY_SETTING": "on", "AZUREML_MODEL_DIR": "/not/this"},
    )
    start(executor, config)
    done = run_task(executor, task(job.input_files(1)))
    assert isinstance(done, TaskDone)
    seen = json.loads((job.parts / done.part).read_text())  # type: ignore[operator]
    assert seen == {
        "my_arg": 42,
        "argv0": str(job.code / "score.py"),
        "label": "from a sibling package",
        "module": "score",
        "weights": "0.5",
        "globbed": [str(job.model_dir / "model") + "/"],
        "thresher_model_dir": str(job.model_dir),
        "output": str(job.outputs),
        "thresher_output": str(job.outputs),
        "custom": "on",
        "worker": "node-0/process000",
        "run_id": "job-1",
        "mlflow": (job.logs / "mlruns").as_uri(),
        "cwd": str(job.code),
    }


def test_entry_script_logger_and_names(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        import logging
        from azureml_user.parallel_run import EntryScript

        def init():
            entry = EntryScript()
            entry.logger.info("init on %s as %s", entry.node_id, entry.agent_name)
            logging.getLogger("user").info("through the root logger")
            print("printed in init")

        def run(mini_batch):
            entry = EntryScript()
            return [entry.agent_name, entry.log_dir, entry.output_dir, str(EntryScript() is entry)]
        """
    )
    start(executor, config)
    done = run_task(executor, task(job.input_files(4)))
    assert isinstance(done, TaskDone)
    assert (job.parts / str(done.part)).read_text().splitlines() == [
        "process000",
        str(job.logs / "user" / "entry_script_log" / "node-0"),
        str(job.outputs),
        "True",
    ]
    assert "init on node-0 as process000" in job.log("entry_script_log", "node-0/process000").read_text()
    stdout = job.log("stdout", "node-0/process000").read_text()
    assert "printed in init" in stdout
    assert "node-0/process000 INFO user: through the root logger" in stdout
    assert "init on node-0" not in stdout  # the entry script log is a file of its own


def test_azureml_core_model_and_offline_run(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        import os
        from azureml.core import Model, Run
        from azureml.core.model import Model as SameModel

        def init():
            global path
            path = Model.get_model_path("whatever-it-was-registered-as")
            run = Run.get_context()
            run.log("loaded", 1)
            run.log_row("table", a=1, b=2)
            run.log_list("values", [1, 2])
            run.tag("stage", "scoring")
            run.set_tags({"team": "ml"})

        def run(mini_batch):
            context = Run.get_context()
            return [path, str(SameModel is Model), str(sorted(context.get_metrics())), str(context.get_tags())]
        """
    )
    start(executor, config)
    done = run_task(executor, task(job.input_files(4)))
    assert isinstance(done, TaskDone)
    assert (job.parts / str(done.part)).read_text().splitlines() == [
        str(job.model_dir / "model"),
        "True",
        "['loaded', 'table', 'values']",
        "{'stage': 'scoring', 'team': 'ml'}",
    ]
    assert "metric loaded = 1" in job.log("entry_script_log", "node-0/process000").read_text()


def test_shims_come_before_an_installed_azureml(job: Job, executor: Executor, tmp_path: Path) -> None:
    installed = tmp_path / "site"
    (installed / "azureml" / "core").mkdir(parents=True)
    (installed / "azureml" / "__init__.py").write_text("")
    (installed / "azureml" / "core" / "__init__.py").write_text("raise ImportError('the real azureml-core')\n")
    (installed / "azureml" / "extra.py").write_text("VALUE = 'another azureml package'\n")
    config = job.config(
        """
        from azureml.core import Model
        import azureml.extra

        def run(mini_batch):
            return [Model.__module__, azureml.extra.VALUE]
        """,
        environment_variables={"PYTHONPATH": str(installed)},
    )
    start(executor, config)
    done = run_task(executor, task(job.input_files(2)))
    assert isinstance(done, TaskDone)
    assert (job.parts / str(done.part)).read_text().splitlines() == ["azureml.core.model", "another azureml package"]


def test_partition_context_is_passed_to_a_two_argument_run(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        def run(mini_batch, mini_batch_context):
            return [repr((mini_batch_context.partition_key_value, mini_batch_context.minibatch_index, len(mini_batch)))]
        """
    )
    start(executor, config)
    done = run_task(executor, task(job.input_files(3), mini_batch=7, partition={"region": "eu", "day": 3}))
    assert isinstance(done, TaskDone)
    assert done.items == 3 and done.succeeded == 1
    assert (job.parts / str(done.part)).read_text() == "({'region': 'eu', 'day': 3}, 7, 3)\n"


def test_summary_only_scripts_write_their_own_files(job: Job, executor: Executor) -> None:
    config = job.config(
        """
        import os
        from pathlib import Path
        import pandas as pd

        def init():
            global output_path
            output_path = os.environ["AZUREML_BI_OUTPUT_PATH"]

        def run(mini_batch):
            for file_path in mini_batch:
                frame = pd.DataFrame({"text": [Path(file_path).read_text().strip()], "prediction": [1]})
                frame.to_parquet(os.path.join(output_path, Path(file_path).stem + ".parquet"))
            return mini_batch
        """,
        output_action="summary_only",
    )
    start(executor, config)
    done = run_task(executor, task(job.input_files(3)))
    assert isinstance(done, TaskDone)
    assert (done.items, done.succeeded, done.rows, done.part) == (3, 3, 0, None)
    assert sorted(p.name for p in job.outputs.iterdir()) == ["file-000.parquet", "file-001.parquet", "file-002.parquet"]
    assert not job.parts.exists() or not list(job.parts.iterdir())
    import pandas as pd

    assert pd.read_parquet(job.outputs / "file-002.parquet")["text"].tolist() == ["x2"]


def test_fewer_returned_elements_than_items_are_failed_items(job: Job, executor: Executor) -> None:
    config = job.config("def run(mini_batch):\n    return ['only one']\n")
    start(executor, config)
    done = run_task(executor, task(job.input_files(5)))
    assert isinstance(done, TaskDone)
    assert (done.items, done.succeeded, done.rows) == (5, 1, 1)


def test_shutdown_is_called_at_graceful_shutdown(job: Job, executor: Executor) -> None:
    marker = job.root / "shutdown-called"
    config = job.config(
        f"""
        def run(mini_batch):
            return mini_batch
        def shutdown():
            open({str(marker)!r}, "a").write("bye\\n")
        """
    )
    start(executor, config, per_node=2)
    executor.shutdown(graceful=True, timeout=10)
    assert marker.read_text() == "bye\nbye\n"
    assert executor.live_workers() == 0


def test_workers_run_another_interpreter_when_configured(job: Job, executor: Executor) -> None:
    real = os.path.realpath(sys.executable)
    config = job.config("import sys\ndef run(mini_batch):\n    return [sys.executable]\n", python=real)
    start(executor, config)
    done = run_task(executor, task(job.input_files(1)))
    assert isinstance(done, TaskDone)
    assert (job.parts / str(done.part)).read_text().strip() == real
