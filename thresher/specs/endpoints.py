"""Batch endpoints: a stable name that jobs are invoked on, routed to its default deployment."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from thresher.specs.fields import EndpointName, Kind, Lowercase, ResourceSpec, SpecModel, TextDict


class EndpointDefaults(SpecModel):
    """``defaults:`` of an endpoint: the deployment that invocations go to when none is named."""

    deployment_name: str | None = None


class BatchEndpointSpec(ResourceSpec):
    """A batch endpoint (``batchEndpoint.schema.json``).

    The name follows Azure's rule (a letter first, 3 to 32 letters, digits and '-') and is stored in
    lowercase, as deployments' ``endpoint_name`` is, so that both always match.
    """

    kind: ClassVar[Kind] = "batch_endpoint"

    name: EndpointName
    description: str | None = None
    tags: TextDict = Field(default_factory=dict)
    properties: TextDict = Field(default_factory=dict)
    auth_mode: Annotated[Literal["aad_token", "key"], Lowercase] = "aad_token"
    defaults: EndpointDefaults = Field(default_factory=EndpointDefaults)
