"""Routes of jobs: invoke (thresher's body and Azure's), pipeline jobs, follow, cancel, resume, download.

Routes that queue a job honour an ``Idempotency-Key`` header: the first delivery of a key queues the job
and stores the answer; a retried delivery (a dropped connection, a client that timed out) gets that
same answer, so a job is never queued twice. An invocation stores its key in the job's own transaction
(``ServerState.queued_once``); the other routes claim the key first and store the answer after
(``ServerState.once``).
"""

from __future__ import annotations

import asyncio
import json
import tarfile
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from thresher.errors import ThresherError
from thresher.sdk.wire import encode
from thresher.server.auth import READ, WRITE
from thresher.server.azure_body import azure_invocation
from thresher.server.bodies import check_path_fields
from thresher.server.state import ServerState
from thresher.server.state import state_of as _state
from thresher.store import TERMINAL

router = APIRouter(tags=["jobs"])
KEY = Header(default=None, alias="Idempotency-Key", description="Send the same key on a retry: one job is queued.")


class InvokeBody(BaseModel):
    """``batch-endpoint invoke``: thresher's simple form, or Azure's REST body in ``properties``."""

    input: str | None = Field(default=None, description="A path, URI or azureml:name:version to score.")
    input_type: str | None = Field(default=None, description="uri_file or uri_folder (default: guessed)")
    inputs_file: str | None = Field(default=None, description="A pipeline deployment's inputs YAML (uploaded).")
    deployment_name: str | None = None
    output_path: str | None = None
    mini_batch_size: int | None = Field(default=None, ge=1)
    instance_count: int | None = Field(default=None, ge=1)
    overrides: list[str] = Field(default_factory=list, description="key=value items, as --set takes them")
    job_name: str | None = None
    properties: dict[str, Any] | None = Field(
        default=None, description="Azure's body: properties.InputData / OutputData with JobInputType and Uri."
    )


@router.post("/batch-endpoints/{name}/jobs", status_code=201, summary="Invoke a batch endpoint: queue a job.")
def invoked(request: Request, name: str, body: InvokeBody, key: str | None = KEY, _t: Any = WRITE) -> Response:
    return invoke(_state(request), name, body, key)


def invoke(state: ServerState, name: str, body: InvokeBody, key: str | None) -> Response:
    """Queue the invocation ``body`` of batch endpoint ``name`` once per idempotency ``key``: the route's work
    (``express.py`` calls it too, for requests it answers without FastAPI's routing)."""

    def queue(request_key: str | None) -> Any:
        form = body.model_dump(exclude={"properties"})
        if body.properties is not None:
            form.update(azure_invocation(body.properties, form))
        check_path_fields(state.uploads, {k: v for k, v in form.items() if k in ("input", "inputs_file")})
        return state.workspace.jobs.invoke(
            name,
            input=form["input"],
            inputs_file=form["inputs_file"],
            input_type=form["input_type"],
            deployment_name=form["deployment_name"],
            output_path=form["output_path"],
            mini_batch_size=form["mini_batch_size"],
            instance_count=form["instance_count"],
            overrides=form["overrides"],
            job_name=form["job_name"],
            start_runner=state.settings.server_runner,
            request_key=request_key,
        )

    return state.queued_once(key, queue)


class PipelineBody(BaseModel):
    """``job create -f pipeline.yml``: the pipeline YAML (its folder uploaded) and its overrides."""

    path: str
    overrides: list[str] = Field(default_factory=list)
    name: str | None = None
    experiment_name: str | None = None
    client_path: str | None = Field(default=None, description="Where the client has the YAML (kept for resume).")


@router.post("/jobs", status_code=201, summary="Create a pipeline job from its YAML (folder uploaded first).")
def pipeline_created(request: Request, body: PipelineBody, key: str | None = KEY, _t: Any = WRITE) -> JSONResponse:
    state = _state(request)

    def queue() -> Any:
        check_path_fields(state.uploads, {"path": body.path})
        return state.workspace.pipelines.create(
            body.path,
            overrides=body.overrides,
            name=body.name,
            experiment_name=body.experiment_name,
            start_runner=state.settings.server_runner,
            client_path=body.client_path,
        )

    return state.once(key, "pipeline job", queue)


class ScoreBody(BaseModel):
    """``batch score``: a job from plain paths (uploaded), run by the server at once."""

    model: str
    input: str
    code: str | None = None
    scoring_script: str | None = None
    output: str | None = None
    settings: dict[str, Any] | None = None
    job_name: str | None = None


@router.post("/jobs/score", status_code=201, summary="Score plain paths at once (batch score), on the server.")
def scored(request: Request, body: ScoreBody, key: str | None = KEY, _t: Any = WRITE) -> JSONResponse:
    state = _state(request)

    def queue() -> Any:
        check_path_fields(
            state.uploads, body.model_dump(include={"model", "input", "code", "scoring_script", "output"})
        )
        jobs = state.workspace.jobs
        job = jobs.score(
            model=body.model,
            input=body.input,
            code=body.code,
            scoring_script=body.scoring_script,
            output=body.output,
            settings=body.settings,
            job_name=body.job_name,
        )
        jobs.run_here(job.name)
        return jobs.get(job.name)

    return state.once(key, "score", queue)


@router.get("/jobs", summary="Jobs, newest first (or a pipeline's step jobs with ?parent_job_name=).")
def jobs_listed(
    request: Request,
    endpoint_name: str | None = None,
    deployment_name: str | None = None,
    limit: int | None = Query(default=50, ge=1),
    parent_job_name: str | None = None,
    _t: Any = READ,
) -> Any:
    jobs = _state(request).workspace.jobs
    listed = jobs.list(
        endpoint_name=endpoint_name, deployment_name=deployment_name, limit=limit, parent_job_name=parent_job_name
    )
    return encode(listed)


@router.get("/jobs/{name}", summary="One job.")
def job_shown(request: Request, name: str, _t: Any = READ) -> Any:
    return encode(_state(request).workspace.jobs.get(name))


@router.get("/jobs/{name}/note", summary="What the status alone does not say (a gone runner, nobody to run it).")
def job_note(request: Request, name: str, _t: Any = READ) -> Any:
    jobs = _state(request).workspace.jobs
    job = jobs.get(name)
    return {"note": jobs.note(job), "unserved": jobs.unserved(job)}


@router.post("/jobs/{name}/cancel", summary="Cancel a job.")
def job_canceled(request: Request, name: str, _t: Any = WRITE) -> Any:
    return encode(_state(request).workspace.jobs.cancel(name))


class ResumeBody(BaseModel):
    """A pipeline job's fixed YAML, uploaded with its folder, to read the pipeline from again."""

    path: str | None = None


@router.post("/jobs/{name}/resume", summary="Resume a job from its committed mini-batches.")
def job_resumed(request: Request, name: str, body: ResumeBody | None = None, _t: Any = WRITE) -> Any:
    state = _state(request)
    path = body.path if body is not None else None
    check_path_fields(state.uploads, {"path": path})
    return encode(state.workspace.jobs.resume(name, start_runner=state.settings.server_runner, source_path=path))


@router.delete("/jobs/{name}", summary="Delete an ended job: its folder and rows.")
def job_deleted(request: Request, name: str, _t: Any = WRITE) -> Any:
    return encode(_state(request).workspace.jobs.delete(name))


class PruneBody(BaseModel):
    """``job prune``: jobs that ended more than ``older_than_seconds`` ago."""

    older_than_seconds: float = Field(ge=0, le=3.2e9, description="at most about a century")
    dry_run: bool = False


@router.post("/jobs/prune", summary="Delete the jobs that ended before a time (dry_run: only list them).")
def jobs_pruned(request: Request, body: PruneBody, _t: Any = WRITE) -> Any:
    older_than = timedelta(seconds=body.older_than_seconds)
    return encode(_state(request).workspace.jobs.prune(older_than, dry_run=body.dry_run))


@router.get("/jobs/{name}/explain-reuse", summary="Why a pipeline step was (or was not) reused.")
def job_reuse(request: Request, name: str, against: str | None = None, _t: Any = READ) -> Any:
    return _state(request).workspace.pipelines.explain_reuse(name, against=against)


@router.get(
    "/jobs/{name}/download",
    summary="A job's output (and logs with all=true) as a tar file.",
    response_class=FileResponse,
)
def job_downloaded(
    request: Request, name: str, output_name: str = "score", all: bool = False, _t: Any = READ
) -> FileResponse:
    jobs = _state(request).workspace.jobs
    scratch = tempfile.TemporaryDirectory(prefix="thresher-download-")
    try:
        content = Path(scratch.name) / "content"
        target = jobs.download(name, content, output_name=output_name, all=all)
        packed = Path(scratch.name) / "download.tar"
        with tarfile.open(packed, mode="w") as archive:
            archive.add(content, arcname=".")
    except BaseException:
        scratch.cleanup()
        raise
    return FileResponse(
        packed,
        media_type="application/x-tar",
        headers={"X-Thresher-Path": str(target.relative_to(content))},
        background=BackgroundTask(scratch.cleanup),
    )


@router.get(
    "/jobs/{name}/events",
    summary="Server-Sent Events of a job: its record each time it changes, then 'end' when it ended.",
    response_class=StreamingResponse,
)
async def job_events(request: Request, name: str, _t: Any = READ) -> StreamingResponse:
    jobs = _state(request).workspace.jobs
    first = await asyncio.to_thread(jobs.get, name)  # NotFoundError before the stream starts

    async def events() -> AsyncIterator[str]:
        job, last = first, ""
        while True:
            data = json.dumps(encode(job))
            if data != last:
                yield f"event: job\ndata: {data}\n\n"
                last = data
            if job.status in TERMINAL:
                yield "event: end\ndata: {}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)
            try:
                job = await asyncio.to_thread(jobs.get, name)
            except ThresherError as error:
                yield f"event: error\ndata: {json.dumps(error.to_dict())}\n\n"
                return

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get(
    "/jobs/{name}/logs",
    summary="A job's runner log as text, followed until the job ends with follow=true.",
    response_class=StreamingResponse,
)
async def job_logs(request: Request, name: str, follow: bool = False, _t: Any = READ) -> StreamingResponse:
    jobs = _state(request).workspace.jobs
    job = await asyncio.to_thread(jobs.get, name)
    log = jobs.log_path(job)

    async def lines() -> AsyncIterator[bytes]:
        offset = 0
        while True:
            current = await asyncio.to_thread(jobs.get, name)
            if log is not None and log.is_file():
                with open(log, "rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                    offset += len(chunk)
                if chunk:
                    yield chunk
            if not follow or current.status in TERMINAL or await request.is_disconnected():
                return
            await asyncio.sleep(0.5)

    return StreamingResponse(lines(), media_type="text/plain; charset=utf-8")
