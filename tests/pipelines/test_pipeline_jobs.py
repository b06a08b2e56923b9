"""Azure v2 pipeline YAML, run here: three steps (command prepare -> parallel score with a registered model
-> command aggregate), reuse that explains itself, early cutoff, validation, resume after a failure and
after a runner killed in the middle of the parallel step. Real runner, worker and step processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.pipelines.conftest import Project
from thresher.scheduler.launch import runner_alive
from thresher.sdk import Workspace
from thresher.settings import load_settings


def _no_runner(timeout: float = 15.0) -> None:
    settings = load_settings()
    deadline = time.monotonic() + timeout
    while runner_alive(settings, dying_wait=0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runner_alive(settings, dying_wait=0), "the runner of the last pipeline did not exit"


def _steps(project: Project, pipeline: str) -> dict[str, dict[str, object]]:
    listed = project.cli("job", "list", "--parent-job-name", pipeline, "-o", "json").json()
    return {str(row["step"]): row for row in listed}  # the latest attempt of each step


def _summary(project: Project, pipeline: str) -> dict[str, object]:
    target = project.root.parent / f"download-{pipeline}"
    done = project.cli("job", "download", "-n", pipeline, "--output-name", "summary", "--download-path", str(target))
    assert done.code == 0, done.err
    return dict(json.loads((target / "named-outputs" / "summary" / "summary.json").read_text()))


def _expected_summary(project: Project, round_to: int = 3) -> dict[str, object]:
    import joblib

    model = joblib.load(project.root.parent / "model" / "model.joblib")
    values = []
    for part in sorted((project.root / "raw").glob("*.csv")):
        frame = pd.read_csv(part).map(lambda v: float(f"{v:.{round_to}f}"))
        values += [round(float(v), 4) for v in model.predict(frame)]
    return {"rows": len(values), "mean": round(sum(values) / len(values), 4)}


def test_a_three_step_pipeline_runs_then_reuses_unchanged_steps_and_says_why_others_ran(project: Project) -> None:
    first = project.run()
    assert first.code == 0, first.err
    pipeline = project.latest()
    assert "Pipeline completed: 3 steps, 3 ran, 0 reused" in first.err
    assert _summary(project, pipeline) == _expected_summary(project)
    steps = _steps(project, pipeline)
    assert [steps[s]["status"] for s in ("prepare", "score", "aggregate")] == ["Completed"] * 3
    logs = Path(str(steps["prepare"]["logs"]))
    assert logs.name == "std_log.txt" and "prepared 4 files" in logs.read_text()

    # Submitted again unchanged: every step reused, and no step process started (no step folder was made).
    again = project.run()
    assert again.code == 0, again.err
    second = project.latest()
    assert "3 ran" not in again.err and "0 ran, 3 reused" in again.err
    reused = _steps(project, second)
    jobs_root = Path(str(steps["prepare"]["logs"])).parents[2]
    for name, row in reused.items():
        assert row["reuse"]["reused"] is True, name  # type: ignore[index]
        assert not (jobs_root / str(row["name"])).exists(), f"step {name} made a folder: a process ran"
    explained = project.cli("job", "explain-reuse", f"{second}.score").out
    assert f"was reused from step job {pipeline}.score" in explained

    # A comment in the prepare code: prepare reruns, writes the same bytes, score and aggregate are reused.
    prep = project.root / "prep" / "prep.py"
    prep.write_text(prep.read_text() + "# a comment that changes nothing\n")
    assert project.run().code == 0
    third = project.latest()
    steps3 = _steps(project, third)
    assert steps3["prepare"]["reuse"]["reused"] is False  # type: ignore[index]
    assert steps3["score"]["reuse"]["reused"] is True  # type: ignore[index]
    assert steps3["aggregate"]["reuse"]["reused"] is True  # type: ignore[index]
    why = project.cli("job", "explain-reuse", f"{third}.prepare").out
    assert "code snapshot changed: prep.py" in why

    # A change that alters prepare's output: score and aggregate rerun, each naming the changed input.
    assert project.run("--set", "inputs.round_to=1").code == 0
    fourth = project.latest()
    steps4 = _steps(project, fourth)
    assert all(row["reuse"]["reused"] is False for row in steps4.values())  # type: ignore[index]
    assert "parameter round_to: 3 -> 1" in project.cli("job", "explain-reuse", f"{fourth}.prepare").out
    score_why = project.cli("job", "explain-reuse", f"{fourth}.score").out
    assert "input data: output prepare.clean of the step before holds other bytes" in score_why
    assert (
        "input predictions: output score.predictions" in project.cli("job", "explain-reuse", f"{fourth}.aggregate").out
    )
    assert _summary(project, fourth) == _expected_summary(project, round_to=1)
    # The named pipeline output was registered once per distinct output: the first run's, then this one's.
    versions = project.cli("data", "list", "--name", "diabetes_summary", "-o", "json").json()
    assert sorted(v["version"] for v in versions) == ["1", "2"]
    latest = project.cli("data", "show", "--name", "diabetes_summary", "--version", "2", "-o", "json").json()
    assert latest["produced_by"]["job"] == f"{fourth}.aggregate" and latest["produced_by"]["step"] == "aggregate"
    assert latest["produced_by"]["inputs"] == {"predictions": f"{fourth}.score/outputs/predictions"}
    against = project.cli("job", "explain-reuse", f"{fourth}.prepare", "--against", f"{pipeline}.prepare").out
    assert "parameter round_to: 3 -> 1" in against and "code snapshot changed: prep.py" in against


def test_a_pipeline_with_four_mistakes_is_refused_with_all_four_at_their_lines(project: Project) -> None:
    text = (project.root / "pipeline.yml").read_text()
    text = text.replace("${{parent.inputs.raw_data}}", "${{parent.inputs.raw_dta}}")  # line 25
    text = text.replace("round_to: 3", "round_to: 12")  # line 12: max is 8
    text = text.replace("${{parent.jobs.prepare.outputs.clean}}", "${{parent.jobs.prepare.outputs.cleaned}}")
    text = text.replace("  aggregate:\n", "  aggregate-step:\n")
    (project.root / "pipeline.yml").write_text(text)
    refused = project.run()
    assert refused.code != 0
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if fragment in line)

    assert "has 4 problems" in refused.err, refused.err
    assert f"pipeline.yml:{line_of('raw_dta')}: jobs.prepare.inputs.raw" in refused.err
    assert "no input 'raw_dta'" in refused.err
    assert f"pipeline.yml:{line_of('round_to: 12')}:" in refused.err and "at most 8" in refused.err
    assert f"pipeline.yml:{line_of('outputs.cleaned')}: jobs.score.inputs.data" in refused.err
    assert "no such output (its outputs: clean)" in refused.err
    assert f"pipeline.yml:{line_of('aggregate-step:')}: jobs.aggregate-step" in refused.err
    assert project.cli("job", "list", "-o", "json").json() == []  # nothing was queued


def test_a_failed_last_step_is_fixed_and_resumed_without_rerunning_the_steps_before_it(project: Project) -> None:
    aggregate = project.root / "agg" / "agg.py"
    good = aggregate.read_text()
    aggregate.write_text(good.replace("values = []", "values = []\nraise ValueError('no predictions file yet')"))
    failed = project.run()
    assert failed.code != 0
    pipeline = project.latest()
    shown = project.cli("job", "show", "-n", pipeline, "-o", "json").json()
    assert shown["status"] == "Failed"
    assert "Step 'aggregate' failed" in shown["headline"] and "ValueError: no predictions file yet" in shown["headline"]
    assert f"thresher job resume --name {pipeline}" in shown["headline"]
    before = _steps(project, pipeline)

    aggregate.write_text(good)  # the fix
    resumed = project.cli("job", "resume", "-n", pipeline, "--stream", "-o", "none")
    assert resumed.code == 0, resumed.err
    after = _steps(project, pipeline)
    for step in ("prepare", "score"):  # the same step jobs, not run again
        assert after[step]["name"] == before[step]["name"] and after[step]["attempt"] == 1
    assert after["aggregate"]["status"] == "Completed" and after["aggregate"]["name"] == f"{pipeline}.aggregate-2"
    assert _summary(project, pipeline) == _expected_summary(project)


def test_a_runner_killed_in_the_parallel_step_resumes_to_byte_identical_outputs(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = project.run("--set", "settings.force_rerun=true")
    assert clean.code == 0, clean.err
    reference = _steps(project, project.latest())
    expected = Path(str(reference["score"]["output_file"])).read_bytes()

    score = project.root / "score" / "score.py"  # slower mini-batches, so the kill lands mid-step
    score.write_text(
        score.read_text().replace("def run(mini_batch):", "def run(mini_batch):\n    __import__('time').sleep(0.4)")
    )
    _no_runner()  # the next runner starts with the fault (a live runner would take the job without it)
    monkeypatch.setenv("THRESHER_FAULT_INJECTION", "committed=kill")  # SIGKILL after the first commit
    killed = project.run("--set", "settings.force_rerun=true")
    monkeypatch.delenv("THRESHER_FAULT_INJECTION")
    assert killed.code != 0
    pipeline = project.latest()
    with Workspace() as ws:
        interrupted = ws.jobs.get(f"{pipeline}.score")
        assert interrupted.status == "Running" and 0 < interrupted.progress.mini_batches_done < 4
    resumed = project.cli("job", "resume", "-n", pipeline, "--stream", "-o", "none")
    assert resumed.code == 0, resumed.err
    steps = _steps(project, pipeline)
    assert steps["score"]["name"] == f"{pipeline}.score" and steps["score"]["attempt"] == 2
    assert Path(str(steps["score"]["output_file"])).read_bytes() == expected
    assert _summary(project, pipeline) == _expected_summary(project)
