"""Batch endpoints and their deployments.

Creating a deployment checks every reference it makes (model, environment, compute) and reports all
missing ones at once, listing what exists. Inline models and environments are registered, and the
code folder is snapshotted into the default datastore (``deployment_assets.py``, shared with online
deployments), so a deployment keeps running the code it was created with. The stored deployment names
exact versions (``azureml:name:3``).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError, NotFoundError, ThresherError
from thresher.instance import Instance
from thresher.sdk.assets import EnvironmentOperations, ModelOperations
from thresher.sdk.deployment_assets import DeploymentAssets, raise_missing, reference
from thresher.sdk.infra import ComputeOperations
from thresher.specs import BatchDeploymentSpec, BatchEndpointSpec, parse_reference, parse_spec
from thresher.store import DeploymentRecord, ResourceRecord

ENDPOINT = "batch_endpoint"


class BatchEndpointOperations:
    """``thresher batch-endpoint ...``: stable names that jobs are invoked on."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    def create(self, spec: BatchEndpointSpec) -> ResourceRecord:
        """Create or update an endpoint (``az ml batch-endpoint create`` is create-or-update too)."""
        self._check_default(spec)
        return self._instance.store.save_resource(ENDPOINT, spec.name, spec.to_document(), mode="upsert")

    def update(
        self, name: str, overrides: Sequence[str] = (), *, spec: BatchEndpointSpec | None = None
    ) -> ResourceRecord:
        """Apply ``--set key=value`` overrides (or a whole new spec) to an existing endpoint."""
        current = self.get(name)
        if spec is None:
            parsed = parse_spec(current.spec, "batch_endpoint", base_dir=Path.cwd(), overrides=overrides)
            assert isinstance(parsed, BatchEndpointSpec)
            spec = parsed
        if spec.name != name:
            raise ConflictError(
                f"Endpoint names cannot change: asked to update '{name}' with a spec named '{spec.name}'.",
                fix="Create a new endpoint under the new name instead.",
            )
        self._check_default(spec)
        return self._instance.store.save_resource(ENDPOINT, name, spec.to_document(), mode="update")

    def get(self, name: str) -> ResourceRecord:
        """One endpoint."""
        return self._instance.store.get_resource(ENDPOINT, name)

    def list(self) -> builtins.list[ResourceRecord]:
        """Every endpoint, by name."""
        return self._instance.store.list_resources(ENDPOINT)

    def delete(self, name: str) -> None:
        """Delete an endpoint together with its deployments."""
        self._instance.store.delete_resource(ENDPOINT, name)

    def _check_default(self, spec: BatchEndpointSpec) -> None:
        default = spec.defaults.deployment_name if spec.defaults else None
        if default is None:
            return
        existing = [d.name for d in self._existing_deployments(spec.name)]
        if default not in existing:
            listed = ", ".join(existing) if existing else "none yet"
            raise NotFoundError(
                f"defaults.deployment_name is '{default}', but endpoint '{spec.name}' has no such deployment "
                f"(its deployments: {listed}).",
                fix=f"Create it first: thresher batch-deployment create -f deployment.yml -e {spec.name} --set-default",
            )

    def _existing_deployments(self, endpoint: str) -> builtins.list[DeploymentRecord]:
        try:
            return self._instance.store.list_deployments(endpoint)
        except NotFoundError:
            return []


class BatchDeploymentOperations:
    """``thresher batch-deployment ...``: a model, optional scoring script, environment, compute and settings."""

    def __init__(
        self,
        instance: Instance,
        endpoints: BatchEndpointOperations,
        models: ModelOperations,
        environments: EnvironmentOperations,
        computes: ComputeOperations,
    ) -> None:
        self._instance = instance
        self._endpoints = endpoints
        self._assets = DeploymentAssets(instance, models, environments)
        self._computes = computes

    def create(
        self, spec: BatchDeploymentSpec, *, endpoint_name: str | None = None, set_default: bool = False
    ) -> DeploymentRecord:
        """Check references, register inline assets, snapshot code, then create or update the deployment."""
        endpoint = (endpoint_name or spec.endpoint_name or "").lower()
        if not endpoint:
            raise ThresherError(
                f"Deployment '{spec.name}' names no endpoint.",
                fix="Pass --endpoint-name/-e, or set endpoint_name in the YAML file.",
            )
        self._endpoints.get(endpoint)
        document = self._resolve(spec, endpoint)
        record = self._instance.store.save_deployment(endpoint, spec.name, document, mode="upsert")
        if set_default:
            self._endpoints.update(endpoint, [f"defaults.deployment_name={spec.name}"])
        return record

    def update(
        self,
        name: str,
        endpoint_name: str,
        overrides: Sequence[str] = (),
        *,
        spec: BatchDeploymentSpec | None = None,
    ) -> DeploymentRecord:
        """Apply ``--set`` overrides (or a new spec) to an existing deployment, re-checking its references."""
        current = self.get(name, endpoint_name)
        if spec is None:
            parsed = parse_spec(current.spec, "batch_deployment", base_dir=Path.cwd(), overrides=overrides)
            assert isinstance(parsed, BatchDeploymentSpec)
            spec = parsed
        document = self._resolve(spec, endpoint_name.lower())
        return self._instance.store.save_deployment(endpoint_name.lower(), name, document, mode="update")

    def get(self, name: str, endpoint_name: str) -> DeploymentRecord:
        """One deployment of an endpoint."""
        return self._instance.store.get_deployment(endpoint_name.lower(), name)

    def list(self, endpoint_name: str) -> builtins.list[DeploymentRecord]:
        """The deployments of an endpoint, by name."""
        return self._instance.store.list_deployments(endpoint_name.lower())

    def delete(self, name: str, endpoint_name: str) -> None:
        """Delete a deployment; the endpoint's default deployment cannot be deleted while it is the default."""
        endpoint = self._endpoints.get(endpoint_name.lower())
        self.get(name, endpoint_name)
        defaults = endpoint.spec.get("defaults") or {}
        if defaults.get("deployment_name") == name:
            raise ConflictError(
                f"Deployment '{name}' is the default deployment of endpoint '{endpoint.name}'.",
                fix=f"Make another deployment the default first: thresher batch-endpoint update -n {endpoint.name} "
                "--set defaults.deployment_name=<other>",
            )
        self._instance.store.delete_deployment(endpoint.name, name)

    def _resolve(self, spec: BatchDeploymentSpec, endpoint: str) -> dict[str, Any]:
        """Check every reference (all problems at once), register inline assets, snapshot code."""
        problems: builtins.list[str] = []
        model = self._model_reference(spec, problems)
        environment = self._environment_reference(spec, problems)
        compute = self._compute_reference(spec, problems)
        raise_missing(spec.name, problems)
        document = spec.to_document()
        document["endpoint_name"] = endpoint
        for key, value in (("model", model), ("environment", environment), ("compute", compute)):
            if value is None:
                document.pop(key, None)
            else:
                document[key] = value
        if spec.type == "pipeline":
            document.update(self._pipeline_reference(spec))
        if spec.code_configuration is not None:
            document["code_configuration"] = self._assets.code(spec.code_configuration)
        return document

    def _pipeline_reference(self, spec: BatchDeploymentSpec) -> dict[str, Any]:
        """A pipeline deployment's component, registered (as Azure registers it), or its job_definition, checked."""
        from thresher.sdk.pipelines import ComponentOperations

        components = ComponentOperations(self._instance)
        if spec.job_definition is not None:
            name = spec.job_definition.removeprefix("azureml:")
            job = self._instance.store.get_job(name)
            if job.kind != "pipeline":
                raise ConflictError(
                    f"job_definition {spec.job_definition!r} is a {job.kind} job; a pipeline deployment deploys a "
                    "pipeline job.",
                    fix="Give azureml:<pipeline job name> (thresher job list shows their type).",
                )
            return {"job_definition": f"azureml:{job.name}"}
        component = spec.component
        if isinstance(component, dict):
            record = components.register(component, Path.cwd(), f"deployment {spec.name}")
        elif isinstance(component, str) and component.startswith("azureml:"):
            reference = parse_reference(component)
            assert reference is not None
            record = components.get(reference.name, reference.version or reference.label)
        else:
            record = components.create(str(component))
        return {"component": f"azureml:{record.name}:{record.version}"}

    def _model_reference(self, spec: BatchDeploymentSpec, problems: builtins.list[str]) -> str | None:
        if spec.model is None:
            if spec.type != "pipeline":
                problems.append("model: a model deployment needs a model (model: azureml:<name>:<version>).")
            return None
        record = self._assets.model(spec.model, problems)
        return None if record is None else reference(record)

    def _environment_reference(self, spec: BatchDeploymentSpec, problems: builtins.list[str]) -> str | None:
        if spec.environment is None:
            return None
        record = self._assets.environment(spec.environment, problems)
        return None if record is None else reference(record)

    def _compute_reference(self, spec: BatchDeploymentSpec, problems: builtins.list[str]) -> str | None:
        compute = spec.compute
        if compute is None:
            return None
        try:
            self._computes.get(compute.name)
        except NotFoundError as exc:
            problems.append(f"compute: {exc}")
            return None
        return f"azureml:{compute.name}"
