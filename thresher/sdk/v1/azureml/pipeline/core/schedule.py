"""``azureml.pipeline.core.schedule``: ``Schedule`` and ``ScheduleRecurrence``, a published pipeline submitted
on a recurrence or when a file appears or changes in a datastore folder, over thresher's schedules::

    recurrence = ScheduleRecurrence(frequency="Day", interval=1, hours=[3], minutes=[0])
    schedule = Schedule.create(ws, name="nightly", pipeline_id=published.id, experiment_name="nightly",
                               recurrence=recurrence)
    watcher = Schedule.create(ws, name="new-files", pipeline_id=published.id, experiment_name="drops",
                              datastore=Datastore(ws, "landing"), path_on_datastore="incoming",
                              polling_interval=5, data_path_parameter_name="input_data")
    watcher.disable()

Schedules fire while a ``thresher server`` runs (docs/schedules.md). ``ScheduleRecurrence`` needs no thresher.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...core.workspace import Workspace
    from .run import PipelineRun

__all__ = ["Schedule", "ScheduleRecurrence", "TimeZone"]

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class TimeZone(Enum):
    """The time zones a ``ScheduleRecurrence`` may name (Azure's Windows names; an IANA name as text works too)."""

    UTC = "UTC"
    GMTStandardTime = "GMT Standard Time"
    WEuropeStandardTime = "W. Europe Standard Time"
    CentralEuropeStandardTime = "Central Europe Standard Time"
    RomanceStandardTime = "Romance Standard Time"
    EEuropeStandardTime = "E. Europe Standard Time"
    RussianStandardTime = "Russian Standard Time"
    EasternStandardTime = "Eastern Standard Time"
    CentralStandardTime = "Central Standard Time"
    MountainStandardTime = "Mountain Standard Time"
    PacificStandardTime = "Pacific Standard Time"
    IndiaStandardTime = "India Standard Time"
    ChinaStandardTime = "China Standard Time"
    TokyoStandardTime = "Tokyo Standard Time"
    AUSEasternStandardTime = "AUS Eastern Standard Time"


class ScheduleRecurrence:
    """How often a time schedule fires: every ``interval`` ``frequency`` units (Minute, Hour, Day, Week or
    Month) from ``start_time`` (a naive datetime or ``YYYY-MM-DDThh:mm:ss`` on ``time_zone``'s clock; default:
    when the schedule is created), at ``hours`` and ``minutes`` (or ``time_of_day``, ``"hh:mm"``) of a Day or
    Week frequency, on ``week_days`` of a Week frequency. Every problem is reported at once (ValueError)."""

    def __init__(
        self,
        frequency: str,
        interval: int,
        start_time: datetime | str | None = None,
        time_zone: TimeZone | str | None = None,
        hours: builtins.list[int] | None = None,
        minutes: builtins.list[int] | None = None,
        week_days: builtins.list[str] | None = None,
        time_of_day: str | None = None,
    ) -> None:
        self.frequency = frequency
        self.interval = interval
        self.start_time = start_time
        self.time_zone = time_zone
        self.hours = hours
        self.minutes = minutes
        self.week_days = week_days
        self.time_of_day = time_of_day
        self.validate()

    def validate(self) -> None:
        """Check the recurrence as v1 does (``Schedule.create`` calls it too); ValueError listing every problem."""
        problems = []
        frequency = _frequency(self.frequency)
        if frequency is None:
            problems.append("frequency is {!r}; it must be one of {}.".format(self.frequency, ", ".join(FREQUENCIES)))
        if isinstance(self.interval, bool) or not isinstance(self.interval, int) or self.interval < 1:
            problems.append(f"interval is {self.interval!r}; it must be a whole number of at least 1.")
        if frequency is not None and frequency not in ("Day", "Week"):
            for key in ("hours", "minutes", "time_of_day"):
                if getattr(self, key):
                    problems.append(
                        f"{key} is {getattr(self, key)!r}, but frequency is {frequency}; hours, minutes and "
                        f"time_of_day are for a Day or Week frequency. Drop {key} or use frequency='Day'."
                    )
        if frequency is not None and frequency != "Week" and self.week_days:
            problems.append(
                f"week_days is {self.week_days!r}, but frequency is {frequency}; week_days are for a Week "
                "frequency. Use frequency='Week'."
            )
        if self.time_of_day is not None and (self.hours or self.minutes):
            problems.append(
                f"time_of_day is {self.time_of_day!r} and hours or minutes are given too; give time_of_day or "
                "hours and minutes, not both."
            )
        for key, top in (("hours", 23), ("minutes", 59)):
            wrong = [v for v in getattr(self, key) or [] if isinstance(v, bool) or not isinstance(v, int)]
            wrong += [v for v in getattr(self, key) or [] if isinstance(v, int) and not 0 <= v <= top]
            if wrong:
                problems.append(f"{key} has {wrong!r}; each must be a whole number from 0 to {top}.")
        days = [d for d in self.week_days or [] if str(d).capitalize() not in WEEK_DAYS]
        if days:
            problems.append(f"week_days has {days!r}; each must be one of {', '.join(WEEK_DAYS)}.")
        if self.time_of_day is not None and _time_of_day(self.time_of_day) is None:
            problems.append(f"time_of_day is {self.time_of_day!r}; it must be a time as 'hh:mm', such as '15:30'.")
        if isinstance(self.start_time, datetime) and self.start_time.tzinfo is not None:
            problems.append(
                f"start_time is {self.start_time.isoformat()}, which has a time zone; give a naive datetime "
                "and name its zone in time_zone."
            )
        elif isinstance(self.start_time, str):
            try:
                datetime.strptime(self.start_time, "%Y-%m-%dT%H:%M:%S")
            except ValueError:
                problems.append(
                    f"start_time is {self.start_time!r}; it must be a datetime or text as YYYY-MM-DDThh:mm:ss."
                )
        if problems:
            listed = "\n".join("  - " + problem for problem in problems)
            raise ValueError("ScheduleRecurrence is not valid:\n" + listed)

    def to_trigger(self) -> dict[str, Any]:
        """The recurrence as thresher's (and Azure ML v2's) recurrence trigger."""
        trigger: dict[str, Any] = {
            "type": "recurrence",
            "frequency": (_frequency(self.frequency) or self.frequency).lower(),
            "interval": self.interval,
        }
        if self.start_time is not None:
            start = self.start_time
            trigger["start_time"] = start.isoformat() if isinstance(start, datetime) else str(start)
        if self.time_zone is not None:
            zone = self.time_zone
            trigger["time_zone"] = zone.value if isinstance(zone, Enum) else str(zone)
        pattern: dict[str, Any] = {}
        hours, minutes = list(self.hours or []), list(self.minutes or [])
        if self.time_of_day is not None:
            hours, minutes = [list(part) for part in zip(_time_of_day(self.time_of_day) or (0, 0))]
        if hours:
            pattern["hours"] = hours
        if minutes:
            pattern["minutes"] = minutes
        if self.week_days:
            pattern["week_days"] = [str(day).lower() for day in self.week_days]
        if pattern:
            trigger["schedule"] = pattern
        return trigger

    @staticmethod
    def from_trigger(trigger: dict[str, Any]) -> ScheduleRecurrence:
        """The recurrence a stored recurrence trigger describes."""
        pattern = trigger.get("schedule") or {}
        return ScheduleRecurrence(
            frequency=str(trigger["frequency"]).capitalize(),
            interval=int(trigger.get("interval", 1)),
            start_time=trigger.get("start_time"),
            time_zone=trigger.get("time_zone"),
            hours=pattern.get("hours") or None,
            minutes=pattern.get("minutes") or None,
            week_days=[str(day).capitalize() for day in pattern.get("week_days") or []] or None,
        )

    def __repr__(self) -> str:
        return f"ScheduleRecurrence(frequency={self.frequency!r}, interval={self.interval!r})"


def _frequency(value: Any) -> str | None:
    text = str(value).capitalize() if isinstance(value, str) else None
    return text if text in FREQUENCIES else None


def _time_of_day(value: Any) -> tuple[int, int] | None:
    try:
        moment = datetime.strptime(str(value), "%H:%M")
    except ValueError:
        return None
    return moment.hour, moment.minute


def _schedules() -> Any:
    """The thresher side of the shim (it needs thresher; a step script importing this module does not)."""
    from ..._thresher import schedules

    return schedules


class Schedule:
    """A schedule submitting a published pipeline: ``id``, ``name``, ``status`` (Active or Disabled),
    ``recurrence`` (None for a data-change schedule), ``pipeline_id``, ``datastore_name``, ``polling_interval``,
    ``data_path_parameter_name``, ``path_on_datastore``, ``continue_on_step_failure``, ``description``."""

    def __init__(
        self,
        workspace: Workspace,
        id: str,
        name: str,
        description: str | None,
        pipeline_id: str,
        status: str,
        recurrence: ScheduleRecurrence | None,
        datastore_name: str | None,
        polling_interval: int | None,
        data_path_parameter_name: str | None,
        continue_on_step_failure: bool | None,
        path_on_datastore: str | None,
        _schedule_provider: Any = None,
        pipeline_endpoint_id: str | None = None,
    ) -> None:
        self._workspace = workspace
        self.id = id
        self.name = name
        self.description = description
        self.pipeline_id = pipeline_id
        self.status = status
        self.recurrence = recurrence
        self.datastore_name = datastore_name
        self.polling_interval = polling_interval
        self.data_path_parameter_name = data_path_parameter_name
        self.continue_on_step_failure = continue_on_step_failure
        self.path_on_datastore = path_on_datastore
        self.pipeline_endpoint_id = pipeline_endpoint_id

    @staticmethod
    def create(
        workspace: Workspace,
        name: str,
        pipeline_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Any = None,
        polling_interval: int = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> Schedule:
        """Schedule the published pipeline ``pipeline_id``: on ``recurrence``, or, with ``datastore``, when a
        file appears or changes in ``path_on_datastore`` (listed every ``polling_interval`` minutes; its
        subfolders are not watched), the file's path going to the DataPath parameter
        ``data_path_parameter_name``. Runs go to ``experiment_name`` with ``pipeline_parameters``."""
        schedule: Schedule = _schedules().create(
            workspace,
            name=name,
            pipeline_id=pipeline_id,
            experiment_name=experiment_name,
            recurrence=recurrence,
            description=description,
            pipeline_parameters=pipeline_parameters,
            datastore=datastore,
            polling_interval=polling_interval,
            data_path_parameter_name=data_path_parameter_name,
            continue_on_step_failure=continue_on_step_failure,
            path_on_datastore=path_on_datastore,
        )
        return schedule

    @staticmethod
    def create_for_pipeline_endpoint(
        workspace: Workspace, name: str, pipeline_endpoint_id: str, *args: Any, **kwargs: Any
    ) -> Schedule:
        """Not supported: schedule a published pipeline (``endpoint.get_pipeline().id``) with ``create``."""
        from ...exceptions import UserErrorException

        raise UserErrorException(
            "Schedule.create_for_pipeline_endpoint is not supported by thresher. Schedule the endpoint's published "
            "pipeline instead: Schedule.create(ws, name, pipeline_id=endpoint.get_pipeline().id, ...)."
        )

    @staticmethod
    def get(workspace: Workspace, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None) -> Schedule:
        """The schedule ``id`` (its name works too)."""
        schedule: Schedule = _schedules().get(workspace, id)
        return schedule

    @staticmethod
    def list(
        workspace: Workspace,
        active_only: bool = True,
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> builtins.list[Schedule]:
        """The v1 schedules of the workspace: the active ones unless ``active_only=False``, those of
        ``pipeline_id`` when given."""
        found: builtins.list[Schedule] = _schedules().list_schedules(workspace)
        return [
            s
            for s in found
            if (not active_only or s.status == "Active") and (pipeline_id is None or s.pipeline_id == pipeline_id)
        ]

    @staticmethod
    def get_all(
        workspace: Workspace,
        active_only: bool = True,
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> builtins.list[Schedule]:
        """Deprecated in v1 in favour of ``list``; the same."""
        return Schedule.list(workspace, active_only=active_only, pipeline_id=pipeline_id)

    @staticmethod
    def get_schedules_for_pipeline_id(workspace: Workspace, pipeline_id: str) -> builtins.list[Schedule]:
        """Every schedule (active or disabled) of the published pipeline ``pipeline_id``."""
        return Schedule.list(workspace, active_only=False, pipeline_id=pipeline_id)

    def enable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Fire again from now on (slots and file changes missed while disabled do not fire)."""
        self.status = _schedules().set_enabled(self._workspace, self.name, True)

    def disable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Fire nothing until ``enable()``."""
        self.status = _schedules().set_enabled(self._workspace, self.name, False)

    def wait_for_provisioning_status(self, timeout_seconds: int = 3600) -> str:
        """A thresher schedule is ready when created: the status now."""
        return self.status

    def get_pipeline_runs(self) -> builtins.list[PipelineRun]:
        """The pipeline runs this schedule submitted, newest first."""
        runs: builtins.list[PipelineRun] = _schedules().pipeline_runs(self._workspace, self.name)
        return runs

    def get_last_pipeline_run(self) -> PipelineRun | None:
        """The newest pipeline run this schedule submitted; None before its first."""
        runs = self.get_pipeline_runs()
        return runs[0] if runs else None

    def __repr__(self) -> str:
        return f"Schedule(Name: {self.name}, Id: {self.id}, Status: {self.status}, Pipeline Id: {self.pipeline_id})"
