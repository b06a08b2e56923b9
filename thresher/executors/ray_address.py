"""Whether a Ray cluster address can be reached, checked in bounded time and without importing Ray.

Ray's own connect retries an unreachable GCS for minutes; ``thresher compute create`` and a job's
start check the address first with a plain TCP connection, so that a wrong address fails in seconds
with a message naming the compute and the address.

    check_reachable("gpu-cluster", "ray://head.example:10001", timeout=5.0)   # raises ThresherError
"""

from __future__ import annotations

import socket

from thresher.errors import ThresherError

# Ray's defaults: the GCS listens on 6379 (``ray start --head``), the Ray Client server on 10001.
_DEFAULT_PORTS = {"ray": 10001, "": 6379}


def host_and_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; None for ``auto``/``local`` (Ray finds those)."""
    if address in ("auto", "local"):
        return None
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    host, _, port = rest.split("/", 1)[0].rpartition(":")
    if not host:
        host, port = port, ""
    try:
        return host.strip("[]"), int(port) if port else _DEFAULT_PORTS.get(scheme, 6379)
    except ValueError:
        raise ThresherError(
            f"Ray address '{address}' has no valid port ('{port}').",
            fix="Write the address as host:port (the head's GCS, default 6379), ray://host:port (Ray Client, "
            "default 10001), or auto.",
        ) from None


def check_reachable(compute: str, address: str, *, timeout: float) -> None:
    """Raise ``ThresherError`` naming ``compute`` and ``address`` unless TCP to it connects in ``timeout`` s."""
    target = host_and_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            return
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
    raise ThresherError(
        f"Compute '{compute}': the Ray cluster at address '{address}' cannot be reached ({reason} after at most "
        f"{timeout:g} s).",
        fix="Start the cluster (ray start --head, or a KubeRay RayCluster), or correct the compute's address: "
        f"thresher compute create --name {compute} --type ray --address <host:port> (create updates).",
    )
