"""Following a submitted pipeline job as the v1 SDK does: ``wait_for_completion(show_output=True)``
prints each step's status as it changes and an execution summary; statuses read as Azure's
(``Finished`` for a completed run)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from thresher.pipelines.driver import PIPELINE
from thresher.scheduler.launch import runner_alive
from thresher.store import JobRecord
from thresher.store.job_records import TERMINAL

from .workspace import thresher_workspace

if TYPE_CHECKING:
    from ..core.experiment import Experiment
    from ..pipeline.core.run import PipelineRun

POLL_SECONDS = 0.25
STUCK_GRACE_SECONDS = 5.0  # a job that no runner serves for this long is not waited for any longer
STATUS = {"Queued": "Queued", "Running": "Running", "Finalizing": "Running", "Completed": "Finished"}


def v1_status(job: JobRecord) -> str:
    """A thresher job status as the v1 SDK names it."""
    return STATUS.get(job.status, job.status)


def details(job: JobRecord) -> dict[str, Any]:
    """A run's details as ``get_details()`` gives them (Azure's keys)."""
    results = job.results or {}
    reuse = results.get("reuse") or {}
    properties = {"azureml.isreused": str(bool(reuse.get("reused"))).lower()}
    if reuse.get("reused"):
        properties["azureml.reusedrunid"] = str(reuse.get("from"))
    return {
        "runId": job.name,
        "status": "Completed" if job.status == "Completed" else job.status,
        "startTimeUtc": job.started_at.isoformat() if job.started_at else None,
        "endTimeUtc": job.ended_at.isoformat() if job.ended_at else None,
        "properties": properties,
        "headline": job.headline,
    }


def wait(run: PipelineRun, *, show_output: bool, timeout_seconds: float, raise_on_error: bool) -> str:
    """Wait for the pipeline job to end, printing step by step when ``show_output``; its v1 status."""
    ws = thresher_workspace()
    deadline = time.monotonic() + timeout_seconds
    seen: dict[str, str] = {}
    if show_output:
        print(f"PipelineRunId: {run.id}")
        print(f"Link to thresher: thresher job show --name {run.id}")
    job = ws.jobs.get(run.id)
    shown_status = ""
    stuck_since: float | None = None
    stuck: str | None = None
    while True:
        job = ws.jobs.get(run.id)
        if show_output and v1_status(job) != shown_status:
            shown_status = v1_status(job)
            if job.status not in TERMINAL:
                print(f"PipelineRun Status: {shown_status}", flush=True)
        for step in ws.jobs.list(parent_job_name=run.id, limit=None):
            if show_output and seen.get(step.name) != step.status:
                _print_step(step, seen.get(step.name))
            seen[step.name] = step.status
        if job.status in TERMINAL or time.monotonic() > deadline:
            break
        unserved = ws.jobs.note(job) or (job.status == "Queued" and not runner_alive(ws.settings))
        stuck_since = (stuck_since or time.monotonic()) if unserved else None
        if stuck_since is not None and time.monotonic() - stuck_since > STUCK_GRACE_SECONDS:
            stuck = ws.jobs.note(job) or (
                f"No runner serves the workspace now (its log: {ws.settings.workspace_dir / 'runner.log'}). "
                f"Start one with: thresher job resume --name {run.id}"
            )
            break
        time.sleep(POLL_SECONDS)
    if stuck:
        print(f"PipelineRun {run.id} is not running: {stuck}", flush=True)
        if raise_on_error:
            from ..exceptions import ActivityFailedException

            raise ActivityFailedException(f"Pipeline run {run.id} is not running: {stuck}")
        return v1_status(job)
    if show_output and job.status in TERMINAL:
        print("\nPipelineRun Execution Summary\n==============================")
        print(f"PipelineRun Status: {v1_status(job)}")
        print(json.dumps(details(job), indent=1), flush=True)
    if raise_on_error and job.status in ("Failed", "Canceled"):
        from ..exceptions import ActivityFailedException

        error = {"error": {"code": "UserError", "message": job.headline or f"Pipeline run {run.id} {job.status}."}}
        raise ActivityFailedException(f"Activity Failed:\n{json.dumps(error, indent=4)}")
    return v1_status(job)


def _print_step(step: JobRecord, before: str | None) -> None:
    label = (step.results or {}).get("step") or step.name
    if before is None:
        print(f"\nStepRunId: {step.name}")
    if step.status not in TERMINAL:
        print(f"StepRun( {label} ) Status: {v1_status(step)}", flush=True)
        return
    print(f"\nStepRun({label}) Execution Summary\n" + "=" * (len(label) + 26))
    print(f"StepRun( {label} ) Status: {v1_status(step)}")
    print(json.dumps(details(step), indent=1), flush=True)


def experiment_runs(experiment: Experiment) -> list[PipelineRun]:
    """The experiment's pipeline runs, newest first."""
    from ..pipeline.core.run import PipelineRun

    ws = experiment.workspace._thresher
    return [
        PipelineRun(experiment.workspace, experiment.name, job.name)
        for job in ws.jobs.list(limit=None)
        if job.kind == PIPELINE and job.spec.get("experiment_name") == experiment.name
    ]
