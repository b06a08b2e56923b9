"""``ws.pipeline_endpoints`` and ``ws.schedules`` against a thresher server: the two ways a pipeline runs
without its author submitting it, sent to their routes (``routes_published.py``, ``routes_schedules.py``).

As in ``remote.py``, each class subclasses the local one and overrides every public method; a pipeline or
schedule YAML is sent with its whole folder uploaded (``yaml_in_folder``), since it names files beside it.
What only the server's own process can do (fire due schedules, publish a Python pipeline object) raises a
``ThresherError`` that says what to do instead.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thresher.errors import ThresherError
from thresher.sdk.published import PipelineEndpoint, PipelineEndpointOperations, PublishedPipeline
from thresher.sdk.schedules import ScheduleOperations, ScheduleRecord, ScheduleStatus
from thresher.sdk.wire import decode
from thresher.specs.schedules import ScheduleSpec
from thresher.store import JobRecord
from thresher.store.service import FireRecord

if TYPE_CHECKING:
    from thresher.pipelines.model import PipelineDef
    from thresher.sdk.pipeline_requests import InputKind
    from thresher.sdk.remote import _Client


def _server_clock(what: str) -> ThresherError:
    return ThresherError(
        f"{what} takes now=... on a workspace folder only; a thresher server takes its own clock as now.",
        fix="Leave now= out against a server (THRESHER_SERVER), or run on the server's machine without it.",
    )


def _path_override(client: _Client, item: str) -> str:
    """A ``--set inputs.x.path=./local`` override with the local path uploaded."""
    key, sep, value = item.partition("=")
    if sep and key.endswith(".path"):
        return f"{key}={client.local(value)}"
    return item


class RemotePipelineEndpointOperations(PipelineEndpointOperations):
    """``ws.pipeline_endpoints`` against a server: publishing uploads the pipeline's folder first."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def publish(
        self,
        source: str | Path,
        *,
        name: str,
        version: str | None = None,
        description: str | None = None,
        set_default: bool | None = None,
        overrides: Sequence[str] = (),
    ) -> PublishedPipeline:
        text = str(source)
        is_job = text.startswith("azureml:") and not text.startswith("azureml://")
        body = {
            "path": text if is_job else self._client.yaml_in_folder(text),
            "name": name,
            "version": version,
            "description": description,
            "set_default": set_default,
            "overrides": [_path_override(self._client, item) for item in overrides],
        }
        return decode(PublishedPipeline, self._client.call("POST", "/pipelines", json=body))

    def publish_definition(
        self,
        pipeline: PipelineDef,
        *,
        name: str,
        parameters: Mapping[str, InputKind] | None = None,
        defaults: Mapping[str, Any] | None = None,
        version: str | None = None,
        description: str | None = None,
        set_default: bool | None = None,
        origin: Mapping[str, Any] | None = None,
    ) -> PublishedPipeline:
        raise ThresherError(
            f"Publishing a pipeline built in Python ('{name}', the v1 SDK's Pipeline.publish) works on a workspace "
            "folder, not against a thresher server: its steps' code is snapshotted into the workspace's datastore.",
            fix="Run the publishing script on the server's machine without THRESHER_SERVER (THRESHER_HOME set to "
            "the served workspace), or publish the pipeline's YAML: thresher pipeline publish -f pipeline.yml "
            f"--name {name}",
        )

    def add(self, name: str, id: str, *, set_default: bool | None = None) -> PublishedPipeline:
        body = {"id": id, "set_default": set_default}
        return decode(PublishedPipeline, self._client.call("POST", f"/pipelineendpoints/{name}/add", json=body))

    def get(self, name: str) -> PipelineEndpoint:
        return decode(PipelineEndpoint, self._client.call("GET", f"/pipelineendpoints/{name}"))

    def list(self) -> builtins.list[PipelineEndpoint]:
        return decode(list[PipelineEndpoint], self._client.call("GET", "/pipelineendpoints"))

    def pipelines(self, name: str) -> builtins.list[PublishedPipeline]:
        return decode(list[PublishedPipeline], self._client.call("GET", f"/pipelineendpoints/{name}/pipelines"))

    list_versions = pipelines

    def get_pipeline(self, name: str, version: str | None = None) -> PublishedPipeline:
        data = self._client.call("GET", f"/pipelineendpoints/{name}/pipeline", params={"version": version})
        return decode(PublishedPipeline, data)

    def get_published(self, id: str) -> PublishedPipeline:
        return decode(PublishedPipeline, self._client.call("GET", f"/publishedpipelines/{id}"))

    def list_published(self) -> builtins.list[PublishedPipeline]:
        return decode(list[PublishedPipeline], self._client.call("GET", "/publishedpipelines"))

    def set_default(self, name: str, version: str) -> PipelineEndpoint:
        data = self._client.call("POST", f"/pipelineendpoints/{name}/default", json={"version": version})
        return decode(PipelineEndpoint, data)

    def disable(self, name: str) -> PipelineEndpoint:
        return decode(PipelineEndpoint, self._client.call("POST", f"/pipelineendpoints/{name}/disable"))

    def enable(self, name: str) -> PipelineEndpoint:
        return decode(PipelineEndpoint, self._client.call("POST", f"/pipelineendpoints/{name}/enable"))

    def disable_published(self, id: str) -> PublishedPipeline:
        return decode(PublishedPipeline, self._client.call("POST", f"/publishedpipelines/{id}/disable"))

    def enable_published(self, id: str) -> PublishedPipeline:
        return decode(PublishedPipeline, self._client.call("POST", f"/publishedpipelines/{id}/enable"))

    def invoke(
        self, name: str, body: Mapping[str, Any] | None = None, *, version: str | None = None, start_runner: bool = True
    ) -> JobRecord:
        path = f"/pipelineendpoints/{name}"
        sent = None if body is None else dict(body)
        return decode(JobRecord, self._client.call("POST", path, json=sent, params={"version": version}, queues=True))

    def invoke_published(
        self,
        id: str,
        body: Mapping[str, Any] | None = None,
        *,
        start_runner: bool = True,
        extra: Mapping[str, Any] | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> JobRecord:
        if extra is not None or continue_on_step_failure is not None:
            raise ThresherError(
                "extra and continue_on_step_failure are set by the server's schedules, not by a remote client.",
                fix="Call invoke_published(id, body) with Azure's REST body.",
            )
        sent = None if body is None else dict(body)
        return decode(JobRecord, self._client.call("POST", f"/publishedpipelines/{id}", json=sent, queues=True))


class RemoteScheduleOperations(ScheduleOperations):
    """``ws.schedules`` against a server, which fires them itself every ``schedule_interval`` seconds."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def create(
        self,
        source: str | Path | ScheduleSpec,
        *,
        name: str | None = None,
        overrides: Sequence[str] = (),
        now: datetime | None = None,
    ) -> ScheduleRecord:
        if now is not None:
            raise _server_clock("schedules.create")
        body: dict[str, Any] = {"name": name, "overrides": list(overrides)}
        if isinstance(source, ScheduleSpec):
            body["spec"] = self._document(source)
        else:
            body["path"] = self._client.yaml_in_folder(source)
        return decode(ScheduleRecord, self._client.call("POST", "/schedules", json=body))

    def _document(self, spec: ScheduleSpec) -> dict[str, Any]:
        """The spec's document, its pipeline job's YAML uploaded with its folder and other local paths uploaded."""
        document = spec.to_document()
        job = document.pop("create_job", None)
        sent: dict[str, Any] = self._client.uploaded(document)
        if isinstance(job, str) and not job.startswith("azureml:"):
            job = self._client.yaml_in_folder(job)
        elif isinstance(job, Mapping):
            inner = job.get("job")
            job = self._client.uploaded({key: value for key, value in job.items() if key != "job"})
            if isinstance(inner, str) and not inner.startswith("azureml:"):
                inner = self._client.yaml_in_folder(inner)
            if inner is not None:
                job["job"] = inner
        if job is not None:
            sent["create_job"] = job
        return sent

    def get(self, name: str) -> ScheduleRecord:
        return decode(ScheduleRecord, self._client.call("GET", f"/schedules/{name}"))

    def list(self) -> builtins.list[ScheduleRecord]:
        return decode(list[ScheduleRecord], self._client.call("GET", "/schedules"))

    def enable(self, name: str, *, now: datetime | None = None) -> ScheduleRecord:
        if now is not None:
            raise _server_clock("schedules.enable")
        return decode(ScheduleRecord, self._client.call("POST", f"/schedules/{name}/enable"))

    def disable(self, name: str) -> ScheduleRecord:
        return decode(ScheduleRecord, self._client.call("POST", f"/schedules/{name}/disable"))

    def delete(self, name: str) -> None:
        self._client.call("DELETE", f"/schedules/{name}")

    def fires(self, name: str, *, limit: int | None = 50) -> builtins.list[FireRecord]:
        data = self._client.call("GET", f"/schedules/{name}/fires", params={"limit": limit})
        return decode(list[FireRecord], data)

    def show(self, name: str, *, now: datetime | None = None, fires: int = 10) -> ScheduleStatus:
        if now is not None:
            raise _server_clock("schedules.show")
        return decode(ScheduleStatus, self._client.call("GET", f"/schedules/{name}/status", params={"fires": fires}))

    def server_running(self, *, now: datetime | None = None) -> bool:
        if now is not None:
            raise _server_clock("schedules.server_running")
        return bool(self._client.call("GET", "/schedule-firing")["server_running"])

    def fire_due(self, now: datetime | None = None, *, start_runner: bool = True) -> builtins.list[FireRecord]:
        raise ThresherError(
            "Firing due schedules is what a thresher server does by itself (every THRESHER_SCHEDULE_INTERVAL "
            "seconds); a client of it cannot fire them.",
            fix="Nothing to do while the server runs: see its fires with thresher schedule show --name NAME. To "
            "fire on a workspace folder, call ws.schedules.fire_due() without THRESHER_SERVER.",
        )
