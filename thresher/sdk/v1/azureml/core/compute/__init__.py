"""``azureml.core.compute``: compute targets, registered as thresher computes.

An ``AmlCompute`` cluster is a thresher ``amlcompute`` compute: its nodes are simulated on this machine
(or run on the Ray cluster of ``THRESHER_AMLCOMPUTE_RAY_ADDRESS``), so creating one takes no time::

    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", min_nodes=0, max_nodes=4)
    target = ComputeTarget.create(ws, "aml-compute", config)
    target.wait_for_completion(show_output=True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["AmlCompute", "AmlComputeProvisioningConfiguration", "ComputeTarget"]


class AmlComputeProvisioningConfiguration:
    """What ``AmlCompute.provisioning_configuration`` returns: the cluster's size and node range."""

    def __init__(
        self,
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        location: str | None = None,
    ) -> None:
        self.vm_size = vm_size
        self.vm_priority = vm_priority
        self.min_nodes = min_nodes
        self.max_nodes = 4 if max_nodes is None else max_nodes  # Azure's default
        self.idle_seconds_before_scaledown = idle_seconds_before_scaledown
        self.description = description
        self.tags = dict(tags or {})
        self.location = location


class ComputeStatus:
    """A compute's state (``compute_target.status``); ``serialize()`` gives Azure's keys."""

    def __init__(self, spec: dict[str, Any], created: str, modified: str) -> None:
        self._spec = spec
        self._created, self._modified = created, modified
        self.provisioning_state = "Succeeded"
        self.allocation_state = "Steady"
        self.current_node_count = 0

    def serialize(self) -> dict[str, Any]:
        """The state as a dict (node counts are 0: thresher starts workers when a job needs them)."""
        return {
            "currentNodeCount": 0,
            "targetNodeCount": 0,
            "nodeStateCounts": {"preparingNodeCount": 0, "runningNodeCount": 0, "idleNodeCount": 0},
            "allocationState": "Steady",
            "errors": None,
            "creationTime": self._created,
            "modifiedTime": self._modified,
            "provisioningState": "Succeeded",
            "scaleSettings": {
                "minNodeCount": int(self._spec.get("min_instances") or 0),
                "maxNodeCount": int(self._spec.get("max_instances") or 1),
                "nodeIdleTimeBeforeScaleDown": "PT%sS" % (self._spec.get("idle_time_before_scale_down") or 0),
            },
            "vmPriority": "Dedicated",
            "vmSize": self._spec.get("size") or "",
        }


class ComputeTarget:
    """A registered compute of the workspace."""

    type = "Compute"

    def __init__(self, workspace: Workspace, name: str) -> None:
        from ..._thresher.computes import get

        self.workspace = workspace
        self.name = name
        record = get(workspace._thresher, name)
        self._spec: dict[str, Any] = dict(record.spec)
        self.status = ComputeStatus(self._spec, record.created_at.isoformat(), record.updated_at.isoformat())
        self.provisioning_state = "Succeeded"
        self.vm_size = self._spec.get("size")

    @staticmethod
    def _of(workspace: Workspace, name: str) -> ComputeTarget:
        """The compute as its v1 class (``AmlCompute`` for an amlcompute)."""
        from ..._thresher.computes import get

        kind = get(workspace._thresher, name).spec.get("type")
        return AmlCompute(workspace, name) if kind == "amlcompute" else ComputeTarget(workspace, name)

    @staticmethod
    def create(
        workspace: Workspace, name: str, provisioning_configuration: AmlComputeProvisioningConfiguration
    ) -> ComputeTarget:
        """Register compute ``name`` (an existing one is updated), as an ``amlcompute``."""
        from ..._thresher.computes import create

        create(workspace._thresher, name, provisioning_configuration)
        return ComputeTarget._of(workspace, name)

    def wait_for_completion(
        self,
        show_output: bool = False,
        min_node_count: int | None = None,
        timeout_in_minutes: int = 25,
        is_delete_operation: bool = False,
    ) -> None:
        """Nothing to wait for: the compute is ready once created."""
        if show_output:
            print("Succeeded")
            print("AmlCompute wait for completion finished\n")
            print("Minimum number of nodes requested have been provisioned")

    def get_status(self) -> ComputeStatus:
        """The compute's state."""
        return self.status

    def delete(self) -> None:
        """Remove the compute from the workspace."""
        self.workspace._thresher.computes.delete(self.name)

    def detach(self) -> None:
        """Remove the compute from the workspace."""
        self.delete()

    def serialize(self) -> dict[str, Any]:
        """The compute as a dict."""
        return {"name": self.name, "type": self.type, "properties": dict(self._spec)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace!r}, name={self.name})"


class AmlCompute(ComputeTarget):
    """A cluster: thresher's ``amlcompute`` compute (simulated nodes here, or a Ray cluster)."""

    type = "AmlCompute"

    @staticmethod
    def provisioning_configuration(
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = None,
        admin_username: str | None = None,
        admin_user_password: str | None = None,
        admin_user_ssh_key: str | None = None,
        vnet_resourcegroup_name: str | None = None,
        vnet_name: str | None = None,
        subnet_name: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        remote_login_port_public_access: str = "NotSpecified",
        identity_type: str | None = None,
        identity_id: Any = None,
        location: str | None = None,
        enable_node_public_ip: bool = True,
    ) -> AmlComputeProvisioningConfiguration:
        """A cluster's size and node range (the network and login settings are Azure's; thresher ignores them)."""
        return AmlComputeProvisioningConfiguration(
            vm_size, vm_priority, min_nodes, max_nodes, idle_seconds_before_scaledown, description, tags, location
        )
