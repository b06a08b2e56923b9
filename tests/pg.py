"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary folder, listening only on
127.0.0.1 on a free port, with a random password, removed again by ``stop()``.

initdb and postgres refuse to run as root; as root they run as the ``postgres`` OS user (created by
Debian's package) through ``runuser``, in a folder owned by that user.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from glob import glob
from pathlib import Path

import psycopg
from psycopg import sql

USER = "thresher"
SERVER_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresError(RuntimeError):
    """The server could not be set up; the message carries the commands' output and the server log."""


def server_bin_dir() -> Path:
    """The newest installed server's bin folder (``/usr/lib/postgresql/<version>/bin``)."""
    found = [Path(p) for p in glob(SERVER_GLOB) if (Path(p) / "initdb").exists()]
    if not found:
        raise PostgresError(
            f"No PostgreSQL server under {SERVER_GLOB}. Install it with: bash scripts/install-postgres.sh"
        )
    return max(found, key=lambda p: [int(n) for n in re.findall(r"[0-9]+", p.parent.name)])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One server; ``start()`` then ``url(database)``, ``create_database``/``drop_database``, ``stop()``."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable  # False: fsync and synchronous commits off, for fast tests
        self.bin_dir = server_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="thresher-pg-"))
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self.password = secrets.token_hex(12)
        self.port = 0
        self._as_postgres = os.geteuid() == 0

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """initdb, then start the server; PostgresError with the server log if it does not come up."""
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            shutil.chown(self.root, user="postgres")
            shutil.chown(pwfile, user="postgres")
        pwfile.chmod(0o600)
        initdb = ["-D", str(self.data_dir), "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256"]
        self._run("initdb", [*initdb, "-E", "UTF8", "--locale=C", *([] if self.durable else ["--no-sync"])])
        pwfile.unlink()
        last_error: PostgresError | None = None
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            pg_ctl = ["-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60"]
            try:
                self._run("pg_ctl", [*pg_ctl, "-o", options, "start"])
                return
            except PostgresError as exc:
                if "already in use" not in str(exc):
                    raise
                last_error = exc
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """Stop the server (if it runs) and remove its folder."""
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", ["-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(statement)

    def _run(self, program: str, args: Sequence[str]) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresError(
                f"{' '.join(command)} exited with {done.returncode}\n{done.stdout}{done.stderr}"
                f"\n--- server log ({self.log_file}) ---\n{self.server_log()}"
            )

    def server_log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return "(no server log was written)"
