"""The runner's side of a pipeline job: start each step as soon as its inputs exist, reuse what is
unchanged, run the rest within the compute's slots, and end with a headline that names the step.

A pipeline job is a parent job; each step is a step job under it (``<pipeline>.<step>``), of kind
``command`` (a process) or ``batch_scoring`` (a ``parallel`` step: a batch job of the engine, run here
by ``run_job``). Step jobs are claimed only by the runner of their pipeline, so a pipeline resumed by
another runner (after a crash, or ``job resume``) finds its finished steps Completed, continues an
interrupted parallel step from its committed mini-batches, and runs what is left.

A step is reused, without starting any process, when a Completed step job anywhere in the workspace
has its cache key (``cache.py``) and its outputs still exist. Each step job records its key, its
outputs' content hashes and, when it ran, why it was not reused.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.environments import envs_dir, job_python
from thresher.errors import JobTakenOverError, ThresherError
from thresher.pipelines import cache
from thresher.pipelines.command_step import LOG_NAME, end_leftover, local_input, render, run_command
from thresher.pipelines.model import Binding, PipelineDef, Step
from thresher.pipelines.parallel_step import batch_spec
from thresher.pipelines.tracking import read_metrics
from thresher.pipelines.transfer import send
from thresher.scheduler.faults import NO_FAULTS, Faults
from thresher.scheduler.launch import stale_before
from thresher.scheduler.runner import ExecutorFactory, Resolver, run_job
from thresher.scheduler.service import dead_local_runners
from thresher.scheduler.slots import Slots
from thresher.scheduler.stop import STOP, RunnerStopped
from thresher.scheduler.warm import WarmPools
from thresher.settings import Settings
from thresher.storage.fingerprint import content_hash
from thresher.store import JobRecord, SqlStore
from thresher.store.job_records import TERMINAL

PIPELINE = "pipeline"
COMMAND = "command"
BATCH = "batch_scoring"
HEARTBEAT_SECONDS = 2.0
_UNEXPECTED = "an unexpected error in thresher: "
_WAIT_SECONDS = 0.2


def step_job_name(pipeline: str, step: str, attempt: int = 1) -> str:
    """The name of a step's job: ``<pipeline>.<step>``, ``<pipeline>.<step>-2`` for a later attempt."""
    return f"{pipeline}.{step}" if attempt <= 1 else f"{pipeline}.{step}-{attempt}"


def run_pipeline(
    store: SqlStore,
    job: JobRecord,
    runner: str,
    executor_factory: ExecutorFactory,
    *,
    settings: Settings,
    faults: Faults = NO_FAULTS,
    resolve: Resolver | None = None,
    pools: WarmPools | None = None,
    on_stop: Callable[[], None] | None = None,
    slots: Slots | None = None,
) -> JobRecord | None:
    """Run a claimed pipeline job until it ends; ``run_job``'s contract (never raises but to stop, and
    calls ``on_stop`` before the job goes back to the queue).

    ``slots`` are the runner's compute slots, shared with its other jobs: a command step takes one, a
    parallel step its workers' (``run_job`` waits for them); without, the pipeline counts its own."""
    run = _PipelineRun(store, job, runner, executor_factory, settings, faults, resolve, slots, pools)
    try:
        return run.run()
    except JobTakenOverError as exc:
        run.stop_steps()
        _log(f"pipeline {job.name}: {exc}")
        return None
    except (RunnerStopped, KeyboardInterrupt) as stop:
        if on_stop is not None:
            on_stop()
        run.stop_steps()
        store.set_job_status(
            job.name,
            "Queued",
            runner=runner,
            headline=f"Queued again: the runner was stopped ({stop}) while the pipeline ran; the next runner "
            "continues it from its completed steps.",
        )
        raise
    except BaseException as exc:  # a fault of thresher's own: the pipeline fails, saying where
        run.stop_steps()
        trace = traceback.format_exc()
        _log(f"pipeline {job.name} failed on an unexpected error:\n{trace}")
        return store.set_job_status(
            job.name,
            "Failed",
            runner=runner,
            headline=f"Pipeline '{job.name}' failed on an unexpected error in thresher: {type(exc).__name__}: {exc}. "
            f"Resume with: thresher job resume --name {job.name}",
            error={"type": type(exc).__name__, "trace": trace, "resumable": True},
        )


@dataclass
class _Running:
    step: str
    child: str
    slots: int
    held: int = 0  # slots taken from the runner's (released when the step ends)
    cancel: threading.Event = field(default_factory=threading.Event)


class _PipelineRun:
    def __init__(
        self,
        store: SqlStore,
        job: JobRecord,
        runner: str,
        executor_factory: ExecutorFactory,
        settings: Settings,
        faults: Faults,
        resolve: Resolver | None,
        slots: Slots | None = None,
        pools: WarmPools | None = None,
    ) -> None:
        self.store, self.job, self.runner = store, job, runner
        self.executor_factory, self.settings, self.faults, self.resolve = executor_factory, settings, faults, resolve
        spec = dict(job.spec)
        self.pipeline = PipelineDef.from_dict(spec["pipeline"])
        self.jobs_root = Path(spec["jobs_root"])
        self.cache_dir = Path(spec.get("cache_dir") or self.jobs_root.parent / "cache" / "inputs")
        self.capacity = max(1, int(spec.get("slots") or settings.default_max_workers))
        self.shared = slots or Slots(self.capacity)
        self.pools = pools  # parallel steps run on warm workers where they can, and leave theirs warm
        self.force = bool(self.pipeline.force_rerun or spec.get("regenerate_outputs"))
        self.done: dict[str, JobRecord] = {}
        self.failed: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.running: dict[str, _Running] = {}
        self.children: dict[str, JobRecord] = {}
        self.events: queue.Queue[tuple[str, JobRecord | None, str | None]] = queue.Queue()
        self._beat_at = 0.0
        self._cancel_asked = False
        self.upstream = {name: step.upstream() for name, step in self.pipeline.steps.items()}
        self.pending: list[str] = []  # steps not started nor decided, in order
        self._previous_steps: dict[str, JobRecord] | None = None
        self.began = time.monotonic()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> JobRecord:
        for child in self.store.list_jobs(parent=self.job.name, limit=None):
            step = (child.results or {}).get("step") or child.name.removeprefix(self.job.name + ".")
            self.children[step] = child  # the latest attempt of each step (listed oldest first)
        order = self.pipeline.order()
        self.pending = list(order)
        canceled = False
        while True:
            STOP.check()
            if self._heartbeat() and not canceled:  # a cancel is seen within a heartbeat
                canceled = True
                self._cancel_steps()
            if not canceled:
                self._start_ready()
            if not self.running and (canceled or not self.pending):
                break  # nothing runs, nothing can start: the pipeline has ended
            try:  # a step ends, or (nothing of ours running) the runner's other jobs give slots back
                step, record, error = self.events.get(timeout=_WAIT_SECONDS)
            except queue.Empty:
                continue
            self._finished(step, record, error)
        return self._end(order, canceled)

    def _start_ready(self) -> None:
        """Start (or reuse) the steps whose inputs exist, in order, while slots are free; a step that does not
        fit stops the scan, so that steps start in order and a scan costs little once the slots are full."""
        used = sum(r.slots for r in self.running.values())
        still: list[str] = []
        for index, name in enumerate(self.pending):
            step = self.pipeline.steps[name]
            blocked = self._blocked(name)
            if blocked is not None:
                self.skipped[name] = blocked
                continue
            if any(up not in self.done for up in self.upstream[name]):
                still.append(name)  # waits for an input
                continue
            slots = self._slots(step)
            held = 0
            if self.running and used + slots > self.capacity:
                still.extend(self.pending[index:])  # waits for free slots
                break
            if step.parallel is None:  # a parallel step's run takes its slots itself (run_job)
                held = self.shared.try_acquire(1)
                if not held:
                    still.extend(self.pending[index:])  # the runner's other jobs hold them all
                    break
            if self._begin(step, slots, held):
                used += slots
            elif held:
                self.shared.release(held)  # reused: it ran nothing
        self.pending = still

    def _blocked(self, name: str) -> str | None:
        for up in sorted(self.upstream[name]):
            if up in self.failed:
                return f"not run: step '{up}' before it failed"
            if up in self.skipped:
                return f"not run: step '{up}' before it did not run"
        if self.failed and not self.pipeline.continue_on_step_failure:
            first = next(iter(self.failed))
            return f"not run: step '{first}' failed and continue_on_step_failure is false"
        return None

    def _slots(self, step: Step) -> int:
        if step.parallel is None:
            return 1
        if step.placement.get("backend") == "ray":
            return 0  # its workers are Ray actors: the cluster's capacity, not this machine's slots
        return min(self.capacity, step.parallel.instance_count * step.parallel.max_concurrency_per_instance)

    # -- one step ------------------------------------------------------------------------------

    def _begin(self, step: Step, slots: int, held: int = 0) -> bool:
        """Reuse the step, or start it; True when it was started (it takes slots)."""
        values, identities = self._inputs(step)
        key = cache.cache_key(step, identities)
        digest = cache.digest(key)
        existing = self.children.get(step.name)
        if existing is not None and existing.cache_key == digest and existing.status == "Completed":
            self.done[step.name] = existing
            return False
        if existing is not None and existing.cache_key == digest and existing.status not in TERMINAL:
            child = existing  # interrupted (its runner died, or was stopped): continue it
        elif existing is not None and existing.cache_key == digest and existing.status in ("Failed", "Canceled"):
            child = self.store.set_job_status(existing.name, "Queued")  # resumed: continue from what it committed
        else:
            reused = None if self._opted_out(step) else self._reusable(digest)
            # The step's attempts in this pipeline job, counted in the step jobs' results (not read off names).
            attempt = 1 + (int((existing.results or {}).get("attempt", 1)) if existing is not None else 0)
            name = step_job_name(self.job.name, step.name, attempt)
            if reused is not None:
                self.done[step.name] = self._record_reuse(step, name, key, digest, reused, attempt)
                return False
            child = self._create(step, name, key, digest, values, attempt)
        self.children[step.name] = child
        running = _Running(step.name, child.name, slots, held)
        self.running[step.name] = running
        threading.Thread(
            target=self._step_thread, args=(step, child.name, values, running), name=f"step-{step.name}", daemon=True
        ).start()
        return True

    def _inputs(self, step: Step) -> tuple[dict[str, str | None], dict[str, dict[str, Any]]]:
        values: dict[str, str | None] = {}
        identities: dict[str, dict[str, Any]] = {}
        for name, binding in step.inputs.items():
            upstream = None
            if binding.kind == "step_output":
                produced = (self.done[binding.step or ""].results or {}).get("outputs", {})
                upstream = produced.get(binding.output or "", {})
                values[name] = upstream.get("path")
            elif binding.kind == "literal":
                values[name] = _literal_text(binding.value)
            else:
                values[name] = binding.path
            identities[name] = cache.input_identity(binding, upstream)
        for name, port in step.declared_inputs.items():
            values.setdefault(name, None if port.default is None else _literal_text(port.default))
        return values, identities

    def _opted_out(self, step: Step) -> str | None:
        if self.force:
            return "force_rerun (or regenerate_outputs) is set"
        if not step.allow_reuse:
            return "allow_reuse is false"
        if not step.is_deterministic:
            return "is_deterministic is false"
        return None

    def _reusable(self, digest: str) -> JobRecord | None:
        for candidate in self.store.list_jobs(cache_key=digest, statuses=("Completed",), limit=20):
            outputs = (candidate.results or {}).get("outputs", {})
            if all(Path(o["path"]).exists() for o in outputs.values() if o.get("path") and "://" not in o["path"]):
                return candidate
        return None

    def _record_reuse(
        self, step: Step, name: str, key: dict[str, Any], digest: str, source: JobRecord, attempt: int
    ) -> JobRecord:
        origin = (source.results or {}).get("reused_from") or source.name
        results = {
            **self._base_results(step, key, attempt),
            "outputs": (source.results or {}).get("outputs", {}),
            "metrics": (source.results or {}).get("metrics", {}),
            "reuse": {
                "reused": True,
                "from": origin,
                "why": f"same cache key as step job {origin}, whose outputs still exist",
            },
            "reused_from": origin,
        }
        record = self.store.create_job(
            name,
            spec={"step": step.name, "type": step.type, "reused_from": origin},  # no folder: it ran nothing
            kind=_kind(step),
            parent=self.job.name,
            cache_key=digest,
            results=results,
            status="Completed",
            headline=f"Reused the outputs of step job {origin}: same cache key, no process started.",
        )
        self.children[step.name] = record
        self._register_outputs(step, record)
        return record

    def _base_results(self, step: Step, key: dict[str, Any], attempt: int) -> dict[str, Any]:
        return {
            "step": step.name,
            "attempt": attempt,
            "pipeline": self.job.name,
            "pipeline_display_name": self.pipeline.display_name,
            "cache_key": key,
            "inputs": {name: self._lineage(b) for name, b in step.inputs.items()},
            "component": step.component,
            "snapshot_id": step.code_hash,
            "environment": step.environment,
            "environment_note": step.environment_note,
        }

    def _lineage(self, binding: Binding) -> str:
        """An input as lineage names it: an asset's name:version, a path, a value, or the step job whose output
        it is (``<step job>/outputs/<name>``)."""
        if binding.kind == "step_output" and binding.step in self.done:
            return f"{self.done[str(binding.step)].name}/outputs/{binding.output}"
        return binding.describe()

    def _create(
        self, step: Step, name: str, key: dict[str, Any], digest: str, values: Mapping[str, str | None], attempt: int
    ) -> JobRecord:
        folder = self.jobs_root / name
        outputs = self._output_paths(step, name, folder)
        why = self._why_not_reused(step, key)
        results = {
            **self._base_results(step, key, attempt),
            "planned_outputs": outputs,
            "reuse": {"reused": False, "why": why},
        }
        if step.parallel is not None:
            spec: dict[str, Any] = batch_spec(step, folder, values, outputs).to_dict()
        else:
            spec = {"step": step.name, "type": "command", "folder": str(folder), "outputs": outputs}
        return self.store.create_job(
            name, spec=spec, kind=_kind(step), parent=self.job.name, cache_key=digest, results=results
        )

    def _output_paths(self, step: Step, child: str, folder: Path) -> dict[str, str]:
        paths = {}
        for name, output in step.outputs.items():
            if output.path:
                path = output.path.replace("{run-id}", child).replace("${{name}}", child)
                path = path.replace("${{output_name}}", name).replace("{output-name}", name)
            else:
                path = str(folder / "outputs" / name)
            paths[name] = path
        return paths

    def _why_not_reused(self, step: Step, key: dict[str, Any]) -> list[str]:
        opted = self._opted_out(step)
        if opted:
            return [opted]
        previous = self._previous_step(step.name)
        if previous is None or not previous.results or "cache_key" not in previous.results:
            return ["no earlier run of this step has its cache key"]
        reasons = cache.explain(previous.results["cache_key"], key)
        if not reasons:
            return [f"step job {previous.name} has the same cache key, but its outputs are gone"]
        return [f"compared with step job {previous.name}: " + "; ".join(reasons)]

    def _previous_step(self, step: str) -> JobRecord | None:
        """Step ``step`` of the previous run of this pipeline (same display name), read once per run."""
        if self._previous_steps is None:
            self._previous_steps = {}
            # Only pipeline jobs are read (a 1,000-step one's spec is about 1 MB), the newest 50 at most.
            for other in self.store.list_jobs(kind=PIPELINE, limit=50):
                same = (other.spec.get("pipeline") or {}).get("display_name") == self.pipeline.display_name
                earlier = other.created_at <= self.job.created_at
                if other.name != self.job.name and same and earlier:
                    for record in self.store.list_jobs(parent=other.name, limit=None):
                        self._previous_steps[str((record.results or {}).get("step"))] = record
                    break
        return self._previous_steps.get(step)

    def _step_thread(self, step: Step, child: str, values: dict[str, str | None], running: _Running) -> None:
        try:
            if step.parallel is not None:
                record = self._run_parallel(step, child)
            else:
                record = self._run_command(step, child, values, running)
            self.events.put((step.name, record, None))
        except (RunnerStopped, KeyboardInterrupt):
            return  # the runner is stopping: the step's job went back to the queue, the pipeline follows
        except ThresherError as exc:  # a problem thresher explains (a missing input, storage): the headline
            fix = f" Fix: {exc.fix}" if exc.fix else ""
            self.events.put((step.name, None, f"{exc.message}{fix}\n{traceback.format_exc()}"))
        except BaseException as exc:  # reported to the loop, which fails the step with it
            failure = f"{_UNEXPECTED}{type(exc).__name__}: {exc}"
            self.events.put((step.name, None, f"{failure}\n{traceback.format_exc()}"))

    def _run_parallel(self, step: Step, child: str) -> JobRecord | None:
        claimed = self.store.claim_job(
            self.runner, stale_before=stale_before(), dead_runners=dead_local_runners(self.store), name=child
        )
        if claimed is None:
            claimed = self.store.get_job(child)
            if claimed.status in TERMINAL:
                return claimed
            raise ThresherError(f"step job {child} could not be claimed (it is {claimed.status} on {claimed.runner})")
        record = run_job(
            self.store,
            claimed,
            self.runner,
            self.executor_factory,
            settings=self.settings,
            faults=self.faults,
            resolve=self.resolve,
            pools=self.pools,
            slots=self.shared,
        )
        if record is None or record.status != "Completed":
            return record
        outputs = dict((record.results or {}).get("planned_outputs", {}))
        published = record.spec.get("output_uri")
        local = {name: str(record.spec["output_dir"]) if path == published else path for name, path in outputs.items()}
        produced = {
            name: {"path": path, "hash": _hash(local[name]), "type": step.outputs[name].type}
            for name, path in outputs.items()
        }
        return self.store.set_job_status(child, "Completed", results={**(record.results or {}), "outputs": produced})

    def _run_command(self, step: Step, child: str, values: dict[str, str | None], running: _Running) -> JobRecord:
        claimed = self.store.claim_job(
            self.runner, stale_before=stale_before(), dead_runners=dead_local_runners(self.store), name=child
        )
        record = claimed or self.store.get_job(child)
        folder = Path(record.spec["folder"])
        outputs: dict[str, str] = dict(record.spec["outputs"])
        local_outputs = {  # an output in object storage is written here first, and sent when the step succeeded
            name: str(folder / "outputs" / name) if "://" in path else path for name, path in outputs.items()
        }
        for name, path in local_outputs.items():
            target = Path(path)
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
            (target.parent if step.outputs[name].type == "uri_file" else target).mkdir(parents=True, exist_ok=True)
        began = time.time()
        python = job_python(
            self.store,
            envs_dir(self.settings),
            environment=step.environment,
            files_dir=None,
            record_to=folder / "logs" / "sys" / "environment.txt",
            heartbeat=lambda: self.store.heartbeat(child, self.runner),
        )
        local = {
            name: (
                local_input(v, step.inputs[name].mode, self.cache_dir, self.resolve)
                if v is not None and step.inputs.get(name) is not None and step.inputs[name].kind != "literal"
                else v
            )
            for name, v in values.items()
        }
        command = render(step.command or "", local, local_outputs)
        environment = {
            **step.environment_variables,
            "AZUREML_RUN_ID": child,
            "AZUREML_ROOT_RUN_ID": self.job.name,
            "THRESHER_STEP_DIR": str(folder),
            "THRESHER_STEP_INPUTS": json.dumps({n: b.describe() for n, b in step.inputs.items()}),
            "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri(),
            # MLflow 3 refuses its file store unless told; a folder per step is what tracking here needs.
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "MLFLOW_EXPERIMENT_NAME": self.pipeline.experiment_name or self.pipeline.display_name or "Default",
        }
        result = None
        for attempt in range(step.max_retries + 1):
            result = run_command(step, command, folder, python=python, environment=environment, cancel=running.cancel)
            if result.returncode == 0 or result.canceled:
                break
            if attempt < step.max_retries:
                (folder / LOG_NAME).open("a").write(f"\n[thresher] attempt {attempt + 1} failed; retrying\n")
        assert result is not None
        results = {
            **(record.results or {}),
            "command": command,
            "seconds": round(time.time() - began, 3),
            "metrics": read_metrics(folder),
        }
        log = folder / LOG_NAME
        if result.canceled:
            return self.store.set_job_status(
                child, "Canceled", runner=self.runner, results=results, headline=f"Step '{step.name}' was canceled."
            )
        if result.returncode != 0:
            return self.store.set_job_status(
                child,
                "Failed",
                runner=self.runner,
                results=results,
                headline=result.headline(step.name, log),
                error={"log": str(log), "returncode": result.returncode, "resumable": True},
            )
        for name, path in outputs.items():
            if "://" in path:
                if self.resolve is None:
                    raise ThresherError(f"output {name} goes to {path}, but this runner cannot resolve datastores")
                send(Path(local_outputs[name]), self.resolve(path))
        results["outputs"] = {
            name: {"path": path, "hash": _hash(local_outputs[name]), "type": step.outputs[name].type}
            for name, path in outputs.items()
        }
        self.store.set_job_status(child, "Finalizing", runner=self.runner)
        return self.store.set_job_status(
            child,
            "Completed",
            runner=self.runner,
            results=results,
            headline=f"Step '{step.name}' completed in {results['seconds']:.2f} s.",
        )

    def _finished(self, step: str, record: JobRecord | None, error: str | None) -> None:
        ended = self.running.pop(step, None)
        if ended is not None and ended.held:
            self.shared.release(ended.held)
        if record is not None and record.status == "Completed":
            self.done[step] = record
            self.children[step] = record
            self._register_outputs(self.pipeline.steps[step], record)
            return
        if record is None and error is None:
            return  # taken over by another runner: it reports
        if error is not None:
            child = self.children[step].name
            headline = f"Step '{step}' failed: {error.splitlines()[0]}"
            try:
                current = self.store.get_job(child)
                if current.status not in TERMINAL:
                    if current.status == "Queued":
                        self.store.set_job_status(child, "Running")
                    self.store.set_job_status(
                        child, "Failed", headline=headline, error={"trace": error, "resumable": True}
                    )
            except ThresherError:
                pass
            self.failed[step] = headline
            return
        assert record is not None
        if record.status == "Canceled":
            self.skipped[step] = "canceled"
            return
        self.failed[step] = record.headline or f"Step '{step}' failed."

    def _register_outputs(self, step: Step, record: JobRecord) -> None:
        for name, output in step.outputs.items():
            if not output.register_as:
                continue
            produced = (record.results or {}).get("outputs", {}).get(name)
            if not produced:
                continue
            register_output(self.store, output.register_as, output.type, produced, record, self.pipeline)

    # -- the end -------------------------------------------------------------------------------

    def _end(self, order: list[str], canceled: bool) -> JobRecord:
        outputs = {}
        for step in self.pipeline.steps.values():
            for name, output in step.outputs.items():
                produced = self.done.get(step.name) and (self.done[step.name].results or {}).get("outputs", {})
                if output.pipeline_output and produced and name in produced:
                    outputs[output.pipeline_output] = {**produced[name], "step": step.name, "output": name}
        reused = sum(1 for r in self.done.values() if (r.results or {}).get("reused_from"))
        ran = len(self.done) - reused
        seconds = time.monotonic() - self.began
        results = {
            "outputs": outputs,
            "steps": {
                name: {
                    "status": "Completed" if name in self.done else "Failed" if name in self.failed else "NotStarted",
                    "job": self.children[name].name if name in self.children else None,
                    "reused_from": (self.done[name].results or {}).get("reused_from") if name in self.done else None,
                    "why": self.failed.get(name) or self.skipped.get(name),
                }
                for name in order
            },
        }
        total = len(order)
        if canceled:
            self._cancel_leftovers()
            return self.store.set_job_status(
                self.job.name,
                "Canceled",
                runner=self.runner,
                attempt=self.job.attempt,
                results=results,
                headline=f"Canceled: {len(self.done)} of {total} steps had completed.",
            )
        if self.failed:
            _first, headline = next(iter(self.failed.items()))
            not_run = [s for s in order if s in self.skipped]
            tail = f" Not run: {', '.join(not_run)}." if not_run else ""
            return self.store.set_job_status(
                self.job.name,
                "Failed",
                runner=self.runner,
                attempt=self.job.attempt,
                results=results,
                headline=f"Pipeline failed: {headline}{tail} Fix it, then resume (completed steps are reused): "
                f"thresher job resume --name {self.job.name}",
                error={
                    "failed_steps": dict(self.failed),
                    "not_run": {s: self.skipped[s] for s in not_run},
                    "resumable": True,
                },
            )
        self.store.set_job_status(self.job.name, "Finalizing", runner=self.runner, attempt=self.job.attempt)
        return self.store.set_job_status(
            self.job.name,
            "Completed",
            runner=self.runner,
            attempt=self.job.attempt,
            results=results,
            headline=f"Pipeline completed: {total} steps, {ran} ran, {reused} reused, in {seconds:.2f} s.",
        )

    def _cancel_leftovers(self) -> None:
        """Steps a killed runner left Running (this runner never ran them): their processes end, they end
        Canceled with the pipeline."""
        for child in self.children.values():
            current = self.store.get_job(child.name)
            if current.status in TERMINAL:
                continue
            folder = current.spec.get("folder")
            if current.kind == COMMAND and folder:
                end_leftover(Path(str(folder)))
            with contextlib.suppress(ThresherError):
                self.store.set_job_status(child.name, "Canceled", headline="Canceled with its pipeline.")

    def _cancel_steps(self) -> None:
        """``job cancel`` of the pipeline: command steps are killed, parallel steps canceled (their runs stop
        their workers and end Canceled), nothing new starts."""
        self.stop_steps()
        for running in self.running.values():
            if self.pipeline.steps[running.step].parallel is not None:
                with contextlib.suppress(ThresherError):  # it ended meanwhile
                    self.store.request_cancel(running.child)

    def stop_steps(self) -> None:
        """Stop every running step (their processes are killed; parallel steps stop with the runner)."""
        for running in self.running.values():
            running.cancel.set()
            if running.held:
                self.shared.release(running.held)
                running.held = 0

    def _heartbeat(self) -> bool:
        """Beat every HEARTBEAT_SECONDS; whether the pipeline was asked to cancel (as of the last beat)."""
        now = time.monotonic()
        if now - self._beat_at >= HEARTBEAT_SECONDS:
            self._cancel_asked = self.store.heartbeat(
                self.job.name, self.runner, attempt=self.job.attempt
            ).cancel_requested
            self._beat_at = now
        return self._cancel_asked


def register_output(
    store: SqlStore, name: str, kind: str, produced: Mapping[str, Any], record: JobRecord, pipeline: PipelineDef
) -> None:
    """Register a step output as a data asset whose ``info`` names the job, step and inputs behind it."""
    path = str(produced["path"])
    for existing in store.list_assets("data", name):
        if existing.info.get("content_hash") == produced.get("hash") and existing.info.get("path") == path:
            return  # already registered from this very output (a resumed or reused step)
    results = record.results or {}
    store.create_asset(
        "data",
        name,
        spec={"name": name, "type": kind, "path": path},
        info={
            "path": path,
            "content_hash": produced.get("hash"),
            "produced_by": {
                "job": results.get("reused_from") or record.name,
                "pipeline": results.get("pipeline"),
                "pipeline_display_name": pipeline.display_name,
                "step": results.get("step"),
                "inputs": results.get("inputs", {}),
            },
        },
    )


def _kind(step: Step) -> str:
    return BATCH if step.parallel is not None else COMMAND


def _hash(path: str) -> str | None:
    target = Path(path)
    if "://" in path or not target.exists():
        return None
    return content_hash(target)


def _literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)
