"""The ``thresher`` deployment target of MLflow's own tools: ``mlflow deployments create|predict|delete -t thresher``.

MLflow finds this module through the ``mlflow.deployments`` entry point ``thresher`` (pyproject.toml) and
loads it only then, so MLflow is imported at the top. It is a client of the SDK, as Azure's MLflow target
is a client of Azure ML: ``create`` registers the model, makes the endpoint when it is missing (tagged
so that deleting its last deployment deletes it too) and deploys the model without code, online
(the default) or to a batch endpoint (``-C type=batch``). Online deployments answer ``predict``; batch
ones are invoked with jobs, as on Azure.

    mlflow deployments create -t thresher --name diabetes -m ./model
    mlflow deployments predict -t thresher --name diabetes --input-path rows.json
    get_deploy_client("thresher:/srv/ws").predict("diabetes", frame)

Target URIs: ``thresher`` (the workspace of THRESHER_HOME, or the server of THRESHER_SERVER),
``thresher:/path/to/workspace``, ``thresher:https://host:8080`` (with THRESHER_TOKEN).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from mlflow.deployments import BaseDeploymentClient, PredictionsResponse
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

from thresher.errors import AlreadyExistsError, ConflictError, NotFoundError, SpecError, ThresherError
from thresher.sdk.deployment_assets import reference
from thresher.sdk.mlflow_run_local import run_local
from thresher.sdk.mlflow_target_config import (
    SCHEME,
    TargetType,
    endpoint_config,
    model_folder,
    read_config,
    request_body,
    target_help,
)
from thresher.sdk.workspace import Workspace
from thresher.specs import parse_spec
from thresher.store import AssetRecord, DeploymentRecord, ResourceRecord

FLAVOR = "python_function"  # what the no-code driver loads models with
CREATED_BY = "mlflow.deployments"  # tag of endpoints this target made: deleted with their last deployment
_SOURCE = "--config"
__all__ = ["ThresherDeploymentClient", "run_local", "target_help"]  # what MLflow looks for
P = ParamSpec("P")
R = TypeVar("R")


def workspace_home(target_uri: str) -> str | None:
    """The workspace a target URI names: None for ``thresher`` (THRESHER_HOME / THRESHER_SERVER)."""
    scheme, _, rest = target_uri.partition(":")
    if scheme != SCHEME:
        raise MlflowException(
            f"Target URI {target_uri!r} is not a thresher one; write thresher, thresher:/path/to/workspace or "
            "thresher:https://host:port.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return rest or None


def as_mlflow(error: ThresherError) -> MlflowException:
    """A thresher error as MLflow's tools report errors: its message, then its fix."""
    codes: list[tuple[type[ThresherError], int]] = [
        (NotFoundError, RESOURCE_DOES_NOT_EXIST),
        (AlreadyExistsError, RESOURCE_ALREADY_EXISTS),
        (ConflictError, INVALID_STATE),
        (SpecError, INVALID_PARAMETER_VALUE),
    ]
    code = next((code for kind, code in codes if isinstance(error, kind)), INTERNAL_ERROR)
    text = f"{error.message}\n{error.fix}" if error.fix else error.message
    return MlflowException(text, error_code=code)


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """Raise thresher's errors as MlflowException (what MLflow's CLI prints, and plugins must raise)."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ThresherError as exc:
            raise as_mlflow(exc) from exc

    return call


def check_flavor(flavor: str | None) -> None:
    if flavor not in (None, FLAVOR):
        raise MlflowException(
            f"flavor is {flavor!r}; thresher serves MLflow models through {FLAVOR} (no-code deployments). "
            "Leave --flavor out, or pass python_function.",
            error_code=INVALID_PARAMETER_VALUE,
        )


@dataclass(frozen=True)
class Located:
    """A deployment found by name: online or batch."""

    type: TargetType
    record: DeploymentRecord


class ThresherDeploymentClient(BaseDeploymentClient):
    """MLflow's deployment API on a thresher workspace. ``config`` keys: ``mlflow deployments help -t thresher``.

    Example::

        from mlflow.deployments import get_deploy_client

        client = get_deploy_client("thresher")
        client.create_deployment("diabetes", "runs:/<run id>/model", config={"instance_count": "2"})
        client.predict("diabetes", frame).get_predictions()
        client.delete_deployment("diabetes")
    """

    def __init__(self, target_uri: str) -> None:
        super().__init__(target_uri)  # type: ignore[no-untyped-call]
        self.home = workspace_home(target_uri)
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        """The workspace, opened on first use."""
        if self._workspace is None:
            try:
                self._workspace = Workspace(self.home)
            except ThresherError as exc:
                raise as_mlflow(exc) from exc
        return self._workspace

    # -- deployments -----------------------------------------------------------------------------------

    @translated
    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Register the model, create the endpoint (``endpoint``, else ``name``) when missing, and deploy the
        model without code; returns once it serves. The first deployment of an endpoint takes all its
        traffic (online) or becomes its default (batch); later ones only with ``all_traffic=true`` /
        ``set_default=true``."""
        check_flavor(flavor)
        settings = read_config(config)
        endpoint_name = (endpoint or name).lower()
        found = self._find(name, endpoint_name, settings.type)
        if found is not None:
            raise MlflowException(
                f"Endpoint '{endpoint_name}' already has a {settings.type.value} deployment '{name}'. Change it "
                f"with: mlflow deployments update -t {self.target_uri} --name {name} -m <model>",
                error_code=RESOURCE_ALREADY_EXISTS,
            )
        new_endpoint = (
            None
            if self._endpoint_exists(settings.type, endpoint_name)
            else self._endpoint_spec(settings.type, endpoint_name, name, "--endpoint" if endpoint else "--name")
        )
        fixed: dict[str, Any] = {"name": name, "endpoint_name": endpoint_name, "model": "azureml:placeholder:1"}
        if settings.type is TargetType.BATCH:
            fixed["type"] = "model"
        kind = _spec_kind(settings.type)
        document = settings.document({}, fixed)
        parse_spec(document, kind, base_dir=Path.cwd(), source=_SOURCE)  # every problem before anything changes
        document["model"] = reference(self._register(model_uri, settings.model_name or name))
        spec = parse_spec(document, kind, base_dir=Path.cwd(), source=_SOURCE)
        ws = self.workspace
        if new_endpoint is not None:
            endpoints = ws.online_endpoints if settings.type is TargetType.ONLINE else ws.batch_endpoints
            endpoints.create(new_endpoint)
        try:
            if settings.type is TargetType.ONLINE:
                live = ws.online_endpoints.get(endpoint_name).spec.get("traffic") or {}
                take = settings.take_over if settings.take_over is not None else not any(live.values())
                record = ws.online_deployments.create(spec, endpoint_name=endpoint_name, all_traffic=take)  # type: ignore[arg-type]
            else:
                default = (ws.batch_endpoints.get(endpoint_name).spec.get("defaults") or {}).get("deployment_name")
                take = settings.take_over if settings.take_over is not None else not default
                record = ws.batch_deployments.create(spec, endpoint_name=endpoint_name, set_default=take)  # type: ignore[arg-type]
        except BaseException:
            if new_endpoint is not None:  # leave nothing half made behind
                self._delete_endpoint_of(settings.type, endpoint_name)
            raise
        return self._describe(Located(settings.type, record))

    @translated
    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Change a deployment's model (``model_uri``) and config keys; returns once the new version serves
        (online deployments switch without failing a request)."""
        check_flavor(flavor)
        located = self._require(name, endpoint)
        settings = read_config(config, current=located.type)
        record = located.record
        kind = _spec_kind(located.type)
        document = settings.document(record.spec, {"name": record.name, "endpoint_name": record.endpoint_name})
        parse_spec(document, kind, base_dir=Path.cwd(), source=_SOURCE)
        if model_uri:
            document["model"] = reference(self._register(model_uri, settings.model_name or name))
        spec = parse_spec(document, kind, base_dir=Path.cwd(), source=_SOURCE)
        ws = self.workspace
        if located.type is TargetType.ONLINE:
            updated = ws.online_deployments.update(name, record.endpoint_name, spec=spec)  # type: ignore[arg-type]
            if settings.take_over:
                ws.online_endpoints.update(record.endpoint_name, traffic={name: 100})
        else:
            updated = ws.batch_deployments.update(name, record.endpoint_name, spec=spec)  # type: ignore[arg-type]
            if settings.take_over:
                ws.batch_endpoints.update(record.endpoint_name, [f"defaults.deployment_name={name}"])
        return self._describe(Located(located.type, updated))

    @translated
    def delete_deployment(
        self, name: str, config: Mapping[str, Any] | None = None, endpoint: str | None = None
    ) -> None:
        """Delete a deployment (nothing when there is none). Traffic is not moved: a deployment that takes
        live traffic while others are deployed stays (the error says how to move it). The endpoint goes too
        when this target created it and this was its last deployment."""
        located = self._find(name, endpoint.lower() if endpoint else None)
        if located is None:
            return
        ws = self.workspace
        record = located.record
        if located.type is TargetType.ONLINE:
            current = ws.online_endpoints.get(record.endpoint_name)
            others = [d.name for d in ws.online_deployments.list(current.name) if d.name != name]
            if not others and _created_here(current):
                ws.online_endpoints.delete(current.name)
                return
            if not others and (current.spec.get("traffic") or {}).get(name):
                ws.online_endpoints.update(current.name, traffic={})
            ws.online_deployments.delete(name, current.name)
        else:
            current = ws.batch_endpoints.get(record.endpoint_name)
            others = [d.name for d in ws.batch_deployments.list(current.name) if d.name != name]
            if not others and _created_here(current):
                ws.batch_endpoints.delete(current.name)
                return
            if not others and (current.spec.get("defaults") or {}).get("deployment_name") == name:
                ws.batch_endpoints.update(current.name, ["defaults.deployment_name=null"])
            ws.batch_deployments.delete(name, current.name)

    @translated
    def list_deployments(self, endpoint: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every deployment (online and batch), or those of ``endpoint``."""
        found: builtins.list[Located] = []
        for kind in TargetType:
            for endpoint_name in [endpoint.lower()] if endpoint else self._endpoint_names(kind):
                try:
                    found.extend(Located(kind, record) for record in self._deployments(kind).list(endpoint_name))
                except NotFoundError:
                    continue
        if endpoint and not found and not any(self._endpoint_exists(kind, endpoint.lower()) for kind in TargetType):
            raise MlflowException(f"There is no endpoint '{endpoint}'.", error_code=RESOURCE_DOES_NOT_EXIST)
        return [self._describe(item, live=False) for item in found]

    @translated
    def get_deployment(self, name: str, endpoint: str | None = None) -> dict[str, Any]:
        """A deployment: its endpoint, type, model, settings; online ones with ``scoring_uri``, traffic, state."""
        return self._describe(self._require(name, endpoint))

    @translated
    def predict(
        self,
        deployment_name: str | None = None,
        inputs: Any = None,
        endpoint: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> PredictionsResponse:
        """Score ``inputs`` (a DataFrame, a dict of named tensors, an array, or an MLflow body) on an online
        deployment (by name) or endpoint (its traffic split) through ``/invocations``."""
        if deployment_name:
            located = self._require(deployment_name, endpoint)
            endpoint_name = located.record.endpoint_name
            if located.type is TargetType.BATCH:
                raise _batch_predict(endpoint_name)
        elif endpoint:
            endpoint_name = endpoint.lower()
            if not self._endpoint_exists(TargetType.ONLINE, endpoint_name):
                if self._endpoint_exists(TargetType.BATCH, endpoint_name):
                    raise _batch_predict(endpoint_name)
                raise MlflowException(f"There is no online endpoint '{endpoint}'.", error_code=RESOURCE_DOES_NOT_EXIST)
        else:
            raise MlflowException("predict needs a deployment name or an endpoint.", error_code=INVALID_PARAMETER_VALUE)
        body = request_body(inputs, params)
        answer = self.workspace.online_endpoints.invoke(
            endpoint_name, body, deployment_name=deployment_name or None, route="invocations"
        )
        if not 200 <= answer.status < 300:
            who = f"deployment '{deployment_name}' of " if deployment_name else ""
            raise MlflowException(
                f"The {who}online endpoint '{endpoint_name}' answered {answer.status}: {answer.message()}",
                error_code=INVALID_PARAMETER_VALUE if answer.status < 500 else INTERNAL_ERROR,
            )
        document = answer.json()
        if not (isinstance(document, dict) and "predictions" in document):
            document = {"predictions": document}
        return PredictionsResponse(document)

    # -- online endpoints ------------------------------------------------------------------------------

    @translated
    def create_endpoint(self, name: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create an online endpoint; config: ``auth_mode`` (key, aml_token), ``description``, or
        ``endpoint-config-file`` (JSON or YAML of endpoint keys)."""
        document = endpoint_config(config)
        if self._endpoint_exists(TargetType.ONLINE, name.lower()):
            raise MlflowException(f"Online endpoint '{name}' exists already.", error_code=RESOURCE_ALREADY_EXISTS)
        spec = parse_spec({**document, "name": name}, "online_endpoint", base_dir=Path.cwd(), source=_SOURCE)
        record = self.workspace.online_endpoints.create(spec)  # type: ignore[arg-type]
        return self._describe_endpoint(record, live=False)

    @translated
    def update_endpoint(self, endpoint: str, config: Mapping[str, Any] | None = None) -> None:
        """Change an online endpoint: ``traffic`` (``blue=90,green=10`` or JSON), ``mirror_traffic``,
        ``description``, or ``endpoint-config-file`` (Azure's ``{"traffic": {...}}`` file)."""
        document = endpoint_config(config)
        traffic = document.pop("traffic", None)
        mirror = document.pop("mirror_traffic", None)
        overrides = [
            f"{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in document.items()
        ]
        self.workspace.online_endpoints.update(endpoint, overrides, traffic=traffic, mirror_traffic=mirror)

    @translated
    def delete_endpoint(self, endpoint: str) -> None:
        """Delete an online endpoint with its deployments (nothing when there is none)."""
        self._delete_endpoint_of(TargetType.ONLINE, endpoint.lower())

    @translated
    def list_endpoints(self) -> builtins.list[dict[str, Any]]:
        """Every online endpoint: name, auth mode, traffic, deployments."""
        return [self._describe_endpoint(record, live=False) for record in self.workspace.online_endpoints.list()]

    @translated
    def get_endpoint(self, endpoint: str) -> dict[str, Any]:
        """An online endpoint with its ``scoring_uri`` and its deployments' states."""
        return self._describe_endpoint(self.workspace.online_endpoints.get(endpoint), live=True)

    # -- helpers ---------------------------------------------------------------------------------------

    def _register(self, model_uri: str, model_name: str) -> AssetRecord:
        with tempfile.TemporaryDirectory(prefix="thresher-mlflow-") as scratch:
            folder = model_folder(model_uri, Path(scratch))
            document = {
                "name": model_name,
                "path": str(folder),
                "type": "mlflow_model",
                "tags": {"mlflow.model_uri": model_uri},
            }
            spec = parse_spec(document, "model", base_dir=Path.cwd(), source="-m")
            return self.workspace.models.create(spec)  # type: ignore[arg-type]

    def _endpoint_spec(self, kind: TargetType, endpoint_name: str, deployment: str, given_by: str) -> Any:
        """The spec of the endpoint to create for ``deployment``, its name checked (it may come from --name)."""
        document = {"name": endpoint_name, "tags": {CREATED_BY: deployment}}
        try:
            return parse_spec(document, f"{kind.value}_endpoint", base_dir=Path.cwd(), source=given_by)  # type: ignore[arg-type]
        except SpecError as exc:
            problems = "; ".join(problem.message for problem in exc.problems)
            raise MlflowException(
                f"The endpoint to create is named by {given_by}: {problems} Pass --endpoint with such a name "
                "(the deployment keeps its own).",
                error_code=INVALID_PARAMETER_VALUE,
            ) from exc

    def _deployments(self, kind: TargetType) -> Any:
        ws = self.workspace
        return ws.online_deployments if kind is TargetType.ONLINE else ws.batch_deployments

    def _endpoints(self, kind: TargetType) -> Any:
        ws = self.workspace
        return ws.online_endpoints if kind is TargetType.ONLINE else ws.batch_endpoints

    def _endpoint_names(self, kind: TargetType) -> builtins.list[str]:
        return [record.name for record in self._endpoints(kind).list()]

    def _endpoint_exists(self, kind: TargetType, name: str) -> bool:
        try:
            self._endpoints(kind).get(name)
        except NotFoundError:
            return False
        return True

    def _delete_endpoint_of(self, kind: TargetType, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            self._endpoints(kind).delete(name)

    def _find(self, name: str, endpoint: str | None, kind: TargetType | None = None) -> Located | None:
        """The deployment called ``name`` (in ``endpoint`` when given); an error when several share the name."""
        found: builtins.list[Located] = []
        for each in [kind] if kind else builtins.list(TargetType):
            for endpoint_name in [endpoint] if endpoint else self._endpoint_names(each):
                try:
                    found.append(Located(each, self._deployments(each).get(name, endpoint_name)))
                except NotFoundError:
                    continue
        if len(found) > 1:
            places = ", ".join(f"{item.type.value} endpoint '{item.record.endpoint_name}'" for item in found)
            raise MlflowException(
                f"'{name}' names {len(found)} deployments (in {places}); say which with --endpoint.",
                error_code=INVALID_PARAMETER_VALUE,
            )
        return found[0] if found else None

    def _require(self, name: str, endpoint: str | None) -> Located:
        located = self._find(name, endpoint.lower() if endpoint else None)
        if located is None:
            known = ", ".join(f"{d['name']} ({d['endpoint']})" for d in self.list_deployments()) or "none"
            where = f" in endpoint '{endpoint}'" if endpoint else ""
            raise MlflowException(
                f"There is no deployment '{name}'{where}; the deployments are: {known}.",
                error_code=RESOURCE_DOES_NOT_EXIST,
            )
        return located

    def _describe(self, located: Located, *, live: bool = True) -> dict[str, Any]:
        """A deployment as this target returns it (``name`` and ``flavor`` are what MLflow's CLI prints)."""
        record, spec = located.record, dict(located.record.spec)
        described: dict[str, Any] = {
            "name": record.name,
            "endpoint": record.endpoint_name,
            "type": located.type.value,
            "flavor": FLAVOR,
            "model": spec.get("model"),
            "environment": spec.get("environment"),
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(),
        }
        endpoint = self._endpoints(located.type).get(record.endpoint_name)
        if located.type is TargetType.BATCH:
            described["default"] = (endpoint.spec.get("defaults") or {}).get("deployment_name") == record.name
            described["settings"] = spec.get("settings")
            return described
        described["instance_count"] = spec.get("instance_count", 1)
        described["request_settings"] = spec.get("request_settings")
        described["traffic"] = int((endpoint.spec.get("traffic") or {}).get(record.name, 0))
        if live:
            report = self.workspace.online_endpoints.serving(record.endpoint_name)
            scoring = report.get("scoring_uri")
            described["scoring_uri"] = scoring
            described["invocations_uri"] = str(scoring).rsplit("/", 1)[0] + "/invocations" if scoring else None
            described["state"] = ((report.get("deployments") or {}).get(record.name) or {}).get("state")
        return described

    def _describe_endpoint(self, record: ResourceRecord, *, live: bool) -> dict[str, Any]:
        spec = dict(record.spec)
        described: dict[str, Any] = {
            "name": record.name,
            "type": TargetType.ONLINE.value,
            "auth_mode": spec.get("auth_mode", "key"),
            "traffic": dict(spec.get("traffic") or {}),
            "mirror_traffic": dict(spec.get("mirror_traffic") or {}),
            "deployments": [d.name for d in self.workspace.online_deployments.list(record.name)],
            "created_at": record.created_at.isoformat(),
        }
        if live:
            report = self.workspace.online_endpoints.serving(record.name)
            described.update(scoring_uri=report.get("scoring_uri"), swagger_uri=report.get("swagger_uri"))
            described["states"] = {
                name: entry.get("state") for name, entry in (report.get("deployments") or {}).items()
            }
        return described


def _spec_kind(kind: TargetType) -> Any:
    return f"{kind.value}_deployment"


def _created_here(endpoint: ResourceRecord) -> bool:
    return CREATED_BY in (endpoint.spec.get("tags") or {})


def _batch_predict(endpoint: str) -> MlflowException:
    return MlflowException(
        f"'{endpoint}' is a batch endpoint; predict scores online deployments. Score files with a job: "
        f"thresher batch-endpoint invoke -n {endpoint} --input ./data (or ws.jobs.invoke('{endpoint}', input=...)).",
        error_code=INVALID_PARAMETER_VALUE,
    )
