"""``thresher server``: the app on uvicorn, with its heartbeat and schedule threads.

It binds 127.0.0.1 unless told otherwise, serves TLS when given a certificate and key (or sits behind
a reverse proxy that does: docs/server.md), and refuses to start on a workspace without an owner
token unless told to make one (so a new server is never open, and never locked to everyone).
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any

from thresher.errors import MissingExtraError, SettingsError
from thresher.settings import Settings


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "info",
    workers: int = 1,
) -> None:
    """Serve the workspace of ``settings`` over HTTP(S) until stopped (SIGINT/SIGTERM); with ``workers`` > 1,
    in that many processes sharing the port (each with its own app, built from the environment)."""
    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("thresher server", "uvicorn and fastapi", "server") from None
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise SettingsError(
            "TLS needs both --ssl-certfile and --ssl-keyfile; one of them was given.",
            fix="Pass both (PEM files), or neither and put a TLS reverse proxy in front (docs/server.md).",
        )
    from thresher.server.app import create_app

    # Jobs, runners and steps started by the server work on its workspace, never through a server.
    os.environ.pop("THRESHER_SERVER", None)
    os.environ.pop("THRESHER_TOKEN", None)

    scheme = "https" if ssl_certfile else "http"
    url = f"{scheme}://{host}:{port}"
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "ssl_certfile": ssl_certfile,
        "ssl_keyfile": ssl_keyfile,
        "log_level": log_level,
        "access_log": log_level == "debug",
        "timeout_graceful_shutdown": 5,
    }
    print(f"thresher server: workspace {settings.workspace_dir}, listening on {url}", flush=True)
    if workers > 1:
        # Each worker process builds its own app from THRESHER_* variables: the settings go there.
        os.environ.update(_environment(settings))
        os.environ[_URL_VARIABLE] = url
        _serve_workers(
            uvicorn.Config("thresher.server.main:app_from_environment", factory=True, workers=workers, **options)
        )
        return
    app = create_app(settings, background=True)
    app.state.thresher.url = url
    uvicorn.Server(uvicorn.Config(app, **options)).run()


_URL_VARIABLE = "THRESHER_SERVER_URL_SEEN"


def _serve_workers(config: Any) -> None:
    """``uvicorn.run`` with workers, on a listening socket whose connections send without delay.

    uvicorn makes the socket it shares with its worker processes as ``socket.socket(family)``, whose protocol
    number is 0, and asyncio sets TCP_NODELAY only on connections of a socket marked TCP: each answer's body
    then waited for the client's delayed acknowledgement of its headers, 40 ms on Linux, for every request
    (44 ms for /health with --workers 2, against 0.7 ms with one worker). Accepted connections inherit the
    option from the listening socket.
    """
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()


def _environment(settings: Settings) -> dict[str, str]:
    """The settings as THRESHER_* variables, for worker processes that build their own."""
    found: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None or name in ("server", "token"):  # a server never talks to a server
            continue
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        found[f"THRESHER_{name.upper()}"] = str(text).lower() if isinstance(text, bool) else str(text)
    return found


def app_from_environment() -> Any:
    """One worker process's app (``thresher server --workers N``): settings from THRESHER_* variables."""
    from thresher.server.app import create_app
    from thresher.settings import load_settings

    app = create_app(load_settings(server=None), background=True)
    app.state.thresher.url = os.environ.get(_URL_VARIABLE)
    return app
