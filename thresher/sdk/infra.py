"""Named infrastructure: datastores and computes (create or update, show, list, delete)."""

from __future__ import annotations

import builtins
import dataclasses
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from thresher.errors import ConflictError
from thresher.executors.ray_address import check_reachable
from thresher.instance import Instance
from thresher.scheduler.warm import DEFAULT_COMPUTE, read_state, stop_request_path
from thresher.specs import ComputeSpec, DatastoreSpec
from thresher.storage.credentials import resolve, seal, shown
from thresher.storage.probe import check_datastore
from thresher.store import ResourceRecord


class _NamedOperations:
    kind: str

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    def get(self, name: str) -> ResourceRecord:
        """One resource by name."""
        return self._instance.store.get_resource(self.kind, name)

    def list(self) -> builtins.list[ResourceRecord]:
        """Every resource of this kind, by name."""
        return self._instance.store.list_resources(self.kind)

    def delete(self, name: str) -> None:
        """Remove the resource."""
        self._instance.store.delete_resource(self.kind, name)


class DatastoreOperations(_NamedOperations):
    """``thresher datastore ...``: named storage roots. The default one lives in the workspace folder."""

    kind = "datastore"

    def create(self, spec: DatastoreSpec, *, check: bool = True) -> ResourceRecord:
        """Create or update a datastore; a local one's folder is created when missing.

        A remote one is checked first (``check=False`` skips it): its endpoint must answer, accept the
        credentials and hold the container or bucket, else StorageError says which and what to fix.
        Secrets written inline are stored encrypted with the workspace key; the record returned, like
        ``get`` and ``list``, shows them only as ``<secret: stored encrypted>``.
        """
        if spec.type == "local" and spec.path is not None:
            Path(spec.path).mkdir(parents=True, exist_ok=True)
        vault = self._instance.vault
        if check:
            check_datastore(spec, resolve(spec.credentials, vault, datastore=spec.name))
        document = spec.to_document()
        if spec.credentials is not None:
            document["credentials"] = seal(spec.credentials, vault)
        return _shown(self._instance.store.save_resource(self.kind, spec.name, document, mode="upsert"))

    def get(self, name: str) -> ResourceRecord:
        """One datastore by name; secrets show as ``<secret: stored encrypted>``."""
        return _shown(super().get(name))

    def list(self) -> builtins.list[ResourceRecord]:
        """Every datastore, by name; secrets show as ``<secret: stored encrypted>``."""
        return [_shown(record) for record in super().list()]

    def delete(self, name: str) -> None:
        """Remove a datastore from the workspace (its files stay); the default one cannot be removed."""
        if name == self._instance.settings.default_datastore:
            raise ConflictError(
                f"Datastore '{name}' is the workspace's default datastore and cannot be deleted.",
                fix="Delete other datastores only; THRESHER_DEFAULT_DATASTORE names the default.",
            )
        self.get(name)
        super().delete(name)


def _shown(record: ResourceRecord) -> ResourceRecord:
    if "credentials" not in record.spec:
        return record
    return dataclasses.replace(record, spec={**record.spec, "credentials": shown(record.spec["credentials"])})


class ComputeOperations(_NamedOperations):
    """``thresher compute ...``: where workers run. ``amlcompute`` maps onto this machine as simulated nodes."""

    kind = "compute"

    def create(self, spec: ComputeSpec) -> ResourceRecord:
        """Create or update a compute (as ``az ml compute create`` does).

        A ray compute's address must answer within ``ray_connect_timeout`` seconds (``auto`` and no
        address, which Ray resolves on the runner's machine, are checked when a job starts)."""
        if spec.type == "ray" and spec.address is not None:
            check_reachable(spec.name, spec.address, timeout=self._instance.settings.ray_connect_timeout)
        return self._instance.store.save_resource(self.kind, spec.name, spec.to_document(), mode="upsert")

    def get(self, name: str) -> ResourceRecord:
        """One compute by name; ``local``, unless one is registered under that name, is the default compute
        of deployments that name none (this machine)."""
        if name == DEFAULT_COMPUTE and not any(r.name == name for r in self.list()):
            now = datetime.now(timezone.utc)
            spec = {"name": name, "type": "local", "description": "the compute of deployments that name none"}
            return ResourceRecord(self.kind, name, spec, now, now)
        return super().get(name)

    def warm_pools(self, name: str) -> builtins.list[dict[str, Any]]:
        """The compute's pools of warm workers that the workspace's runner keeps now (``thresher.scheduler.warm``):
        their deployment, workers, process ids, memory and when they end."""
        return [pool for pool in read_state(self._instance.settings)["pools"] if pool.get("compute") == name]

    def stop(self, name: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """End the compute's warm workers now (as ``az ml compute stop``); a pool serving a job ends with the job.

        Returns what was stopped: pools, workers and the memory they held."""
        self.get(name)  # an unknown compute fails here, with the names that exist
        settings = self._instance.settings
        before = self.warm_pools(name)
        summary: dict[str, Any] = {
            "name": name,
            "stopped_pools": len(before),
            "stopped_workers": sum(int(p.get("workers") or 0) for p in before),
            "freed_memory_bytes": sum(int(p.get("memory_bytes") or 0) for p in before),
            "still_busy": [],
        }
        if not before:
            return summary
        request = stop_request_path(settings, name)
        request.parent.mkdir(parents=True, exist_ok=True)
        request.touch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.warm_pools(name)
            if not left or (not request.exists() and all(p.get("state") == "busy" for p in left)):
                break
            time.sleep(0.1)
        busy = [p.get("last_job") for p in self.warm_pools(name)]
        if busy:
            summary["still_busy"] = busy
            summary["note"] = "pools serving a job end when the job does: " + ", ".join(str(b) for b in busy)
        return summary

    def placement(self, record: ResourceRecord) -> dict[str, Any]:
        """Where the compute's workers run: backend (local or ray), nodes, and the Ray address and node range.

        ``amlcompute`` runs on the Ray cluster of the ``THRESHER_AMLCOMPUTE_RAY_ADDRESS`` setting when it
        is set, else as simulated nodes on this machine."""
        spec = record.spec
        kind = spec.get("type", "local")
        ray_address = self._instance.settings.amlcompute_ray_address
        if kind == "ray" or (kind == "amlcompute" and ray_address):
            address = spec.get("address") if kind == "ray" else ray_address
            return {
                "backend": "ray",
                "address": address,
                "min_nodes": int(spec.get("min_instances") or 0),
                "max_nodes": int(spec.get("max_instances") or 1),
                "note": f"workers are Ray actors on the cluster at {address or 'a Ray started on the runner machine'}"
                + ("" if kind == "ray" else " (THRESHER_AMLCOMPUTE_RAY_ADDRESS)")
                + "; each instance is a bundle of workers spread over its nodes.",
            }
        if kind == "amlcompute":
            return {
                "backend": "local",
                "nodes": int(spec.get("max_instances") or 1),
                "note": "amlcompute runs on this machine: each instance is a simulated node of local workers.",
            }
        return {
            "backend": "local",
            "nodes": 1,
            "max_workers": int(spec.get("max_workers") or self._instance.settings.default_max_workers),
        }
