"""Schedules in the SDK: ``thresher schedule create|list|show|enable|disable|delete``, and ``fire_due``, the step
a ``thresher server`` takes every few seconds to fire what is due.

Example::

    ws = Workspace()
    ws.schedules.create("nightly.yml")
    ws.schedules.fire_due()                 # what a server does periodically; tests pass now=...
    for fire in ws.schedules.fires("nightly"):
        print(fire.slot, fire.job, fire.detail)

Exactly once: a slot is recorded (``store.record_fire``, keyed by schedule and slot) BEFORE its job is
created, so two servers that find the same slot due create one job between them; the fire is then updated
with its job's name, or with the error when creating the job failed.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError, NotFoundError, SpecError, ThresherError
from thresher.instance import Instance
from thresher.pipelines.components import Doc, Problems
from thresher.pipelines.driver import PIPELINE
from thresher.pipelines.model import PipelineDef
from thresher.pipelines.schedules import (
    change_key,
    changed_files,
    due_slot,
    following_slot,
    slot_key,
    slot_of_key,
)
from thresher.pipelines.yaml_loader import build_pipeline
from thresher.specs.overrides import merge_overrides
from thresher.specs.problems import show
from thresher.specs.schedules import (
    PUBLISHED_KEY,
    DataChangeTrigger,
    ScheduleSpec,
    is_published_job,
    load_schedule,
    parse_schedule,
)
from thresher.specs.yamlio import KeyPath, LineMap, read_yaml
from thresher.store.records import utc_now
from thresher.store.service import FireRecord

SCHEDULE = "schedule"
ALIVE_WINDOW = timedelta(seconds=30)
"""A server whose heartbeat is older than this is not counted as running."""
NO_SERVER = (
    "Schedules fire only while a thresher server runs; none has been seen for this workspace. "
    "Start one with: thresher server"
)
POLL_OUTAGE_LIMIT = 10.0
"""Seconds a data-change listing keeps retrying a failing datastore before this round gives up on it."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleRecord:
    """A schedule as stored: its definition (the YAML as validated), whether it is enabled, and since when."""

    name: str
    definition: Mapping[str, Any]
    enabled: bool
    created_at: datetime  # a recurrence without start_time counts its periods from here
    since: datetime  # created or last enabled: slots before it never fire
    job: Mapping[str, Any]  # the pipeline job a fire submits, resolved when the schedule was created
    updated_at: datetime

    @property
    def spec(self) -> ScheduleSpec:
        """The definition as a ScheduleSpec."""
        return parse_schedule(self.definition, base_dir=Path(str(self.job.get("base_dir", "."))))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for ``-o json``."""
        return {
            "name": self.name,
            "enabled": self.enabled,
            "trigger": dict(self.definition.get("trigger") or {}),
            "create_job": self.definition.get("create_job"),
            "display_name": self.definition.get("display_name"),
            "description": self.definition.get("description"),
            "tags": dict(self.definition.get("tags") or {}),
            "created_at": self.created_at.isoformat(),
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True)
class ScheduleStatus:
    """What ``schedule show`` says: the schedule, its next fire, its last fires, and whether a server runs."""

    schedule: ScheduleRecord
    next_fire: datetime | None  # None: a data-change trigger, a disabled schedule, or one past its end_time
    fires: list[FireRecord]
    server_running: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for ``-o json``."""
        return {
            **self.schedule.to_dict(),
            "definition": dict(self.schedule.definition),
            "next_fire": slot_key(self.next_fire) if self.next_fire else None,
            "server_running": self.server_running,
            "fires": [_fire_dict(fire) for fire in self.fires],
            "notes": list(self.notes),
        }


class ScheduleOperations:
    """Schedules of a workspace: create, list, get, show, enable, disable, delete, fires; ``fire_due``."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._polled: dict[str, datetime] = {}  # data-change schedules: when this process last listed each
        self._lock = threading.Lock()

    # -- definition --------------------------------------------------------------------------------

    def create(
        self,
        source: str | Path | ScheduleSpec,
        *,
        name: str | None = None,
        overrides: Sequence[str] = (),
        now: datetime | None = None,
    ) -> ScheduleRecord:
        """Create the schedule in a YAML file (``--set`` overrides applied) or a ScheduleSpec.

        The pipeline job it creates is read and checked now (every problem at file:line; nothing is stored
        when there is one) and kept with the schedule: later edits of the files need the schedule created
        again. Slots before ``now`` (default: the time now) never fire. AlreadyExistsError for a taken name.
        """
        if isinstance(source, ScheduleSpec):
            spec, document, lines, origin, folder = source, source.to_document(), None, "<sdk>", Path.cwd()
        else:
            file = Path(source)
            spec, document, lines = load_schedule(file, overrides=overrides)
            origin, folder = file.name, file.resolve().parent
        if name:
            spec = spec.model_copy(update={"name": name})
        job = self._resolve_job(spec, document, lines, origin, folder)
        moment = now or utc_now()
        stored = {
            "definition": spec.to_document(),
            "enabled": spec.is_enabled,
            "created_at": moment.isoformat(),
            "since": moment.isoformat(),
            "job": job,
        }
        if isinstance(spec.trigger, DataChangeTrigger):
            stored["baseline"] = self._listing(spec.trigger)
        record = self._instance.store.save_resource(SCHEDULE, spec.name, stored, mode="create")
        self._instance.store.delete_fires(spec.name)  # a deleted schedule of that name leaves none behind
        return _record(record)

    def get(self, name: str) -> ScheduleRecord:
        """The schedule ``name``; NotFoundError lists the schedules that exist."""
        return _record(self._instance.store.get_resource(SCHEDULE, name))

    def list(self) -> builtins.list[ScheduleRecord]:
        """Every schedule, by name."""
        return [_record(record) for record in self._instance.store.list_resources(SCHEDULE)]

    def enable(self, name: str, *, now: datetime | None = None) -> ScheduleRecord:
        """Enable ``name``. Slots missed while it was disabled do not fire (nor files that changed meanwhile)."""
        record = self._instance.store.get_resource(SCHEDULE, name)
        if record.spec.get("enabled"):
            return _record(record)
        stored = {**record.spec, "enabled": True, "since": (now or utc_now()).isoformat()}
        trigger = _record(record).spec.trigger
        if isinstance(trigger, DataChangeTrigger):
            stored["baseline"] = self._listing(trigger)
        return _record(self._instance.store.save_resource(SCHEDULE, name, stored, mode="update"))

    def disable(self, name: str) -> ScheduleRecord:
        """Disable ``name``: it fires nothing until enabled again."""
        record = self._instance.store.get_resource(SCHEDULE, name)
        stored = {**record.spec, "enabled": False}
        return _record(self._instance.store.save_resource(SCHEDULE, name, stored, mode="update"))

    def delete(self, name: str) -> None:
        """Delete ``name`` and its record of fires (the jobs it created stay)."""
        self._instance.store.delete_resource(SCHEDULE, name)
        self._instance.store.delete_fires(name)

    def fires(self, name: str, *, limit: int | None = 50) -> builtins.list[FireRecord]:
        """The fires of ``name``, newest first, each with the job it created (or the error in its detail)."""
        self._instance.store.get_resource(SCHEDULE, name)
        return self._instance.store.list_fires(name, limit=limit)

    def show(self, name: str, *, now: datetime | None = None, fires: int = 10) -> ScheduleStatus:
        """The schedule with its next fire time, its last ``fires`` fires, and whether a server runs."""
        schedule = self.get(name)
        moment = now or utc_now()
        spec = schedule.spec
        next_fire = None
        notes = []
        if isinstance(spec.trigger, DataChangeTrigger):
            notes.append(
                f"Fires when files appear or change in azureml://datastores/{spec.trigger.datastore}/paths/"
                f"{spec.trigger.path.strip('/')} (listed every {spec.trigger.polling_interval} min)."
            )
        elif schedule.enabled:
            next_fire = following_slot(spec.trigger, anchor=schedule.created_at, after=max(moment, schedule.since))
        if not schedule.enabled:
            notes.append(f"Disabled: it fires nothing. Enable it with: thresher schedule enable -n {name}")
        recent = self._instance.store.list_fires(name, limit=fires)
        failed = [fire for fire in recent if fire.job is None and fire.detail and fire.detail.get("error")]
        if failed:
            notes.append(f"The fire of {failed[0].slot} created no job: {failed[0].detail['error']}")  # type: ignore[index]
        running = self.server_running()  # heartbeats carry the real time, whatever ``now`` the slots take
        if not running:
            notes.append(NO_SERVER)
        return ScheduleStatus(schedule, next_fire, recent, running, notes)

    def server_running(self, *, now: datetime | None = None) -> bool:
        """Whether a ``thresher server`` of this workspace has sent a heartbeat in the last 30 seconds."""
        since = (now or utc_now()) - ALIVE_WINDOW
        return bool(self._instance.store.services("server", alive_since=since))

    # -- firing ------------------------------------------------------------------------------------

    def fire_due(self, now: datetime | None = None, *, start_runner: bool = True) -> builtins.list[FireRecord]:
        """Fire every enabled schedule whose slot is due at ``now`` (default: the time now); the fires made.

        Each slot fires once however often this is called, by however many processes: the fire is recorded
        before its job is created. After downtime a time schedule fires its latest missed slot only. A
        data-change schedule lists its folder at most every ``polling_interval`` minutes (in this process).
        A schedule that cannot be fired (its datastore unreachable) is logged and skipped this round.
        """
        moment = now or utc_now()
        made: builtins.list[FireRecord] = []
        with self._lock:
            for record in self._instance.store.list_resources(SCHEDULE):
                schedule = _record(record)
                if not schedule.enabled:
                    continue
                try:
                    spec = schedule.spec
                    if isinstance(spec.trigger, DataChangeTrigger):
                        made += self._fire_changes(schedule, spec.trigger, record.spec, moment, start_runner)
                    else:
                        made += self._fire_time(schedule, spec, moment, start_runner)
                except Exception as exc:  # one broken schedule (a datastore down) must not stop the others
                    _log.warning("Schedule %r was not fired this round: %s", schedule.name, exc)
        return made

    def _fire_time(
        self, schedule: ScheduleRecord, spec: ScheduleSpec, now: datetime, start_runner: bool
    ) -> builtins.list[FireRecord]:
        assert not isinstance(spec.trigger, DataChangeTrigger)
        slots = [slot_of_key(fire.slot) for fire in self._instance.store.list_fires(schedule.name, limit=20)]
        last = max((slot for slot in slots if slot is not None), default=None)
        slot = due_slot(spec.trigger, anchor=schedule.created_at, last_fired=last, since=schedule.since, now=now)
        if slot is None:
            return []
        detail = {"trigger": spec.trigger.type, "slot": slot_key(slot), "fired_at_clock": now.isoformat()}
        fire = self._fire(schedule, slot_key(slot), detail, None, start_runner)
        return [] if fire is None else [fire]

    def _fire_changes(
        self,
        schedule: ScheduleRecord,
        trigger: DataChangeTrigger,
        stored: Mapping[str, Any],
        now: datetime,
        start_runner: bool,
    ) -> builtins.list[FireRecord]:
        polled = self._polled.get(schedule.name)
        if polled is not None and polled <= now < polled + timedelta(minutes=trigger.polling_interval):
            return []
        self._polled[schedule.name] = now
        listing = self._listing(trigger)
        # A file fires when its state differs from the listing taken at create (or enable) time, once per
        # state: each fire records the keys (name and state) of the files it covered.
        keys = {name: change_key(name, state) for name, state in listing.items()}
        covered: set[str] = set()
        for fire in self._instance.store.list_fires(schedule.name, limit=None):
            covered.update((fire.detail or {}).get("keys") or [fire.slot])
        changed = [
            name for name in changed_files(dict(stored.get("baseline") or {}), listing) if keys[name] not in covered
        ]
        if not changed:
            return []
        folder = f"azureml://datastores/{trigger.datastore}/paths/{trigger.path.strip('/')}".rstrip("/")
        if trigger.input is not None and _declared_type(schedule.job, trigger.input) == "uri_folder":
            batches = [(changed, {"type": "uri_folder", "path": folder})]
        else:  # each new or changed file fires once, as v1 passes each changed path to its DataPath parameter
            batches = [([name], {"type": "uri_file", "path": f"{folder}/{name}"}) for name in changed]
        made = []
        for names, value in batches:
            covers = sorted(keys[name] for name in names)
            slot = covers[0] if len(covers) == 1 else change_key("\n".join(covers), "folder")
            detail = {
                "trigger": "data_change",
                "changed": names,
                "input": trigger.input,
                "path": value["path"],
                "keys": covers,
            }
            data_input = None if trigger.input is None else (trigger.input, value)
            done = self._fire(schedule, slot, detail, data_input, start_runner)
            if done is not None:
                made.append(done)
        return made

    def _fire(
        self,
        schedule: ScheduleRecord,
        slot: str,
        detail: Mapping[str, Any],
        data_input: tuple[str, Mapping[str, Any]] | None,
        start_runner: bool,
    ) -> FireRecord | None:
        store = self._instance.store
        fire = store.record_fire(schedule.name, slot, detail=detail)
        if fire is None:
            return None  # fired already, by this process or another server
        try:
            job = self._submit(schedule, slot, data_input, start_runner)
        except Exception as exc:  # whatever failed, the fire says so instead of vanishing
            headline = exc.message if isinstance(exc, ThresherError) else f"{type(exc).__name__}: {exc}"
            first = headline.splitlines()[0] if headline else type(exc).__name__
            if isinstance(exc, SpecError) and exc.problems:
                first = f"{first} {exc.problems[0]}"
            failed = {**detail, "error": first}
            if isinstance(exc, ThresherError) and exc.fix:
                failed["fix"] = exc.fix
            if isinstance(exc, SpecError):
                failed["problems"] = [str(problem) for problem in exc.problems]
            store.update_fire(schedule.name, slot, job=None, detail=failed)
            _log.warning("Schedule %r fired %s but created no job: %s", schedule.name, slot, headline)
            return replace(fire, detail=failed)
        store.update_fire(schedule.name, slot, job=job)
        return replace(fire, job=job)

    def _submit(
        self,
        schedule: ScheduleRecord,
        slot: str,
        data_input: tuple[str, Mapping[str, Any]] | None,
        start_runner: bool,
    ) -> str:
        from thresher.sdk.jobs import _job_name
        from thresher.sdk.pipelines import PipelineJobOperations, WorkspaceSources

        pipelines = PipelineJobOperations(self._instance)
        extra = {"schedule": schedule.name, "schedule_slot": slot}
        job = schedule.job
        if PUBLISHED_KEY in job:
            return self._invoke_published(job[PUBLISHED_KEY], data_input, extra, start_runner)
        if "pipeline" in job:  # an azureml:<job> whose YAML file is gone: its stored definition
            pipeline = PipelineDef.from_dict(job["pipeline"])
        else:
            document = dict(job["document"])
            if data_input is not None:
                name, value = data_input
                document["inputs"] = {**(document.get("inputs") or {}), name: dict(value)}
            source = str(job.get("source", schedule.name))
            doc = Doc(document, source, None, (), Path(str(job["base_dir"])), Problems())
            pipeline = build_pipeline(doc, WorkspaceSources(self._instance))
        name = _job_name(schedule.name[:40])
        record = pipelines.submit(pipeline, name=name, start_runner=start_runner, extra=extra)
        return record.name

    def _invoke_published(
        self,
        job: Mapping[str, Any],
        data_input: tuple[str, Mapping[str, Any]] | None,
        extra: Mapping[str, Any],
        start_runner: bool,
    ) -> str:
        """Submit the published pipeline with Azure's REST body, as v1's schedule service calls it: the
        parameters as ParameterAssignments, the changed file as the DataPathAssignments of its input."""
        from thresher.sdk.pipeline_requests import DATA_PATHS, EXPERIMENT, PARAMETERS
        from thresher.sdk.published import PipelineEndpointOperations

        body: dict[str, Any] = {}
        if job.get("experiment_name"):
            body[EXPERIMENT] = job["experiment_name"]
        if job.get("parameters"):
            body[PARAMETERS] = dict(job["parameters"])
        if data_input is not None:
            name, value = data_input
            store, _, relative = str(value["path"]).removeprefix("azureml://datastores/").partition("/paths/")
            body[DATA_PATHS] = {name: {"DataStoreName": store, "RelativePath": relative}}
        record = PipelineEndpointOperations(self._instance).invoke_published(
            str(job["id"]),
            body,
            start_runner=start_runner,
            extra=extra,
            continue_on_step_failure=job.get("continue_on_step_failure"),
        )
        return record.name

    # -- the job a fire creates, resolved at create time --------------------------------------------

    def _resolve_job(
        self, spec: ScheduleSpec, written: Mapping[str, Any], lines: LineMap | None, origin: str, folder: Path
    ) -> dict[str, Any]:
        from thresher.sdk.pipelines import WorkspaceSources

        value = spec.create_job
        problems = Problems()
        prefix: KeyPath = ()
        if is_published_job(value):
            assert isinstance(value, Mapping)
            return self._resolve_published(spec, value, lines, origin, problems)
        if isinstance(value, str):
            base = self._job_source(value, origin, lines)
            if base.document is None:
                return {"pipeline": base.pipeline, "source": base.source, "base_dir": str(folder)}
            document = base.document
        elif "job" in value:
            base = self._job_source(str(value["job"]), origin, lines)
            if base.document is None:
                raise ConflictError(
                    f"create_job.job is {value['job']}, whose YAML file is gone; its inputs cannot be changed.",
                    fix="Give the pipeline job's YAML file as create_job.job instead.",
                )
            document = dict(base.document)
            for key in ("inputs", "outputs", "settings"):
                if value.get(key):
                    document[key] = {**(document.get(key) or {}), **value[key]}
            for key in ("display_name", "experiment_name", "description", "tags"):
                if value.get(key) is not None:
                    document[key] = value[key]
        else:
            document = {"type": "pipeline", **dict(written.get("create_job") or value)}
            base = _JobSource(document, origin, lines, folder)
            prefix = ("create_job",)
        source, job_lines, base_dir = base.source, base.lines, base.base_dir
        doc = Doc(document, source, job_lines, prefix, Path(base_dir), problems)
        pipeline = None
        try:
            pipeline = build_pipeline(doc, WorkspaceSources(self._instance))
        except SpecError as exc:
            for problem in exc.problems:
                problems.add(problem)
        if isinstance(spec.trigger, DataChangeTrigger):
            inputs = None if pipeline is None else {name: "any" for name in pipeline.inputs}
            self._check_data_change(spec.trigger, inputs, "the pipeline job", origin, lines, problems)
        if problems.found:
            raise SpecError(
                problems.found,
                what=f"schedule {spec.name}",
                fix="Correct the problems above and create the schedule again; nothing was stored.",
            )
        return {"document": document, "source": source, "base_dir": str(base_dir)}

    def _job_source(self, value: str, origin: str, lines: LineMap | None) -> _JobSource:
        if not value.startswith("azureml:"):
            path = Path(value)
            data, file_lines = read_yaml(path, path.name)
            return _JobSource(data, path.name, file_lines, path.resolve().parent)
        job_name = value.removeprefix("azureml:")
        try:
            job = self._instance.store.get_job(job_name)
        except NotFoundError as exc:
            line = lines.line_of(("create_job",)) if lines else None
            where = f"{origin}:{line}: " if line else ""
            raise NotFoundError(
                f"{where}create_job is {value}, but {exc.message[0].lower()}{exc.message[1:]}",
                fix="Give the name of a pipeline job (thresher job list), a pipeline YAML file or an inline job.",
            ) from None
        if job.kind != PIPELINE:
            raise ConflictError(
                f"create_job is {value}, a {job.kind} job; a schedule creates pipeline jobs.",
                fix="Give the name of a pipeline job (thresher job list), or its YAML file.",
            )
        source_path = job.spec.get("source_path")
        if source_path and Path(source_path).is_file():
            data, file_lines = read_yaml(Path(source_path), Path(source_path).name)
            data, _, _ = merge_overrides(data, [str(item) for item in job.spec.get("overrides") or []])
            folder = Path(source_path).resolve().parent
            return _JobSource(data, Path(source_path).name, file_lines, folder)
        return _JobSource(None, value, None, Path("."), pipeline=job.spec["pipeline"])

    def _resolve_published(
        self,
        spec: ScheduleSpec,
        value: Mapping[str, Any],
        lines: LineMap | None,
        origin: str,
        problems: Problems,
    ) -> dict[str, Any]:
        """The published pipeline a fire submits, checked now: it exists, its parameters are its inputs, and
        a data-change trigger's input is one of its data inputs."""
        from thresher.sdk.pipeline_requests import read_request
        from thresher.sdk.published import PipelineEndpointOperations

        def problem(path: KeyPath, message: str) -> None:
            Doc(None, origin, lines, (), Path("."), problems).problem(path, message)

        operations = PipelineEndpointOperations(self._instance)
        identifier = str(value[PUBLISHED_KEY])
        inputs: dict[str, str] | None = None
        try:
            published = operations.get_published(identifier)
        except NotFoundError as exc:
            problem(("create_job", PUBLISHED_KEY), f"is {show(identifier)}: {exc.message}")
        else:
            inputs = dict(published.inputs)
            try:
                read_request(
                    {"ParameterAssignments": dict(value.get("parameters") or {})},
                    published.inputs,
                    what=f"published pipeline {identifier}",
                    resolve_dataset=operations._dataset,
                    allow_version=False,
                )
            except SpecError as exc:
                for found in exc.problems:
                    name = found.path.split(".", 1)[-1]
                    problem(("create_job", "parameters", name), found.message)
        if isinstance(spec.trigger, DataChangeTrigger):
            self._check_data_change(spec.trigger, inputs, "the published pipeline", origin, lines, problems)
        if problems.found:
            raise SpecError(
                problems.found,
                what=f"schedule {spec.name}",
                fix="Correct the problems above and create the schedule again; nothing was stored.",
            )
        return {PUBLISHED_KEY: {"id": identifier, **{k: v for k, v in value.items() if k != PUBLISHED_KEY}}}

    def _check_data_change(
        self,
        trigger: DataChangeTrigger,
        inputs: Mapping[str, str] | None,
        what: str,
        origin: str,
        lines: LineMap | None,
        problems: Problems,
    ) -> None:
        """``inputs``: the pipeline's inputs (name -> kind: literal, data, or any), None when unknown."""

        def problem(path: KeyPath, message: str) -> None:
            Doc(None, origin, lines, (), Path("."), problems).problem(path, message)

        published = what == "the published pipeline"
        if trigger.input is None and not published:
            problem(
                ("trigger", "input"),
                "is missing; name the input of the pipeline job that should receive the changed file's path.",
            )
        elif trigger.input is not None and inputs is not None and inputs.get(trigger.input, "literal") == "literal":
            kind, kinds = ("a data input", "data inputs") if published else ("an input", "inputs")
            known = ", ".join(sorted(n for n, k in inputs.items() if not published or k == "data")) or "none"
            problem(
                ("trigger", "input"),
                f"is {show(trigger.input)}, which is not {kind} of {what} (its {kinds}: {known}); "
                "name the input that should receive the changed file's path.",
            )
        try:
            self._instance.store.get_resource("datastore", trigger.datastore)
        except NotFoundError as exc:
            problem(("trigger", "datastore"), f"is {show(trigger.datastore)}: {exc.message}")

    def _listing(self, trigger: DataChangeTrigger) -> dict[str, str]:
        """The files directly in the watched folder (not its subfolders, as in v1): name -> size:version."""
        from thresher.storage.listing import list_folder
        from thresher.storage.retry import retrying

        uri = f"azureml://datastores/{trigger.datastore}/paths/{trigger.path.strip('/')}"
        root = self._instance.remote(uri)
        filesystem, folder = root.fs()
        if not retrying(root.label, lambda: filesystem.exists(folder), outage_limit=POLL_OUTAGE_LIMIT):
            return {}  # not there yet: files that appear in it later are changes

        def call(request: Any) -> Any:
            return retrying(root.label, request, outage_limit=POLL_OUTAGE_LIMIT)

        listing = {}
        for entry in list_folder(filesystem, root.protocol, folder, call=call):
            base = str(entry["name"]).rsplit("/", 1)[-1]
            if entry["type"] == "file" and base and not base.startswith("."):
                listing[base] = f"{entry['size']}:{entry['version']}"
        return listing


@dataclass(frozen=True)
class _JobSource:
    """A pipeline job document as read for a schedule, and where its relative paths and lines come from."""

    document: dict[str, Any] | None  # None: an azureml:<job> whose YAML file is gone (see pipeline)
    source: str
    lines: LineMap | None
    base_dir: Path
    pipeline: Mapping[str, Any] | None = None


def _record(record: Any) -> ScheduleRecord:
    spec = record.spec
    return ScheduleRecord(
        name=record.name,
        definition=spec["definition"],
        enabled=bool(spec.get("enabled", True)),
        created_at=datetime.fromisoformat(spec["created_at"]),
        since=datetime.fromisoformat(spec["since"]),
        job=spec.get("job") or {},
        updated_at=record.updated_at,
    )


def _declared_type(job: Mapping[str, Any], name: str) -> str | None:
    document = job.get("document") or {}
    declared = (document.get("inputs") or {}).get(name)
    return str(declared.get("type")) if isinstance(declared, Mapping) and declared.get("type") else None


def _fire_dict(fire: FireRecord) -> dict[str, Any]:
    detail = {key: value for key, value in (fire.detail or {}).items() if key != "listing"}
    return {"slot": fire.slot, "job": fire.job, "fired_at": fire.fired_at.isoformat(), "detail": detail}
