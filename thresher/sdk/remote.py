"""``Workspace("https://host:port", token=...)``: the SDK against a thresher server, same operations.

Each operation class here is the local one's subclass with every public method sent to the server's
route for it (``thresher.server``), so the signatures are the local ones (mypy checks the overrides)
and what comes back is decoded into the same records (``wire.py``). Local files and folders named in
specs and arguments are uploaded first, once per content (``_Client.upload``), and the server's path
of the upload is sent in their place.

Transport failures (a refused or dropped connection, the server restarting) are retried with backoff
for up to ``RETRY_SECONDS``. Requests that queue a job carry an ``Idempotency-Key`` that every retry
repeats, so a job is queued once however often the request is delivered; other writes are retried
only when the connection failed before the request was sent.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import ssl
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from thresher.errors import StorageError, ThresherError
from thresher.sdk.assets import DataOperations, EnvironmentOperations, ModelOperations
from thresher.sdk.endpoints import BatchDeploymentOperations, BatchEndpointOperations
from thresher.sdk.health import WorkspaceCheck, WorkspaceInfo
from thresher.sdk.infra import ComputeOperations, DatastoreOperations
from thresher.sdk.job_cleanup import JobCleanup
from thresher.sdk.jobs import JobOperations
from thresher.sdk.pipelines import ComponentOperations, PipelineJobOperations
from thresher.sdk.remote_online import RemoteOnlineDeploymentOperations, RemoteOnlineEndpointOperations
from thresher.sdk.remote_published import RemotePipelineEndpointOperations, RemoteScheduleOperations
from thresher.sdk.tokens import NewToken, TokenOperations
from thresher.sdk.wire import decode, error_from_json
from thresher.sdk.workspace import Workspace, is_server_url
from thresher.settings import Settings, load_settings
from thresher.store import AssetRecord, DeploymentRecord, JobRecord, ResourceRecord
from thresher.store.backup import BackupRecord
from thresher.store.service import TokenRecord

if TYPE_CHECKING:
    from thresher.environments.build import EnvironmentBuild

T = TypeVar("T")
RETRY_SECONDS = 120.0
"""How long a request is retried while the server cannot be reached (a restart takes seconds)."""
FIRST_CONTACT_SECONDS = 10.0
"""How long the first request of a client is retried: a server never reached may be a wrong address."""
TIMEOUT = httpx.Timeout(300.0, connect=5.0)


class _Client:
    """The HTTP session: the token, retries, errors as thresher's, and uploads."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        if not token:
            raise ThresherError(
                f"A thresher server ({self.url}) needs an API token, and none was given.",
                fix="Set THRESHER_TOKEN (or pass token=...) to a token an owner made with: thresher token create",
            )
        self._http = httpx.Client(
            base_url=self.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        self._uploaded: dict[tuple[str, int, int], str] = {}
        self._reached = False  # whether this client has had an answer yet
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        queues: bool = False,
        content: Callable[[], Iterator[bytes]] | None = None,
        key: str | None = None,
    ) -> Any:
        """Send a request (retried as the module says) and return its decoded JSON (None for 204). A request
        that ``queues`` a job carries ``key`` (a fresh one by default) as its Idempotency-Key."""
        response = self._send(method, path, json=json, params=params, queues=queues, content=content, key=key)
        if response.status_code == 204:
            return None
        return response.json()

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        queues: bool = False,
        content: Callable[[], Iterator[bytes]] | None = None,
        stream_to: Path | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex} if queues else {}
        query = {key: value for key, value in (params or {}).items() if value is not None}
        safe = method in ("GET", "HEAD") or queues or method == "PUT"  # PUTs of uploads are idempotent
        patience = RETRY_SECONDS if self._reached else FIRST_CONTACT_SECONDS
        deadline = time.monotonic() + patience
        delay = 0.1
        while True:
            try:
                if stream_to is not None:
                    with self._http.stream(method, path, params=query, headers=headers) as response:
                        if response.status_code < 400:
                            self._reached = True
                            with open(stream_to, "wb") as handle:
                                for chunk in response.iter_bytes():
                                    handle.write(chunk)
                            return response
                        response.read()
                else:
                    body = content() if content is not None else None
                    response = self._http.request(method, path, json=json, params=query, headers=headers, content=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                if _untrusted(error):
                    raise ThresherError(
                        f"The thresher server at {self.url} presented a certificate this machine does not trust: "
                        f"{error}",
                        fix="Set SSL_CERT_FILE to the certificate of the CA that signed it (or the server's own "
                        "certificate, when it is self-signed).",
                    ) from error
                last: Exception = error  # not sent: any request may be tried again
            except httpx.TransportError as error:
                if not safe:
                    raise ThresherError(
                        f"The connection to {self.url} broke during {method} {path}; whether it took effect is "
                        f"unknown ({type(error).__name__}).",
                        fix="Check with a list or show command before trying again.",
                    ) from error
                last = error
            else:
                if response.status_code in (502, 503, 504) and safe and time.monotonic() < deadline:
                    last = ThresherError(f"{response.status_code} from {self.url}")
                else:
                    return self._checked(response)
            if time.monotonic() > deadline:
                raise ThresherError(
                    f"The thresher server at {self.url} did not answer for {patience:.0f} s ({last}).",
                    fix="Check that it runs (thresher server) and that THRESHER_SERVER is its address.",
                ) from last
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        self._reached = True
        if response.status_code < 400:
            return response
        try:
            data = response.json()
            error = data.get("error") if isinstance(data, dict) else None
        except ValueError:
            error = None
        if isinstance(error, dict):
            raise error_from_json(error)
        raise ThresherError(
            f"The thresher server at {self.url} answered {response.status_code}: {response.text[:200]}",
            fix="Check THRESHER_SERVER: it must be a thresher server's address.",
        )

    def download(self, path: str, params: Mapping[str, Any], target: Path) -> httpx.Response:
        """Stream a response's body into ``target``."""
        return self._send("GET", path, params=params, stream_to=target)

    # -- uploads -------------------------------------------------------------------------------

    def upload(self, local: Path) -> str:
        """The server's path of ``local`` (a file or folder), uploaded unless the server has its content."""
        stat = local.stat()
        key = (str(local), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key in self._uploaded and local.is_file():
                return self._uploaded[key]
        with tempfile.TemporaryDirectory(prefix="thresher-upload-") as scratch:
            packed = Path(scratch) / "upload.tar"
            digest = _pack(local, packed)
            try:
                found = self.call("GET", f"/uploads/{digest}")
            except ThresherError as error:
                if type(error).__name__ != "NotFoundError":
                    raise
                found = self.call("PUT", f"/uploads/{digest}", content=lambda: _chunks(packed))
        path = str(found["path"])
        with self._lock:
            self._uploaded[key] = path
        return path

    def uploaded(self, value: Any, where: str = "") -> Any:
        """``value`` (a spec document) with each absolute local path uploaded; StorageError for one that
        does not exist here (the server cannot see this machine's files)."""
        if isinstance(value, Mapping):
            return {key: self.uploaded(item, f"{where}.{key}" if where else str(key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.uploaded(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if isinstance(value, str) and os.path.isabs(value):
            if not os.path.exists(value):
                raise StorageError(
                    f"The {where or 'path'} {value!r} does not exist on this machine.",
                    fix="Check the path; relative paths in a YAML file resolve against the file's folder.",
                )
            if value.endswith((".yml", ".yaml")) and os.path.isfile(value):
                return self.yaml_in_folder(value)  # a component or pipeline file names files beside it
            return self.upload(Path(value))
        return value

    def local(self, path: str | Path | None) -> str | None:
        """A path argument: a local file or folder uploaded (relative to the current folder), else as given."""
        if path is None:
            return None
        text = str(path)
        candidate = Path(text).expanduser()
        if "://" not in text and not text.startswith("azureml:") and candidate.exists():
            return self.upload(candidate.resolve())
        return text

    def yaml_in_folder(self, path: str | Path) -> str:
        """A YAML file's server path, its whole folder uploaded (it names files beside it)."""
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise ThresherError(f"The file {path} does not exist.", fix="Check the path.")
        return str(Path(self.upload(file.parent)) / file.name)


def _untrusted(error: Exception) -> bool:
    """Whether a connection failed on the server's certificate (retrying cannot help)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _pack(local: Path, packed: Path) -> str:
    """Write ``local`` into a deterministic tar (sorted names, no times or owners); its SHA-256."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(packed, mode="w", format=tarfile.PAX_FORMAT, dereference=True) as archive:
        if local.is_dir():
            archive.add(local, arcname=local.name, recursive=False, filter=clean)
            for root, folders, files in os.walk(local, followlinks=True):
                folders.sort()
                base = Path(root)
                for name in sorted(folders) + sorted(files):
                    entry = base / name
                    archive.add(
                        entry, arcname=str(Path(local.name) / entry.relative_to(local)), recursive=False, filter=clean
                    )
        else:
            archive.add(local, arcname=local.name, filter=clean)
    hasher = hashlib.sha256()
    for chunk in _chunks(packed):
        hasher.update(chunk)
    return hasher.hexdigest()


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def _not_remote(what: str) -> ThresherError:
    return ThresherError(
        f"{what} works on a workspace folder, not against a thresher server.",
        fix="Run it on the server's machine without THRESHER_SERVER, or use the server's routes (/openapi.json).",
    )


def _spec(client: _Client, spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = client.uploaded(spec.to_document())
    return document


# -- assets -------------------------------------------------------------------------------------------


class _RemoteAssets:
    _client: _Client
    _collection: str

    def get(self, name: str, version: str | None = None) -> AssetRecord:
        return decode(AssetRecord, self._client.call("GET", f"/{self._collection}/{name}", params={"version": version}))

    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[AssetRecord]:
        params = {"name": name, "include_archived": include_archived}
        return decode(list[AssetRecord], self._client.call("GET", f"/{self._collection}", params=params))

    def archive(self, name: str, version: str | None = None) -> builtins.list[AssetRecord]:
        path = f"/{self._collection}/{name}/archive"
        return decode(list[AssetRecord], self._client.call("POST", path, params={"version": version}))

    def restore(self, name: str, version: str | None = None) -> builtins.list[AssetRecord]:
        path = f"/{self._collection}/{name}/restore"
        return decode(list[AssetRecord], self._client.call("POST", path, params={"version": version}))

    def _create(self, spec: Any) -> AssetRecord:
        body = {"spec": _spec(self._client, spec)}
        return decode(AssetRecord, self._client.call("POST", f"/{self._collection}", json=body))


class RemoteModelOperations(_RemoteAssets, ModelOperations):
    """``ws.models`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client, self._collection = client, "models"

    def create(self, spec: Any) -> AssetRecord:
        return self._create(spec)


class RemoteEnvironmentOperations(_RemoteAssets, EnvironmentOperations):
    """``ws.environments`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client, self._collection = client, "environments"

    def create(self, spec: Any) -> AssetRecord:
        return self._create(spec)

    def build(self, name: str, version: str | None = None) -> EnvironmentBuild:
        from thresher.environments.build import EnvironmentBuild

        data = self._client.call("POST", f"/environments/{name}/build", params={"version": version})
        return decode(EnvironmentBuild, data)

    def build_status(self, name: str, version: str | None = None) -> EnvironmentBuild:
        from thresher.environments.build import EnvironmentBuild

        data = self._client.call("GET", f"/environments/{name}/build", params={"version": version})
        return decode(EnvironmentBuild, data)


class RemoteDataOperations(_RemoteAssets, DataOperations):
    """``ws.data`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client, self._collection = client, "data"

    def create(self, spec: Any) -> AssetRecord:
        return self._create(spec)


class RemoteComponentOperations(ComponentOperations):
    """``ws.components`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(self, path: str | Path, *, name: str | None = None, version: str | None = None) -> AssetRecord:
        body = {"path": self._client.yaml_in_folder(path), "name": name, "version": version}
        return decode(AssetRecord, self._client.call("POST", "/components", json=body))

    def register(self, *_args: Any, **_kwargs: Any) -> AssetRecord:
        raise _not_remote("Registering a component document")

    def get(self, name: str, version: str | None = None) -> AssetRecord:
        return decode(AssetRecord, self._client.call("GET", f"/components/{name}", params={"version": version}))

    def list(self, name: str | None = None) -> builtins.list[AssetRecord]:
        return decode(list[AssetRecord], self._client.call("GET", "/components", params={"name": name}))


# -- named resources ----------------------------------------------------------------------------------


class RemoteDatastoreOperations(DatastoreOperations):
    """``ws.datastores`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(self, spec: Any, *, check: bool = True) -> ResourceRecord:
        body = {"spec": spec.to_document(), "check": check}  # a local datastore's path is the server's
        return decode(ResourceRecord, self._client.call("POST", "/datastores", json=body))

    def get(self, name: str) -> ResourceRecord:
        return decode(ResourceRecord, self._client.call("GET", f"/datastores/{name}"))

    def list(self) -> builtins.list[ResourceRecord]:
        return decode(list[ResourceRecord], self._client.call("GET", "/datastores"))

    def delete(self, name: str) -> None:
        self._client.call("DELETE", f"/datastores/{name}")


class RemoteComputeOperations(ComputeOperations):
    """``ws.computes`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(self, spec: Any) -> ResourceRecord:
        return decode(ResourceRecord, self._client.call("POST", "/computes", json={"spec": _spec(self._client, spec)}))

    def get(self, name: str) -> ResourceRecord:
        return decode(ResourceRecord, self._client.call("GET", f"/computes/{name}"))

    def list(self) -> builtins.list[ResourceRecord]:
        return decode(list[ResourceRecord], self._client.call("GET", "/computes"))

    def delete(self, name: str) -> None:
        self._client.call("DELETE", f"/computes/{name}")

    def warm_pools(self, name: str) -> builtins.list[dict[str, Any]]:
        pools: builtins.list[dict[str, Any]] = self._client.call("GET", f"/computes/{name}/warm-pools")
        return pools

    def stop(self, name: str, *, timeout: float = 30.0) -> dict[str, Any]:
        summary: dict[str, Any] = self._client.call("POST", f"/computes/{name}/stop", params={"timeout": timeout})
        return summary

    def placement(self, record: ResourceRecord) -> dict[str, Any]:
        placement: dict[str, Any] = self._client.call("GET", f"/computes/{record.name}/placement")
        return placement


class RemoteBatchEndpointOperations(BatchEndpointOperations):
    """``ws.batch_endpoints`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(self, spec: Any) -> ResourceRecord:
        body = {"spec": _spec(self._client, spec)}
        return decode(ResourceRecord, self._client.call("POST", "/batch-endpoints", json=body))

    def update(self, name: str, overrides: Sequence[str] = (), *, spec: Any = None) -> ResourceRecord:
        body = {"overrides": list(overrides), "spec": None if spec is None else _spec(self._client, spec)}
        return decode(ResourceRecord, self._client.call("PATCH", f"/batch-endpoints/{name}", json=body))

    def get(self, name: str) -> ResourceRecord:
        return decode(ResourceRecord, self._client.call("GET", f"/batch-endpoints/{name}"))

    def list(self) -> builtins.list[ResourceRecord]:
        return decode(list[ResourceRecord], self._client.call("GET", "/batch-endpoints"))

    def delete(self, name: str) -> None:
        self._client.call("DELETE", f"/batch-endpoints/{name}")


class RemoteBatchDeploymentOperations(BatchDeploymentOperations):
    """``ws.batch_deployments`` against a server."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(self, spec: Any, *, endpoint_name: str | None = None, set_default: bool = False) -> DeploymentRecord:
        endpoint = (endpoint_name or spec.endpoint_name or "").lower()
        if not endpoint:
            raise ThresherError(
                f"Deployment '{spec.name}' names no endpoint.",
                fix="Pass --endpoint-name/-e, or set endpoint_name in the YAML file.",
            )
        body = {"spec": _spec(self._client, spec), "set_default": set_default}
        return decode(
            DeploymentRecord, self._client.call("POST", f"/batch-endpoints/{endpoint}/deployments", json=body)
        )

    def update(
        self, name: str, endpoint_name: str, overrides: Sequence[str] = (), *, spec: Any = None
    ) -> DeploymentRecord:
        body = {"overrides": list(overrides), "spec": None if spec is None else _spec(self._client, spec)}
        path = f"/batch-endpoints/{endpoint_name.lower()}/deployments/{name}"
        return decode(DeploymentRecord, self._client.call("PATCH", path, json=body))

    def get(self, name: str, endpoint_name: str) -> DeploymentRecord:
        path = f"/batch-endpoints/{endpoint_name.lower()}/deployments/{name}"
        return decode(DeploymentRecord, self._client.call("GET", path))

    def list(self, endpoint_name: str) -> builtins.list[DeploymentRecord]:
        path = f"/batch-endpoints/{endpoint_name.lower()}/deployments"
        return decode(list[DeploymentRecord], self._client.call("GET", path))

    def delete(self, name: str, endpoint_name: str) -> None:
        self._client.call("DELETE", f"/batch-endpoints/{endpoint_name.lower()}/deployments/{name}")


# -- jobs ---------------------------------------------------------------------------------------------


class RemoteJobOperations(JobOperations):
    """``ws.jobs`` against a server: jobs are queued there and run by its runners."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def invoke(
        self,
        endpoint_name: str,
        *,
        input: str | None = None,
        inputs_file: str | Path | None = None,
        input_type: str | None = None,
        deployment_name: str | None = None,
        output_path: str | None = None,
        mini_batch_size: int | str | None = None,
        instance_count: int | None = None,
        overrides: Sequence[str] = (),
        job_name: str | None = None,
        start_runner: bool = True,
        request_key: str | None = None,
    ) -> JobRecord:
        body = {
            "input": self._client.local(input),
            "inputs_file": None if inputs_file is None else self._client.yaml_in_folder(inputs_file),
            "input_type": input_type,
            "deployment_name": deployment_name,
            "output_path": output_path,
            "mini_batch_size": None if mini_batch_size is None else int(mini_batch_size),
            "instance_count": instance_count,
            "overrides": list(overrides),
            "job_name": job_name,
        }
        path = f"/batch-endpoints/{endpoint_name.lower()}/jobs"
        return decode(JobRecord, self._client.call("POST", path, json=body, queues=True, key=request_key))

    def score(
        self,
        *,
        model: str,
        input: str,
        code: str | None = None,
        scoring_script: str | None = None,
        output: str | None = None,
        settings: dict[str, Any] | None = None,
        job_name: str | None = None,
    ) -> JobRecord:
        if output is not None and "://" not in output:
            raise ThresherError(
                f"--output {output} is a folder of this machine; a job scored by a thresher server writes on the "
                "server.",
                fix="Leave --output out and fetch the result with: thresher job download --name <job> "
                "--download-path " + output,
            )
        script = None
        code_path = None
        if scoring_script is not None:
            code_dir = Path(code or Path(scoring_script).parent or ".").expanduser().resolve()
            script_path = (code_dir / scoring_script) if code else Path(scoring_script).expanduser().resolve()
            code_path = self._client.upload(script_path.parent)
            script = str(Path(code_path) / script_path.name)
        body = {
            "model": self._client.local(model),
            "input": self._client.local(input),
            "code": code_path,
            "scoring_script": script,
            "output": output,
            "settings": settings,
            "job_name": job_name,
        }
        return decode(JobRecord, self._client.call("POST", "/jobs/score", json=body, queues=True))

    def run_here(self, name: str) -> threading.Thread:
        # The server runs a scored job as soon as it queues it: here, only wait for its end.
        thread = threading.Thread(target=self.wait, args=(name,), name=f"job-{name}", daemon=True)
        thread.start()
        return thread

    def get(self, name: str) -> JobRecord:
        return decode(JobRecord, self._client.call("GET", f"/jobs/{name}"))

    def list(
        self,
        *,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        limit: int | None = 50,
        parent_job_name: str | None = None,
    ) -> builtins.list[JobRecord]:
        params = {
            "endpoint_name": endpoint_name,
            "deployment_name": deployment_name,
            "limit": limit,
            "parent_job_name": parent_job_name,
        }
        return decode(list[JobRecord], self._client.call("GET", "/jobs", params=params))

    def cancel(self, name: str) -> JobRecord:
        return decode(JobRecord, self._client.call("POST", f"/jobs/{name}/cancel"))

    def resume(self, name: str, *, start_runner: bool = True, source_path: str | None = None) -> JobRecord:
        # A pipeline job is read again from its YAML: this machine's copy, where the fix was made, goes up again.
        local = source_path or self.get(name).spec.get("client_path")
        body = {"path": self._client.yaml_in_folder(local)} if local and Path(str(local)).is_file() else None
        return decode(JobRecord, self._client.call("POST", f"/jobs/{name}/resume", json=body))

    def note(self, job: JobRecord) -> str | None:
        note: str | None = self._client.call("GET", f"/jobs/{job.name}/note")["note"]
        return note

    def unserved(self, job: JobRecord) -> str | None:
        if job.status != "Queued":
            return None
        unserved: str | None = self._client.call("GET", f"/jobs/{job.name}/note")["unserved"]
        return unserved

    def log_path(self, job: JobRecord) -> Path | None:
        return None  # on the server: GET /api/v1/jobs/{name}/logs streams it

    def delete(self, name: str) -> JobCleanup:
        return decode(JobCleanup, self._client.call("DELETE", f"/jobs/{name}"))

    def prune(self, older_than: timedelta, *, dry_run: bool = False) -> builtins.list[JobCleanup]:
        body = {"older_than_seconds": older_than.total_seconds(), "dry_run": dry_run}
        return decode(list[JobCleanup], self._client.call("POST", "/jobs/prune", json=body))

    def download(self, name: str, download_path: str | Path, *, output_name: str = "score", all: bool = False) -> Path:
        target = Path(download_path)
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="thresher-download-") as scratch:
            packed = Path(scratch) / "download.tar"
            params = {"output_name": output_name, "all": all}
            response = self._client.download(f"/jobs/{name}/download", params, packed)
            with tarfile.open(packed, mode="r:") as archive:
                archive.extractall(target, filter="data")
        return target / str(response.headers.get("X-Thresher-Path", f"named-outputs/{output_name}"))

    def logs(self, name: str) -> str:
        """The job's main log as the server has it now."""
        response = self._client._send("GET", f"/jobs/{name}/logs")
        return response.text


class RemotePipelineJobOperations(PipelineJobOperations):
    """``ws.pipelines`` against a server: the pipeline's folder is uploaded, the server checks and queues it."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(
        self,
        path: str | Path,
        *,
        overrides: Sequence[str] = (),
        name: str | None = None,
        experiment_name: str | None = None,
        regenerate_outputs: bool = False,
        start_runner: bool = True,
        client_path: str | None = None,
    ) -> JobRecord:
        if regenerate_outputs:
            raise _not_remote("regenerate_outputs")
        body = {
            "path": self._client.yaml_in_folder(path),
            "overrides": [self._override(item) for item in overrides],
            "name": name,
            "experiment_name": experiment_name,
            "client_path": client_path or str(Path(path).expanduser().resolve()),
        }
        return decode(JobRecord, self._client.call("POST", "/jobs", json=body, queues=True))

    def _override(self, item: str) -> str:
        key, sep, value = item.partition("=")
        if sep and key.endswith(".path"):
            uploaded = self._client.local(value)
            return f"{key}={uploaded}"
        return item

    def explain_reuse(self, name: str, *, against: str | None = None) -> builtins.list[str]:
        lines: builtins.list[str] = self._client.call("GET", f"/jobs/{name}/explain-reuse", params={"against": against})
        return lines

    def submit(self, *_args: Any, **_kwargs: Any) -> JobRecord:
        raise _not_remote("Submitting a pipeline definition object")

    def invoke_deployment(self, *_args: Any, **_kwargs: Any) -> JobRecord:
        raise _not_remote("invoke_deployment (use ws.jobs.invoke)")

    def reload(self, job: JobRecord) -> dict[str, Any] | None:
        raise _not_remote("Reloading a pipeline's file")


class RemoteTokenOperations(TokenOperations):
    """``ws.tokens`` against a server (an owner's token)."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(self, name: str, *, role: str = "reader") -> NewToken:
        return decode(NewToken, self._client.call("POST", "/tokens", json={"name": name, "role": role}))

    def list(self) -> builtins.list[TokenRecord]:
        return decode(list[TokenRecord], self._client.call("GET", "/tokens"))

    def revoke(self, name: str) -> TokenRecord:
        return decode(TokenRecord, self._client.call("POST", f"/tokens/{name}/revoke"))

    def verify(self, secret: str) -> TokenRecord | None:
        raise _not_remote("Verifying a token's secret")


def remote_parts(client: _Client) -> dict[str, Any]:
    """The operation attributes of a remote workspace."""
    return {
        "models": RemoteModelOperations(client),
        "environments": RemoteEnvironmentOperations(client),
        "data": RemoteDataOperations(client),
        "datastores": RemoteDatastoreOperations(client),
        "computes": RemoteComputeOperations(client),
        "batch_endpoints": RemoteBatchEndpointOperations(client),
        "batch_deployments": RemoteBatchDeploymentOperations(client),
        "online_endpoints": RemoteOnlineEndpointOperations(client),
        "online_deployments": RemoteOnlineDeploymentOperations(client),
        "jobs": RemoteJobOperations(client),
        "pipelines": RemotePipelineJobOperations(client),
        "components": RemoteComponentOperations(client),
        "tokens": RemoteTokenOperations(client),
        "schedules": RemoteScheduleOperations(client),
        "pipeline_endpoints": RemotePipelineEndpointOperations(client),
    }


def connect(url: str, token: str | None, settings: Settings | None = None) -> _Client:
    """The HTTP session to a server, its token from ``token`` or THRESHER_TOKEN."""
    if token is None:
        secret = (settings or load_settings()).token
        token = secret.get_secret_value() if secret is not None else None
    return _Client(url, token)


class RemoteWorkspace(Workspace):
    """A workspace served by a thresher server: ``Workspace(url, token=...)`` or THRESHER_SERVER makes one."""

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        database_url: str | None = None,
        settings: Settings | None = None,
        token: str | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        url = str(home) if home is not None and is_server_url(str(home)) else self.settings.server
        if not url:
            raise ThresherError("No thresher server was named.", fix="Pass its URL, or set THRESHER_SERVER.")
        self.url = url.rstrip("/")
        self._client = connect(self.url, token, self.settings)
        for name, operations in remote_parts(self._client).items():
            setattr(self, name, operations)

    def check(self) -> WorkspaceCheck:
        return decode(WorkspaceCheck, self._client.call("GET", "/workspace/check"))

    def backup(self, path: str | Path) -> BackupRecord:
        """Back up the server's database to ``path`` on the server (an owner's token)."""
        return decode(BackupRecord, self._client.call("POST", "/workspace/backup", json={"path": str(path)}))

    def show(self) -> WorkspaceInfo:
        return decode(WorkspaceInfo, self._client.call("GET", "/workspace"))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteWorkspace:
        return self

    def __repr__(self) -> str:
        return f"Workspace({self.url!r})"
