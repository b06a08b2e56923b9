"""P6's thresher contender: an online endpoint and its no-code MLflow deployments, made with the CLI as a
user would (``thresher online-endpoint create -f endpoint.yml``, ``thresher online-deployment create -f
deployment.yml --all-traffic``), in a fresh workspace of its own (``THRESHER_HOME``).

The endpoint takes ``auth_mode: key``; its key comes from ``online-endpoint get-credentials -o json``
(``primaryKey``) and its address from ``online-endpoint show -o json`` (``scoring_uri``). Each deployment
is picked with the ``azureml-model-deployment`` header. Deleting the endpoint ends the serving process
(it exits once no endpoint is left), which ``delete`` waits for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bench import common
from bench.online_peers import with_environ

ENDPOINT = "p6-bench"
MODEL = "p6-hgb"
WORKER_MODULE = b"thresher.runtime.online_worker"
NUL = b"\0"
MAX_CONCURRENT = 16  # request_settings.max_concurrent_requests_per_instance: c=8 is never turned away (429)
REQUEST_TIMEOUT_MS = 120_000  # 10,000-row bodies on a busy machine
MISSING = (
    "thresher's online endpoint commands are missing: `{command}` failed ({output}). The thresher contender "
    "of P6 needs `thresher online-endpoint create|show|get-credentials|delete` and `thresher online-deployment "
    "create` (issue 13). Measure the peers alone meanwhile with: python -m bench.p6_online --contenders "
    "null,floor,azmlinfsrv_w1,azmlinfsrv_w2,mlflow_serve,mlserver,mlserver_batching"
)


@dataclass(frozen=True)
class Scoring:
    """Where the endpoint answers and with which key."""

    port: int
    score_path: str
    invocations_path: str
    key: str


class ThresherOnline:
    """The CLI calls of the thresher contender (see the module docstring)."""

    def __init__(self, work: Path, model: Path, *, this_python: bool) -> None:
        self.work = work
        self.home = work / "thresher-home"
        self.model = model
        self.this_python = this_python  # smoke: the workers run this interpreter, no environment is built
        self.env = {k: v for k, v in common.baseline_env().items() if not k.startswith("THRESHER_")}
        self.env["THRESHER_HOME"] = str(self.home)
        self.files = work / "thresher-yaml"

    def cli(self, *args: str, timeout: float = 900.0) -> str:
        """Run ``thresher ARGS``; its stdout, or BenchError with what it said."""
        command = [sys.executable, "-m", "thresher", *args]
        done = subprocess.run(
            command, env=self.env, cwd=self.files, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            said = f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            raise common.BenchError(f"`thresher {' '.join(args)}` failed (exit {done.returncode}):\n{said}")
        return done.stdout

    def check(self) -> None:
        """BenchError with the fix when the online commands are not there (yet)."""
        self.files.mkdir(parents=True, exist_ok=True)
        for group in ("online-endpoint", "online-deployment"):
            command = [sys.executable, "-m", "thresher", group, "create", "--help"]
            done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=120, check=False)
            if done.returncode != 0:
                text = (done.stderr or done.stdout).translate({ord(c): " " for c in "╭╮╰╯│─"})
                said = " ".join(text.split())[-300:]
                raise common.BenchError(MISSING.format(command=f"thresher {group} create --help", output=said))

    def prepare(self) -> None:
        """A fresh workspace with the model registered (and, for smoke runs, an environment of this Python)."""
        common.fresh(self.home)
        common.fresh(self.files)
        self.cli("model", "create", "-n", MODEL, "-v", "1", "-p", str(self.model), "-t", "mlflow_model", "-o", "none")
        if self.this_python:  # an environment without a dependency file runs the workers in thresher's Python
            image = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference"
            self.cli("environment", "create", "-n", "this-python", "-v", "1", "--image", image, "-o", "none")
        endpoint = {"name": ENDPOINT, "auth_mode": "key"}
        (self.files / "endpoint.yml").write_text(yaml.safe_dump(endpoint, sort_keys=False))

    def deployment_file(self, name: str, workers: int) -> Path:
        """deployment.yml of a no-code MLflow deployment with ``workers`` workers (``WORKER_COUNT``)."""
        document: dict[str, Any] = {
            "$schema": "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json",
            "name": name,
            "endpoint_name": ENDPOINT,
            "model": f"azureml:{MODEL}:1",
            "instance_type": "Standard_DS3_v2",
            "instance_count": 1,
            "environment_variables": {"WORKER_COUNT": str(workers)},
            "request_settings": {
                "request_timeout_ms": REQUEST_TIMEOUT_MS,
                "max_concurrent_requests_per_instance": MAX_CONCURRENT,
            },
        }
        if self.this_python:
            document["environment"] = "azureml:this-python:1"
        path = self.files / f"deployment-{name}.yml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def create_endpoint(self) -> None:
        """``online-endpoint create -f endpoint.yml`` (starts the workspace's serving process)."""
        self.cli("online-endpoint", "create", "-f", "endpoint.yml", "-o", "none")

    def scoring(self) -> Scoring:
        """The endpoint's address and primary key, as the CLI gives them."""
        shown = json.loads(self.cli("online-endpoint", "show", "-n", ENDPOINT, "-o", "json"))
        keys = json.loads(self.cli("online-endpoint", "get-credentials", "-n", ENDPOINT, "-o", "json"))
        uri = shown.get("scoring_uri")
        if not uri or not keys.get("primaryKey"):
            raise common.BenchError(f"no scoring_uri in `online-endpoint show` ({shown}) or no primaryKey ({keys})")
        parts = urlsplit(uri)
        if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
            raise common.BenchError(f"scoring_uri {uri} is not on 127.0.0.1 with a port")
        base = parts.path[: -len("/score")] if parts.path.endswith("/score") else parts.path.rstrip("/")
        return Scoring(parts.port, parts.path, f"{base}/invocations", str(keys["primaryKey"]))

    def start_deployment(self, name: str, workers: int, *, all_traffic: bool) -> subprocess.Popen[bytes]:
        """``online-deployment create -f deployment.yml [--all-traffic]``, started (not waited for)."""
        args = ["online-deployment", "create", "-f", self.deployment_file(name, workers).name, "-o", "none"]
        args += ["--all-traffic"] * all_traffic
        log = (self.work / "logs" / f"thresher-create-{name}.log").open("wb")
        command = [sys.executable, "-m", "thresher", *args]
        process = subprocess.Popen(command, env=self.env, cwd=self.files, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return process

    def create_note(self, process: subprocess.Popen[bytes], name: str) -> str | None:
        """None while ``online-deployment create`` runs or after it succeeded; its failure otherwise."""
        if process.poll() in (None, 0):
            return None
        log = self.work / "logs" / f"thresher-create-{name}.log"
        said = log.read_text(errors="replace")[-2000:]
        return f"`thresher online-deployment create` exit {process.returncode}: {said}"

    def processes(self) -> list[int]:
        """The workspace's serving process and workers alive now."""
        return with_environ(f"THRESHER_HOME={self.home}")

    def workers(self) -> list[int]:
        """The online worker processes alive now."""
        found = []
        for pid in self.processes():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    if WORKER_MODULE in handle.read():
                        found.append(pid)
            except OSError:
                continue
        return found

    def delete(self, timeout: float = 60.0) -> None:
        """Delete the endpoint and wait until the serving process and its workers have exited."""
        try:
            self.cli("online-endpoint", "delete", "-n", ENDPOINT, "--yes")
        finally:
            deadline = time.monotonic() + timeout
            while (left := self.processes()) and time.monotonic() < deadline:
                time.sleep(0.1)
            if left:
                described = []
                for pid in left:
                    try:
                        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(NUL, b" ")
                    except OSError:
                        continue
                    described.append(f"{pid}: {command.decode(errors='replace')}")
                raise common.BenchError(
                    f"the serving process did not exit {timeout:g} s after its last endpoint was deleted: "
                    + "; ".join(described)
                )
