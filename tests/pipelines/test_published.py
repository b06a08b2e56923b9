"""Published pipelines and pipeline endpoints: ``thresher pipeline publish`` and Azure's REST body
(``ExperimentName``, ``ParameterAssignments``, ``DataPathAssignments``, ``DataSetDefinitionValueAssignments``,
``PipelineVersion``), default versions, disable/enable (409), the code kept as published, the CLI, and a v1
driver that publishes and submits through ``PublishedPipeline`` and ``PipelineEndpoint``.

``fixtures/publishable`` is one command step that counts the rows of the CSVs of its ``raw_data`` input and
writes ``report.json`` with its ``label``, ``rows × scale`` and its code's version.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Result, cli, home  # noqa: F401 (fixtures)
from thresher.errors import ConflictError, NotFoundError, SpecError
from thresher.sdk import Workspace
from thresher.store import JobRecord

FIXTURE = Path(__file__).parent / "fixtures" / "publishable"


def write_csvs(folder: Path, files: int, rows: int = 5) -> None:
    """``files`` CSVs of ``rows`` rows each."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        (folder / f"part-{index}.csv").write_text("x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(rows)))


@pytest.fixture
def project(tmp_path: Path, home: Path) -> Path:  # noqa: F811
    root = tmp_path / "counting"
    shutil.copytree(FIXTURE, root)
    write_csvs(root / "raw", 3)
    return root


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:  # noqa: F811
    with Workspace(home) as workspace:
        yield workspace


def report(ws: Workspace, job: JobRecord, folder: Path) -> dict[str, Any]:
    """The finished job's report.json (the job must have completed)."""
    ended = ws.jobs.wait(job.name, timeout=180)
    assert ended.status == "Completed", (ended.headline, ended.results)
    target = ws.jobs.download(job.name, folder / job.name, output_name="report")
    found = list(Path(target).rglob("report.json"))
    assert len(found) == 1, list(Path(target).rglob("*"))
    return dict(json.loads(found[0].read_text()))


def step_inputs(job: JobRecord) -> dict[str, Any]:
    """The count step's inputs as the job stores them."""
    return dict(job.spec["pipeline"]["steps"]["count"]["inputs"])


def test_a_published_pipeline_runs_with_the_parameter_assignments_in_the_experiment_named(
    project: Path, ws: Workspace, tmp_path: Path
) -> None:
    published = ws.pipeline_endpoints.publish(project / "pipeline.yml", name="counting")
    assert (published.version, published.is_default, published.status) == ("1", True, "Active")
    assert published.inputs == {"raw_data": "data", "label": "literal", "scale": "literal"}
    assert ws.pipeline_endpoints.get("counting").default_version == "1"

    body = {"ExperimentName": "adhoc-counts", "ParameterAssignments": {"label": "adhoc", "scale": 3}}
    job = ws.pipeline_endpoints.invoke("counting", body)
    assert job.spec["experiment_name"] == "adhoc-counts"
    assert job.spec["published_pipeline"] == {"id": published.id, "name": "counting", "version": "1"}
    bound = step_inputs(job)
    assert (bound["label"]["value"], bound["scale"]["value"]) == ("adhoc", 3)
    assert report(ws, job, tmp_path) == {"label": "adhoc", "files": 3, "rows": 45, "code": "published"}

    # the same body by the published pipeline's id (Azure's PipelineSubmit/<id>); the parameters not given
    # keep their published defaults
    again = ws.pipeline_endpoints.invoke_published(published.id, {"ExperimentName": "by-id"})
    assert again.spec["experiment_name"] == "by-id"
    assert report(ws, again, tmp_path) == {"label": "nightly", "files": 3, "rows": 15, "code": "published"}


def test_data_path_and_data_set_assignments_bind_the_data_input(
    project: Path,
    ws: Workspace,
    tmp_path: Path,
    cli: Callable[..., Result],  # noqa: F811
) -> None:
    ws.pipeline_endpoints.publish(project / "pipeline.yml", name="counting")
    root = ws.instance.datastore().root
    write_csvs(Path(str(root)) / "incoming" / "batch-7", 2)
    body = {
        "ExperimentName": "by-path",
        "DataPathAssignments": {
            "raw_data": {"DataStoreName": "workspaceblobstore", "RelativePath": "incoming/batch-7"}
        },
    }
    job = ws.pipeline_endpoints.invoke("counting", body)
    assert step_inputs(job)["raw"]["path"] == str(Path(str(root)) / "incoming" / "batch-7")
    assert report(ws, job, tmp_path)["files"] == 2

    write_csvs(tmp_path / "more", 1, rows=7)
    created = cli("data", "create", "--name", "more-raw", "--path", str(tmp_path / "more"), "--type", "uri_folder")
    assert created.code == 0, created.err
    body = {
        "ExperimentName": "by-asset",
        "DataSetDefinitionValueAssignments": {"raw_data": {"SavedDataSetReference": {"Id": "more-raw:1"}}},
    }
    job = ws.pipeline_endpoints.invoke("counting", body)
    assert step_inputs(job)["raw"]["asset"] == "more-raw:1"
    assert report(ws, job, tmp_path) == {"label": "nightly", "files": 1, "rows": 7, "code": "published"}


def test_the_first_version_is_the_default_until_another_is_set(project: Path, ws: Workspace) -> None:
    ops = ws.pipeline_endpoints
    ops.publish(project / "pipeline.yml", name="counting")
    second = ops.publish(project / "pipeline.yml", name="counting", overrides=["inputs.label=second"])
    assert (second.version, second.is_default) == ("2", False)
    assert [p.version for p in ops.pipelines("counting")] == ["1", "2"]

    def invoked(body: dict[str, Any] | None = None, version: str | None = None) -> tuple[str, str]:
        job = ops.invoke("counting", body, version=version, start_runner=False)
        return job.spec["published_pipeline"]["version"], step_inputs(job)["label"]["value"]

    assert invoked() == ("1", "nightly")
    assert invoked({"PipelineVersion": "2"}) == ("2", "second")
    assert ops.set_default("counting", "2").default_version == "2"
    assert invoked() == ("2", "second")
    assert invoked(version="1") == ("1", "nightly")
    with pytest.raises(NotFoundError, match="version 7"):
        ops.set_default("counting", "7")


def test_a_disabled_endpoint_or_published_pipeline_is_a_conflict_until_enabled(project: Path, ws: Workspace) -> None:
    ops = ws.pipeline_endpoints
    published = ops.publish(project / "pipeline.yml", name="counting")
    assert ops.disable("counting").status == "Disabled"
    with pytest.raises(ConflictError) as refused:
        ops.invoke("counting", {"ExperimentName": "x"}, start_runner=False)
    assert str(refused.value) == "Pipeline endpoint 'counting' is disabled; it runs nothing until enabled."
    assert refused.value.fix == "Enable it with: thresher pipeline-endpoint enable --name counting"
    assert ops.enable("counting").status == "Active"
    assert ops.invoke("counting", {"ExperimentName": "x"}, start_runner=False).status == "Queued"

    assert ops.disable_published(published.id).status == "Disabled"
    for call in (
        lambda: ops.invoke_published(published.id, {}, start_runner=False),
        lambda: ops.invoke("counting", {}, start_runner=False),
    ):
        with pytest.raises(ConflictError, match=r"version 1 .* is disabled") as refused:
            call()
        assert refused.value.fix == "Enable it with: thresher pipeline enable --name counting --version 1"
    ops.enable_published(published.id)
    assert ops.invoke_published(published.id, {}, start_runner=False).status == "Queued"
    with pytest.raises(NotFoundError, match="'no-such-id' does not exist"):
        ops.invoke_published("no-such-id", {})


def test_a_wrong_body_is_refused_naming_each_key_and_the_known_inputs(project: Path, ws: Workspace) -> None:
    ops = ws.pipeline_endpoints
    ops.publish(project / "pipeline.yml", name="counting")
    body = {
        "ExperimentName": "x",
        "ParameterAssignments": {"scael": 2, "raw_data": "oops"},
        "DataSetDefinitionValueAssignments": {"raw_data": {"SavedDataSetReference": {"Id": "nothing:1"}}},
        "Bogus": 1,
    }
    with pytest.raises(SpecError) as refused:
        ops.invoke("counting", body, start_runner=False)
    text = str(refused.value)
    assert "ParameterAssignments.scael: names no input of the pipeline" in text
    assert "raw_data (data), label (literal), scale (literal)" in text
    assert "ParameterAssignments.raw_data: is a data input of the pipeline; assign it in DataPathAssignments" in text
    assert "DataSetDefinitionValueAssignments.raw_data.SavedDataSetReference.Id: is 'nothing:1'" in text
    assert "Bogus: is not a key of the request" in text
    assert len(refused.value.problems) == 4
    # a value that breaks the pipeline's own rule (scale: min 1), reported as the request's
    with pytest.raises(SpecError, match="at least 1") as refused:
        ops.invoke("counting", {"ParameterAssignments": {"scale": 0}}, start_runner=False)
    assert "ParameterAssignments.scale: is 0" in str(refused.value)
    assert "request to pipeline endpoint 'counting'" in str(refused.value)
    assert ws.jobs.list() == []  # nothing was queued


def test_a_published_pipeline_keeps_the_code_it_was_published_with(
    project: Path, ws: Workspace, tmp_path: Path
) -> None:
    ws.pipeline_endpoints.publish(project / "pipeline.yml", name="counting")
    script = project / "src" / "count.py"
    script.write_text(script.read_text().replace('CODE_VERSION = "published"', 'CODE_VERSION = "edited"'))
    (project / "pipeline.yml").write_text("type: pipeline\njobs: {}\n")  # even the file itself may go bad

    job = ws.pipeline_endpoints.invoke("counting", {"ParameterAssignments": {"scale": 2}})
    assert report(ws, job, tmp_path)["code"] == "published"


def test_the_cli_publishes_lists_shows_disables_enables_and_invokes(
    project: Path,
    cli: Callable[..., Result],  # noqa: F811
    tmp_path: Path,
) -> None:
    published = cli("pipeline", "publish", "-f", str(project / "pipeline.yml"), "--name", "counting", "-o", "json")
    assert published.code == 0, published.err
    first = published.json()
    assert (first["name"], first["version"], first["is_default"]) == ("counting", "1", True)
    second = cli(
        "pipeline", "publish", "-f", str(project / "pipeline.yml"), "-n", "counting", "--set-default", "-d", "v2"
    )
    assert second.code == 0, second.err
    assert (second.json()["version"], second.json()["is_default"]) == ("2", True)

    listed = cli("pipeline-endpoint", "list", "-o", "json").json()
    assert [(e["name"], e["default_version"], e["versions"]) for e in listed] == [("counting", "2", ["1", "2"])]
    assert cli("pipeline", "list", "-o", "tsv", "--query", "[].version").out.split() == ["1", "2"]
    shown = cli("pipeline", "show", "--id", first["id"], "-o", "json").json()
    assert shown["inputs"]["scale"] == {"kind": "literal", "default": 1}
    assert cli("pipeline-endpoint", "set-default", "-n", "counting", "-v", "1", "-o", "none").code == 0
    assert cli("pipeline-endpoint", "show", "-n", "counting", "--query", "default_version", "-o", "tsv").out == "1\n"

    assert cli("pipeline-endpoint", "disable", "-n", "counting", "-o", "none").code == 0
    refused = cli("pipeline-endpoint", "invoke", "-n", "counting", "--set", "scale=2")
    assert refused.code == 1
    assert "Pipeline endpoint 'counting' is disabled" in refused.err
    assert "thresher pipeline-endpoint enable --name counting" in refused.err
    assert cli("pipeline-endpoint", "enable", "-n", "counting", "-o", "none").code == 0
    assert cli("pipeline", "disable", "-n", "counting", "-v", "1", "--query", "status", "-o", "tsv").out == "Disabled\n"
    assert "version 1" in cli("pipeline-endpoint", "invoke", "-n", "counting").err
    assert cli("pipeline", "enable", "--id", first["id"], "--query", "status", "-o", "tsv").out == "Active\n"

    body = tmp_path / "body.json"
    body.write_text(json.dumps({"ExperimentName": "from-file", "ParameterAssignments": {"label": "filed"}}))
    invoked = cli(
        "pipeline-endpoint", "invoke", "-n", "counting", "--request-file", str(body), "--set", "scale=4", "--stream"
    )
    assert invoked.code == 0, invoked.err
    job = json.loads(invoked.out[: invoked.out.index("\n}") + 2])
    assert job["experiment_name"] == "from-file" and job["inputs"]["scale"] == 4
    with Workspace() as ws:
        assert report(ws, ws.jobs.get(job["name"]), tmp_path) == {
            "label": "filed",
            "files": 3,
            "rows": 60,
            "code": "published",
        }
    wrong = cli("pipeline-endpoint", "invoke", "-n", "counting", "--set", "scael=4")
    assert wrong.code == 1 and "ParameterAssignments.scael: names no input" in wrong.err


V1_DRIVER = """
from azureml.core import Workspace
from azureml.core.runconfig import RunConfiguration
from azureml.pipeline.core import Pipeline, PipelineEndpoint, PipelineParameter, PublishedPipeline
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
config = RunConfiguration()
config.environment.python.user_managed_dependencies = True
factor = PipelineParameter(name="factor", default_value=2)
step = PythonScriptStep("times.py", source_directory="src", arguments=["--factor", factor], runconfig=config)
pipeline = Pipeline(ws, [step])


def result(run):
    run.wait_for_completion(show_output=False)
    return run.get_children()[0].get_metrics()["product"]


published = pipeline.publish(name="times", description="multiplies by three")
print("ENDPOINT", published.endpoint)
assert PublishedPipeline.get(ws, published.id).version == published.version == "1"
assert [p.id for p in PublishedPipeline.list(ws)] == [published.id]
print("PUBLISHED", result(published.submit(ws, "published-runs", pipeline_parameters={"factor": 5})))

with open("src/times.py") as handle:  # the published pipeline keeps the code it was published with
    edited = handle.read().replace("* 3", "* 4")
with open("src/times.py", "w") as handle:
    handle.write(edited)
endpoint = PipelineEndpoint.publish(ws, name="times-endpoint", description="stable name", pipeline=published)
print("ENDPOINT-URL", endpoint.endpoint)
print("ENDPOINT-DEFAULT", result(endpoint.submit("endpoint-runs", pipeline_parameters={"factor": 7})))
endpoint.add_default(Pipeline(ws, [step]))  # published now: with the edited code
again = PipelineEndpoint.get(ws, name="times-endpoint")
print("VERSIONS", again.default_version, [p.version for p in again.list_pipelines()])
print("NEW-DEFAULT", result(again.submit("endpoint-runs", pipeline_parameters={"factor": 7})))
print("OLD-VERSION", result(again.submit("endpoint-runs", pipeline_parameters={"factor": 7}, pipeline_version="1")))

published.disable()
try:
    published.submit(ws, "refused")
except Exception as exc:
    print("REFUSED", type(exc).__name__, exc)
published.enable()
again.disable()
try:
    again.submit("refused")
except Exception as exc:
    print("REFUSED", type(exc).__name__, exc)
"""


def test_a_v1_driver_publishes_and_submits_through_published_pipeline_and_pipeline_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from thresher.sdk.v1.launcher import run_driver

    monkeypatch.setenv("THRESHER_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("THRESHER_DATABASE_URL", raising=False)
    monkeypatch.delenv("THRESHER_SERVER", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "times.py").write_text(
        "import argparse\nfrom azureml.core import Run\n"
        "parser = argparse.ArgumentParser()\nparser.add_argument('--factor', type=int)\n"
        "Run.get_context().log('product', parser.parse_args().factor * 3)\n"
    )
    (tmp_path / "driver.py").write_text(V1_DRIVER)
    code = run_driver("driver.py")
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    lines = dict(line.split(" ", 1) for line in captured.out.splitlines() if line.split(" ", 1)[0].isupper())
    assert lines["PUBLISHED"] == "15"  # factor 5 x 3
    assert lines["ENDPOINT-DEFAULT"] == "21"  # the published code, not the edited one
    assert lines["VERSIONS"] == "2 ['1', '2']"
    assert lines["NEW-DEFAULT"] == "28"  # version 2 was published after the edit
    assert lines["OLD-VERSION"] == "21"
    assert "no thresher server" in lines["ENDPOINT"] and "/api/v1/publishedpipelines/" in lines["ENDPOINT"]
    assert "/api/v1/pipelineendpoints/times-endpoint" in lines["ENDPOINT-URL"]
    refused = [line for line in captured.out.splitlines() if line.startswith("REFUSED")]
    assert refused[0].startswith("REFUSED UserErrorException Published pipeline 'times' version 1")
    assert "thresher pipeline enable --name times --version 1" in refused[0]
    assert refused[1].startswith("REFUSED UserErrorException Pipeline endpoint 'times-endpoint' is disabled")
    with Workspace(tmp_path / "ws") as ws:
        jobs = ws.jobs.list(limit=None)
        experiments = {j.spec.get("experiment_name") for j in jobs if j.kind == "pipeline"}
        assert experiments == {"published-runs", "endpoint-runs"}
