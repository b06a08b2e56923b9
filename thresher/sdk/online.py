"""Online endpoints and their deployments: ``ws.online_endpoints`` and ``ws.online_deployments``.

An endpoint's ``traffic`` and ``mirror_traffic`` may name only deployments it has; a deployment that takes
live or mirrored traffic cannot be deleted (as in Azure). Creating an endpoint makes its keys, sealed by
the workspace vault (``online_keys.py`` says how keys and tokens work). Deployments check and register
what they refer to exactly as batch deployments do (``deployment_assets.py``); one without a scoring
script must deploy an MLflow model that the built-in driver can serve (``no_code.py``). Every change
rings the serving process's doorbell (``online_serving.py``).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError, NotFoundError, ResourceError, ThresherError
from thresher.instance import Instance
from thresher.sdk.assets import EnvironmentOperations, ModelOperations
from thresher.sdk.deployment_assets import DeploymentAssets, raise_missing, reference
from thresher.sdk.no_code import registered_model_folder
from thresher.sdk.online_calls import ScoreResponse, deployment_logs, endpoint_logs, score
from thresher.sdk.online_keys import Credentials, KeyMaterial, issue_token, key_credentials, new_secret
from thresher.sdk.online_serving import (
    OnlineServing,
    endpoint_revision,
    live_state,
    record_key,
    revision,
    serving_pid,
    serving_report,
    state_dir,
    wait_for,
    wait_for_endpoint,
)
from thresher.specs import OnlineDeploymentSpec, OnlineEndpointSpec, parse_spec
from thresher.store import DeploymentRecord, ResourceRecord, SealedKeys
from thresher.store.online import KEY_TYPES, KeyType
from thresher.store.records import SaveMode

ENDPOINT = "online_endpoint"


class OnlineEndpointOperations:
    """``thresher online-endpoint ...``: the names requests are scored on, their keys and traffic."""

    def __init__(self, instance: Instance, serving: OnlineServing) -> None:
        self._instance = instance
        self._serving = serving

    def create(self, spec: OnlineEndpointSpec) -> ResourceRecord:
        """Create or update an endpoint (``az ml online-endpoint create`` does both); a new one gets its keys."""
        self._check_deployments(spec)
        return self._save(spec, "upsert")

    def update(
        self,
        name: str,
        overrides: Sequence[str] = (),
        *,
        spec: OnlineEndpointSpec | None = None,
        traffic: Mapping[str, int] | None = None,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> ResourceRecord:
        """Change an endpoint: ``--set`` overrides or a new spec, and ``traffic`` / ``mirror_traffic`` (each
        replacing the whole split: ``{"blue": 90, "green": 10}``), checked against its deployments."""
        planned = self._plan(self.get(name), overrides, spec=spec, traffic=traffic, mirror_traffic=mirror_traffic)
        self._check_deployments(planned)
        record = self._save(planned, "update")
        self._applied(record)  # requests sent after this return follow the new split
        return record

    def get(self, name: str) -> ResourceRecord:
        """One endpoint (never its keys)."""
        return self._instance.store.get_resource(ENDPOINT, name.lower())

    def list(self) -> builtins.list[ResourceRecord]:
        """Every online endpoint, by name."""
        return self._instance.store.list_resources(ENDPOINT)

    def delete(self, name: str) -> None:
        """Delete an endpoint with its deployments and keys."""
        self._instance.store.delete_resource(ENDPOINT, name.lower())
        self._serving.changed()

    def serving(self, name: str) -> dict[str, Any]:
        """How the endpoint is served now: ``scoring_uri`` and ``swagger_uri`` (None until a serving process
        listens), whether it is ``served``, each deployment's state (``Creating``, ``Updating``, ``Succeeded``,
        ``Failed`` with its error) and the mirror's diff. Starts the serving process when none runs."""
        endpoint = self.get(name)
        settings = self._instance.settings
        if settings.online_autostart and serving_pid(settings) is None:
            self._serving.changed()
        report = serving_report(settings, endpoint.name)
        report["traffic"] = dict(endpoint.spec.get("traffic") or {})
        return report

    def invoke(
        self,
        name: str,
        body: bytes,
        *,
        deployment_name: str | None = None,
        content_type: str = "application/json",
        route: str = "score",
        wait: float = 120.0,
    ) -> ScoreResponse:
        """Score ``body`` on the endpoint (``route``: score, invocations, or a V2 path) with its primary key or a
        new token, as ``az ml online-endpoint invoke`` does; waits up to ``wait`` seconds for a deployment to
        be ready. The answer is returned whatever its status."""
        deadline = time.monotonic() + wait
        while True:
            report = self.serving(name)
            states = report.get("deployments") or {}
            wanted = [deployment_name] if deployment_name else [d for d, share in report["traffic"].items() if share]
            ready = report.get("scoring_uri") and any(
                (states.get(d) or {}).get("state") in ("Succeeded", "Updating") and (states.get(d) or {}).get("workers")
                for d in wanted
            )
            if ready or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if not report.get("scoring_uri"):
            raise ThresherError(
                f"Online endpoint '{name}' is not served: no serving process answered within {wait:g} s.",
                fix="See the serving process's log (online.log in the workspace folder), or start thresher server.",
            )
        credentials = dict(self.get_credentials(name))
        credential = str(credentials.get("primaryKey") or credentials.get("accessToken"))
        uri = str(report["scoring_uri"]).rsplit("/", 1)[0] + "/" + route.lstrip("/")
        return score(uri, body, credential=credential, deployment=deployment_name, content_type=content_type)

    def get_logs(self, name: str, lines: int = 100) -> str:
        """The endpoint's last requests in the access log (time, client, deployment, route, status, duration)."""
        endpoint = self.get(name)
        return endpoint_logs(state_dir(self._instance.settings) / "access.log", endpoint.name, lines)

    def get_credentials(self, name: str) -> Credentials:
        """``{"primaryKey", "secondaryKey"}`` for a ``key`` endpoint; for ``aml_token`` a new token that
        expires in an hour: ``{"accessToken", "expiryTimeUtc", "refreshAfterTimeUtc", "tokenType"}``."""
        material = self.key_material(name)
        if material.auth_mode == "aml_token":
            return issue_token(material)
        return key_credentials(material)

    def regenerate_keys(self, name: str, key_type: str = "primary") -> None:
        """Replace the primary or secondary key of a ``key`` endpoint; the old one stops opening it."""
        if key_type not in KEY_TYPES:
            raise ResourceError(
                f"The key type is {key_type!r}; it must be primary or secondary.",
                fix=f"For example: thresher online-endpoint regenerate-keys -n {name} --key-type secondary",
            )
        endpoint = self.get(name)
        mode = endpoint.spec.get("auth_mode", "key")
        if mode != "key":
            raise ConflictError(
                f"Online endpoint '{endpoint.name}' uses auth_mode {mode}, whose tokens expire on their own; "
                "regenerate-keys changes the keys of auth_mode key endpoints.",
                fix=f"Get a new token with: thresher online-endpoint get-credentials -n {endpoint.name}",
            )
        sealed, key_id = self._instance.vault.encrypt(new_secret())
        kind: KeyType = "primary" if key_type == "primary" else "secondary"
        self._instance.store.rotate_endpoint_key(endpoint.name, kind, sealed, key_id)
        self._serving.changed()
        self._applied(self.get(endpoint.name))  # the old key opens nothing once this returns

    def key_material(self, name: str) -> KeyMaterial:
        """The endpoint's secrets, opened with the workspace key: for the serving front's credential checks."""
        endpoint = self.get(name)
        keys = self._instance.store.get_endpoint_keys(endpoint.name)
        opened = {
            column: self._instance.vault.open(
                getattr(keys, column),
                what=f"Online endpoint '{endpoint.name}': its {column.replace('_', ' ')}",
                fix="Set THRESHER_SECRET_KEY to the key of the workspace that created the endpoint (its secret.key "
                f"file), or create the endpoint again: thresher online-endpoint delete -n {endpoint.name} --yes, then "
                "create",
                stored_with=keys.key_id,
            )
            for column in ("primary_key", "secondary_key", "token_secret")
        }
        mode = str(endpoint.spec.get("auth_mode", "key"))
        return KeyMaterial(endpoint.name, mode, **opened, keys_version=keys.keys_version)

    # -- shared with OnlineDeploymentOperations ------------------------------------------------------

    def _plan(
        self,
        current: ResourceRecord,
        overrides: Sequence[str] = (),
        *,
        spec: OnlineEndpointSpec | None = None,
        traffic: Mapping[str, int] | None = None,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> OnlineEndpointSpec:
        """The endpoint ``current`` would become, validated (every rule of OnlineEndpointSpec)."""
        document: dict[str, Any] = spec.to_document() if spec is not None else dict(current.spec)
        flags = []
        if traffic is not None:
            document["traffic"] = dict(traffic)
            flags.append("--traffic")
        if mirror_traffic is not None:
            document["mirror_traffic"] = dict(mirror_traffic)
            flags.append("--mirror-traffic")
        source = " and ".join(flags) or "<update>"
        planned = parse_spec(document, "online_endpoint", base_dir=Path.cwd(), source=source, overrides=overrides)
        assert isinstance(planned, OnlineEndpointSpec)
        if planned.name != current.name:
            raise ConflictError(
                f"Endpoint names cannot change: asked to update '{current.name}' with a spec named '{planned.name}'.",
                fix="Create a new endpoint under the new name instead.",
            )
        return planned

    def _check_deployments(self, spec: OnlineEndpointSpec, adding: str | None = None) -> None:
        """NotFoundError, listing the endpoint's deployments, for traffic to a deployment it does not have."""
        named = set(spec.traffic) | set(spec.mirror_traffic)
        if not named:
            return
        existing = [deployment.name for deployment in self._deployments(spec.name)]
        unknown = sorted(named - set(existing) - {adding})
        if unknown:
            listed = ", ".join(existing) if existing else "none yet"
            raise NotFoundError(
                f"Online endpoint '{spec.name}' has no deployment {', '.join(repr(n) for n in unknown)}: traffic and "
                f"mirror_traffic can only name its deployments (it has: {listed}).",
                fix=f"Create the deployment first (thresher online-deployment create -f deployment.yml -e {spec.name}),"
                " or correct the name.",
            )

    def _deployments(self, endpoint: str) -> builtins.list[DeploymentRecord]:
        try:
            return self._instance.store.list_online_deployments(endpoint)
        except NotFoundError:  # a new endpoint
            return []

    def _applied(self, record: ResourceRecord) -> None:
        """Wait (a moment) until a running serving process serves the endpoint as stored now."""
        settings = self._instance.settings
        if settings.online_autostart and serving_pid(settings) is not None:
            keys = self._instance.store.get_endpoint_keys(record.name)
            wait_for_endpoint(settings, record.name, endpoint_revision(dict(record.spec), keys.keys_version), 10.0)

    def _save(self, spec: OnlineEndpointSpec, mode: SaveMode) -> ResourceRecord:
        record = self._instance.store.save_online_endpoint(spec.name, spec.to_document(), self._new_keys(), mode=mode)
        self._serving.changed()
        return record

    def _new_keys(self) -> SealedKeys:
        vault = self._instance.vault
        primary, key_id = vault.encrypt(new_secret())
        secondary, _ = vault.encrypt(new_secret())
        token_secret, _ = vault.encrypt(new_secret())
        return {"primary_key": primary, "secondary_key": secondary, "token_secret": token_secret, "key_id": key_id}


def endpoint_of(spec: OnlineDeploymentSpec, endpoint_name: str | None) -> str:
    """The endpoint a deployment is created on: ``--endpoint-name``, else its YAML's ``endpoint_name``."""
    endpoint = (endpoint_name or spec.endpoint_name or "").lower()
    if not endpoint:
        raise ThresherError(
            f"Deployment '{spec.name}' names no endpoint.",
            fix="Pass --endpoint-name/-e, or set endpoint_name in the YAML file.",
        )
    return endpoint


class OnlineDeploymentOperations:
    """``thresher online-deployment ...``: a model, optional scoring script and environment serving an endpoint."""

    def __init__(
        self,
        instance: Instance,
        endpoints: OnlineEndpointOperations,
        models: ModelOperations,
        environments: EnvironmentOperations,
        serving: OnlineServing,
    ) -> None:
        self._instance = instance
        self._endpoints = endpoints
        self._assets = DeploymentAssets(instance, models, environments)
        self._serving = serving

    def create(
        self,
        spec: OnlineDeploymentSpec,
        *,
        endpoint_name: str | None = None,
        all_traffic: bool = False,
        wait: bool = True,
    ) -> DeploymentRecord:
        """Check references, register inline assets, snapshot code, then create or update the deployment;
        ``all_traffic`` then sends the endpoint's live traffic to it alone (``{name: 100}``). ``wait``: return
        once its workers are ready (``ThresherError`` with the script's own error when they cannot start)."""
        endpoint = endpoint_of(spec, endpoint_name)
        current = self._endpoints.get(endpoint)
        planned = self._endpoints._plan(current, traffic={spec.name: 100}) if all_traffic else None
        if planned is not None:
            self._endpoints._check_deployments(planned, adding=spec.name)
        document = self._resolve(spec, endpoint)
        record = self._instance.store.save_online_deployment(endpoint, spec.name, document, mode="upsert")
        if planned is not None:
            self._endpoints._save(planned, "update")
        self._serving.changed()
        if wait:
            self._wait_served(record)
        return record

    def update(
        self,
        name: str,
        endpoint_name: str,
        overrides: Sequence[str] = (),
        *,
        spec: OnlineDeploymentSpec | None = None,
        wait: bool = True,
    ) -> DeploymentRecord:
        """Apply ``--set`` overrides (or a new spec) to an existing deployment, re-checking its references;
        ``wait``: return once the new workers serve (the old ones served until then, then drained)."""
        current = self.get(name, endpoint_name)
        if spec is None:
            parsed = parse_spec(current.spec, "online_deployment", base_dir=Path.cwd(), overrides=overrides)
            assert isinstance(parsed, OnlineDeploymentSpec)
            spec = parsed
        if spec.name != name:
            raise ConflictError(
                f"Deployment names cannot change: asked to update '{name}' with a spec named '{spec.name}'.",
                fix="Create a new deployment under the new name instead, and move the traffic to it.",
            )
        document = self._resolve(spec, current.endpoint_name)
        record = self._instance.store.save_online_deployment(current.endpoint_name, name, document, mode="update")
        self._serving.changed()
        if wait:
            self._wait_served(record)
        return record

    def status(self, name: str, endpoint_name: str) -> dict[str, Any]:
        """The deployment as served now: ``state`` (Creating, Updating, Succeeded, Failed; None when no serving
        process has seen it), ``error``, ``workers``, ``restarts``, ``pending``, ``batching``."""
        record = self.get(name, endpoint_name)
        entry = dict((live_state(self._instance.settings).get("deployments") or {}).get(record_key(record)) or {})
        entry.setdefault("state", None)
        return entry

    def get_logs(self, name: str, endpoint_name: str, lines: int = 100) -> str:
        """The last ``lines`` lines of each of the deployment's worker logs and of its error log."""
        record = self.get(name, endpoint_name)
        folder = state_dir(self._instance.settings) / "logs" / record.endpoint_name / record.name
        return deployment_logs(folder, lines)

    def _wait_served(self, record: DeploymentRecord) -> None:
        """Wait until the serving process serves this revision of the deployment, or failed to (raised)."""
        settings = self._instance.settings
        if not settings.online_autostart:
            return
        key, wanted = record_key(record), revision(dict(record.spec))
        absent_since: float | None = None
        while True:
            entry = wait_for(settings, key, wanted, timeout=1.0)
            if entry.get("revision") == wanted and entry.get("state") == "Succeeded" and not entry.get("wanted"):
                return
            if entry.get("state") == "Failed" or (entry.get("error") and not entry.get("wanted")):
                raise ThresherError(
                    f"Online deployment '{record.name}' of endpoint '{record.endpoint_name}' did not start: "
                    f"{entry.get('error')}",
                    fix=f"See its logs: thresher online-deployment get-logs -n {record.name} -e {record.endpoint_name}"
                    " ; fix the script or model, then run online-deployment update.",
                )
            if serving_pid(settings) is None:
                absent_since = absent_since or time.monotonic()
                if time.monotonic() - absent_since > 10:
                    raise ThresherError(
                        f"Online deployment '{record.name}' is saved, but no serving process runs to serve it.",
                        fix=f"See {settings.workspace_dir / 'online.log'}; any online-endpoint command starts it "
                        "again.",
                    )
            else:
                absent_since = None

    def get(self, name: str, endpoint_name: str) -> DeploymentRecord:
        """One deployment of an online endpoint."""
        return self._instance.store.get_online_deployment(endpoint_name.lower(), name)

    def list(self, endpoint_name: str) -> builtins.list[DeploymentRecord]:
        """The deployments of an online endpoint, by name."""
        return self._instance.store.list_online_deployments(endpoint_name.lower())

    def delete(self, name: str, endpoint_name: str) -> None:
        """Delete a deployment that takes no live and no mirrored traffic; it leaves the endpoint's splits."""
        endpoint = self._endpoints.get(endpoint_name)
        self.get(name, endpoint.name)
        self._refuse_if_served(name, endpoint)
        self._instance.store.delete_online_deployment(endpoint.name, name)
        traffic, mirror = dict(endpoint.spec.get("traffic") or {}), dict(endpoint.spec.get("mirror_traffic") or {})
        if name in traffic or name in mirror:  # its 0 % entries go with it
            traffic.pop(name, None)
            mirror.pop(name, None)
            self._endpoints._save(self._endpoints._plan(endpoint, traffic=traffic, mirror_traffic=mirror), "update")
        self._serving.changed()

    def _refuse_if_served(self, name: str, endpoint: ResourceRecord) -> None:
        live = int((endpoint.spec.get("traffic") or {}).get(name, 0))
        mirrored = int((endpoint.spec.get("mirror_traffic") or {}).get(name, 0))
        if live > 0:
            others = sorted(d.name for d in self.list(endpoint.name) if d.name != name)
            example = f"{others[0]}=100" if others else f"{name}=0"
            raise ConflictError(
                f"Deployment '{name}' takes {live} percent of the live traffic of online endpoint '{endpoint.name}'; "
                "a deployment that takes traffic cannot be deleted.",
                fix=f'Move its traffic first: thresher online-endpoint update -n {endpoint.name} --traffic "{example}"',
            )
        if mirrored > 0:
            raise ConflictError(
                f"Deployment '{name}' receives {mirrored} percent of the mirrored traffic of online endpoint "
                f"'{endpoint.name}'; a deployment that takes traffic cannot be deleted.",
                fix=f"Stop mirroring first: thresher online-endpoint update -n {endpoint.name} "
                f'--mirror-traffic "{name}=0"',
            )

    def _resolve(self, spec: OnlineDeploymentSpec, endpoint: str) -> dict[str, Any]:
        """Check every reference (all problems at once), register inline assets, snapshot code."""
        problems: builtins.list[str] = []
        model = None if spec.model is None else self._assets.model(spec.model, problems)
        environment = None if spec.environment is None else self._assets.environment(spec.environment, problems)
        raise_missing(spec.name, problems)
        if spec.code_configuration is None and model is not None:
            registered_model_folder(model, spec.name)  # no code: an MLflow model the built-in driver serves
        document = spec.to_document()
        document["endpoint_name"] = endpoint
        for key, record in (("model", model), ("environment", environment)):
            if record is None:
                document.pop(key, None)
            else:
                document[key] = reference(record)
        if spec.code_configuration is not None:
            document["code_configuration"] = self._assets.code(spec.code_configuration)
        return document
