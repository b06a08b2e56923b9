"""Online endpoints and deployments: Azure's managed online YAML, loaded unchanged.

An endpoint is a name with an auth mode and a traffic split between its deployments
(``managedOnlineEndpoint.schema.json``); a deployment is a model, an optional scoring script, an
environment and how requests are served (``managedOnlineDeployment.schema.json``). Azure's keys that
mean nothing on one machine (``identity``, ``public_network_access``, ``instance_type``,
``scale_settings``, ``app_insights_enabled``, ``egress_public_network_access``, ``data_collector``)
are accepted and kept, unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from thresher.specs.deployments import CodeConfiguration, EnvironmentField, ModelField, name_inline_assets
from thresher.specs.fields import (
    AssetName,
    EndpointName,
    Kind,
    Lowercase,
    ResourceSpec,
    SpecModel,
    TextDict,
    rule_error,
)

MAX_MIRROR_PERCENT = 50
MAX_REQUEST_TIMEOUT_MS = 180_000
AuthMode = Literal["key", "aml_token", "aad_token"]
Percent = Annotated[int, Field(ge=0, le=100)]
Violation = tuple[str | tuple[str | int, ...], str]


class OnlineEndpointSpec(ResourceSpec):
    """An online endpoint: the name requests are sent to, its auth mode, and how traffic is split.

    - ``traffic`` maps deployment names to the percent of live requests each gets; the percentages
      add up to 100, or are all 0 (no live traffic: only requests that name a deployment are served).
    - ``mirror_traffic`` copies a percent of live requests (at most 50) to one deployment that takes
      no live traffic; its answers are compared with the live ones, never returned.
    - ``auth_mode`` is ``key`` (primary and secondary keys that never expire) or ``aml_token`` (tokens
      that expire after an hour). ``aad_token`` needs Azure AD, which a self-hosted thresher lacks.
    - The name follows Azure's endpoint rule and is stored in lowercase, as batch endpoints' are.
    """

    kind: ClassVar[Kind] = "online_endpoint"

    name: EndpointName
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    properties: TextDict = Field(default_factory=dict)
    auth_mode: Annotated[AuthMode, Lowercase] = "key"
    traffic: dict[str, Percent] = Field(default_factory=dict)
    mirror_traffic: dict[str, Percent] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    public_network_access: Annotated[Literal["enabled", "disabled"], Lowercase] | None = None

    @model_validator(mode="after")
    def _rules(self) -> OnlineEndpointSpec:
        error = rule_error(type(self).__name__, self._violations())
        if error is not None:
            raise error
        return self

    def _violations(self) -> list[Violation]:
        found: list[Violation] = []
        if self.auth_mode == "aad_token":
            found.append(
                (
                    "auth_mode",
                    "is 'aad_token'; Azure AD tokens need Azure's identity service, which a self-hosted thresher "
                    "does not have. Use auth_mode: key (primary and secondary keys) or aml_token (expiring tokens "
                    "from thresher online-endpoint get-credentials).",
                )
            )
        total = sum(self.traffic.values())
        if total not in (0, 100):
            shares = ", ".join(f"{name}={percent}" for name, percent in self.traffic.items())
            found.append(
                (
                    "traffic",
                    f"adds up to {total} ({shares}); the percentages must add up to 100, or all be 0 for no live "
                    "traffic. For example: traffic: {blue: 90, green: 10}.",
                )
            )
        found.extend(self._mirror_violations())
        return found

    def _mirror_violations(self) -> list[Violation]:
        found: list[Violation] = []
        if len(self.mirror_traffic) > 1:
            names = ", ".join(self.mirror_traffic)
            found.append(
                (
                    "mirror_traffic",
                    f"names {len(self.mirror_traffic)} deployments ({names}); at most one deployment can take "
                    "mirrored traffic. Keep one of them.",
                )
            )
        for name, percent in self.mirror_traffic.items():
            if percent > MAX_MIRROR_PERCENT:
                found.append(
                    (
                        ("mirror_traffic", name),
                        f"is {percent}; at most {MAX_MIRROR_PERCENT} percent of live traffic can be mirrored. "
                        f"Lower it to {MAX_MIRROR_PERCENT} or less.",
                    )
                )
            live = self.traffic.get(name, 0)
            if percent > 0 and live > 0:
                found.append(
                    (
                        ("mirror_traffic", name),
                        f"mirrors {percent} percent to deployment '{name}', which takes {live} percent of live "
                        f"traffic; a deployment takes live or mirrored traffic, not both. Set traffic.{name} to 0, "
                        "or mirror another deployment.",
                    )
                )
        return found


class RequestSettings(SpecModel):
    """``request_settings:``: the deadline of a request and how many run at once per instance.

    ``max_queue_wait_ms`` is accepted as Azure's deprecated setting and unused: raise
    ``request_timeout_ms`` instead, which covers the time a request waits too.
    """

    request_timeout_ms: Annotated[int, Field(ge=1, le=MAX_REQUEST_TIMEOUT_MS)] = 5000
    max_concurrent_requests_per_instance: Annotated[int, Field(ge=1)] = 1
    max_queue_wait_ms: Annotated[int, Field(ge=0)] = 500


class ProbeSettings(SpecModel):
    """``liveness_probe:`` / ``readiness_probe:``: how often a deployment's workers are checked (seconds)."""

    initial_delay: Annotated[int, Field(ge=0)] = 10
    period: Annotated[int, Field(ge=1)] = 10
    timeout: Annotated[int, Field(ge=1)] = 2
    success_threshold: Annotated[int, Field(ge=1)] = 1
    failure_threshold: Annotated[int, Field(ge=1)] = 30


class ScaleSettings(SpecModel):
    """``scale_settings:``: ``type: default`` is the one managed option (a fixed ``instance_count``)."""

    type: Annotated[Literal["default"], Lowercase] = "default"


def _on_off(value: Any) -> Any:
    # YAML 1.1 readers turn a bare on/off into booleans: read them back as the words.
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


class BatchingSettings(SpecModel):
    """``batching:`` (a thresher extension) of a no-code MLflow deployment: coalescing requests.

    ``auto`` tunes the batch size and wait at start-up by timing the model; ``on`` batches with the
    given (or tuned) limits; ``off`` predicts each request alone.
    """

    mode: Annotated[Literal["auto", "on", "off"], BeforeValidator(_on_off), Lowercase] = "auto"
    max_batch_size: Annotated[int, Field(ge=1)] | None = None
    max_wait_ms: Annotated[float, Field(ge=0)] | None = None


_NESTED_KEYS = {
    **{key: "request_settings" for key in RequestSettings.model_fields},
    **{key: "batching" for key in ("max_batch_size", "max_wait_ms")},
}


class OnlineDeploymentSpec(ResourceSpec):
    """An online deployment: what serves an endpoint's requests.

    - Without ``code_configuration`` the model must be an MLflow model, served without code (as
      batch no-code deployments are); with it, the scoring script's ``init()`` and ``run()`` serve.
    - ``instance_count`` × the workers per instance run on this machine; ``instance_type`` is
      accepted and unused (there is one machine).
    - Inline models and environments without a name are named after the deployment, as in batch.
    """

    kind: ClassVar[Kind] = "online_deployment"

    name: AssetName
    endpoint_name: EndpointName | None = None
    type: Annotated[Literal["managed"], Lowercase] | None = None
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    properties: TextDict = Field(default_factory=dict)
    model: ModelField | None = None
    model_mount_path: str | None = None
    code_configuration: CodeConfiguration | None = None
    environment: EnvironmentField | None = None
    environment_variables: TextDict = Field(default_factory=dict)
    instance_type: str | None = None
    instance_count: Annotated[int, Field(ge=1)] = 1
    request_settings: RequestSettings = Field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    scale_settings: ScaleSettings = Field(default_factory=ScaleSettings)
    app_insights_enabled: bool = False
    egress_public_network_access: Annotated[Literal["enabled", "disabled"], Lowercase] = "enabled"
    data_collector: dict[str, Any] | None = None
    batching: BatchingSettings = Field(default_factory=BatchingSettings)

    @model_validator(mode="before")
    @classmethod
    def _named_inline_assets(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        named = dict(data)
        name_inline_assets(named)
        return named

    @model_validator(mode="after")
    def _rules(self) -> OnlineDeploymentSpec:
        error = rule_error(type(self).__name__, self._violations())
        if error is not None:
            raise error
        return self

    def _violations(self) -> list[Violation]:
        found: list[Violation] = []
        if self.code_configuration is None and self.model is None:
            found.append(
                (
                    "model",
                    "required key 'model' is missing; a deployment without code_configuration serves an MLflow "
                    "model without code, so it needs model: azureml:<name>:<version> (or add code_configuration "
                    "with a scoring script).",
                )
            )
        batching = self.batching
        limits = batching.max_batch_size is not None or batching.max_wait_ms is not None
        if self.code_configuration is not None and (batching.mode == "on" or limits):
            found.append(
                (
                    "batching",
                    "is set, but this deployment runs a scoring script, whose run() takes one request at a time; "
                    "batching applies to no-code MLflow deployments. Remove batching, or code_configuration.",
                )
            )
        return found

    @classmethod
    def misplaced_key_hint(cls, key: str) -> str | None:
        """Why a top-level key is unknown when it belongs in a nested mapping (``request_timeout_ms``)."""
        parent = _NESTED_KEYS.get(key)
        return f"it goes under {parent} ({parent}.{key})." if parent else None
