"""Published pipelines and pipeline endpoints: ``thresher pipeline publish``, ``thresher pipeline-endpoint ...``.

A published pipeline is a version of a pipeline frozen at publish time (asset kind ``pipeline``): a pipeline
YAML is stored with a copy of its folder (its code, its components, its relative data), so it keeps running
the code it was published with whatever happens to the files later; a pipeline built in Python (the v1 SDK's
``Pipeline.publish``) is stored resolved, its steps' code already snapshotted. Each has a stable ``id`` (a
UUID, as Azure's ``PublishedPipeline.id``). The versions published under one name are the versions of the
pipeline endpoint of that name (resource kind ``pipeline_endpoint``), which holds the default version and
whether the endpoint, or one of its versions, is disabled.

Invoking takes Azure's REST body as a plain dict (``pipeline_requests``) and queues a pipeline job::

    ws = Workspace()
    ws.pipeline_endpoints.publish("pipeline.yml", name="nightly", description="nightly scoring")
    body = {"ExperimentName": "nightly", "ParameterAssignments": {"round_to": 2}}
    job = ws.pipeline_endpoints.invoke("nightly", body)
    ws.jobs.wait(job.name)
"""

from __future__ import annotations

import builtins
import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError, NotFoundError, Problem, SpecError
from thresher.instance import Instance
from thresher.pipelines.components import Doc, Problems, coerce, read_port, value_problem
from thresher.pipelines.driver import PIPELINE as PIPELINE_JOB
from thresher.pipelines.model import Binding, PipelineDef, Step
from thresher.pipelines.yaml_loader import build_pipeline, load_pipeline
from thresher.sdk.pipeline_requests import PARAMETERS, SOURCE, VERSION, InputKind, PipelineRequest, read_request
from thresher.sdk.pipelines import PipelineJobOperations, WorkspaceSources, git_lineage
from thresher.specs.overrides import merge_overrides
from thresher.specs.references import read_reference
from thresher.specs.yamlio import read_yaml
from thresher.storage.snapshot import load_ignore
from thresher.store import AssetRecord, JobRecord, ResourceRecord

PUBLISHED = "pipeline"
ENDPOINT = "pipeline_endpoint"
ACTIVE, DISABLED = "Active", "Disabled"
YAML_FORM, RESOLVED_FORM = "yaml", "resolved"
ENDPOINT_ROUTE = "/api/v1/pipelineendpoints/{name}"
PUBLISHED_ROUTE = "/api/v1/publishedpipelines/{id}"


@dataclass(frozen=True)
class PublishedPipeline:
    """One published version: its id, its endpoint (name) and version, its inputs and whether it runs."""

    id: str
    name: str
    version: str
    status: str  # Active | Disabled
    is_default: bool
    description: str | None
    inputs: Mapping[str, InputKind]
    defaults: Mapping[str, Any]
    source: str
    experiment_name: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """As ``thresher pipeline show`` prints it."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "is_default": self.is_default,
            "description": self.description,
            "inputs": {name: {"kind": kind, "default": self.defaults.get(name)} for name, kind in self.inputs.items()},
            "source": self.source,
            "experiment_name": self.experiment_name,
            "rest_path": PUBLISHED_ROUTE.format(id=self.id),
            "creation_context": {"created_at": self.created_at.isoformat()},
        }


@dataclass(frozen=True)
class PipelineEndpoint:
    """A stable name over published versions: its default version and whether it runs."""

    name: str
    description: str | None
    default_version: str
    status: str  # Active | Disabled
    versions: tuple[str, ...]
    disabled_versions: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """As ``thresher pipeline-endpoint show`` prints it."""
        return {
            "name": self.name,
            "description": self.description,
            "default_version": self.default_version,
            "status": self.status,
            "versions": list(self.versions),
            "disabled_versions": list(self.disabled_versions),
            "rest_path": ENDPOINT_ROUTE.format(name=self.name),
            "creation_context": {
                "created_at": self.created_at.isoformat(),
                "last_modified_at": self.updated_at.isoformat(),
            },
        }


class PipelineEndpointOperations:
    """``ws.pipeline_endpoints``: publish pipelines, manage their endpoints, invoke them with Azure's body."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    # -- publishing ------------------------------------------------------------------------------

    def publish(
        self,
        source: str | Path,
        *,
        name: str,
        version: str | None = None,
        description: str | None = None,
        set_default: bool | None = None,
        overrides: Sequence[str] = (),
    ) -> PublishedPipeline:
        """Publish the pipeline YAML at ``source`` (or the pipeline job ``azureml:<job>``) as a new version of
        endpoint ``name``, created if new. Its folder is copied now: the version keeps running that code.
        The first version becomes the default; a later one only with ``set_default=True``."""
        text = str(source)
        if text.startswith("azureml:") and not text.startswith("azureml://"):
            return self._publish_job(text.removeprefix("azureml:"), name, version, description, set_default)
        return self._publish_file(Path(text), name, version, description, set_default, overrides, None)

    def publish_definition(
        self,
        pipeline: PipelineDef,
        *,
        name: str,
        parameters: Mapping[str, InputKind] | None = None,
        defaults: Mapping[str, Any] | None = None,
        version: str | None = None,
        description: str | None = None,
        set_default: bool | None = None,
        origin: Mapping[str, Any] | None = None,
    ) -> PublishedPipeline:
        """Publish a resolved pipeline (its steps' code already snapshotted), as the v1 SDK's
        ``Pipeline.publish`` does. ``parameters`` names its inputs that an invocation may assign (default:
        the pipeline's literal inputs); each is bound, by name, wherever a step input has that name."""
        kinds: dict[str, InputKind] = dict(parameters or {})
        if parameters is None:
            kinds = {n: "literal" if b.kind == "literal" else "data" for n, b in pipeline.inputs.items()}
        spec = {
            "form": RESOLVED_FORM,
            "pipeline": pipeline.to_dict(),
            "inputs": kinds,
            "defaults": dict(defaults or {n: b.describe() for n, b in pipeline.inputs.items()}),
            "source": pipeline.source,
            "experiment_name": pipeline.experiment_name,
            "description": description or pipeline.description,
        }
        return self._store(name, spec, dict(origin or {}), version, set_default)

    def add(self, name: str, id: str, *, set_default: bool | None = None) -> PublishedPipeline:
        """Make published pipeline ``id`` a version of endpoint ``name`` (created if new), as the v1 SDK's
        ``PipelineEndpoint.add`` does: one published under another name is stored again under ``name``
        (the same frozen pipeline, a new version with its own id)."""
        record = self._by_id(id)
        if record.name == name:
            if set_default:
                self.set_default(name, record.version)
            return self._published(self._version(name, record.version))
        return self._store(name, dict(record.spec), {**record.info, "copied_from": id}, None, set_default)

    def _publish_file(
        self,
        file: Path,
        name: str,
        version: str | None,
        description: str | None,
        set_default: bool | None,
        overrides: Sequence[str],
        origin: Mapping[str, Any] | None,
    ) -> PublishedPipeline:
        sources = WorkspaceSources(self._instance)
        pipeline = load_pipeline(file, sources, overrides=overrides)  # every problem, with its line, first
        data, _ = read_yaml(file, file.name)
        document, _, _ = merge_overrides(data, overrides)
        folder = file.resolve().parent
        stored = self._instance.datastore().put_content(folder, ignore=load_ignore(folder))
        try:  # what it refers to outside its folder is not in the copy
            build_pipeline(Doc(document, file.name, None, (), Path(str(stored.path)), Problems()), sources)
        except SpecError as exc:
            raise SpecError(
                exc.problems,
                what=f"pipeline {file.name} as published (a copy of {folder})",
                fix="Keep what the pipeline refers to by a relative path (components, code, data) inside its "
                "folder, or register it and refer to it as azureml:<name>:<version>; then publish again.",
            ) from None
        spec = {
            "form": YAML_FORM,
            "document": document,
            "source": file.name,
            "base_dir": str(stored.path),
            "content_hash": stored.content_hash,
            "inputs": {n: "literal" if b.kind == "literal" else "data" for n, b in pipeline.inputs.items()},
            "defaults": {n: b.value if b.kind == "literal" else b.describe() for n, b in pipeline.inputs.items()},
            "experiment_name": pipeline.experiment_name,
            "description": description or pipeline.description,
        }
        info = {
            "source_path": str(file.resolve()),
            "overrides": list(overrides),
            "lineage": git_lineage(folder),
            **(origin or {}),
        }
        return self._store(name, spec, info, version, set_default)

    def _publish_job(
        self, job_name: str, name: str, version: str | None, description: str | None, set_default: bool | None
    ) -> PublishedPipeline:
        job = self._instance.store.get_job(job_name)
        if job.kind != PIPELINE_JOB:
            raise ConflictError(
                f"Job '{job_name}' is a {job.kind} job; only a pipeline job can be published.",
                fix="Publish a pipeline job (thresher job list) or the pipeline's YAML file.",
            )
        origin = {"job": job.name}
        source = job.spec.get("source_path")
        if source and Path(str(source)).is_file():
            overrides = [str(o) for o in job.spec.get("overrides") or []]
            return self._publish_file(Path(str(source)), name, version, description, set_default, overrides, origin)
        if job.spec.get("v1_driver") or not source:
            pipeline = PipelineDef.from_dict(job.spec["pipeline"])
            return self.publish_definition(
                pipeline, name=name, version=version, description=description, set_default=set_default, origin=origin
            )
        raise NotFoundError(
            f"Pipeline job '{job_name}' was read from {source}, which is gone; a job is published from its file.",
            fix="Publish the pipeline's YAML file: thresher pipeline publish -f pipeline.yml --name " + name,
        )

    def _store(
        self, name: str, spec: dict[str, Any], info: dict[str, Any], version: str | None, set_default: bool | None
    ) -> PublishedPipeline:
        store = self._instance.store
        record = store.create_asset(PUBLISHED, name, spec=spec, info={**info, "id": str(uuid.uuid4())}, version=version)
        try:
            endpoint = dict(store.get_resource(ENDPOINT, name).spec)
            if set_default:
                endpoint["default_version"] = record.version
            if spec.get("description") and not endpoint.get("description"):
                endpoint["description"] = spec["description"]
            store.save_resource(ENDPOINT, name, endpoint, mode="update")
        except NotFoundError:
            endpoint = {
                "description": spec.get("description"),
                "default_version": record.version,
                "disabled": False,
                "disabled_versions": [],
            }
            store.save_resource(ENDPOINT, name, endpoint)
        return self._published(record)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, name: str) -> PipelineEndpoint:
        """The pipeline endpoint ``name``; NotFoundError listing the ones that exist."""
        return self._endpoint(self._instance.store.get_resource(ENDPOINT, name))

    def list(self) -> builtins.list[PipelineEndpoint]:
        """Every pipeline endpoint, by name."""
        return [self._endpoint(r) for r in self._instance.store.list_resources(ENDPOINT)]

    def pipelines(self, name: str) -> builtins.list[PublishedPipeline]:
        """Every published version of endpoint ``name``, oldest first."""
        self.get(name)
        return [self._published(r) for r in self._instance.store.list_assets(PUBLISHED, name)]

    list_versions = pipelines

    def get_pipeline(self, name: str, version: str | None = None) -> PublishedPipeline:
        """Version ``version`` of endpoint ``name`` (its default version when None)."""
        return self._published(self._version(name, version))

    def get_published(self, id: str) -> PublishedPipeline:
        """The published pipeline with this id; NotFoundError when there is none."""
        return self._published(self._by_id(id))

    def list_published(self) -> builtins.list[PublishedPipeline]:
        """Every published pipeline of the workspace (every version of every endpoint)."""
        return [self._published(r) for r in self._instance.store.list_assets(PUBLISHED, include_archived=True)]

    # -- state -----------------------------------------------------------------------------------

    def set_default(self, name: str, version: str) -> PipelineEndpoint:
        """Make ``version`` the default version of endpoint ``name``."""
        record = self._version(name, version)
        return self._update(name, default_version=record.version)

    def disable(self, name: str) -> PipelineEndpoint:
        """Disable endpoint ``name``: invoking it is refused (ConflictError) until it is enabled."""
        return self._update(name, disabled=True)

    def enable(self, name: str) -> PipelineEndpoint:
        """Enable endpoint ``name`` again."""
        return self._update(name, disabled=False)

    def disable_published(self, id: str) -> PublishedPipeline:
        """Disable one published pipeline: submitting it (by id, or as its endpoint's version) is refused."""
        return self._set_version_disabled(self._by_id(id), True)

    def enable_published(self, id: str) -> PublishedPipeline:
        """Enable one published pipeline again."""
        return self._set_version_disabled(self._by_id(id), False)

    def _set_version_disabled(self, record: AssetRecord, disabled: bool) -> PublishedPipeline:
        current = set(self._instance.store.get_resource(ENDPOINT, record.name).spec.get("disabled_versions") or [])
        current = current | {record.version} if disabled else current - {record.version}
        self._update(record.name, disabled_versions=sorted(current))
        return self._published(record)

    def _update(self, name: str, **change: Any) -> PipelineEndpoint:
        store = self._instance.store
        spec = {**store.get_resource(ENDPOINT, name).spec, **change}
        return self._endpoint(store.save_resource(ENDPOINT, name, spec, mode="update"))

    # -- invoking --------------------------------------------------------------------------------

    def invoke(
        self, name: str, body: Mapping[str, Any] | None = None, *, version: str | None = None, start_runner: bool = True
    ) -> JobRecord:
        """Submit endpoint ``name`` (its default version, or ``version``, or the body's ``PipelineVersion``) with
        Azure's REST body; the queued pipeline job. ConflictError when the endpoint or the version is
        disabled; SpecError naming each wrong key of the body."""
        endpoint = self.get(name)
        if endpoint.status == DISABLED:
            raise ConflictError(
                f"Pipeline endpoint '{name}' is disabled; it runs nothing until enabled.",
                fix=f"Enable it with: thresher pipeline-endpoint enable --name {name}",
            )
        asked = version
        if asked is None and isinstance(body, Mapping):
            asked = next((str(v) for k, v in body.items() if str(k).lower() == VERSION.lower() and v), None)
        record = self._version(name, asked)
        return self._run(record, body, what=f"pipeline endpoint '{name}'", allow_version=True, start=start_runner)

    def invoke_published(
        self,
        id: str,
        body: Mapping[str, Any] | None = None,
        *,
        start_runner: bool = True,
        extra: Mapping[str, Any] | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> JobRecord:
        """Submit the published pipeline ``id`` with Azure's REST body (``PipelineSubmit/<id>``). ``extra`` is
        kept in the job's spec (a schedule's name and slot); ``continue_on_step_failure`` overrides the
        pipeline's setting, as v1's ``Schedule.create(continue_on_step_failure=...)`` does."""
        record = self._by_id(id)
        what = f"published pipeline {id} ({record.name} version {record.version})"
        return self._run(
            record,
            body,
            what=what,
            allow_version=False,
            start=start_runner,
            extra=extra,
            continue_on_step_failure=continue_on_step_failure,
        )

    def _run(
        self,
        record: AssetRecord,
        body: Mapping[str, Any] | None,
        *,
        what: str,
        allow_version: bool,
        start: bool,
        extra: Mapping[str, Any] | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> JobRecord:
        published = self._published(record)
        if published.status == DISABLED:
            raise ConflictError(
                f"Published pipeline '{record.name}' version {record.version} (id {published.id}) is disabled; it "
                "runs nothing until enabled.",
                fix=f"Enable it with: thresher pipeline enable --name {record.name} --version {record.version}",
            )
        request = read_request(
            body, published.inputs, what=what, resolve_dataset=self._dataset, allow_version=allow_version
        )
        spec = record.spec
        try:
            pipeline = self._document(spec, request) if spec.get("form") == YAML_FORM else self._rebind(spec, request)
        except SpecError as exc:
            raise SpecError(
                exc.problems,
                what=f"request to {what}",
                fix="Correct the assignments and send them again; nothing was run.",
            ) from None
        pipeline = replace(
            pipeline,
            tags={**pipeline.tags, **request.tags},
            description=request.description or pipeline.description,
        )
        if continue_on_step_failure is not None:
            pipeline = replace(pipeline, continue_on_step_failure=continue_on_step_failure)
        experiment = request.experiment_name or published.experiment_name or record.name
        extra = {
            **(extra or {}),
            "published_pipeline": {"id": published.id, "name": record.name, "version": record.version},
            "request": {"parameters": dict(request.parameters), "data": dict(request.data)},
        }
        jobs = PipelineJobOperations(self._instance)
        return jobs.submit(pipeline, experiment_name=experiment, extra=extra, start_runner=start)

    def _document(self, spec: Mapping[str, Any], request: PipelineRequest) -> PipelineDef:
        document = copy.deepcopy(dict(spec["document"]))
        inputs = dict(document.get("inputs") or {})
        problems = Problems()
        for name, value in request.parameters.items():
            current = inputs.get(name)
            if isinstance(current, Mapping):  # a typed input: text ("2", as REST callers send it) is coerced
                port = read_port(Doc(current, SOURCE, None, (), Path("."), Problems()), name, output=False)
                value = coerce(port, value)
                problem = value_problem(port, value)
                if problem:
                    problems.add(Problem(SOURCE, None, f"{PARAMETERS}.{name}", f"is {value!r}; {problem}"))
                inputs[name] = {**current, "value": value}
            else:
                inputs[name] = value
        if problems.found:
            raise SpecError(problems.found)
        for name, uri in request.data.items():
            current = inputs.get(name)
            kept = {k: current[k] for k in ("type", "mode") if k in current} if isinstance(current, Mapping) else {}
            inputs[name] = {"type": "uri_folder", **kept, "path": uri}
        document["inputs"] = inputs
        doc = Doc(document, str(spec["source"]), None, (), Path(str(spec["base_dir"])), Problems())
        return build_pipeline(doc, WorkspaceSources(self._instance))

    def _rebind(self, spec: Mapping[str, Any], request: PipelineRequest) -> PipelineDef:
        pipeline = PipelineDef.from_dict(spec["pipeline"])
        sources = WorkspaceSources(self._instance)
        problems: builtins.list[Problem] = []
        inputs = dict(pipeline.inputs)
        steps = {name: dict(step.inputs) for name, step in pipeline.steps.items()}
        for name, value in request.parameters.items():
            inputs[name] = Binding.literal(value)
            for step_name, bound in steps.items():
                if name in bound and bound[name].kind == "literal":
                    port = pipeline.steps[step_name].declared_inputs.get(name)
                    coerced = coerce(port, value) if port is not None else value
                    problem = value_problem(port, coerced) if port is not None else None
                    if problem:
                        problems.append(Problem(SOURCE, None, f"{PARAMETERS}.{name}", f"is {value!r}; {problem}"))
                    bound[name] = Binding.literal(coerced)
        for name, uri in request.data.items():
            try:
                if uri.startswith("azureml://"):
                    found = sources.datastore_path(uri)
                else:
                    reference = read_reference(uri)
                    assert reference is not None
                    found = sources.data(reference.name, reference.version)
            except LookupError as exc:
                problems.append(Problem(SOURCE, None, f"inputs.{name}", f"is {uri!r}: {exc}"))
                continue
            for bound in steps.values():
                old = bound.get(name)
                if old is not None and old.kind == "data":
                    bound[name] = Binding("data", type=old.type, path=found.path, asset=found.asset, mode=old.mode)
            if name in inputs:
                inputs[name] = Binding("data", type=found.type, path=found.path, asset=found.asset)
        if problems:
            raise SpecError(problems)
        new_steps: dict[str, Step] = {n: replace(s, inputs=steps[n]) for n, s in pipeline.steps.items()}
        return replace(pipeline, inputs=inputs, steps=new_steps)

    def _dataset(self, identifier: str) -> str:
        text = identifier.removeprefix("azureml:")
        name, version = text, None
        if "@" in text:
            name, _, label = text.partition("@")
            version = None if label == "latest" else label
        elif ":" in text:
            name, _, version = text.rpartition(":")
        try:
            record = self._instance.store.get_asset("data", name, version)
        except NotFoundError as exc:
            raise LookupError(f"{exc.message} Give <data asset name>:<version> or <name> for its latest.") from None
        return f"azureml:{record.name}:{record.version}"

    # -- records ---------------------------------------------------------------------------------

    def _version(self, name: str, version: str | None) -> AssetRecord:
        chosen = version if version is not None else str(self.get(name).default_version)
        return self._instance.store.get_asset(PUBLISHED, name, chosen)

    def _by_id(self, id: str) -> AssetRecord:
        everything = self._instance.store.list_assets(PUBLISHED, include_archived=True)
        for record in everything:
            if record.info.get("id") == id:
                return record
        raise NotFoundError(
            f"Published pipeline {id!r} does not exist ({len(everything)} published pipelines in the workspace).",
            fix="List them with: thresher pipeline list",
        )

    def _published(self, record: AssetRecord) -> PublishedPipeline:
        endpoint = self._instance.store.get_resource(ENDPOINT, record.name).spec
        disabled = record.version in (endpoint.get("disabled_versions") or [])
        spec = record.spec
        return PublishedPipeline(
            id=str(record.info["id"]),
            name=record.name,
            version=record.version,
            status=DISABLED if disabled else ACTIVE,
            is_default=str(endpoint.get("default_version")) == record.version,
            description=spec.get("description"),
            inputs=dict(spec.get("inputs") or {}),
            defaults=dict(spec.get("defaults") or {}),
            source=str(record.info.get("source_path") or spec.get("source") or ""),
            experiment_name=spec.get("experiment_name"),
            created_at=record.created_at,
        )

    def _endpoint(self, record: ResourceRecord) -> PipelineEndpoint:
        versions = tuple(r.version for r in self._instance.store.list_assets(PUBLISHED, record.name))
        spec = record.spec
        return PipelineEndpoint(
            name=record.name,
            description=spec.get("description"),
            default_version=str(spec.get("default_version")),
            status=DISABLED if spec.get("disabled") else ACTIVE,
            versions=versions,
            disabled_versions=tuple(spec.get("disabled_versions") or ()),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
