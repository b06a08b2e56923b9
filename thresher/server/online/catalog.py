"""What the serving process should serve, read from the database, and how each deployment's workers start.

``load_catalog`` reads every online endpoint, its deployments and its key material into plain,
comparable plans (a deployment's ``revision`` changes whenever its stored spec does). ``resolve_launch``
turns one deployment plan into how its workers start: the interpreter of its environment (built
first when needed, as a batch job's is), its model folder, its code snapshot and scoring script, its
variables (``AZUREML_MODEL_DIR``, ``WORKER_COUNT``, the deployment's own), and its limits: the request
timeout, Azure's pending-request bound, and batching, tuned from the first worker's predict cost curve.
Both run in a thread: they use the (synchronous) store.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.environments import envs_dir, job_python
from thresher.errors import ThresherError
from thresher.instance import Instance
from thresher.runtime.online_protocol import OnlineConfig
from thresher.sdk import no_code
from thresher.sdk.online import OnlineEndpointOperations
from thresher.sdk.online_keys import credential_checker
from thresher.sdk.online_serving import OnlineServing, endpoint_revision, revision
from thresher.server.online.dispatch import Limits
from thresher.server.online.workers import WorkerLaunch
from thresher.specs.references import read_reference

DEFAULT_TIMEOUT_MS = 5000
DEFAULT_MAX_CONCURRENT = 1
MOST_BATCH = 64  # the largest batch auto-tuning picks
WORTH_IT = 0.7  # a batch size is worth it when its cost per row is under this share of one row's cost


@dataclass(frozen=True)
class DeploymentPlan:
    """One deployment as stored: what to serve, and a revision that changes with its spec."""

    endpoint: str
    name: str
    revision: str
    spec: dict[str, Any] = field(compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.endpoint}/{self.name}"

    @property
    def no_code(self) -> bool:
        return not self.spec.get("code_configuration")

    @property
    def instances(self) -> int:
        return max(1, int(self.spec.get("instance_count") or 1))

    @property
    def per_instance(self) -> int:
        """Workers per instance: Azure's ``WORKER_COUNT`` variable (default 1)."""
        value = (self.spec.get("environment_variables") or {}).get("WORKER_COUNT") or 1
        try:
            return max(1, int(value))
        except ValueError:
            return 1


@dataclass(frozen=True)
class EndpointPlan:
    """One endpoint as stored: who may call it, where its traffic goes, its deployments."""

    name: str
    check: Callable[[str], bool]
    traffic: dict[str, int]
    mirror: tuple[str, int] | None
    deployments: list[DeploymentPlan]
    revision: str = ""  # moves with its spec and its keys (``online_serving.endpoint_revision``)


@dataclass(frozen=True)
class Catalog:
    endpoints: list[EndpointPlan]


def load_catalog(instance: Instance) -> Catalog:
    """Every online endpoint and deployment of the workspace, now."""
    store = instance.store
    operations = OnlineEndpointOperations(instance, OnlineServing(instance.settings))
    endpoints = []
    for record in store.list_resources("online_endpoint"):
        spec = dict(record.spec)
        plans = [
            DeploymentPlan(record.name, deployment.name, revision(dict(deployment.spec)), dict(deployment.spec))
            for deployment in store.list_online_deployments(record.name)
        ]
        mirror = next(iter((spec.get("mirror_traffic") or {}).items()), None)
        material = operations.key_material(record.name)
        endpoints.append(
            EndpointPlan(
                name=record.name,
                check=credential_checker(material),
                revision=endpoint_revision(spec, material.keys_version),
                traffic={str(k): int(v) for k, v in (spec.get("traffic") or {}).items()},
                mirror=(str(mirror[0]), int(mirror[1])) if mirror and int(mirror[1]) > 0 else None,
                deployments=plans,
            )
        )
    return Catalog(endpoints)


def resolve_launch(
    instance: Instance, plan: DeploymentPlan, log_dir: Path
) -> tuple[WorkerLaunch, int, Callable[[dict[str, Any]], Limits]]:
    """(how the deployment's workers start, how many, its limits from the first worker's warm-up)."""
    spec = plan.spec
    store = instance.store
    reference = read_reference(str(spec.get("model") or ""))
    if reference is None or not reference.version:
        raise ThresherError(f"Deployment '{plan.name}' names no registered model version ({spec.get('model')!r}).")
    model = store.get_asset("model", reference.name, reference.version)
    model_dir = str(model.info.get("model_dir"))
    code = spec.get("code_configuration") or {}
    script: str | None = None
    files_dir = None
    if code:
        script = str(Path(str(code["code"])) / str(code["scoring_script"]))
        cwd = str(code["code"])
    else:
        folder = no_code.registered_model_folder(model, plan.name)
        files_dir = None if spec.get("environment") else str(folder)
        cwd = model_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    python = job_python(
        store,
        envs_dir(instance.settings),
        environment=str(spec["environment"]) if spec.get("environment") else None,
        files_dir=files_dir,
        record_to=log_dir / "environment.txt",
    )
    count = plan.instances * plan.per_instance
    batching = dict(spec.get("batching") or {})
    mode = str(batching.get("mode") or "auto")
    tune = plan.no_code and mode == "auto" and not batching.get("max_batch_size")
    config: OnlineConfig = {
        "endpoint": plan.endpoint,
        "deployment": plan.name,
        "script": script,
        "code_dir": str(code["code"]) if code else None,
        "model_dir": model_dir,
        "error_log": str(log_dir / "errors.txt"),
        "warmup": True,
        "tune_batching": tune,
    }
    environment = {str(k): str(v) for k, v in (spec.get("environment_variables") or {}).items()}
    environment.update(
        AZUREML_MODEL_DIR=model_dir,
        THRESHER_MODEL_DIR=model_dir,
        WORKER_COUNT=str(plan.per_instance),
    )
    if script:
        environment["AZUREML_ENTRY_SCRIPT"] = os.path.basename(script)
    probe = dict(spec.get("readiness_probe") or {})
    start_timeout = float(probe.get("initial_delay", 10)) + float(probe.get("period", 10)) * float(
        probe.get("failure_threshold", 30)
    )
    launch = WorkerLaunch(
        python=python or sys.executable,
        config=config,
        cwd=cwd,
        environment=environment,
        log_dir=log_dir,
        threads=max(1, (os.cpu_count() or 1) // count),
        start_timeout=start_timeout,
    )
    request = dict(spec.get("request_settings") or {})
    timeout_s = float(request.get("request_timeout_ms") or DEFAULT_TIMEOUT_MS) / 1000
    max_pending = (
        2 * int(request.get("max_concurrent_requests_per_instance") or DEFAULT_MAX_CONCURRENT) * plan.instances
    )

    def limits_of(warmup: dict[str, Any]) -> Limits:
        most, wait_ms = 1, 0.0
        if plan.no_code and mode != "off":
            most = int(batching.get("max_batch_size") or 0) or _tuned(warmup.get("cost_curve") or {}, timeout_s)
            wait_ms = float(batching.get("max_wait_ms") or 0.0)
        return Limits(timeout_s=timeout_s, max_pending=max_pending, max_batch=max(1, most), max_wait_s=wait_ms / 1000)

    return launch, count, limits_of


def _tuned(curve: dict[str, float], timeout_s: float) -> int:
    """The largest batch size whose predict costs per row well under one row's (``WORTH_IT``), and whose
    whole predict stays under a tenth of the request timeout; 1 when batching does not pay."""
    costs = sorted((int(size), float(ms)) for size, ms in curve.items() if float(ms) > 0)
    if not costs or costs[0][0] != 1:
        return 1 if costs else MOST_BATCH  # no curve measured (no example): batch what is queued, bounded
    single = costs[0][1]
    best = 1
    for size, ms in costs[1:]:
        if ms / size <= WORTH_IT * single and ms <= timeout_s * 1000 / 10 and size <= MOST_BATCH:
            best = size
    return best
