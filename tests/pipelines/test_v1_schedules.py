"""v1 ``Schedule`` and ``ScheduleRecurrence`` (azureml.pipeline.core.schedule) in driver scripts run with
``thresher run``: a published pipeline scheduled on a recurrence and on a datastore folder, fired by
``ws.schedules.fire_due(now=...)`` (the clock seam a ``thresher server`` calls without ``now``).

The pipeline is one step counting the rows of its ``input_data`` FileDataset parameter (the DataPath
parameter a data-change schedule sets), labelled by the ``label`` parameter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from thresher.sdk import Workspace
from thresher.specs.datastores import DatastoreSpec
from thresher.store import JobRecord

COUNT = """import argparse, os
from azureml.core import Run
parser = argparse.ArgumentParser()
parser.add_argument("--label")
parser.add_argument("--data")
args = parser.parse_args()
Run.get_context().log(args.label, args.data)
"""

CREATE = """
from azureml.core import Dataset, Datastore, Workspace
from azureml.core.runconfig import RunConfiguration
from azureml.data.dataset_consumption_config import DatasetConsumptionConfig
from azureml.exceptions import UserErrorException
from azureml.pipeline.core import Pipeline, PipelineParameter
from azureml.pipeline.core.schedule import Schedule, ScheduleRecurrence
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
config = RunConfiguration()
config.environment.python.user_managed_dependencies = True
data = PipelineParameter(name="input_data", default_value=Dataset.File.from_files("seed"))
label = PipelineParameter(name="label", default_value="manual")
batch = DatasetConsumptionConfig("input_data", data).as_mount()  # named as the parameter, as a DataPath input is
step = PythonScriptStep("count.py", source_directory="src", arguments=["--label", label, "--data", batch],
                        runconfig=config)
published = Pipeline(ws, [step]).publish(name="counting")

recurrence = ScheduleRecurrence(frequency="Hour", interval=1, start_time="2030-01-01T00:00:00")
hourly = Schedule.create(ws, name="hourly", pipeline_id=published.id, experiment_name="hourly-runs",
                         recurrence=recurrence, pipeline_parameters={"label": "scheduled"},
                         description="every hour")
drops = Schedule.create(ws, name="drops", pipeline_id=published.id, experiment_name="drop-runs",
                        datastore=Datastore(ws, "landing"), path_on_datastore="incoming", polling_interval=5,
                        data_path_parameter_name="input_data")
print("HOURLY", hourly.id, hourly.status, hourly.recurrence.frequency, hourly.recurrence.interval)
print("DROPS", drops.id, drops.status, drops.datastore_name, drops.path_on_datastore, drops.polling_interval,
      drops.data_path_parameter_name)
print("LIST", sorted(s.name for s in Schedule.list(ws, pipeline_id=published.id)))
print("GET", Schedule.get(ws, hourly.id).name, Schedule.get(ws, drops.id).recurrence)

for wrong in (dict(frequency="Fortnight", interval=0),
              dict(frequency="Hour", interval=1, hours=[3], week_days=["Monday"]),
              dict(frequency="Day", interval=1, hours=[25], time_of_day="3:00")):
    try:
        ScheduleRecurrence(**wrong)
    except ValueError as exc:
        print("INVALID", repr(str(exc)))
try:
    Schedule.create(ws, name="bad", pipeline_id=published.id, experiment_name="x", datastore=Datastore(ws, "landing"),
                    data_path_parameter_name="label")
except UserErrorException as exc:
    print("REFUSED", repr(str(exc)))
"""

AFTER = """
import sys
from azureml.core import Workspace
from azureml.pipeline.core.schedule import Schedule

ws = Workspace.from_config()
hourly, drops = Schedule.get(ws, sys.argv[1]), Schedule.get(ws, sys.argv[2])
print("HOURLY-RUNS", [r.id for r in hourly.get_pipeline_runs()], hourly.get_last_pipeline_run().id)
print("DROPS-RUNS", [(r.id, r.experiment.name) for r in drops.get_pipeline_runs()])
hourly.disable()
print("STATUS", Schedule.get(ws, sys.argv[1]).status, [s.name for s in Schedule.list(ws)],
      sorted(s.name for s in Schedule.list(ws, active_only=False)))
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def thresher_run(folder: Path, home: Path, script: str, *arguments: str) -> dict[str, str]:
    """``thresher run <script>`` in ``folder``; its upper-case labelled lines."""
    (folder / "driver.py").write_text(script)
    env = dict(os.environ, THRESHER_HOME=str(home))
    env.pop("THRESHER_DATABASE_URL", None)
    env.pop("THRESHER_SERVER", None)
    done = subprocess.run(
        [sys.executable, "-m", "thresher", "run", "driver.py", *arguments],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split(" ", 1) for line in done.stdout.splitlines() if " " in line]
    found: dict[str, str] = {}
    for key, value in lines:
        if key.isupper():
            found[key] = f"{found[key]}\n{value}" if key in found else value
    return found


def test_a_v1_driver_schedules_a_published_pipeline_on_a_recurrence_and_on_new_files(tmp_path: Path) -> None:
    folder, home, landing = tmp_path / "project", tmp_path / "ws", tmp_path / "landing"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "count.py").write_text(COUNT)
    (folder / "seed").mkdir()
    (folder / "seed" / "a.csv").write_text("x\n1\n")
    (landing / "incoming" / "sub").mkdir(parents=True)
    (landing / "incoming" / "old.csv").write_text("x\n0\n")
    with Workspace(home) as ws:
        ws.datastores.create(DatastoreSpec(name="landing", type="local", path=str(landing)))

    out = thresher_run(folder, home, CREATE)
    hourly_id, status, frequency, interval = out["HOURLY"].split()
    assert (status, frequency, interval) == ("Active", "Hour", "1")
    drops_id, *drops = out["DROPS"].split()
    assert drops == ["Active", "landing", "incoming", "5", "input_data"]
    assert out["LIST"] == "['drops', 'hourly']"
    assert out["GET"] == "hourly None"
    invalid = out["INVALID"].splitlines()
    assert "frequency is 'Fortnight'; it must be one of Minute, Hour, Day, Week, Month." in invalid[0]
    assert "interval is 0; it must be a whole number of at least 1." in invalid[0]
    assert "hours is [3], but frequency is Hour; hours, minutes and time_of_day are for a Day or Week" in invalid[1]
    assert "week_days is ['Monday'], but frequency is Hour; week_days are for a Week frequency" in invalid[1]
    assert "hours has [25]; each must be a whole number from 0 to 23." in invalid[2]
    assert "give time_of_day or hours and minutes, not both." in invalid[2]
    assert "trigger.input: is 'label', which is not a data input of the published pipeline" in out["REFUSED"]
    assert "(its data inputs: input_data)" in out["REFUSED"]

    (landing / "incoming" / "new.csv").write_text("x\n1\n2\n")
    (landing / "incoming" / "sub" / "deep.csv").write_text("x\n1\n")  # subfolders are not watched, as in v1
    with Workspace(home) as ws:
        fired = ws.schedules.fire_due(at("2030-01-01T00:30:00"), start_runner=False)
        jobs = {fire.schedule: ws.jobs.get(str(fire.job)) for fire in fired}
        assert sorted(jobs) == ["drops", "hourly"]
        hourly, dropped = jobs["hourly"], jobs["drops"]
        assert (hourly.spec["schedule"], hourly.spec["schedule_slot"]) == ("hourly", "2030-01-01T00:00:00Z")
        assert hourly.spec["experiment_name"] == "hourly-runs"
        assert hourly.spec["request"]["parameters"] == {"label": "scheduled"}
        assert hourly.spec["published_pipeline"]["name"] == "counting"
        assert dropped.spec["experiment_name"] == "drop-runs"
        assert dropped.spec["request"]["data"] == {"input_data": "azureml://datastores/landing/paths/incoming/new.csv"}
        assert step_input(dropped).endswith("incoming/new.csv")

        assert ws.schedules.fire_due(at("2030-01-01T00:45:00"), start_runner=False) == []
        missed = ws.schedules.fire_due(at("2030-01-01T03:10:00"), start_runner=False)  # 01:00-03:00 missed
        assert [(f.schedule, f.slot) for f in missed] == [("hourly", "2030-01-01T03:00:00Z")]
        assert ws.schedules.fire_due(at("2030-01-01T03:20:00"), start_runner=False) == []

    after = thresher_run(folder, home, AFTER, hourly_id, drops_id)
    assert after["HOURLY-RUNS"] == f"['{missed[0].job}', '{hourly.name}'] {missed[0].job}"
    assert after["DROPS-RUNS"] == f"[('{dropped.name}', 'drop-runs')]"
    assert after["STATUS"] == "Disabled ['drops'] ['drops', 'hourly']"

    (landing / "incoming" / "later.csv").write_text("x\n3\n")
    with Workspace(home) as ws:
        later = ws.schedules.fire_due(at("2030-01-01T05:10:00"), start_runner=False)
        assert [f.schedule for f in later] == ["drops"]  # the disabled hourly schedule fires nothing
        assert step_input(ws.jobs.get(str(later[0].job))).endswith("incoming/later.csv")


def step_input(job: JobRecord) -> str:
    """The path bound to the step's input_data input (the pipeline's DataPath parameter)."""
    steps = job.spec["pipeline"]["steps"]
    (step,) = steps.values()
    bound = {name: value for name, value in step["inputs"].items() if isinstance(value, dict) and value.get("path")}
    return str(next(iter(bound.values()))["path"])
