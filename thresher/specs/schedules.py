"""Schedules (``schedule.schema.json``): fire a pipeline job on a cron expression, a recurrence, or new data.

    load_schedule("nightly.yml", overrides=["trigger.expression=0 3 * * *"])  -> ScheduleSpec

Azure's two triggers are read as Azure writes them (``type: cron`` with ``expression``; ``type: recurrence``
with ``frequency``, ``interval`` and ``schedule: {hours, minutes, week_days, month_days}``; both with
``start_time``, ``end_time`` and ``time_zone``, an IANA name or one of Azure's Windows names such as
``Pacific Standard Time``). thresher adds ``type: data_change`` (v1's ``Schedule.create(datastore=...,
path_on_datastore=..., polling_interval=..., data_path_parameter_name=...)``):

    trigger:
      type: data_change
      datastore: workspaceblobstore   # a registered datastore
      path: incoming/                 # the folder on it that is watched (its subfolders are not)
      polling_interval: 5             # minutes between listings
      input: scoring_data             # the pipeline input that receives the changed path

``create_job`` is a pipeline job YAML path, ``azureml:<job name>`` (the definition of that pipeline job
submitted again), an inline pipeline job, ``{type: pipeline, job: <path or azureml:job>, inputs:,
outputs:, settings:}`` (those keys laid over the job's), or a published pipeline, as the v1 SDK's
``Schedule.create(pipeline_id=...)`` schedules one::

    create_job:
      published_pipeline: 6f1c...        # the published pipeline's id (thresher pipeline list)
      experiment_name: nightly           # default: the published pipeline's, else its name
      parameters: {round_to: 2}          # its REST body's ParameterAssignments
      continue_on_step_failure: true     # optional: overrides the pipeline's setting

The job itself is checked by the SDK, which has the workspace to resolve it against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Discriminator, Field, Tag, ValidationError, ValidationInfo, field_validator

from thresher.errors import MissingExtraError, SpecError
from thresher.specs.fields import AssetName, Lowercase, SpecModel, TextDict, base_dir, is_uri
from thresher.specs.overrides import merge_overrides
from thresher.specs.problems import Locator, problems_from, show, sort_problems
from thresher.specs.yamlio import LineMap, read_yaml

WEEK_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TRIGGER_TYPES = ("cron", "recurrence", "data_change")

# Azure's schedules name time zones as Windows does; the common ones, mapped to IANA names.
WINDOWS_ZONES: dict[str, str] = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "central europe standard time": "Europe/Budapest",
    "romance standard time": "Europe/Paris",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kiev",
    "russian standard time": "Europe/Moscow",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "us mountain standard time": "America/Phoenix",
    "pacific standard time": "America/Los_Angeles",
    "alaskan standard time": "America/Anchorage",
    "hawaiian standard time": "Pacific/Honolulu",
    "atlantic standard time": "America/Halifax",
    "e. south america standard time": "America/Sao_Paulo",
    "india standard time": "Asia/Kolkata",
    "china standard time": "Asia/Shanghai",
    "tokyo standard time": "Asia/Tokyo",
    "korea standard time": "Asia/Seoul",
    "singapore standard time": "Asia/Singapore",
    "aus eastern standard time": "Australia/Sydney",
    "new zealand standard time": "Pacific/Auckland",
    "south africa standard time": "Africa/Johannesburg",
    "arabian standard time": "Asia/Dubai",
    "israel standard time": "Asia/Jerusalem",
}


def zone_of(name: str) -> ZoneInfo:
    """The time zone an Azure ``time_zone`` names (IANA or Windows name); ValueError for an unknown one."""
    text = name.strip()
    try:
        return ZoneInfo(WINDOWS_ZONES.get(text.lower(), text))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"is '{name}', which is not a time zone thresher knows; use an IANA name such as Europe/Berlin or "
            "America/Los_Angeles, or one of Azure's Windows names such as 'Pacific Standard Time' "
            "(default: UTC)."
        ) from None


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as written in a schedule (``2024-05-01T03:00:00``, offset optional); ValueError."""
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"is '{text}'; it must be an ISO 8601 time such as 2024-05-01T03:00:00.") from None


def _time_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        parse_time(value)
    return value


def _zone_text(value: str) -> str:
    zone_of(value)
    return value


def croniter_class() -> Any:
    """croniter's iterator class (imported here: only schedules need it, from the server extra)."""
    try:
        from croniter import croniter  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtraError("A cron schedule", "croniter", "server") from exc
    return croniter


def _cron(value: str) -> str:
    croniter = croniter_class()
    fields = value.split()
    if len(fields) != 5 or not croniter.is_valid(value):
        raise ValueError(
            f"is '{value}'; it must be a cron expression of 5 fields, minute hour day-of-month month "
            "day-of-week, such as '0 3 * * *' (every day at 03:00)."
        )
    return " ".join(fields)


Time = Annotated[str, AfterValidator(_time_text)]
TimeZone = Annotated[str, AfterValidator(_zone_text)]


class _TimeTrigger(SpecModel):
    start_time: Time | None = None
    end_time: Time | None = None
    time_zone: TimeZone = "UTC"

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        return _time_text(value)


class CronTrigger(_TimeTrigger):
    """``type: cron``: fires at each time the 5-field cron expression matches, in ``time_zone``."""

    type: Literal["cron"] = "cron"
    expression: Annotated[str, AfterValidator(_cron)]


class RecurrencePattern(SpecModel):
    """``schedule:`` of a recurrence: the hours and minutes (and week or month days) within each period."""

    hours: list[Annotated[int, Field(ge=0, le=23)]] = Field(default_factory=list)
    minutes: list[Annotated[int, Field(ge=0, le=59)]] = Field(default_factory=list)
    week_days: list[Annotated[Literal[WEEK_DAYS], Lowercase]] = Field(default_factory=list)  # type: ignore[valid-type]
    month_days: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)


class RecurrenceTrigger(_TimeTrigger):
    """``type: recurrence``: every ``interval`` minutes, hours, days, weeks or months from ``start_time``."""

    type: Literal["recurrence"] = "recurrence"
    frequency: Annotated[Literal["minute", "hour", "day", "week", "month"], Lowercase]
    interval: int = Field(default=1, ge=1)
    schedule: RecurrencePattern | None = None


class DataChangeTrigger(SpecModel):
    """``type: data_change`` (thresher's, after v1's change-based schedules): fires when files appear or change
    in ``path`` on ``datastore``, passing the changed file (or, when several changed, the folder) to ``input``."""

    type: Literal["data_change"] = "data_change"
    datastore: str
    path: str = ""
    polling_interval: int = Field(default=5, ge=1)
    input: str | None = None  # required for a pipeline job; optional for a published pipeline, as in v1


Trigger = Annotated[
    Annotated[CronTrigger, Tag("cron")]
    | Annotated[RecurrenceTrigger, Tag("recurrence")]
    | Annotated[DataChangeTrigger, Tag("data_change")],
    Discriminator("type"),
]


class ScheduleSpec(SpecModel):
    """A schedule: its trigger and the pipeline job it creates (``create_job``)."""

    name: AssetName
    display_name: str | None = None
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    properties: TextDict = Field(default_factory=dict)
    is_enabled: bool = True
    trigger: Trigger
    create_job: str | dict[str, Any]

    @field_validator("create_job")
    @classmethod
    def _job(cls, value: str | dict[str, Any], info: ValidationInfo) -> str | dict[str, Any]:
        if isinstance(value, dict) and PUBLISHED_KEY in value:
            return _published_job(value)
        if isinstance(value, dict):
            kind = str(value.get("type", "pipeline")).lower()
            if kind != "pipeline":
                raise ValueError(
                    f"is a {kind} job; thresher schedules create pipeline jobs (type: pipeline). Wrap the step "
                    "in a pipeline job with one job under jobs:."
                )
            job = value.get("job")
            if isinstance(job, str) and not job.startswith("azureml:") and not is_uri(job):
                return {**value, "job": str((base_dir(info) / job).resolve())}
            return value
        text = value.strip()
        if not text:
            raise ValueError("is empty; give a pipeline job YAML path, azureml:<job name> or an inline job.")
        if text.startswith("azureml:"):
            return text
        return str((base_dir(info) / text).resolve())

    def to_document(self) -> dict[str, Any]:
        """The spec as a JSON-able dict that ``parse_schedule`` turns back into an equal spec."""
        return self.model_dump(mode="json", exclude_none=True)


PUBLISHED_KEY = "published_pipeline"
PUBLISHED_KEYS = (PUBLISHED_KEY, "experiment_name", "parameters", "continue_on_step_failure")


def is_published_job(value: Any) -> bool:
    """Whether a ``create_job`` fires a published pipeline (``{published_pipeline: <id>, ...}``)."""
    return isinstance(value, Mapping) and PUBLISHED_KEY in value


def _published_job(value: dict[str, Any]) -> dict[str, Any]:
    wrong = []
    unknown = sorted(str(key) for key in value if key not in PUBLISHED_KEYS)
    if unknown:
        wrong.append(
            f"has {', '.join(unknown)}, which a published pipeline's create_job does not take (its keys: "
            f"{', '.join(PUBLISHED_KEYS)})"
        )
    identifier = value.get(PUBLISHED_KEY)
    if not isinstance(identifier, str) or not identifier.strip():
        wrong.append(
            f"has published_pipeline {identifier!r}; give the published pipeline's id (thresher pipeline list)"
        )
    experiment = value.get("experiment_name")
    if experiment is not None and (not isinstance(experiment, str) or not experiment.strip()):
        wrong.append(f"has experiment_name {experiment!r}; give the experiment's name as text")
    parameters = value.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        wrong.append(f"has parameters {parameters!r}; give an object of parameter name -> value")
    flag = value.get("continue_on_step_failure")
    if flag is not None and not isinstance(flag, bool):
        wrong.append(f"has continue_on_step_failure {flag!r}; give true or false")
    if wrong:
        raise ValueError("; ".join(wrong) + ".")
    return {key: value[key] for key in PUBLISHED_KEYS if value.get(key) is not None}


_AZURE_ONLY = {
    "create_monitor": "a model monitoring schedule (create_monitor) is an Azure feature thresher does not have; "
    "a thresher schedule creates a pipeline job (create_job:).",
}


def load_schedule(path: str | Path, *, overrides: Sequence[str] = ()) -> tuple[ScheduleSpec, dict[str, Any], LineMap]:
    """Read the schedule YAML file ``path`` (with ``--set`` overrides): the spec, the document as written
    (after the overrides) and its lines, so that an inline ``create_job`` can be checked with file:line.
    SpecError lists every problem."""
    file = Path(path)
    data, lines = read_yaml(file, str(path))
    merged, _, _ = merge_overrides(data, overrides)
    spec = _build(data, file.parent.absolute(), str(path), lines, overrides, what=f"schedule {file.name}")
    return spec, merged, lines


def parse_schedule(
    data: Mapping[str, Any], *, base_dir: Path, source: str = "<sdk>", overrides: Sequence[str] = ()
) -> ScheduleSpec:
    """Validate a schedule document (from code, or a stored ``to_document()``); SpecError lists every problem."""
    return _build(dict(data), base_dir, source, None, overrides, what="schedule")


def _build(
    data: dict[str, Any],
    folder: Path,
    source: str,
    lines: LineMap | None,
    overrides: Sequence[str],
    *,
    what: str,
) -> ScheduleSpec:
    data, overridden, problems = merge_overrides(data, overrides)
    locator = Locator(source, lines, overridden=overridden)
    schema = data.pop("$schema", None)
    if schema is not None and "schedule" not in str(schema).lower():
        problems.append(
            locator.problem(("$schema",), f"$schema is {show(schema)}, which is not a schedule's; check the file.")
        )
    for key, message in _AZURE_ONLY.items():
        if key in data:
            problems.append(locator.problem((key,), message))
            data.pop(key)
            data.setdefault("create_job", "azureml:-")  # reported above; keep the rest of the checks quiet
    trigger = data.get("trigger")
    if isinstance(trigger, Mapping) and str(trigger.get("type", "")).lower() not in TRIGGER_TYPES:
        problems.append(
            locator.problem(
                ("trigger", "type"),
                f"trigger.type is {show(trigger.get('type'))}; it must be cron, recurrence (Azure's) or "
                "data_change (thresher's: a new or changed file in a datastore folder).",
            )
        )
        data["trigger"] = None  # reported above
    elif isinstance(trigger, Mapping):
        data["trigger"] = {**trigger, "type": str(trigger["type"]).lower()}
    spec: ScheduleSpec | None = None
    try:
        spec = ScheduleSpec.model_validate(data, context={"base_dir": folder})
    except ValidationError as error:
        found = problems_from(error, ScheduleSpec, locator)
        reported = {p.path.split(".")[0] for p in problems}
        problems.extend(p for p in found if p.path.split(".")[0] not in reported)
    if problems or spec is None:
        fix = "Correct the keys above and create the schedule again."
        raise SpecError(sort_problems(problems), what=what, fix=fix)
    return spec
