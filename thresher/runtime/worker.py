"""``python -m thresher.runtime.worker``: one worker process of a batch job.

It loads the scoring script, calls ``init()`` once, then runs the tasks that arrive on its task pipe
one at a time, writing each task's result part itself and answering with one small event per task
(see ``thresher.runtime.protocol``). ``Worker`` holds the logic without the pipes, so that other
executors can drive it in-process::

    worker = Worker(config, "node-0/process000")
    worker.start()                      # {"event": "ready", ...} or {"event": "init_failed", ...}
    worker.run_task(task)               # {"event": "done", ...} or {"event": "failed", ...}
    worker.stop()                       # {"event": "bye"}
"""

from __future__ import annotations

import faulthandler
import importlib
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from thresher.runtime import protocol
from thresher.runtime.entry import MiniBatchContext, ScoringScript, UserCodeError, describe, error_boundary
from thresher.runtime.formats import Written, write_result
from thresher.runtime.protocol import (
    MAX_REPORTED_FAILURES,
    ByeEvent,
    DoneEvent,
    FailedEvent,
    InitFailedEvent,
    InputKind,
    ItemFailure,
    OutputAction,
    OutputFormat,
    ReadyEvent,
    Task,
    WorkerConfig,
)
from thresher.runtime.results import Result, error_text, normalise

_LEVELS = {"warn": "WARNING", "fatal": "CRITICAL"}


def _configure_logging(config: WorkerConfig, name: str) -> None:
    """Root logger to stdout (the worker's stdout log); the entry script logger to its own file."""
    level = config.identity.logging_level.lower()
    level = _LEVELS.get(level, level.upper())
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    path = protocol.worker_log(config.binding.logs_dir, "entry_script_log", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    file_handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    entry_logger = logging.getLogger(protocol.ENTRY_SCRIPT_LOGGER)
    entry_logger.handlers[:] = [file_handler]
    entry_logger.propagate = False


class Worker:
    """One worker: a loaded scoring script and the configuration it runs under."""

    def __init__(self, config: WorkerConfig, name: str) -> None:
        self.config = config
        self.name = name
        self.error_log = protocol.worker_log(config.binding.logs_dir, "error", name)
        self.script: ScoringScript | None = None
        self._read_slices: Callable[[list[Any]], Any] | None = None

    def _prepare_process(self) -> None:
        """``sys.argv`` for argparse, the script's folders importable, Azure's env vars present."""
        identity = self.config.identity
        os.environ.update(protocol.azure_environ(self.config, self.name))
        script = identity.script
        sys.argv = [script or "thresher-mlflow-driver", *identity.program_arguments]
        # Shims before any installed azureml; the script's folders before everything.
        for folder in (protocol.shims_dir(), identity.code_dir, script and os.path.dirname(script)):
            if folder and folder not in sys.path[:3]:
                sys.path.insert(0, folder)
        os.makedirs(self.config.binding.parts_dir, exist_ok=True)

    def start(self) -> ReadyEvent | InitFailedEvent:
        """Load the script and call ``init()``: the ``ready`` or ``init_failed`` event."""
        began = time.perf_counter()
        script = self.config.identity.script or "the built-in MLflow driver"
        try:
            with error_boundary(self.error_log, f"{self.name}: loading {script} failed"):
                self._prepare_process()
                self.script = ScoringScript.load(self.config.identity.script)
            with error_boundary(self.error_log, f"{self.name}: init() failed"):
                self.script.init()
            with error_boundary(self.error_log, f"{self.name}: the output format cannot be written"):
                self._check_output()
        except UserCodeError as failure:
            return {"event": "init_failed", "error": failure.error}
        return {"event": "ready", "seconds": time.perf_counter() - began}

    def _check_output(self) -> None:
        """Fail at start, not at every task, when Parquet output is asked for and cannot be written."""
        binding = self.config.binding
        if binding.output_action is OutputAction.APPEND_ROW and binding.output_format is OutputFormat.PARQUET:
            try:
                importlib.import_module("pyarrow.parquet")  # loaded once here, not per task
            except ImportError as exc:
                raise ImportError(
                    "output_format parquet needs pyarrow in the model's environment; add pyarrow to it."
                ) from exc

    def _mini_batch(self, items: list[Any]) -> tuple[Any, int]:
        if self.config.identity.input_kind is not InputKind.TABULAR:
            return items, len(items)
        if self._read_slices is None:
            self._read_slices = importlib.import_module("thresher.runtime.tabular").read_slices
        frame = self._read_slices(items)
        return frame, len(frame)

    def run_task(self, task: Task) -> DoneEvent | FailedEvent:
        """Run one task: ``run()`` on its items, then its part written. The ``done`` or ``failed`` event."""
        assert self.script is not None, "start() must succeed before run_task()"
        began = time.perf_counter()
        items = task.items
        binding = self.config.binding
        append = binding.output_action is OutputAction.APPEND_ROW

        def header() -> str:  # built only when run() fails
            return (
                f"{self.name}: run() failed on task {task.id} (mini-batch {task.mini_batch}, "
                f"items {task.start}..{task.stop}, {len(items)} items)\n" + _list_items(items)
            )

        try:
            with error_boundary(self.error_log, header):
                mini_batch, count = self._mini_batch(items)
                context = MiniBatchContext(task.partition, task.mini_batch)
                result = normalise(self.script.run(mini_batch, context))
                fmt = binding.output_format if append else None
                written = write_result(result, fmt, binding.parts_dir, task.part, self._item_error(task))
        except UserCodeError as failure:
            seconds = time.perf_counter() - began
            return {"event": "failed", "task": task.id, "error": failure.error, "seconds": seconds}
        done: DoneEvent = {
            "event": "done",
            "task": task.id,
            "items": count,
            "succeeded": _succeeded(result, written, count),
            "rows": written.rows,
            "part": task.part if append else None,
            "seconds": time.perf_counter() - began,
            "columns": written.columns,
        }
        if written.failures:
            done["failures"] = written.failures[:MAX_REPORTED_FAILURES]
        return done

    def _item_error(self, task: Task) -> Callable[[str, Exception], ItemFailure]:
        """How a streamed item's exception becomes its failure entry (its traceback goes to the error log)."""

        def describe_item(item: str, exc: Exception) -> ItemFailure:
            header = f"{self.name}: item {item} failed (task {task.id}, mini-batch {task.mini_batch})"
            error = describe(exc, header, self.error_log)
            failure: ItemFailure = {"item": item, "error": error_text(f"{error['type']}: {error['message']}")}
            if error.get("log"):
                failure["log"] = str(error["log"])
            return failure

        return describe_item

    def stop(self) -> ByeEvent:
        """Call the script's ``shutdown()`` (a failure is logged, not raised): the ``bye`` event."""
        if self.script is not None:
            try:
                with error_boundary(self.error_log, f"{self.name}: shutdown() failed"):
                    self.script.shutdown()
            except UserCodeError as failure:
                logging.getLogger(__name__).error("shutdown() failed: %s", failure)
        return {"event": "bye"}


def _succeeded(result: Result, written: Written, count: int) -> int:
    """Items that succeeded: one per returned element, or every item not listed as failed."""
    if not result.itemised:
        return min(len(result), count)
    failed = len({failure["item"] for failure in written.failures})
    if result.streamed is not None:
        return max(0, min(written.streamed_ok, count - failed))
    return max(0, count - failed)


def _list_items(items: list[Any], limit: int = 20) -> str:
    lines = [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines)


def _send(fd: int, message: Mapping[str, Any]) -> None:
    data = protocol.encode(message)
    while data:
        data = data[os.write(fd, data) :]


def main() -> int:
    """Run a worker on the pipes named in the environment until told to shut down (or the parent goes)."""
    raw = json.loads(os.environ[protocol.WORKER_ENV])
    config, name = WorkerConfig.from_dict(raw), str(raw["worker"])
    read_fd, write_fd = (int(fd) for fd in os.environ.pop(protocol.FDS_ENV).split(","))
    for fd in (read_fd, write_fd):  # programs the script starts must not hold the pipes open
        os.set_inheritable(fd, False)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # print() output survives a crash
    faulthandler.enable(sys.stderr)  # a segfault's Python traceback lands in the stderr log
    _configure_logging(config, name)
    worker = Worker(config, name)
    first = worker.start()
    _send(write_fd, first)
    if first["event"] == "init_failed":
        # Exit now: threads or atexit hooks that a half-initialised script left behind must not hold the exit up.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(protocol.INIT_FAILED_EXIT_CODE)
    with os.fdopen(read_fd, "rb") as tasks:
        for line in tasks:
            message = json.loads(line)
            if message["op"] == "run":
                _send(write_fd, worker.run_task(Task(**message["task"])))
            elif message["op"] == "shutdown":
                bye = worker.stop()
                # shutdown() has run: skip the interpreter's teardown (0.2-0.35 s with pandas or mlflow
                # loaded), which the runner would otherwise wait for before finishing the job.
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                _send(write_fd, bye)
                os._exit(0)
    worker.stop()  # the parent is gone: finish politely, nobody is listening
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.exit(code)
