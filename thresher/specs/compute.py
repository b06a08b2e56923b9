"""Compute targets: where workers run (``local`` process pool, a ``ray`` cluster, Azure's ``amlcompute``)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from thresher.specs.fields import AssetName, Kind, Lowercase, ResourceSpec, TextDict, rule_error

ComputeType = Literal["local", "amlcompute", "ray"]


class ComputeSpec(ResourceSpec):
    """A compute target (``amlCompute.schema.json`` loads as it is).

    ``amlcompute`` runs as ``local`` on this machine; ``min_instances``/``max_instances`` and
    ``idle_time_before_scale_down`` are handed to Ray's autoscaler for ``ray``. ``address`` is the Ray
    cluster address (None: start Ray locally). The Azure-only keys (``identity``, ``ssh_settings``,
    ``network_settings``, ...) are accepted so that Azure's files load unchanged; thresher ignores them.
    """

    kind: ClassVar[Kind] = "compute"

    name: AssetName
    type: Annotated[ComputeType, Lowercase] = "local"
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    location: str | None = None
    max_workers: Annotated[int, Field(ge=1)] | None = None
    size: str | None = None
    tier: str | None = None
    min_instances: Annotated[int, Field(ge=0)] = 0
    max_instances: Annotated[int, Field(ge=1)] = 1
    idle_time_before_scale_down: Annotated[int, Field(ge=0)] | None = None
    address: str | None = None
    # Azure-only; accepted and ignored.
    identity: dict[str, Any] | None = None
    ssh_public_access_enabled: bool | None = None
    ssh_settings: dict[str, Any] | None = None
    network_settings: dict[str, Any] | None = None
    enable_node_public_ip: bool | None = None

    @model_validator(mode="after")
    def _instance_range(self) -> ComputeSpec:
        violations = []
        if self.min_instances > self.max_instances:
            violations.append(
                (
                    "min_instances",
                    f"is {self.min_instances}, above max_instances {self.max_instances}; "
                    "it must be at most max_instances.",
                )
            )
        if self.address is not None and self.type != "ray":
            violations.append(
                ("address", f"is '{self.address}', but only type ray uses it; this compute is {self.type}.")
            )
        error = rule_error(type(self).__name__, violations)
        if error is not None:
            raise error
        return self
