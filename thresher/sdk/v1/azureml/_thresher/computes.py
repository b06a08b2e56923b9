"""v1 compute targets as thresher computes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from thresher.errors import NotFoundError, ThresherError
from thresher.sdk import Workspace as ThresherWorkspace
from thresher.specs import ComputeSpec
from thresher.store import ResourceRecord

if TYPE_CHECKING:
    from ..core.compute import AmlComputeProvisioningConfiguration


def get(ws: ThresherWorkspace, name: str) -> ResourceRecord:
    """A compute; ``ComputeTargetException`` (as Azure raises) when there is none of that name."""
    from ..exceptions import ComputeTargetException

    try:
        return ws.computes.get(name)
    except NotFoundError as exc:
        raise ComputeTargetException(f"ComputeTargetNotFound: {exc.message} Fix: {exc.fix}") from None


def create(ws: ThresherWorkspace, name: str, config: AmlComputeProvisioningConfiguration) -> ResourceRecord:
    """Register (or update) ``name`` as an ``amlcompute`` of the configuration's size and node range."""
    from ..exceptions import ComputeTargetException

    document = {
        "name": name,
        "type": "amlcompute",
        "size": config.vm_size or None,
        "min_instances": config.min_nodes,
        "max_instances": config.max_nodes,
        "description": config.description,
        "tags": config.tags,
        "location": config.location,
    }
    if config.idle_seconds_before_scaledown is not None:
        document["idle_time_before_scale_down"] = config.idle_seconds_before_scaledown
    try:
        return ws.computes.create(ComputeSpec.model_validate(document))
    except (ThresherError, ValidationError) as exc:
        raise ComputeTargetException(f"Compute {name!r} cannot be created: {exc}") from None
