"""``ws.online_endpoints`` and ``ws.online_deployments`` against a thresher server (``routes_online.py``).

As in ``remote.py``, each class subclasses the local one and overrides every public method, so the
signatures are the local ones; local files named in a deployment (its model, code and environment
files) are uploaded first. Keys travel only in the answer to ``get_credentials``, which needs a
contributor's token; the opened key material stays on the server's machine.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from thresher.errors import ThresherError
from thresher.sdk.online import OnlineDeploymentOperations, OnlineEndpointOperations, endpoint_of
from thresher.sdk.online_keys import Credentials, KeyMaterial
from thresher.sdk.wire import decode
from thresher.specs import OnlineDeploymentSpec, OnlineEndpointSpec
from thresher.store import DeploymentRecord, ResourceRecord

if TYPE_CHECKING:
    from thresher.sdk.remote import _Client


def _document(client: _Client, spec: OnlineEndpointSpec | OnlineDeploymentSpec) -> dict[str, Any]:
    document: dict[str, Any] = client.uploaded(spec.to_document())
    return document


class RemoteOnlineEndpointOperations(OnlineEndpointOperations):
    """``ws.online_endpoints`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(self, spec: OnlineEndpointSpec) -> ResourceRecord:
        body = {"spec": _document(self._client, spec)}
        return decode(ResourceRecord, self._client.call("POST", "/online-endpoints", json=body))

    def update(
        self,
        name: str,
        overrides: Sequence[str] = (),
        *,
        spec: OnlineEndpointSpec | None = None,
        traffic: Mapping[str, int] | None = None,
        mirror_traffic: Mapping[str, int] | None = None,
    ) -> ResourceRecord:
        body = {
            "overrides": list(overrides),
            "spec": None if spec is None else _document(self._client, spec),
            "traffic": None if traffic is None else dict(traffic),
            "mirror_traffic": None if mirror_traffic is None else dict(mirror_traffic),
        }
        return decode(ResourceRecord, self._client.call("PATCH", f"/online-endpoints/{name.lower()}", json=body))

    def get(self, name: str) -> ResourceRecord:
        return decode(ResourceRecord, self._client.call("GET", f"/online-endpoints/{name.lower()}"))

    def list(self) -> builtins.list[ResourceRecord]:
        return decode(list[ResourceRecord], self._client.call("GET", "/online-endpoints"))

    def delete(self, name: str) -> None:
        self._client.call("DELETE", f"/online-endpoints/{name.lower()}")

    def get_credentials(self, name: str) -> Credentials:
        return cast(Credentials, self._client.call("GET", f"/online-endpoints/{name.lower()}/credentials"))

    def regenerate_keys(self, name: str, key_type: str = "primary") -> None:
        path = f"/online-endpoints/{name.lower()}/regenerate-keys"
        self._client.call("POST", path, json={"key_type": key_type})

    def serving(self, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._client.call("GET", f"/online-endpoints/{name.lower()}/serving"))

    def get_logs(self, name: str, lines: int = 100) -> str:
        path = f"/online-endpoints/{name.lower()}/logs"
        return str(self._client.call("GET", path, params={"lines": lines})["logs"])

    def key_material(self, name: str) -> KeyMaterial:
        raise ThresherError(
            "An online endpoint's opened key material stays on the machine that serves it.",
            fix=f"Use get_credentials('{name}') for its keys or a token; check credentials on the server's machine.",
        )


class RemoteOnlineDeploymentOperations(OnlineDeploymentOperations):
    """``ws.online_deployments`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(
        self,
        spec: OnlineDeploymentSpec,
        *,
        endpoint_name: str | None = None,
        all_traffic: bool = False,
        wait: bool = True,
    ) -> DeploymentRecord:
        endpoint = endpoint_of(spec, endpoint_name)
        body = {"spec": _document(self._client, spec), "all_traffic": all_traffic, "wait": wait}
        path = f"/online-endpoints/{endpoint}/deployments"
        return decode(DeploymentRecord, self._client.call("POST", path, json=body))

    def update(
        self,
        name: str,
        endpoint_name: str,
        overrides: Sequence[str] = (),
        *,
        spec: OnlineDeploymentSpec | None = None,
        wait: bool = True,
    ) -> DeploymentRecord:
        body = {
            "overrides": list(overrides),
            "spec": None if spec is None else _document(self._client, spec),
            "wait": wait,
        }
        path = f"/online-endpoints/{endpoint_name.lower()}/deployments/{name}"
        return decode(DeploymentRecord, self._client.call("PATCH", path, json=body))

    def get(self, name: str, endpoint_name: str) -> DeploymentRecord:
        path = f"/online-endpoints/{endpoint_name.lower()}/deployments/{name}"
        return decode(DeploymentRecord, self._client.call("GET", path))

    def list(self, endpoint_name: str) -> builtins.list[DeploymentRecord]:
        path = f"/online-endpoints/{endpoint_name.lower()}/deployments"
        return decode(list[DeploymentRecord], self._client.call("GET", path))

    def delete(self, name: str, endpoint_name: str) -> None:
        self._client.call("DELETE", f"/online-endpoints/{endpoint_name.lower()}/deployments/{name}")

    def status(self, name: str, endpoint_name: str) -> dict[str, Any]:
        path = f"/online-endpoints/{endpoint_name.lower()}/deployments/{name}/serving"
        return cast(dict[str, Any], self._client.call("GET", path))

    def get_logs(self, name: str, endpoint_name: str, lines: int = 100) -> str:
        path = f"/online-endpoints/{endpoint_name.lower()}/deployments/{name}/logs"
        return str(self._client.call("GET", path, params={"lines": lines})["logs"])
