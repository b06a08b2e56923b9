"""Batch jobs: invoke an endpoint, follow, cancel, resume and download jobs.

``invoke`` validates everything (deployment, input, output, settings) before it queues anything, then
returns the queued job at once; a detached local runner picks it up. A deployment without a scoring
script runs the built-in MLflow driver (``thresher.sdk.no_code``). ``score`` runs one job from
plain paths without registering anything, in this process.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import os
import secrets
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from thresher.errors import (
    ConflictError,
    DuplicateRequestError,
    NotFoundError,
    RevisionMovedError,
    StorageUnavailableError,
    ThresherError,
)
from thresher.instance import Instance
from thresher.scheduler.jobspec import JobSpec
from thresher.scheduler.launch import (
    STALE_SECONDS,
    ensure_runner,
    runner_alive,
    runner_gone,
    runner_id,
    stale_before,
)
from thresher.sdk import no_code
from thresher.sdk.infra import ComputeOperations
from thresher.sdk.inputs import resolve_input
from thresher.sdk.job_cleanup import JobCleanup, delete_job, planned_cleanup
from thresher.sdk.resolved import Kept, RequestShape, ResolvedDeployment, ResolvedDeployments, rows_read
from thresher.specs import BatchDeploymentSpec, BatchSettings, parse_spec
from thresher.storage.job_folder import JobFolder
from thresher.storage.remote_files import exists as remote_exists
from thresher.storage.retry import not_answering
from thresher.store import TERMINAL, AssetRecord, DeploymentRecord, JobRecord, ResourceRecord
from thresher.store.records import RowRef

# az ml batch-endpoint invoke --set keys (BatchJobSchema) and where they live in a deployment.
_JOB_OVERRIDES = {
    "mini_batch_size": "settings.mini_batch_size",
    "error_threshold": "settings.error_threshold",
    "output_file_name": "settings.output_file_name",
    "max_retries": "settings.retry_settings.max_retries",
    "timeout": "settings.retry_settings.timeout",
    "retry_settings.max_retries": "settings.retry_settings.max_retries",
    "retry_settings.timeout": "settings.retry_settings.timeout",
    "instance_count": "resources.instance_count",
    "compute.instance_count": "resources.instance_count",
    "allowed_failed_count": "settings.allowed_failed_count",
    "allowed_failed_percent": "settings.allowed_failed_percent",
    "output_format": "settings.output_format",
    "isolate_failures": "settings.isolate_failures",
}


@dataclass(frozen=True)
class _Invocation:
    """What an invocation asks for besides its request shape (``RequestShape``)."""

    input: str | None
    inputs_file: str | Path | None
    input_type: str | None
    output_path: str | None
    overrides: tuple[str, ...]
    job_name: str | None
    start_runner: bool


class JobOperations:
    """``thresher job ...`` and ``thresher batch-endpoint invoke``."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._kept: ResolvedDeployments | None = None  # made on first use

    @property
    def _resolved(self) -> ResolvedDeployments:
        """The deployments this workspace's invocations resolved, kept (made on first use)."""
        if self._kept is None:
            default = RowRef("datastore", self._instance.settings.default_datastore)
            self._kept = ResolvedDeployments(lambda: self._instance.store, datastore_ref=default)
        return self._kept

    # -- starting jobs ----------------------------------------------------------------------------

    def invoke(
        self,
        endpoint_name: str,
        *,
        input: str | None = None,
        inputs_file: str | Path | None = None,
        input_type: str | None = None,
        deployment_name: str | None = None,
        output_path: str | None = None,
        mini_batch_size: int | str | None = None,
        instance_count: int | None = None,
        overrides: Sequence[str] = (),
        job_name: str | None = None,
        start_runner: bool = True,
        request_key: str | None = None,
    ) -> JobRecord:
        """Validate and queue a job on an endpoint's (default) deployment: a batch scoring job of ``input``, or for
        a ``type: pipeline`` deployment a pipeline job with the inputs and outputs of ``inputs_file`` (Azure's
        ``invoke --file``), ``input`` (the component's one data input) and ``overrides`` (``inputs.x=...``)."""
        sets = tuple(_job_sets(overrides, mini_batch_size, instance_count))
        shape = RequestShape(endpoint_name.lower(), deployment_name, sets, _cwd())
        request = _Invocation(input, inputs_file, input_type, output_path, tuple(overrides), job_name, start_runner)
        known = self._resolved.get(shape)  # what invocations of this shape read, kept; create_job checks it
        if known is None:
            return self._queue(shape, request, request_key, None)
        try:
            return self._queue(shape, request, request_key, known)
        except DuplicateRequestError:
            raise
        except RevisionMovedError:
            pass  # a row it was read from changed: nothing was queued
        except (ThresherError, OSError):  # a check failed, or the job's folder (of a datastore kept) could not be made
            if self._resolved.current(known):
                raise  # the rows as they are give this error too
        self._resolved.drop(shape, known)
        return self._queue(shape, request, request_key, None)

    def _queue(
        self, shape: RequestShape, request: _Invocation, request_key: str | None, known: Kept | None
    ) -> JobRecord:
        """``invoke`` on the deployment as it is kept (``known``), or as it is read now (None)."""
        store = self._instance.store
        resolved = known.resolved if known else None
        endpoint, deployment = (resolved.endpoint, resolved.deployment) if resolved else self._route(shape)
        # A job is all but certain now. A runner started here gets through its Python start and imports
        # (about half a second) while this process checks the input and the output, which on remote
        # storage can take longer still; it waits for the job, and is woken when the job is queued.
        runner = ensure_runner(self._instance.settings) if request.start_runner else None
        if deployment.spec.get("type") == "pipeline":
            from thresher.sdk.pipelines import PipelineJobOperations

            return PipelineJobOperations(self._instance).invoke_deployment(
                deployment,
                inputs_file=request.inputs_file,
                input=request.input,
                input_type=request.input_type,
                overrides=request.overrides,
                job_name=request.job_name,
                started=runner,
                start_runner=request.start_runner,
                request_key=request_key,
            )
        if request.input is None:
            raise ThresherError(
                f"Deployment '{deployment.name}' scores an input, and none was given.",
                fix=f"Pass --input, e.g. thresher batch-endpoint invoke -n {endpoint.name} --input ./data",
            )
        spec = resolved.spec if resolved else self._parsed(deployment, shape)
        name = request.job_name or _job_name(spec.name)
        job_spec = self._job_spec(name, spec, request.input, request.input_type, request.output_path, resolved)
        try:
            record = store.create_job(
                name,
                spec=job_spec.to_dict(),
                endpoint_name=endpoint.name,
                deployment_name=deployment.name,
                request_key=request_key,
                request_route=f"invoke {endpoint.name}",
                expect=known.expect if known else None,
            )
        except (DuplicateRequestError, RevisionMovedError):
            if request.job_name is None:  # a folder of its own, made for the job that was not queued
                shutil.rmtree(job_spec.folder, ignore_errors=True)
            raise
        if known is None:  # the next invocation of this shape reads none of this
            self._resolved.learn(shape, rows_read(endpoint.name, deployment.name, spec), lambda: self._resolve(shape))
        if request.start_runner:
            ensure_runner(self._instance.settings, started=runner)
        return record

    def _route(self, shape: RequestShape) -> tuple[ResourceRecord, DeploymentRecord]:
        """The endpoint and the deployment an invocation goes to (its default one unless named)."""
        store = self._instance.store
        endpoint = store.get_resource("batch_endpoint", shape.endpoint_name)
        deployment_name = shape.deployment_name or (endpoint.spec.get("defaults") or {}).get("deployment_name")
        if not deployment_name:
            existing = [d.name for d in store.list_deployments(endpoint.name)]
            raise ConflictError(
                f"Batch endpoint '{endpoint.name}' has no default deployment, so there is no deployment to route "
                f"the job to (its deployments: {', '.join(existing) or 'none'}).",
                fix=f"Pass --deployment-name, or: thresher batch-endpoint update -n {endpoint.name} "
                "--set defaults.deployment_name=<deployment>",
            )
        return endpoint, store.get_deployment(endpoint.name, deployment_name)

    def _parsed(self, deployment: DeploymentRecord, shape: RequestShape) -> BatchDeploymentSpec:
        base_dir = Path(shape.cwd) if shape.cwd is not None else Path.cwd()  # raises as it always did
        overrides = _deployment_overrides(shape.overrides)
        spec = parse_spec(deployment.spec, "batch_deployment", base_dir=base_dir, overrides=overrides)
        assert isinstance(spec, BatchDeploymentSpec)
        return spec

    def _resolve(self, shape: RequestShape) -> ResolvedDeployment | None:
        """Everything an invocation of ``shape`` reads of the metadata, read again (``ResolvedDeployments.learn``)."""
        endpoint, deployment = self._route(shape)
        if deployment.spec.get("type") == "pipeline":
            return None
        spec = self._parsed(deployment, shape)
        nodes = spec.resources.instance_count if spec.resources else 1
        return ResolvedDeployment(
            endpoint=endpoint,
            deployment=deployment,
            spec=spec,
            model=self._model(spec),
            placement=self._placement(spec, nodes),
            jobs_dir=self._instance.datastore().path("jobs"),
        )

    def score(
        self,
        *,
        model: str,
        input: str,
        code: str | None = None,
        scoring_script: str | None = None,
        output: str | None = None,
        settings: dict[str, Any] | None = None,
        job_name: str | None = None,
    ) -> JobRecord:
        """Queue a job from plain paths (nothing registered) and claim it for this process; see ``run``."""
        model_path = Path(model).expanduser().resolve()
        if not model_path.exists():
            raise NotFoundError(f"--model {model!r} does not exist.", fix="Pass the model file or folder.")
        batch_settings = BatchSettings.model_validate(settings or {})
        job_input = resolve_input(self._instance, input, None)
        script: Path | None = None
        environment_files_dir = None
        if scoring_script is None:  # the built-in MLflow driver, in the model's own environment
            environment_files_dir = str(no_code.model_folder_at(model_path))
            no_code.check_input(job_input)
        else:
            code_dir = Path(code or Path(scoring_script).parent or ".").expanduser().resolve()
            script = (code_dir / scoring_script) if code else Path(scoring_script).expanduser().resolve()
            if not script.is_file():
                raise NotFoundError(
                    f"Scoring script {script} does not exist.", fix="Check --code and --scoring-script."
                )
        name = job_name or _job_name("score")
        folder = JobFolder.create(self._job_root(name), Path(output).resolve() if output else None)
        container = folder.root / "model"
        container.mkdir(parents=True, exist_ok=True)
        link = container / model_path.name
        if not link.exists():
            link.symlink_to(model_path, target_is_directory=model_path.is_dir())
        job_spec = JobSpec(
            input=job_input,
            settings=batch_settings,
            nodes=1,
            folder=str(folder.root),
            output_dir=str(folder.output_dir),
            output_file=_output_file(folder.output_dir, batch_settings),
            script=str(script) if script else None,
            code_dir=str(script.parent) if script else None,
            model_dir=str(container),
            environment_files_dir=environment_files_dir,
        )
        return self._instance.store.create_job(name, spec=job_spec.to_dict())

    def run_here(self, name: str) -> threading.Thread:
        """Claim a queued job for this process and run it in a background thread (``batch score``)."""
        from thresher.scheduler.runner import run_job
        from thresher.scheduler.service import executor_for

        runner = runner_id()
        job = self._instance.store.claim_job(runner, stale_before=stale_before(), name=name)
        if job is None:
            raise ConflictError(f"Job '{name}' is not queued.", fix=f"See it with: thresher job show -n {name}")
        thread = threading.Thread(
            target=run_job,
            args=(self._instance.store, job, runner, functools.partial(executor_for, self._instance.settings)),
            kwargs={"settings": self._instance.settings, "resolve": self._instance.remote},
            name=f"job-{name}",
            daemon=True,
        )
        thread.start()
        return thread

    # -- following jobs ---------------------------------------------------------------------------

    def get(self, name: str) -> JobRecord:
        """One job."""
        return self._instance.store.get_job(name)

    def list(
        self,
        *,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        limit: int | None = 50,
        parent_job_name: str | None = None,
    ) -> builtins.list[JobRecord]:
        """Jobs, newest first; with ``parent_job_name``, the step jobs of that pipeline job, in the order they
        were created (every attempt of each step)."""
        if parent_job_name is not None:
            self._instance.store.get_job(parent_job_name)  # NotFoundError naming the recent jobs
            return self._instance.store.list_jobs(parent=parent_job_name, limit=limit)
        return self._instance.store.list_jobs(
            endpoint_name=endpoint_name.lower() if endpoint_name else None,
            deployment_name=deployment_name,
            limit=limit,
            top_level=True,
        )

    def wait(self, name: str, *, timeout: float | None = None, poll: float = 0.25) -> JobRecord:
        """Block until the job ends (or ``timeout`` seconds pass) and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(name)
            if job.status in TERMINAL or (deadline is not None and time.monotonic() > deadline):
                return job
            time.sleep(poll)

    def cancel(self, name: str) -> JobRecord:
        """Cancel a queued job, or ask its runner to stop workers and end it Canceled."""
        return self._instance.store.request_cancel(name)

    def resume(self, name: str, *, start_runner: bool = True, source_path: str | None = None) -> JobRecord:
        """Continue a Failed, Canceled, queued-again or orphaned job from its committed mini-batches. A pipeline
        job is read again from its file (``source_path``: from this one instead, e.g. a fixed copy a remote
        client uploaded)."""
        store = self._instance.store
        job = store.get_job(name)
        if source_path is not None and job.kind == "pipeline":
            job = dataclasses.replace(job, spec={**job.spec, "source_path": source_path})
        if job.parent is not None:
            raise ConflictError(
                f"Job '{name}' is step '{(job.results or {}).get('step')}' of pipeline job '{job.parent}'; steps are "
                "resumed with their pipeline.",
                fix=f"Resume the pipeline (its completed steps are reused): thresher job resume --name {job.parent}",
            )
        if job.status == "Completed":
            raise ConflictError(f"Job '{name}' completed; there is nothing to resume.", fix="Invoke a new job.")
        if job.kind == "pipeline" and job.status in ("Failed", "Canceled"):
            from thresher.sdk.pipelines import PipelineJobOperations

            reloaded = PipelineJobOperations(self._instance).reload(job)  # picks up the fix in its files
            job = (
                store.set_job_status(name, "Queued", spec=reloaded)
                if reloaded
                else store.set_job_status(name, "Queued")
            )
        elif job.status in ("Failed", "Canceled") or (job.status == "Queued" and job.headline):
            job = store.set_job_status(name, "Queued")  # a fresh start: no headline of the last attempt
        elif job.status in ("Running", "Finalizing") and not runner_gone(job):
            raise ConflictError(
                f"Job '{name}' is {job.status} on runner {job.runner}, which is alive.",
                fix=f"Follow it with: thresher job stream -n {name}",
            )
        if start_runner:
            ensure_runner(self._instance.settings)
        return job

    def note(self, job: JobRecord) -> str | None:
        """What the status alone does not say: a Running job whose runner is gone waits for a resume."""
        if not runner_gone(job):
            return None
        progress = job.progress
        total = progress.mini_batches_total
        return (
            f"Its runner {job.runner} is gone (killed, or its machine stopped); the job is resumable from its "
            f"committed mini-batches ({progress.mini_batches_done:,} of {total if total is not None else '?'}). "
            f"Resume with: thresher job resume --name {job.name}"
        )

    def unserved(self, job: JobRecord) -> str | None:
        """Why following a queued job is pointless, when no runner will take it: no runner holds this workspace
        and no ``thresher runner`` has been heard of lately. None when one will (or the job is not queued)."""
        if job.status != "Queued" or runner_alive(self._instance.settings):
            return None
        since = datetime.now(timezone.utc) - timedelta(seconds=STALE_SECONDS)
        if self._instance.store.services("runner", alive_since=since):
            return None
        log = self._instance.settings.workspace_dir / "runner.log"
        return (
            f"No runner serves this workspace now (its log: {log}). Start one with: thresher job resume --name "
            f"{job.name} (or run: thresher runner)"
        )

    def log_path(self, job: JobRecord) -> Path | None:
        """The job's main log file: a batch job's progress overview, a command step's output; None for others."""
        folder = job.spec.get("folder")
        if not folder:
            return None
        if job.kind == "command":
            return Path(str(folder)) / "user_logs" / "std_log.txt"
        return Path(str(folder)) / "logs" / "job_progress_overview.txt"

    def delete(self, name: str) -> JobCleanup:
        """Delete an ended (or orphaned) job: its folder and its rows. Never a job that runs or waits to."""
        job = self.get(name)
        if job.parent is not None:
            raise ConflictError(
                f"Job '{name}' is a step of pipeline job '{job.parent}'; a step is deleted with its pipeline, whose "
                "record it is part of.",
                fix=f"Delete the pipeline job: thresher job delete --name {job.parent} --yes",
            )
        return delete_job(self._instance.store, job, orphaned=runner_gone(job))

    def prune(self, older_than: timedelta, *, dry_run: bool = False) -> builtins.list[JobCleanup]:
        """Delete every ended job that ended more than ``older_than`` ago (``dry_run``: only say which)."""
        cutoff = datetime.now(timezone.utc) - older_than
        ended = self._instance.store.list_jobs(statuses=TERMINAL, limit=None, top_level=True)  # steps go with theirs
        old = [job for job in ended if (job.ended_at or job.created_at) < cutoff]
        if dry_run:
            return [planned_cleanup(job) for job in old]
        return [delete_job(self._instance.store, job, orphaned=False) for job in old]

    def download(self, name: str, download_path: str | Path, *, output_name: str = "score", all: bool = False) -> Path:
        """Copy the job's output to ``<download_path>/named-outputs/<output_name>/`` (and logs with ``all``).

        A pipeline job's outputs are its named pipeline outputs; a step job's are its step's outputs."""
        job = self.get(name)
        if job.kind != "batch_scoring" or job.parent is not None:
            return self._download_named(job, Path(download_path), output_name, all)
        if output_name != "score":
            raise NotFoundError(
                f"Job '{name}' has no output named {output_name!r}; a batch scoring job has one output, 'score'.",
                fix="Use --output-name score.",
            )
        spec = JobSpec.from_dict(dict(self.get(name).spec))
        target = Path(download_path) / "named-outputs" / output_name
        shutil.copytree(spec.output_dir, target, dirs_exist_ok=True)
        if all:
            shutil.copytree(Path(spec.folder) / "logs", Path(download_path) / "logs", dirs_exist_ok=True)
        return target

    def _download_named(self, job: JobRecord, download_path: Path, output_name: str, everything: bool) -> Path:
        results = job.results or {}
        outputs = results.get("outputs") or {}
        if job.kind == "pipeline" and output_name == "score" and output_name not in outputs and len(outputs) == 1:
            output_name = next(iter(outputs))
        found = outputs.get(output_name)
        if found is None:
            named = ", ".join(outputs) or "none yet"
            raise NotFoundError(
                f"Job '{job.name}' has no output named {output_name!r} (its outputs: {named}).",
                fix="Use --output-name with one of them"
                + ("; a pipeline's outputs exist once the steps that write them completed." if not outputs else "."),
            )
        source = Path(found["path"])
        target = download_path / "named-outputs" / output_name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.name)
        if everything and job.spec.get("folder"):
            folder = Path(str(job.spec["folder"]))
            for logs in ("user_logs", "logs"):
                if (folder / logs).is_dir():
                    shutil.copytree(folder / logs, download_path / logs, dirs_exist_ok=True)
        return target

    # -- building the job ---------------------------------------------------------------------------

    def _job_root(self, name: str, known: ResolvedDeployment | None = None) -> Path:
        root = known.job_root(name) if known else None
        return root or self._instance.datastore().path(f"jobs/{name}")

    def _model(self, spec: BatchDeploymentSpec) -> AssetRecord:
        """The deployment's registered model (the version it names, or the latest)."""
        if spec.model is None or not hasattr(spec.model, "version"):
            raise ThresherError(
                f"Deployment '{spec.name}' has no registered model.", fix="Set model: azureml:<name>:<v>"
            )
        return self._instance.store.get_asset("model", spec.model.name, spec.model.version)

    def _job_spec(
        self,
        name: str,
        spec: BatchDeploymentSpec,
        input: str,
        input_type: str | None,
        output_path: str | None,
        known: ResolvedDeployment | None = None,
    ) -> JobSpec:
        settings = spec.settings
        job_input = resolve_input(self._instance, input, input_type)
        model = known.model if known else self._model(spec)
        script = code_dir = environment_files_dir = None
        if spec.code_configuration is None:  # the built-in MLflow driver
            model_folder = no_code.registered_model_folder(model, spec.name)
            no_code.check_input(job_input)
            environment_files_dir = None if spec.environment else str(model_folder)
        else:
            code_dir = spec.code_configuration.code
            script = str(Path(code_dir) / spec.code_configuration.scoring_script)
        nodes = spec.resources.instance_count if spec.resources else 1
        placement = known.placement if known else self._placement(spec, nodes)
        output_uri = output_path if output_path and self._instance.is_remote_uri(output_path) else None
        output_dir = self._instance.resolve_local_path(output_path) if output_path and not output_uri else None
        folder = JobFolder.prepare(self._job_root(name, known), output_dir)  # the runner makes the rest
        output_file = _output_file(folder.output_dir, settings)
        if output_uri and settings.output_file_name:
            remote_file = self._instance.remote(output_uri).join(settings.output_file_name)
            try:
                taken = remote_exists(remote_file, outage_limit=self._instance.settings.storage_outage_limit)
            except StorageUnavailableError as exc:
                raise not_answering(exc, "--output-path") from exc
            if taken:
                raise ConflictError(
                    f"Output {remote_file.label} already exists; thresher never overwrites outputs.",
                    fix="Choose another --output-path, another --set output_file_name=..., or delete the object.",
                )
        if output_file and Path(output_file).exists():
            raise ConflictError(
                f"Output file {output_file} already exists; thresher never overwrites outputs.",
                fix="Choose another --output-path, another --set output_file_name=..., or delete the file.",
            )
        return JobSpec(
            input=job_input,
            settings=settings,
            nodes=nodes,
            folder=str(folder.root),
            output_dir=str(folder.output_dir),
            output_file=output_file,
            script=script,
            code_dir=code_dir,
            model_dir=str(model.info.get("model_dir")),
            model=f"azureml:{model.name}:{model.version}",
            environment=str(spec.environment) if spec.environment else None,
            environment_files_dir=environment_files_dir,
            output_uri=output_uri,
            backend=str(placement.get("backend", "local")),
            address=placement.get("address"),
            compute=spec.compute.name if spec.compute else None,
            min_nodes=int(placement.get("min_nodes") or 0),
            idle_time_before_scale_down=placement.get("idle_time_before_scale_down"),
            min_instances=int(placement.get("min_instances") or 0),
        )

    def _placement(self, spec: BatchDeploymentSpec, nodes: int) -> dict[str, Any]:
        """The deployment's compute's placement (``ComputeOperations.placement``), ``instance_count`` checked."""
        if spec.compute is None:
            return {"backend": "local"}
        record = self._instance.store.get_resource("compute", spec.compute.name)
        compute = record.spec
        most = compute.get("max_instances") if compute.get("type") in ("amlcompute", "ray") else None
        if most is not None and nodes > int(most):
            raise ConflictError(
                f"instance_count is {nodes} but compute '{spec.compute.name}' has max_instances {most}.",
                fix=f"Use --instance-count {most} or less, or raise the compute's --max-instances.",
            )
        idle = compute.get("idle_time_before_scale_down")
        return {
            **ComputeOperations(self._instance).placement(record),
            "idle_time_before_scale_down": int(idle) if idle is not None else None,
            "min_instances": int(compute.get("min_instances") or 0),
        }


def _cwd() -> str | None:
    """The working directory (relative paths in a stored spec resolve against it); None when it was deleted."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None


def _job_sets(overrides: Sequence[str], mini_batch_size: int | str | None, instance_count: int | None) -> list[str]:
    """The --set items of an invocation, with its --mini-batch-size and --instance-count."""
    sets = list(overrides)
    if mini_batch_size is not None:
        sets.append(f"mini_batch_size={mini_batch_size}")
    if instance_count is not None:
        sets.append(f"instance_count={instance_count}")
    return sets


def _deployment_overrides(sets: Sequence[str]) -> list[str]:
    mapped = []
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ThresherError(
                f"--set {item!r} has no '='.", fix="Write --set key=value, e.g. --set mini_batch_size=5"
            )
        if key.startswith(("settings.", "resources.")):
            mapped.append(item)
        elif key.startswith("environment_variables."):
            mapped.append(f"settings.{item}")
        elif key in _JOB_OVERRIDES:
            mapped.append(f"{_JOB_OVERRIDES[key]}={value}")
        else:
            raise ThresherError(
                f"--set {key} cannot be changed per job.",
                fix="Keys a job can override: " + ", ".join(sorted(_JOB_OVERRIDES)) + ", environment_variables.<NAME>; "
                "change anything else with thresher batch-deployment update.",
            )
    return mapped


def _output_file(output_dir: Path, settings: BatchSettings) -> str | None:
    if settings.output_file_name is None:  # summary_only: the script writes its own files
        return None
    return str(output_dir / settings.output_file_name)


def _job_name(prefix: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    # 32 random bits: a server queueing hundreds of jobs a second still gets a collision only once in years
    return f"{prefix}-{stamp}-{secrets.token_hex(4)}"
