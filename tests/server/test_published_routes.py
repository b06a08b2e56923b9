"""Published pipelines through a real ``thresher server``: Azure's REST call as a plain HTTP POST (and at the
URL the v1 shim's ``PublishedPipeline.endpoint`` gives), 409 for a disabled endpoint, 403 for a reader, one
job per ``Idempotency-Key``, and the CLI's ``pipeline publish`` / ``pipeline-endpoint`` commands.

The pipeline is ``tests/pipelines/fixtures/publishable``: one step that counts the rows of the CSVs of its
``raw_data`` input and writes ``report.json`` with its ``label`` and ``rows × scale``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.pipelines.test_published import FIXTURE, write_csvs
from tests.server.conftest import api
from tests.thresher_server import ThresherServer
from thresher.cli import main
from thresher.errors import ThresherError
from thresher.pipelines.yaml_loader import load_pipeline
from thresher.sdk import Workspace
from thresher.sdk.pipelines import WorkspaceSources
from thresher.sdk.published import PublishedPipeline
from thresher.settings import load_settings

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The publishable pipeline's folder, with 3 CSVs of 5 rows as its default ``raw_data``."""
    root = tmp_path / "counting"
    shutil.copytree(FIXTURE, root)
    write_csvs(root / "raw", 3)
    return root


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``thresher ARGS`` in-process (against THRESHER_SERVER): its exit code, standard output and error."""

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def report(ws: Workspace, job_name: str, folder: Path) -> dict[str, Any]:
    """The finished job's report.json; the job must have completed."""
    ended = ws.jobs.wait(job_name, timeout=120)
    assert ended.status == "Completed", (ended.headline, ended.results)
    target = ws.jobs.download(job_name, folder / job_name, output_name="report")
    (found,) = Path(target).rglob("report.json")
    return dict(json.loads(found.read_text()))


def v1_endpoint(published: PublishedPipeline) -> str:
    """The URL the v1 SDK's ``PublishedPipeline.endpoint`` gives for it (THRESHER_SERVER is set)."""
    from thresher.sdk.v1.azureml.pipeline.core.published_pipeline import PublishedPipeline as V1Published

    return V1Published(None, published).endpoint  # type: ignore[arg-type]  # .endpoint needs no workspace


def pipeline_jobs(ws: Workspace) -> list[str]:
    return [job.name for job in ws.jobs.list(limit=None) if job.kind == "pipeline"]


def test_a_plain_http_post_runs_the_published_pipeline_with_azure_s_body(
    served: ThresherServer, project: Path, tmp_path: Path
) -> None:
    with Workspace() as ws:
        published = ws.pipeline_endpoints.publish(project / "pipeline.yml", name="counting")
        store = ws.datastores.get("workspaceblobstore")
        write_csvs(Path(str(store.spec["path"])) / "incoming" / "batch-1", 2)
        body = {
            "ExperimentName": "over-rest",
            "ParameterAssignments": {"label": "rest", "scale": "2"},  # REST callers send text; it is coerced
            "DataPathAssignments": {
                "raw_data": {"DataStoreName": "workspaceblobstore", "RelativePath": "incoming/batch-1"}
            },
        }
        with api(served, served.token_for("contributor")) as client:  # Azure's clients send a bearer token too
            answer = client.post("/api/v1/pipelineendpoints/counting", json=body)
            assert answer.status_code == 201, answer.text
            by_endpoint = answer.json()["name"]
            # the v1 shim's published_pipeline.endpoint, as requests.post(endpoint, json=..., headers=...) calls it
            url = v1_endpoint(published)
            assert url == f"{served.url}/api/v1/publishedpipelines/{published.id}"
            answer = client.post(url, json={"ExperimentName": "by-id", "ParameterAssignments": {"label": "v1"}})
            assert answer.status_code == 201, answer.text
            by_id = answer.json()["name"]
        assert ws.jobs.get(by_endpoint).spec["experiment_name"] == "over-rest"
        assert report(ws, by_endpoint, tmp_path) == {"label": "rest", "files": 2, "rows": 20, "code": "published"}
        assert report(ws, by_id, tmp_path) == {"label": "v1", "files": 3, "rows": 15, "code": "published"}


def test_a_disabled_endpoint_is_409_a_reader_403_and_one_key_queues_one_job(
    served: ThresherServer, project: Path
) -> None:
    with Workspace() as ws, api(served, served.token_for("contributor")) as client:
        ws.pipeline_endpoints.publish(project / "pipeline.yml", name="counting")
        body = {"ParameterAssignments": {"label": "once"}}

        with api(served, served.token_for("reader")) as reader:
            refused = reader.post("/api/v1/pipelineendpoints/counting", json=body)
            assert refused.status_code == 403, refused.text
            assert "needs contributor" in refused.json()["error"]["message"]
            assert reader.get("/api/v1/pipelineendpoints/counting").json()["status"] == "Active"
        assert pipeline_jobs(ws) == []

        assert client.post("/api/v1/pipelineendpoints/counting/disable").json()["status"] == "Disabled"
        disabled = client.post("/api/v1/pipelineendpoints/counting", json=body)
        assert disabled.status_code == 409
        assert disabled.json()["error"]["fix"] == "Enable it with: thresher pipeline-endpoint enable --name counting"
        assert pipeline_jobs(ws) == []
        assert client.post("/api/v1/pipelineendpoints/counting/enable").json()["status"] == "Active"

        key = {"Idempotency-Key": "retry-of-one-request"}
        first = client.post("/api/v1/pipelineendpoints/counting", json=body, headers=key)
        again = client.post("/api/v1/pipelineendpoints/counting", json=body, headers=key)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json()["name"] == again.json()["name"]
        assert pipeline_jobs(ws) == [first.json()["name"]]


def test_the_cli_publishes_and_drives_pipeline_endpoints_through_the_server(
    served: ThresherServer, project: Path, run: Run, tmp_path: Path
) -> None:
    code, out, err = run("pipeline", "publish", "-f", str(project / "pipeline.yml"), "--name", "counting")
    assert code == 0, err
    assert json.loads(out)["version"] == "1"
    code, out, err = run("pipeline", "publish", "-f", str(project / "pipeline.yml"), "-n", "counting", "--set-default")
    assert code == 0, err
    code, out, _ = run("pipeline-endpoint", "list", "--query", "[].[name, default_version]", "-o", "tsv")
    assert out.split() == ["counting", "2"]
    code, out, _ = run("pipeline-endpoint", "show", "-n", "counting", "--query", "versions", "-o", "tsv")
    assert out.split() == ["1", "2"]

    assert run("pipeline-endpoint", "disable", "-n", "counting", "-o", "none")[0] == 0
    code, _, err = run("pipeline-endpoint", "invoke", "-n", "counting", "--set", "scale=2")
    assert code != 0 and "Pipeline endpoint 'counting' is disabled" in err
    assert "thresher pipeline-endpoint enable --name counting" in err
    assert run("pipeline-endpoint", "enable", "-n", "counting", "-o", "none")[0] == 0

    code, out, err = run("pipeline-endpoint", "invoke", "-n", "counting", "--set", "scale=2", "-v", "1", "--stream")
    assert code == 0, err
    with Workspace() as ws:
        (job,) = pipeline_jobs(ws)
        assert ws.jobs.get(job).spec["published_pipeline"]["version"] == "1"
        assert report(ws, job, tmp_path) == {"label": "nightly", "files": 3, "rows": 30, "code": "published"}


def test_records_over_http_equal_the_workspace_s_own_and_what_only_the_server_does_is_refused(
    served: ThresherServer, project: Path
) -> None:
    from tests.schedules.conftest import FIXTURES as SCHEDULE_FIXTURES

    shutil.copy(SCHEDULE_FIXTURES / "pipeline.yml", project / "scheduled.yml")
    (project / "data").mkdir()
    (project / "hourly.yml").write_text(
        "name: hourly\ntrigger: {type: cron, expression: '0 * * * *'}\ncreate_job: ./scheduled.yml\n"
    )
    local_settings = load_settings(home=served.home, server=None)
    with Workspace() as remote, Workspace(settings=local_settings) as local:
        published = remote.pipeline_endpoints.publish(project / "pipeline.yml", name="counting", description="rows")
        assert published == local.pipeline_endpoints.get_published(published.id)
        assert remote.pipeline_endpoints.list() == local.pipeline_endpoints.list()
        assert remote.pipeline_endpoints.list_versions("counting") == local.pipeline_endpoints.pipelines("counting")
        schedule = remote.schedules.create(project / "hourly.yml")
        assert schedule == local.schedules.get("hourly") and remote.schedules.list() == [schedule]
        assert remote.schedules.show("hourly").schedule == schedule
        assert remote.schedules.server_running() is True

        with pytest.raises(ThresherError) as refused:
            remote.schedules.fire_due()
        assert "a thresher server does by itself" in str(refused.value) and refused.value.fix
        pipeline = load_pipeline(project / "pipeline.yml", WorkspaceSources(local.instance))
        with pytest.raises(ThresherError) as refused:
            remote.pipeline_endpoints.publish_definition(pipeline, name="from-python")
        assert "not against a thresher server" in str(refused.value)
        assert "thresher pipeline publish -f pipeline.yml --name from-python" in str(refused.value.fix)
