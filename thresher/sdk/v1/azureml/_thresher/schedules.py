"""``Schedule`` over thresher's schedules (``Workspace.schedules``): a v1 schedule is a thresher schedule whose
``create_job`` is the published pipeline (``{published_pipeline: <id>, ...}``), with v1's id kept in its
properties."""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thresher.errors import ConflictError, NotFoundError
from thresher.specs.schedules import PUBLISHED_KEY, is_published_job, parse_schedule

from .publish import call

if TYPE_CHECKING:
    from thresher.sdk.schedules import ScheduleRecord

    from ..core.workspace import Workspace
    from ..pipeline.core.run import PipelineRun
    from ..pipeline.core.schedule import Schedule, ScheduleRecurrence

ID = "azureml.schedule_id"
ACTIVE, DISABLED = "Active", "Disabled"


def create(
    workspace: Workspace,
    *,
    name: str,
    pipeline_id: str,
    experiment_name: str,
    recurrence: ScheduleRecurrence | None,
    description: str | None,
    pipeline_parameters: dict[str, Any] | None,
    datastore: Any,
    polling_interval: int,
    data_path_parameter_name: str | None,
    continue_on_step_failure: bool | None,
    path_on_datastore: str | None,
) -> Schedule:
    """Store the schedule (every problem of it at once, as ``UserErrorException``); the v1 ``Schedule``."""
    from ..exceptions import UserErrorException

    if (recurrence is None) == (datastore is None):
        raise UserErrorException(
            "Schedule.create was given {}; give a recurrence (a time schedule) or a datastore (a data-change "
            "schedule), one of the two.".format("both a recurrence and a datastore" if recurrence else "neither")
        )
    trigger: dict[str, Any]
    if recurrence is not None:
        recurrence.validate()
        trigger = recurrence.to_trigger()
    else:
        trigger = {
            "type": "data_change",
            "datastore": getattr(datastore, "name", datastore),
            "path": path_on_datastore or "",
            "polling_interval": polling_interval,
        }
        if data_path_parameter_name:
            trigger["input"] = data_path_parameter_name
    job: dict[str, Any] = {PUBLISHED_KEY: pipeline_id, "experiment_name": experiment_name}
    if pipeline_parameters:
        job["parameters"] = dict(pipeline_parameters)
    if continue_on_step_failure is not None:
        job["continue_on_step_failure"] = bool(continue_on_step_failure)
    document = {
        "name": name,
        "description": description,
        "properties": {ID: str(uuid.uuid4())},
        "trigger": trigger,
        "create_job": job,
    }
    ws = workspace._thresher

    def store() -> ScheduleRecord:
        try:
            taken = ws.schedules.get(name)
        except NotFoundError:
            taken = None
        if taken is not None:
            raise ConflictError(
                f"A schedule named '{name}' exists already (id {_id(taken)}); thresher names schedules uniquely.",
                fix=f"Disable or delete it first (Schedule.get(ws, '{_id(taken)}').disable(), or thresher schedule "
                f"delete -n {name}), or give this one another name.",
            )
        written = {k: v for k, v in document.items() if v is not None}
        spec = parse_schedule(written, base_dir=Path.cwd(), source="Schedule.create")
        return ws.schedules.create(spec)

    return _schedule(workspace, call(store))


def get(workspace: Workspace, id: str) -> Schedule:
    """The v1 schedule with this id (or name)."""
    from ..exceptions import UserErrorException

    found = [s for s in list_schedules(workspace) if id in (s.id, s.name)]
    if not found:
        raise UserErrorException(
            f"Schedule {id!r} does not exist. List the schedules with Schedule.list(ws, active_only=False) or "
            "thresher schedule list."
        )
    return found[0]


def list_schedules(workspace: Workspace) -> list[Schedule]:
    """Every schedule of the workspace that fires a published pipeline, by name."""
    records = call(lambda: workspace._thresher.schedules.list())
    return [_schedule(workspace, r) for r in records if is_published_job(r.definition.get("create_job"))]


def set_enabled(workspace: Workspace, name: str, enabled: bool) -> str:
    """Enable or disable ``name``; its status now."""
    schedules = workspace._thresher.schedules
    record = call(lambda: schedules.enable(name) if enabled else schedules.disable(name))
    return ACTIVE if record.enabled else DISABLED


def pipeline_runs(workspace: Workspace, name: str) -> list[PipelineRun]:
    """The pipeline runs the schedule's fires created, newest first."""
    from ..pipeline.core.run import PipelineRun

    ws = workspace._thresher
    runs = []
    for fire in call(lambda: ws.schedules.fires(name, limit=None)):
        if fire.job is not None:
            job = call(partial(ws.jobs.get, fire.job))
            runs.append(PipelineRun(workspace, str(job.spec.get("experiment_name") or name), job.name))
    return runs


def _id(record: ScheduleRecord) -> str:
    return str((record.definition.get("properties") or {}).get(ID) or record.name)


def _schedule(workspace: Workspace, record: ScheduleRecord) -> Schedule:
    from ..pipeline.core.schedule import Schedule, ScheduleRecurrence

    trigger = dict(record.definition.get("trigger") or {})
    job = dict(record.definition.get("create_job") or {})
    data_change = trigger.get("type") == "data_change"
    return Schedule(
        workspace,
        id=_id(record),
        name=record.name,
        description=record.definition.get("description"),
        pipeline_id=str(job.get(PUBLISHED_KEY)),
        status=ACTIVE if record.enabled else DISABLED,
        recurrence=None if data_change else ScheduleRecurrence.from_trigger(trigger),
        datastore_name=trigger.get("datastore"),
        polling_interval=trigger.get("polling_interval"),
        data_path_parameter_name=trigger.get("input"),
        continue_on_step_failure=job.get("continue_on_step_failure"),
        path_on_datastore=trigger.get("path") if data_change else None,
    )
