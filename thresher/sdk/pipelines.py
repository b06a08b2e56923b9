"""Pipeline jobs and components in the SDK: ``job create -f pipeline.yml``, ``component create|list|show``,
``job explain-reuse``; and ``WorkspaceSources``, the workspace as the pipeline loaders see it.

Example::

    ws = Workspace()
    job = ws.pipelines.create("pipeline.yml", overrides=["inputs.rows=100"])
    ws.jobs.wait(job.name)
    for step in ws.jobs.list(parent_job_name=job.name):
        print(step.name, step.status, step.headline)
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError, NotFoundError, SpecError, ThresherError
from thresher.instance import Instance
from thresher.pipelines import cache
from thresher.pipelines.components import Doc, Problems
from thresher.pipelines.curated import conda_document, curated_entry, curated_name
from thresher.pipelines.driver import PIPELINE
from thresher.pipelines.model import PipelineDef
from thresher.pipelines.sources import ComponentDocument, ResolvedData, StoredCode
from thresher.pipelines.yaml_loader import build_pipeline, load_pipeline
from thresher.scheduler.launch import ensure_runner
from thresher.specs.overrides import merge_overrides
from thresher.specs.references import read_reference
from thresher.specs.yamlio import read_yaml
from thresher.storage import split_datastore_uri
from thresher.storage.fingerprint import iter_files
from thresher.storage.snapshot import load_ignore
from thresher.store import AssetRecord, DeploymentRecord, JobRecord
from thresher.store.records import LATEST

COMPONENT = "component"
ANONYMOUS_ENVIRONMENT = "CliV2AnonymousEnvironment"


class WorkspaceSources:
    """``thresher.pipelines.sources.Sources`` over a workspace: its store, datastores and environments."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._snapshots: dict[Path, StoredCode] = {}

    def uploaded(self, path: Path) -> bool:
        return path.is_relative_to(self._instance.settings.workspace_dir / "uploads")

    def component(self, name: str, version: str | None) -> ComponentDocument:
        record = _get(self._instance, COMPONENT, name, version)
        return ComponentDocument(
            data=record.spec,
            source=f"azureml:{record.name}:{record.version}",
            base_dir=Path(str(record.info.get("base_dir", "."))),
            label=f"azureml:{record.name}:{record.version}",
        )

    def data(self, name: str, version: str | None) -> ResolvedData:
        record = _get(self._instance, "data", name, version)
        path = str(record.info.get("path") or record.spec.get("path"))
        return ResolvedData(path, str(record.spec.get("type", "uri_folder")), f"{record.name}:{record.version}")

    def model(self, name: str, version: str | None) -> ResolvedData:
        record = _get(self._instance, "model", name, version)
        path = str(record.info.get("model_dir") or record.info.get("path"))
        return ResolvedData(path, str(record.spec.get("type", "custom_model")), f"{record.name}:{record.version}")

    def datastore_path(self, uri: str) -> ResolvedData:
        parts = split_datastore_uri(uri)
        if parts is None:
            raise LookupError("it is not azureml://datastores/<name>/paths/<path>")
        try:
            if self._instance.is_remote_uri(uri):
                return ResolvedData(uri, "uri_folder")
            return ResolvedData(str(self._instance.resolve_local_path(uri)), "uri_folder")
        except NotFoundError as exc:
            raise LookupError(f"datastore {parts[0]!r} does not exist ({exc.message})") from None

    def environment(self, reference: str | Mapping[str, Any], base_dir: Path) -> tuple[str | None, str | None]:
        if isinstance(reference, Mapping):
            return self._inline_environment(reference, base_dir), None
        text = str(reference)
        curated = curated_name(text)
        if curated is not None:
            return self._curated(curated, text)
        parsed = read_reference(text) if text.startswith("azureml:") else None
        if parsed is None:
            raise LookupError(
                "give azureml:<name>:<version>, azureml:<name>@latest, a curated Azure environment, "
                "or an inline environment (conda_file:, image:)"
            )
        record = _get(self._instance, "environment", parsed.name, parsed.version)
        return f"azureml:{record.name}:{record.version}", None

    def environment_hash(self, reference: str) -> str:
        parsed = read_reference(reference)
        assert parsed is not None
        record = _get(self._instance, "environment", parsed.name, parsed.version)
        content = {k: record.info.get(k) for k in ("conda", "requirements", "python_env")}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    def snapshot(self, folder: Path) -> StoredCode:
        found = self._snapshots.get(folder)
        if found is None:
            ignore = load_ignore(folder) if folder.is_dir() else None
            stored = self._instance.datastore().put_content(folder, ignore=ignore)
            files = {rel: _file_hash(path) for rel, path in iter_files(folder, ignore=ignore)}
            found = self._snapshots[folder] = StoredCode(str(stored.path), stored.content_hash, files)
        return found

    def environment_from_conda(self, name: str, conda: Mapping[str, Any], notes: Sequence[str] = ()) -> str:
        """Register (once per content) environment ``name`` built from a conda document; its
        ``azureml:name:version``. ThresherError when the document lists conda-only packages."""
        from thresher.environments.conda import read_conda

        read_conda(conda, f"the conda dependencies of environment {name!r}")
        return self._register_environment(name, {"conda": dict(conda), "notes": list(notes)}, {"name": name})

    def _inline_environment(self, document: Mapping[str, Any], base_dir: Path) -> str | None:
        from thresher.environments.conda import load_conda_file

        info: dict[str, Any] = {"notes": []}
        conda = document.get("conda_file")
        if isinstance(conda, Mapping):
            info["conda"] = dict(conda)
        elif conda is not None:
            info["conda"] = load_conda_file((base_dir / str(conda)).resolve())
        if document.get("image"):
            info["notes"].append(
                f"image {document['image']!r} is not used: thresher runs steps in a virtualenv "
                "built from the conda file, or in its own interpreter when there is none."
            )
        if "conda" not in info:
            return None
        return self._register_environment(ANONYMOUS_ENVIRONMENT, info, {"name": ANONYMOUS_ENVIRONMENT})

    def _curated(self, name: str, reference: str) -> tuple[str | None, str | None]:
        entry = curated_entry(name)
        if entry is None:
            raise LookupError(
                f"Azure's curated environment {name!r} is not in thresher's catalogue of curated "
                "environments; register an environment with its packages (thresher environment "
                "create) and refer to it as azureml:<name>:<version>"
            )
        key, pins = entry
        note = (
            f"Azure's curated environment {name} resolved to thresher's catalogue entry {key}: "
            f"python {pins['python']}, {', '.join(pins['pip'])} (Azure's image is not used)."
        )
        info: dict[str, Any] = {
            "conda": conda_document(pins),
            "curated": reference,
            "notes": [note],
        }
        return self._register_environment(name, info, {"name": name, "description": note}), note

    def _register_environment(self, name: str, info: dict[str, Any], spec: dict[str, Any]) -> str:
        version = hashlib.sha256(json.dumps(info, sort_keys=True, default=str).encode()).hexdigest()[:16]
        store = self._instance.store
        try:
            store.get_asset("environment", name, version)
        except NotFoundError:
            store.create_asset("environment", name, spec={**spec, "version": version}, info=info, version=version)
        return f"azureml:{name}:{version}"


class ComponentOperations:
    """``thresher component create|list|show``: versioned components (command, parallel, pipeline)."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    def create(self, path: str | Path, *, name: str | None = None, version: str | None = None) -> AssetRecord:
        """Register the component YAML at ``path``, checked first. Its folder is snapshotted into the datastore
        (as Azure does), so later edits of the files need a new version."""
        file = Path(path)
        data, lines = read_yaml(file, file.name)
        return self.register(data, file.resolve().parent, file.name, lines=lines, name=name, version=version)

    def register(
        self,
        data: Mapping[str, Any],
        base_dir: Path,
        source: str,
        *,
        lines: Any = None,
        name: str | None = None,
        version: str | None = None,
    ) -> AssetRecord:
        """Register a component document whose relative paths resolve against ``base_dir``."""
        from thresher.pipelines.components import read_component

        problems = Problems()
        doc = Doc(data, source, lines, (), base_dir, problems)
        component = read_component(doc, source)
        component_name = name or data.get("name")
        if not component_name:
            doc.problem(("name",), "is missing; a registered component needs a name.")
        if problems.found:
            raise SpecError(problems.found, what=f"component {source}", fix=f"Correct {source} and run again.")
        stored = self._instance.datastore().put_content(base_dir, ignore=load_ignore(base_dir))
        chosen = version or (str(data["version"]) if data.get("version") is not None else None)
        return self._instance.store.create_asset(
            COMPONENT,
            str(component_name),
            spec=dict(data),
            version=chosen,
            info={"base_dir": str(stored.path), "source": source, "type": component.type},
        )

    def get(self, name: str, version: str | None = None) -> AssetRecord:
        """One version (the latest when None)."""
        return _get_or_raise(self._instance, COMPONENT, name, version)

    def list(self, name: str | None = None) -> builtins.list[AssetRecord]:
        """Every component's latest version, or every version of ``name``."""
        return self._instance.store.list_assets(COMPONENT, name, latest_only=name is None)


class PipelineJobOperations:
    """Pipeline jobs: submit (``job create -f``), explain reuse; the rest is ``JobOperations``."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    def create(
        self,
        path: str | Path,
        *,
        overrides: Sequence[str] = (),
        name: str | None = None,
        experiment_name: str | None = None,
        regenerate_outputs: bool = False,
        start_runner: bool = True,
        client_path: str | None = None,
    ) -> JobRecord:
        """Check and queue the pipeline job in ``path`` (``--set`` overrides applied); nothing runs if it has a
        problem. The runner starts each step when its inputs exist. ``client_path``: where a remote client
        has the file ``path`` is an upload of (kept, so that its resume can send the fixed file again)."""
        runner = ensure_runner(self._instance.settings) if start_runner else None
        pipeline = load_pipeline(path, WorkspaceSources(self._instance), overrides=overrides)
        source = {
            "source_path": str(Path(path).resolve()),
            "overrides": list(overrides),
            "lineage": git_lineage(Path(path).resolve().parent),
            **({"client_path": client_path} if client_path else {}),
        }
        return self.submit(
            pipeline,
            name=name,
            experiment_name=experiment_name,
            regenerate_outputs=regenerate_outputs,
            started=runner,
            start_runner=start_runner,
            extra=source,
        )

    def submit(
        self,
        pipeline: PipelineDef,
        *,
        name: str | None = None,
        experiment_name: str | None = None,
        regenerate_outputs: bool = False,
        started: Any = None,
        start_runner: bool = True,
        extra: Mapping[str, Any] | None = None,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        request_key: str | None = None,
    ) -> JobRecord:
        """Queue a resolved pipeline (built by either front door) as a pipeline job."""
        from thresher.sdk.jobs import _job_name

        pipeline = self._placed(pipeline)
        experiment = experiment_name or pipeline.experiment_name or pipeline.display_name or "Default"
        job_name = name or _job_name((pipeline.display_name or "pipeline").replace(" ", "-")[:40])
        spec = {
            "pipeline": pipeline.to_dict(),
            "experiment_name": experiment,
            "jobs_root": str(self._instance.datastore().path("jobs")),
            "cache_dir": str(self._instance.settings.workspace_dir / "cache" / "inputs"),
            "slots": self._slots(pipeline),
            "regenerate_outputs": regenerate_outputs,
            **(extra or {}),
        }
        record = self._instance.store.create_job(
            job_name,
            spec=spec,
            kind=PIPELINE,
            endpoint_name=endpoint_name,
            deployment_name=deployment_name,
            request_key=request_key,
            request_route=f"invoke {endpoint_name}" if endpoint_name else "pipeline job",
        )
        if start_runner:
            ensure_runner(self._instance.settings, started=started)
        return record

    def invoke_deployment(
        self,
        deployment: DeploymentRecord,
        *,
        inputs_file: str | Path | None = None,
        input: str | None = None,
        input_type: str | None = None,
        overrides: Sequence[str] = (),
        job_name: str | None = None,
        started: Any = None,
        start_runner: bool = True,
        request_key: str | None = None,
    ) -> JobRecord:
        """Queue a pipeline job of a ``type: pipeline`` batch deployment: its component as the one step of a
        pipeline whose inputs and outputs are the invocation's (``--file inputs.yml``, ``--input``, ``--set``)."""
        given: dict[str, Any] = {}
        lines = None
        source = "invoke"
        base_dir = Path.cwd()
        if inputs_file is not None:
            file = Path(inputs_file)
            given, lines = read_yaml(file, file.name)
            source, base_dir = file.name, file.resolve().parent
        sets = [
            item if item.startswith(("inputs.", "outputs.", "settings.")) else f"inputs.{item}" for item in overrides
        ]
        given, _, problems = merge_overrides(given, sets)
        if problems:
            raise SpecError(problems, what="--set overrides", fix="Write each one as inputs.<name>=<value>.")
        inputs = dict(given.get("inputs") or {})
        outputs = dict(given.get("outputs") or {})
        settings_given = dict(given.get("settings") or {})
        settings = dict(deployment.spec.get("settings") or {})
        definition = deployment.spec.get("job_definition")
        sources = WorkspaceSources(self._instance)
        if definition:
            document, source, base_dir, lines = self._job_definition(str(definition), inputs, outputs)
        else:
            reference = read_reference(str(deployment.spec["component"]))
            assert reference is not None
            component = sources.component(reference.name, reference.version)
            declared_inputs = dict(component.data.get("inputs") or {})
            if input is not None:
                data_inputs = [n for n, p in declared_inputs.items() if _is_data(p)]
                if len(data_inputs) != 1:
                    raise ThresherError(
                        f"--input gives one input, but component {reference.name} has {len(data_inputs)} data inputs "
                        f"({', '.join(data_inputs) or 'none'}).",
                        fix="Name each input in a file: thresher batch-endpoint invoke --file inputs.yml, with "
                        "inputs: {<name>: {type: uri_folder, path: ...}}.",
                    )
                inputs[data_inputs[0]] = {"type": input_type or "uri_folder", "path": input}
            step = str(component.data.get("name") or reference.name).replace("-", "_")
            document = {
                "type": "pipeline",
                "display_name": f"{deployment.endpoint_name}-{deployment.name}",
                "experiment_name": deployment.endpoint_name,
                "settings": settings,
                "inputs": inputs,
                "outputs": outputs,
                "jobs": {
                    step: {
                        "type": str(component.data.get("type", "pipeline")),
                        "component": f"azureml:{reference.name}:{reference.version}",
                        "inputs": {name: f"${{{{parent.inputs.{name}}}}}" for name in inputs},
                        "outputs": {name: f"${{{{parent.outputs.{name}}}}}" for name in outputs},
                    }
                },
            }
        document["settings"] = {**(document.get("settings") or {}), **settings_given}
        doc = Doc(document, source, lines, (), base_dir, Problems())
        pipeline = build_pipeline(doc, sources)
        return self.submit(
            pipeline,
            name=job_name,
            started=started,
            start_runner=start_runner,
            endpoint_name=deployment.endpoint_name,
            deployment_name=deployment.name,
            request_key=request_key,
        )

    def _job_definition(
        self, definition: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str, Path, Any]:
        job = self._instance.store.get_job(definition.removeprefix("azureml:"))
        source = job.spec.get("source_path")
        if not source or not Path(source).is_file():
            raise NotFoundError(
                f"The deployment's job_definition {definition} was read from {source or 'no file'}, which is gone.",
                fix="Deploy the pipeline as a component (component: ./pipeline_component.yml) instead.",
            )
        data, lines = read_yaml(Path(source), Path(source).name)
        data = dict(data)
        data["inputs"] = {**(data.get("inputs") or {}), **inputs}
        data["outputs"] = {**(data.get("outputs") or {}), **outputs}
        return data, Path(source).name, Path(source).resolve().parent, lines

    def reload(self, job: JobRecord) -> dict[str, Any] | None:
        """A pipeline job's spec with the pipeline read again from its file (a resume picks up fixes);
        None when it did not come from a file, or the file is gone."""
        source = job.spec.get("source_path")
        if not source or not Path(source).is_file():
            return None
        overrides = [str(item) for item in job.spec.get("overrides") or []]
        pipeline = load_pipeline(source, WorkspaceSources(self._instance), overrides=overrides)
        return {**job.spec, "pipeline": pipeline.to_dict()}

    def explain_reuse(self, name: str, *, against: str | None = None) -> builtins.list[str]:
        """Why step job ``name`` was reused or ran, in words; with ``against``, how its cache key differs from
        that step job's."""
        store = self._instance.store
        job = store.get_job(name)
        results = job.results or {}
        if job.kind == PIPELINE:
            raise ConflictError(
                f"Job '{name}' is a pipeline job; explain-reuse takes one of its step jobs.",
                fix=f"List them with: thresher job list --parent-job-name {name}",
            )
        if "cache_key" not in results:
            raise NotFoundError(
                f"Job '{name}' is not a pipeline step job: it has no cache key.",
                fix="Give a step job (thresher job list --parent-job-name <pipeline>).",
            )
        if against is not None:
            other = store.get_job(against)
            other_key = (other.results or {}).get("cache_key")
            if other_key is None:
                raise NotFoundError(f"Job '{against}' has no cache key.", fix="Compare two step jobs.")
            reasons = cache.explain(other_key, results["cache_key"])
            if not reasons:
                return [f"{name} and {against} have the same cache key: either would reuse the other."]
            return [f"{name} differs from {against}:"] + [f"  {r}" for r in reasons]
        reuse = results.get("reuse") or {}
        if reuse.get("reused"):
            return [f"{name} was reused from step job {reuse.get('from')}: {reuse.get('why')}."]
        lines = [f"{name} ran:"]
        lines += [f"  {why}" for why in reuse.get("why", ["no reuse record"])]
        return lines

    def _placed(self, pipeline: PipelineDef) -> PipelineDef:
        """Each parallel step placed on its compute (or the pipeline's ``default_compute``): local workers,
        simulated ``amlcompute`` nodes, or Ray actors, as a batch deployment on that compute would run."""
        from dataclasses import replace

        from thresher.sdk.infra import ComputeOperations

        computes = ComputeOperations(self._instance)
        steps = dict(pipeline.steps)
        for name, step in pipeline.steps.items():
            compute = step.compute or pipeline.default_compute
            if step.parallel is None or not compute or compute == "local":
                continue
            try:
                record = self._instance.store.get_resource("compute", compute)
            except NotFoundError:
                raise NotFoundError(
                    f"Step '{name}' runs on compute '{compute}', which does not exist.",
                    fix="Create it (thresher compute create) or change the step's compute / settings.default_compute.",
                ) from None
            most = record.spec.get("max_instances") if record.spec.get("type") in ("amlcompute", "ray") else None
            if most is not None and step.parallel.instance_count > int(most):
                raise ConflictError(
                    f"Step '{name}' asks for instance_count {step.parallel.instance_count}, but compute '{compute}' "
                    f"has max_instances {most}.",
                    fix=f"Use resources.instance_count {most} or less, or raise the compute's max_instances.",
                )
            placed = computes.placement(record)
            idle = record.spec.get("idle_time_before_scale_down")
            steps[name] = replace(
                step,
                placement={
                    "backend": placed.get("backend", "local"),
                    "address": placed.get("address"),
                    "compute": compute,
                    "min_nodes": int(placed.get("min_nodes") or 0),
                    "idle_time_before_scale_down": int(idle) if idle is not None else None,
                    "min_instances": int(record.spec.get("min_instances") or 0),
                },
            )
        return replace(pipeline, steps=steps)

    def _slots(self, pipeline: PipelineDef) -> int:
        name = pipeline.default_compute
        if name:
            try:
                compute = self._instance.store.get_resource("compute", name).spec
            except NotFoundError:
                raise ThresherError(
                    f"The pipeline's default_compute {name!r} does not exist.",
                    fix="Create it (thresher compute create) or remove settings.default_compute.",
                ) from None
            if compute.get("max_workers"):
                return int(compute["max_workers"])
        return self._instance.settings.default_max_workers


def _get(instance: Instance, kind: str, name: str, version: str | None) -> AssetRecord:
    try:
        return instance.store.get_asset(kind, name, None if version in (None, LATEST) else version)
    except NotFoundError as exc:
        raise LookupError(exc.message) from None


def _get_or_raise(instance: Instance, kind: str, name: str, version: str | None) -> AssetRecord:
    return instance.store.get_asset(kind, name, None if version in (None, LATEST) else version)


def git_lineage(folder: Path) -> dict[str, Any] | None:
    """The git repository, branch, commit and dirty flag of ``folder``'s checkout; None outside one."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    return {
        "repository": git("config", "--get", "remote.origin.url") or git("rev-parse", "--show-toplevel"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "commit": commit,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def _is_data(port: Any) -> bool:
    kind = port.get("type") if isinstance(port, Mapping) else port
    return str(kind) in ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model")


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
