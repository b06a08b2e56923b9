"""``thresher server``: the app on uvicorn, with its heartbeat and schedule threads.

It binds 127.0.0.1 unless told otherwise, serves TLS when given a certificate and key (or sits behind
a reverse proxy that does: docs/server.md), and refuses to start on a workspace without an owner
token unless told to make one (so a new server is never open, and never locked to everyone).
"""

from __future__ import annotations

import os

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
) -> None:
    """Serve the workspace of ``settings`` over HTTP(S) until stopped (SIGINT/SIGTERM)."""
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

    app = create_app(settings, background=True)
    scheme = "https" if ssl_certfile else "http"
    app.state.thresher.url = f"{scheme}://{host}:{port}"
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level=log_level,
        access_log=log_level == "debug",
        timeout_graceful_shutdown=5,
    )
    print(f"thresher server: workspace {settings.workspace_dir}, listening on {scheme}://{host}:{port}", flush=True)
    uvicorn.Server(config).run()
