"""All of thresher's knobs in one object, read from ``THRESHER_*`` environment variables.

Built once by an entry point (the CLI, ``Workspace()``, the server) and passed down; importing this
module reads nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from thresher.errors import SettingsError

DEFAULT_DATASTORE = "workspaceblobstore"  # Azure's name for a workspace's default datastore


class Settings(BaseSettings):
    """thresher's configuration. Every field can be set as ``THRESHER_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="THRESHER_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path(".thresher"),
        description="The workspace folder: metadata database and default datastore live here.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database; default: a SQLite file in the workspace. "
        "PostgreSQL: postgresql+psycopg://user@host:port/db",
    )
    default_datastore: str = Field(
        default=DEFAULT_DATASTORE,
        description="Name of the workspace's default datastore (a folder under THRESHER_HOME).",
    )
    default_max_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Workers of a local compute that does not say max_workers (default: the number of cores).",
    )

    worker_log_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Size at which a worker's stdout or stderr log is rotated (to <log>.1, replacing the "
        "previous one), so a script that prints without end takes at most about twice this per stream.",
    )
    worker_template: bool = Field(
        default=True,
        description="Fork local workers from a template process that has already imported the environment's "
        "heavy libraries (numpy, pandas, pyarrow, scikit-learn, mlflow), where the result is the same as a "
        "fresh process (see thresher.executors.templates); 0 starts every worker as a fresh interpreter.",
    )
    worker_perf_interval: float = Field(
        default=1.0,
        ge=0,
        description="Seconds between samples of each worker's CPU and memory, appended to the job's "
        "logs/sys/perf/<node>/<process>.csv and summed up by `thresher job show`; 0 turns sampling off.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The key that encrypts the secrets of datastores (account keys, SAS tokens, secret access "
        "keys) given inline in YAML. Default: the file secret.key in the workspace folder, created readable "
        "only by its owner on first need. Set it to that file's contents on a machine that uses the "
        "workspace's database without its folder (a runner elsewhere).",
    )
    storage_outage_limit: float = Field(
        default=300.0,
        gt=0,
        description="Seconds that transient storage errors (timeouts, 5xx, throttling, dropped connections) "
        "are retried before a job stops, resumable, with a headline naming the datastore.",
    )

    runner_idle_exit: float = Field(
        default=3.0,
        ge=0,
        description="Seconds a runner waits with an empty queue (and no warm workers) before it exits; the next "
        "invoke starts another.",
    )
    runner_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Seconds without a heartbeat after which a runner is presumed gone (killed, its machine "
        "down, paused, cut off) and another runner takes its jobs over; the job's runner beats four times "
        "within it. A runner that was only paused can no longer write anything of a job taken over.",
    )
    idle_time_before_scale_down: float | None = Field(
        default=None,
        ge=0,
        description="Seconds a runner keeps a job's workers alive and initialised after the job, for the next "
        "job of the same deployment (warm compute), for every compute of the workspace; unset: each compute's "
        "idle_time_before_scale_down, 120 s (Azure's default) where that is unset too. 0 turns warm compute off, "
        "min_instances included.",
    )

    amlcompute_ray_address: str | None = Field(
        default=None,
        description="Run Azure amlcompute computes on the Ray cluster at this address (auto, host:port or "
        "ray://host:port), so Azure YAML runs unchanged on a cluster; unset: amlcompute runs as simulated "
        "nodes of local workers on this machine.",
    )
    ray_cpus_per_worker: float = Field(
        default=1.0,
        gt=0,
        description="CPUs Ray reserves for each worker of a ray compute (each actor's num_cpus); a fraction "
        "packs several workers per CPU. Also the worker's OMP/MKL thread count (at least 1).",
    )
    ray_connect_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for a Ray cluster's address to answer (compute create, job start) "
        "before the compute is reported unreachable.",
    )
    fault_injection: str | None = Field(
        default=None,
        description="Test seam: phase=action pairs that make a runner fail at a phase of a job's first "
        "attempt (see thresher.scheduler.faults). Leave unset.",
    )
    server: str | None = Field(
        default=None,
        description="A thresher server's URL (https://host:port): the CLI and Workspace() talk to it "
        "instead of opening a workspace folder. Needs THRESHER_TOKEN.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="The API token the CLI and SDK send to THRESHER_SERVER (thresher token create makes one).",
    )
    upload_max_bytes: int = Field(
        default=20 * 1024**3,
        gt=0,
        description="The largest upload (a model, data or code folder, packed) a thresher server accepts.",
    )
    server_runner: bool = Field(
        default=True,
        description="Whether thresher server starts the workspace's runner for the jobs it queues (as invoke "
        "does locally). Off when separate `thresher runner` processes serve the queue.",
    )
    schedule_interval: float = Field(
        default=5.0,
        gt=0,
        description="How often (seconds) thresher server looks for schedules that are due.",
    )
    online_host: str = Field(
        default="127.0.0.1",
        description="The address the online endpoints' front listens on. Only this machine reaches the default; "
        "0.0.0.0 serves every network the machine is on (every scoring route still needs the endpoint's key).",
    )
    online_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="The port of the online endpoints' front; 0: the port it had last time when that is free, "
        "else any free port. `thresher online-endpoint show` gives the scoring_uri.",
    )
    online_autostart: bool = Field(
        default=True,
        description="Whether the workspace's online serving process is started when none runs: by creating or "
        "changing an online endpoint or deployment (as invoke starts a runner), by any online-endpoint command, "
        "and by thresher server while endpoints exist. Off: nothing starts it (a test seam).",
    )
    clock_file: Path | None = Field(
        default=None,
        description="Test seam: a file holding an ISO time that thresher server's schedules take as now. Leave unset.",
    )

    @property
    def workspace_dir(self) -> Path:
        """The workspace folder as an absolute path."""
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: THRESHER_DATABASE_URL, else the workspace's SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.workspace_dir / 'thresher.db'}"

    @property
    def secret_key_file(self) -> Path:
        """The workspace key's file (used when THRESHER_SECRET_KEY is not set)."""
        return self.workspace_dir / "secret.key"

    @property
    def datastores_dir(self) -> Path:
        """Where local datastores keep their files."""
        return self.workspace_dir / "datastores"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with keyword overrides; raise SettingsError if invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        details = "; ".join(
            f"THRESHER_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise SettingsError(
            f"Invalid thresher settings: {details}",
            fix="Correct or unset the THRESHER_* environment variables named above.",
        ) from None
