"""Azure ML v1 SDK driver scripts run unchanged with ``thresher run driver.py`` (real processes).

``fixtures/v1_driver`` is the pipeline of the seed's "Create and run ML pipelines with the Azure ML SDK
v1" assembled into one script: a compute, a datastore upload, a FileDataset, a PipelineParameter, a
PythonScriptStep writing an OutputFileDatasetConfig registered on completion, a training step reading it
as a table, a ParallelRunStep scoring it with the trained model, Experiment.submit with
pipeline_parameters and wait_for_completion(show_output=True). It runs three times in one workspace:
as it is, again (every step reused), and with ``round_to`` overridden.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from thresher.pipelines.tracking import read_metrics
from thresher.sdk import Workspace
from thresher.sdk.v1 import shim_dir
from thresher.sdk.v1.launcher import run_driver
from thresher.store import JobRecord

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v1_driver"
FILES, ROWS = 5, 20
STEPS = ("prepare", "train", "score_diabetes")


@dataclass
class Submission:
    """One ``thresher run driver.py`` and the pipeline job it made."""

    result: subprocess.CompletedProcess[str]
    pipeline: str
    steps: dict[str, JobRecord]


@dataclass
class DriverRuns:
    """The fixture copied with its data, its workspace, and its three submissions."""

    folder: Path
    home: Path
    first: Submission
    again: Submission
    rounded: Submission


def _thresher_run(folder: Path, home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, THRESHER_HOME=str(home))
    env.pop("THRESHER_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "thresher", "run", *arguments],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _submit(folder: Path, home: Path, *arguments: str) -> Submission:
    result = _thresher_run(folder, home, "driver.py", "--data", "raw", *arguments)
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"^RESULT (\S+) Finished$", result.stdout, re.MULTILINE)
    assert found, result.stdout
    with Workspace(home) as ws:
        steps = {str((j.results or {})["step"]): j for j in ws.jobs.list(parent_job_name=found.group(1), limit=None)}
    return Submission(result, found.group(1), steps)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverRuns]:
    root = tmp_path_factory.mktemp("v1")
    folder = root / "project"
    shutil.copytree(FIXTURE, folder)
    frame = load_diabetes(as_frame=True).frame
    (folder / "raw").mkdir()
    for index in range(FILES):
        frame.iloc[index * ROWS : (index + 1) * ROWS].to_csv(folder / "raw" / f"part-{index}.csv", index=False)
    home = root / "workspace"
    first = _submit(folder, home)
    again = _submit(folder, home)
    rounded = _submit(folder, home, "--round-to", "1")
    yield DriverRuns(folder, home, first, again, rounded)


def _expected(folder: Path, round_to: int) -> tuple[dict[str, pd.DataFrame], LinearRegression]:
    """The prepared files as prepare.py writes them, and the model train.py fits on them."""
    prepared = {}
    for path in sorted((folder / "raw").glob("*.csv")):
        raw = pd.read_csv(path)
        features = raw.drop(columns="target").map(lambda v: float(f"{v:.{round_to}f}"))
        prepared[path.name] = features.assign(target=raw["target"])
    table = pd.concat(prepared.values(), ignore_index=True)
    model = LinearRegression().fit(table.drop(columns="target"), table["target"])
    return prepared, model


def _check_outputs(runs: DriverRuns, submission: Submission, round_to: int) -> None:
    prepared, model = _expected(runs.folder, round_to)
    prep = submission.steps["prepare"].results or {}
    written = Path(prep["outputs"]["output_1"]["path"])
    for name, expected in prepared.items():
        pd.testing.assert_frame_equal(pd.read_csv(written / name), expected, check_exact=False, rtol=1e-12)
    score = submission.steps["score_diabetes"].results or {}
    predictions = Path(score["outputs"]["scores"]["path"]) / "predictions.txt"
    lines = [line.split(" ") for line in predictions.read_text().splitlines()]
    assert len(lines) == FILES * ROWS
    for name, expected in prepared.items():
        found = [float(value) for file, value in lines if file == name]
        assert found == pytest.approx(list(model.predict(expected.drop(columns="target"))), rel=1e-9)


def test_the_seed_driver_runs_unchanged_and_its_outputs_are_right(runs: DriverRuns) -> None:
    out = runs.first.result.stdout
    assert "Creating a new compute target..." in out and "'maxNodeCount': 4" in out
    assert f"Submitted PipelineRun {runs.first.pipeline}" in out
    for step in STEPS:
        assert f"StepRun( {step} ) Status: Finished" in out
    assert "PipelineRun Status: Finished" in out
    assert "workspacefilestore" in runs.first.result.stderr  # the note: it maps to the default datastore
    assert set(runs.first.steps) == set(STEPS)
    _check_outputs(runs, runs.first, round_to=3)
    with Workspace(runs.home) as ws:
        compute = ws.computes.get("aml-compute").spec
        assert (compute["type"], compute["size"], compute["max_instances"]) == ("amlcompute", "STANDARD_NC6", 4)
        root = ws.instance.datastore().root
    # destination=(def_blob_store, "outputdataset/{run-id}"): {run-id} is the step job's name
    prep, train = runs.first.steps["prepare"], runs.first.steps["train"]
    assert (prep.results or {})["outputs"]["output_1"]["path"] == str(root / "outputdataset" / prep.name)
    # destination=def_blob_store: Azure's dataset/{run-id}/{output-name}
    model_path = Path((train.results or {})["outputs"]["training_results"]["path"])
    assert model_path == root / "dataset" / train.name / "training_results"
    assert (model_path / "model.joblib").is_file()


def test_metrics_logged_with_run_get_context_are_in_the_step_jobs_results(runs: DriverRuns) -> None:
    with Workspace(runs.home) as ws:
        prep = ws.jobs.get(runs.first.steps["prepare"].name).results or {}
        train = ws.jobs.get(runs.first.steps["train"].name).results or {}
    metrics = prep["metrics"]
    names = [f"part-{index}.csv" for index in range(FILES)]
    assert (metrics["rows"], metrics["round_to"], metrics["files"]) == (FILES * ROWS, 3, names)
    assert metrics["file_rows"] == [{"file": name, "rows": ROWS} for name in names]
    _, model = _expected(runs.folder, 3)
    table = pd.concat(_expected(runs.folder, 3)[0].values(), ignore_index=True)
    assert train["metrics"]["training_rows"] == FILES * ROWS
    assert train["metrics"]["r2"] == pytest.approx(model.score(table.drop(columns="target"), table["target"]))


def test_register_on_complete_registers_the_output_naming_its_job_and_step(runs: DriverRuns) -> None:
    with Workspace(runs.home) as ws:
        versions = {a.version: a for a in ws.data.list("prepared_output_data")}
    first_prep, rounded_prep = runs.first.steps["prepare"], runs.rounded.steps["prepare"]
    assert sorted(versions) == ["1", "2"]  # the reused run registered nothing new; round_to=1 wrote new data
    for version, prep in (("1", first_prep), ("2", rounded_prep)):
        info = versions[version].info
        assert info["path"] == (prep.results or {})["outputs"]["output_1"]["path"]
        assert info["produced_by"]["job"] == prep.name
        assert info["produced_by"]["step"] == "prepare"
        assert info["produced_by"]["pipeline"] == prep.parent


def test_a_second_submit_reuses_every_unchanged_step(runs: DriverRuns) -> None:
    assert "Pipeline completed: 3 steps, 0 ran, 3 reused" in runs.again.result.stdout
    for step in STEPS:
        reuse = (runs.again.steps[step].results or {})["reuse"]
        assert reuse["reused"] and reuse["from"] == runs.first.steps[step].name
    assert '"azureml.reusedrunid"' in runs.again.result.stdout


def test_pipeline_parameters_override_the_parameter_default(runs: DriverRuns) -> None:
    prep = runs.rounded.steps["prepare"].results or {}
    assert prep["metrics"]["round_to"] == 1
    assert prep["inputs"]["round_to"] == "1"
    assert not prep["reuse"]["reused"] and "parameter round_to: 3 -> 1" in " ".join(prep["reuse"]["why"])
    _check_outputs(runs, runs.rounded, round_to=1)


def test_azureml_is_importable_only_inside_the_launcher(tmp_path: Path) -> None:
    assert importlib.util.find_spec("azureml") is None
    outside = subprocess.run([sys.executable, "-c", "import azureml"], capture_output=True, text=True)
    assert outside.returncode == 1 and "No module named 'azureml'" in outside.stderr
    script = tmp_path / "where.py"
    script.write_text("import sys, azureml.core\nprint(azureml.core.__file__, sys.argv[1:])\n")
    inside = _thresher_run(tmp_path, tmp_path / "ws", "where.py", "-w", "x", "--set", "a=1", "b=2")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.split()[0].startswith(str(shim_dir() / "azureml" / "core"))
    assert "['-w', 'x', '--set', 'a=1', 'b=2']" in inside.stdout  # the script's arguments are its own
    assert importlib.util.find_spec("azureml") is None


def test_run_help_and_the_root_help_list_the_launcher(tmp_path: Path) -> None:
    helped = _thresher_run(tmp_path, tmp_path / "ws", "--help")
    assert helped.returncode == 0 and "Run an Azure ML v1 SDK script" in helped.stdout
    root = subprocess.run([sys.executable, "-m", "thresher", "--help"], capture_output=True, text=True)
    assert re.search(r"│ run\s+Run an Azure ML v1 SDK script", root.stdout), root.stdout
    missing = _thresher_run(tmp_path, tmp_path / "ws", "nowhere.py")
    assert missing.returncode == 1 and "The driver script 'nowhere.py' does not exist" in missing.stderr


def _run_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> int:
    monkeypatch.setenv("THRESHER_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("THRESHER_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "driver.py").write_text(source)
    return run_driver("driver.py")


def test_every_problem_of_a_pipeline_is_reported_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "prep.py").write_text("print('prep')\n")
    code = _run_here(
        tmp_path,
        monkeypatch,
        """
from azureml.core import Dataset, Experiment, Workspace
from azureml.data import OutputFileDatasetConfig
from azureml.pipeline.core import Pipeline, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
orphan = OutputFileDatasetConfig(name="orphan")
steps = [
    PythonScriptStep("prep.py", source_directory="src", arguments=["--n", PipelineParameter("n", 1)]),
    PythonScriptStep("missing.py", source_directory="src", arguments=["--in", orphan.as_input()]),
    PythonScriptStep("prep.py", name="other", source_directory="src", compute_target="gpu-cluster"),
]
pipeline = Pipeline(ws, steps)
print("VALIDATE", len(pipeline.validate()))
Experiment(ws, "broken").submit(pipeline, pipeline_parameters={"m": 2})
""",
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "VALIDATE 3" in captured.out  # validate() lists them; submit adds the unknown parameter
    assert "UserErrorException" in captured.err and "cannot be submitted: 4 problems" in captured.err
    assert "step 'missing': script_name 'missing.py' is not in source_directory 'src'" in captured.err
    assert "reads output orphan, which no step of the pipeline writes" in captured.err
    assert "compute_target 'gpu-cluster' does not exist" in captured.err
    assert "pipeline_parameters names 'm', which is no PipelineParameter of the pipeline (its parameters: n)" in (
        captured.err
    )
    assert 'File "driver.py"' in captured.err and "runpy" not in captured.err  # the script's traceback only
    with Workspace(tmp_path / "ws") as ws:
        assert ws.jobs.list() == []  # nothing was queued


def test_a_failed_step_fails_wait_for_completion_with_its_headline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "boom.py").write_text("raise ValueError('no rows in the input')\n")
    code = _run_here(
        tmp_path,
        monkeypatch,
        """
from azureml.core import Environment, Experiment, Workspace
from azureml.core.runconfig import RunConfiguration
from azureml.exceptions import ActivityFailedException
from azureml.pipeline.core import Pipeline
from azureml.pipeline.steps import PythonScriptStep

config = RunConfiguration()
config.environment.python.user_managed_dependencies = True
ws = Workspace.from_config()
step = PythonScriptStep("boom.py", source_directory="src", runconfig=config)
run = Experiment(ws, "boom").submit(Pipeline(ws, [step]))
try:
    run.wait_for_completion(show_output=True)
except ActivityFailedException as error:
    print("RAISED", run.get_status(), error)
""",
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "StepRun( boom ) Status: Failed" in out
    assert "RAISED Failed Activity Failed:" in out
    assert "Step 'boom' failed: its command exited with code 1: ValueError: no rows in the input" in out


def test_outside_a_step_the_run_is_offline_and_unsupported_steps_say_what_to_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run_here(
        tmp_path,
        monkeypatch,
        """
from azureml.core import Run
run = Run.get_context()
run.log("accuracy", 0.5)
print("ID", run.id.startswith("OfflineRun_"), run.get_metrics())
from azureml.pipeline.steps import AutoMLStep
""",
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "Attempted to log scalar metric accuracy:\n0.5" in captured.out
    assert "ID True {'accuracy': 0.5}" in captured.out
    assert "azureml.pipeline.steps.AutoMLStep is not supported by thresher. AutoML runs only on Azure." in captured.err


def test_the_step_side_of_the_shim_imports_on_python_38_with_the_standard_library_only(tmp_path: Path) -> None:
    from thresher.environments.interpreters import find_interpreter
    from thresher.errors import ThresherError

    try:
        python, _ = find_interpreter("3.8", "tests/pipelines/test_v1_sdk.py")
    except ThresherError:
        pytest.skip("Python 3.8 is not installed (uv python install 3.8): the oldest Python of a step")
    root = shim_dir()
    files = sorted(root.joinpath("azureml").rglob("*.py"))
    modules = [
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for p in files
        if "_thresher" not in p.parts
    ]
    (tmp_path / "in.csv").write_text("a,b\n1,2\n")
    check = f"""
import json, os, sys, importlib
for path in {[str(f) for f in files]!r}:
    compile(open(path, encoding="utf-8").read(), path, "exec", dont_inherit=True)
for module in {modules!r}:
    importlib.import_module(module)
from azureml.core import Run
run = Run.get_context()
run.log("loss", 0.5); run.log("loss", 0.25); run.log_list("sizes", [1, 2]); run.log_row("t", a=1)
run.parent.log("pipeline_metric", 7)
print(json.dumps({{"inputs": run.input_datasets, "files": run.input_datasets["raw"].to_path(),
                  "metrics": run.get_metrics(), "parent": run.parent.get_metrics(), "version": sys.version,
                  "loaded": sorted(m.split(".")[0] for m in sys.modules)}}))
"""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(root),
        "THRESHER_STEP_DIR": str(tmp_path),
        "AZUREML_RUN_ID": "p.step",
        "AZUREML_ROOT_RUN_ID": "p",
        "THRESHER_V1_DATASETS": json.dumps({"raw": {"role": "input", "kind": "file", "options": {}}}),
        "AZUREML_DATAREFERENCE_raw": str(tmp_path),
    }
    done = subprocess.run([python.path, "-S", "-B", "-c", check], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["version"].startswith("3.8.")
    assert "thresher" not in report["loaded"] and "pandas" not in report["loaded"]
    assert report["inputs"] == {"raw": str(tmp_path)} and "/in.csv" in report["files"]
    assert report["metrics"] == {"loss": [0.5, 0.25], "sizes": [1, 2], "t": [{"a": 1}]}
    assert report["parent"] == {"pipeline_metric": 7}
    # the runner reads the same file into the step job's results (the last value of a series)
    assert read_metrics(tmp_path) == {"loss": 0.25, "sizes": [1, 2], "t": [{"a": 1}], "pipeline_metric": 7}


def test_a_dataset_pipeline_parameter_is_a_data_input_that_submit_can_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder, rows in (("nightly", 3), ("backfill", 5)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "part.csv").write_text("x\n" + "1\n" * rows)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "count.py").write_text(
        "import os, sys\nfrom azureml.core import Run\n"
        "path = Run.get_context().input_datasets['batch']\n"
        "assert path == sys.argv[1], (path, sys.argv)\n"
        "Run.get_context().log('rows', len(open(os.path.join(path, 'part.csv')).readlines()) - 1)\n"
    )
    code = _run_here(
        tmp_path,
        monkeypatch,
        """
from azureml.core import Dataset, Experiment, Workspace
from azureml.core.runconfig import RunConfiguration
from azureml.data.dataset_consumption_config import DatasetConsumptionConfig
from azureml.pipeline.core import Pipeline, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
config = RunConfiguration()
config.environment.python.user_managed_dependencies = True
data = PipelineParameter(name="data", default_value=Dataset.File.from_files("nightly"))
batch = DatasetConsumptionConfig("batch", data).as_mount()
step = PythonScriptStep("count.py", source_directory="src", arguments=[batch], runconfig=config)
for parameters in ({}, {"data": Dataset.File.from_files("backfill")}):
    run = Experiment(ws, "counts").submit(Pipeline(ws, [step]), pipeline_parameters=parameters)
    run.wait_for_completion(show_output=False)
    print("ROWS", run.get_children()[0].get_metrics()["rows"])
""",
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "ROWS 3" in out and "ROWS 5" in out
