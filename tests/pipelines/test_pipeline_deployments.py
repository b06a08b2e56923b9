"""``type: pipeline`` batch deployments: a pipeline component deployed to a batch endpoint, invoked with
``--file inputs.yml`` (or ``--input``) as Azure's batch endpoints are; its steps listed by
``job list --parent-job-name`` and its output fetched by ``job download --output-name``."""

from __future__ import annotations

import json

from tests.pipelines.conftest import Project


def _deploy(project: Project) -> None:
    for command in (
        ("batch-endpoint", "create", "-f", str(project.root / "endpoint.yml")),
        ("batch-deployment", "create", "-f", str(project.root / "deployment.yml"), "--set-default"),
    ):
        done = project.cli(*command, "-o", "none")
        assert done.code == 0, done.err


def test_a_pipeline_deployment_is_invoked_with_an_inputs_file_and_its_steps_and_output_are_listed(
    project: Project,
) -> None:
    _deploy(project)
    shown = project.cli("batch-deployment", "show", "-n", "nightly", "-e", "diabetes-batch", "-o", "json").json()
    assert shown["component"] == "azureml:diabetes_scoring:1"  # registered from the file, as Azure does

    invoked = project.cli(
        "batch-endpoint",
        "invoke",
        "-n",
        "diabetes-batch",
        "--file",
        str(project.root / "inputs.yml"),
        "--stream",
        "-o",
        "json",
    )
    assert invoked.code == 0, invoked.err
    job = invoked.json()
    assert job["type"] == "pipeline" and job["name"].startswith("diabetes-batch-nightly-")
    steps = project.cli("job", "list", "--parent-job-name", job["name"], "-o", "json").json()
    assert [s["step"] for s in steps] == [
        "diabetes_scoring.prepare",
        "diabetes_scoring.score",
        "diabetes_scoring.aggregate",
    ]
    assert all(s["status"] == "Completed" for s in steps)
    target = project.root.parent / "out"
    fetched = project.cli("job", "download", "-n", job["name"], "--output-name", "summary", "-p", str(target))
    assert fetched.code == 0, fetched.err
    summary = json.loads((target / "named-outputs" / "summary" / "summary.json").read_text())
    assert summary["rows"] == 80  # 4 files of 20 rows, round_to 2 from inputs.yml
    listed = project.cli("batch-endpoint", "list-jobs", "-n", "diabetes-batch", "-o", "json").json()
    assert [j["name"] for j in listed] == [job["name"]]

    # --input names the component's one data input; --set the others.
    again = project.cli(
        "batch-endpoint",
        "invoke",
        "-n",
        "diabetes-batch",
        "--input",
        str(project.root / "raw"),
        "--set",
        "round_to=2",
        "--stream",
        "-o",
        "json",
    )
    assert again.code == 0, again.err
    reused = project.cli("job", "list", "--parent-job-name", again.json()["name"], "-o", "json").json()
    why = {s["step"]: s["reuse"] for s in reused}
    assert all(s["reuse"]["reused"] for s in reused), why


def test_invoking_a_pipeline_deployment_with_a_wrong_input_names_it(project: Project) -> None:
    _deploy(project)
    (project.root / "wrong.yml").write_text("inputs:\n  raw_dta:\n    type: uri_folder\n    path: ./raw\n")
    refused = project.cli("batch-endpoint", "invoke", "-n", "diabetes-batch", "--file", str(project.root / "wrong.yml"))
    assert refused.code != 0
    assert "raw_dta" in refused.err and "is not an input of component azureml:diabetes_scoring:1" in refused.err
    assert "raw_data" in refused.err  # the required input that is missing


def test_a_pipeline_job_deployed_as_job_definition_runs_with_the_inputs_of_the_invocation(project: Project) -> None:
    first = project.run()
    assert first.code == 0, first.err
    pipeline = project.latest()
    assert project.cli("batch-endpoint", "create", "-f", str(project.root / "endpoint.yml"), "-o", "none").code == 0
    deployment = project.root / "from-job.yml"
    deployment.write_text(
        f"name: from-job\nendpoint_name: diabetes-batch\ntype: pipeline\njob_definition: azureml:{pipeline}\n"
    )
    created = project.cli("batch-deployment", "create", "-f", str(deployment), "--set-default", "-o", "json")
    assert created.code == 0, created.err
    assert created.json()["job_definition"] == f"azureml:{pipeline}"
    invoked = project.cli(
        "batch-endpoint", "invoke", "-n", "diabetes-batch", "--set", "round_to=1", "--stream", "-o", "json"
    )
    assert invoked.code == 0, invoked.err
    steps = project.cli("job", "list", "--parent-job-name", invoked.json()["name"], "-o", "json").json()
    assert [s["step"] for s in steps] == ["prepare", "score", "aggregate"]
    assert "parameter round_to: 3 -> 1" in project.cli("job", "explain-reuse", steps[0]["name"]).out
    wrong = project.root / "wrong-job.yml"
    wrong.write_text("name: wrong\nendpoint_name: diabetes-batch\ntype: pipeline\njob_definition: azureml:nope\n")
    refused = project.cli("batch-deployment", "create", "-f", str(wrong))
    assert refused.code != 0 and "Job 'nope' does not exist" in refused.err
