"""``python -m thresher.runtime.worker``: one worker process of a batch job.

It loads the scoring script, calls ``init()`` once, then runs the tasks that arrive on its task pipe
one at a time, writing each task's result part itself and answering with one small event per task
(see ``thresher.runtime.protocol``). ``Worker`` holds the logic without the pipes, so that other
executors can drive it in-process::

    worker = Worker(config, "node-0/process000")
    worker.start()                      # {"event": "ready", ...} or {"event": "init_failed", ...}
    worker.run_task(task)               # {"event": "done", ...} or {"event": "failed", ...}
    worker.release()                    # {"event": "released"}: the job's work here ended
    worker.bind(next_binding)           # {"event": "ready", "warm": true, ...}: the next job, same worker
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
from pathlib import Path
from typing import Any

from thresher.runtime import protocol
from thresher.runtime.entries import displayable, displayable_failure, name_items, split_items
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
    JobBinding,
    OutputAction,
    OutputFormat,
    ReadyEvent,
    ReleasedEvent,
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
    # Scripts log file names; one that is not UTF-8 is written escaped (the errors argument is Python 3.9+).
    escaped: dict[str, Any] = {"errors": "backslashreplace"} if sys.version_info >= (3, 9) else {}
    file_handler = logging.FileHandler(path, encoding="utf-8", delay=True, **escaped)
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
        self._shut_down = False  # shutdown() ran at the end of the last job: init() runs before the next

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

        # Entries that cannot be opened (a broken link, a FIFO, a file gone since planning) fail here, each
        # with its own message, and run() gets the rest: the script must not be the one to trip on them.
        items, refused = split_items(items, tabular=self.config.identity.input_kind is InputKind.TABULAR)
        self._log_refused(task, refused)
        try:
            with error_boundary(self.error_log, header):
                if items or not refused:
                    mini_batch, count = self._mini_batch(items)
                    context = MiniBatchContext(task.partition, task.mini_batch)
                    result = normalise(self.script.run(mini_batch, context))
                else:  # nothing left to score; the part is still written, replacing an earlier attempt's
                    count, result = 0, Result(elements=[])
                fmt = binding.output_format if append else None
                written = write_result(result, fmt, binding.parts_dir, task.part, self._item_error(task))
        except UserCodeError as failure:
            seconds = time.perf_counter() - began
            return {"event": "failed", "task": task.id, "error": failure.error, "seconds": seconds}
        succeeded = _succeeded(result, written, count)
        failures = (refused + _shortfall(result, items, count, succeeded)) if refused else []
        done: DoneEvent = {
            "event": "done",
            "task": task.id,
            "items": count + sum(int(failure.get("count", 1)) for failure in refused),
            "succeeded": succeeded,
            "rows": written.rows,
            "part": task.part if append else None,
            "seconds": time.perf_counter() - began,
            "columns": written.columns,
        }
        failures += written.failures
        if failures:
            done["failures"] = [displayable_failure(failure) for failure in failures[:MAX_REPORTED_FAILURES]]
        return done

    def _log_refused(self, task: Task, refused: list[ItemFailure]) -> None:
        """One line per refused item in the error log, where the job's report sends people for all failures."""
        if not refused:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        lines = "".join(
            f"==== {stamp} {self.name}: item {failure['item']} was not passed to run() (task {task.id}, "
            f"mini-batch {task.mini_batch})\n{failure['error']}\n\n"
            for failure in refused
        )
        try:
            os.makedirs(os.path.dirname(self.error_log), exist_ok=True)
            with open(self.error_log, "a", encoding="utf-8") as log:
                log.write(displayable(lines))
        except OSError as exc:  # the failures still go out in the done event
            logging.getLogger(__name__).warning("cannot write %s: %s", self.error_log, exc)

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
        """Call the script's ``shutdown()`` (a failure is logged, not raised): the ``bye`` event.

        Not again when the last job's ``release()`` already called it."""
        self._shutdown_script()
        return {"event": "bye"}

    def _shutdown_script(self) -> None:
        if self.script is None or self._shut_down:
            return
        self._shut_down = self.script.has_shutdown
        try:
            with error_boundary(self.error_log, f"{self.name}: shutdown() failed"):
                self.script.shutdown()
        except UserCodeError as failure:
            logging.getLogger(__name__).error("shutdown() failed: %s", failure)

    def release(self) -> ReleasedEvent:
        """End the job's work on this worker, keeping the worker: the script's ``shutdown()`` (Azure calls
        it at the end of every job), then the job's log files closed. The ``released`` event."""
        self._shutdown_script()
        _close_job_logs()
        return {"event": "released"}

    def bind(self, binding: JobBinding) -> ReadyEvent | InitFailedEvent:
        """Serve the next job: its variables and log files, and ``init()`` again only if ``shutdown()`` ran
        (the imports stay warm). The ``ready`` event (``warm``) or ``init_failed``."""
        began = time.perf_counter()
        old = self.config.binding
        self.config = WorkerConfig(self.config.identity, binding)
        self.error_log = protocol.worker_log(binding.logs_dir, "error", self.name)
        old_tracking = Path(old.logs_dir, "mlruns").absolute().as_uri()
        if os.environ.get("MLFLOW_TRACKING_URI") == old_tracking:
            os.environ["MLFLOW_TRACKING_URI"] = Path(binding.logs_dir, "mlruns").absolute().as_uri()
        os.environ.update(protocol.azure_environ(self.config, self.name))
        _configure_logging(self.config, self.name)
        try:
            with error_boundary(self.error_log, f"{self.name}: preparing job {binding.job} failed"):
                os.makedirs(binding.parts_dir, exist_ok=True)
            if self._shut_down:
                assert self.script is not None
                with error_boundary(self.error_log, f"{self.name}: init() failed"):
                    self.script.init()
                self._shut_down = False
            with error_boundary(self.error_log, f"{self.name}: the output format cannot be written"):
                self._check_output()
        except UserCodeError as failure:
            return {"event": "init_failed", "error": failure.error}
        return {"event": "ready", "seconds": time.perf_counter() - began, "warm": True}


def _close_job_logs() -> None:
    """Close the entry script's log file (a job's file: the next job opens its own) and flush the output."""
    for handler in logging.getLogger(protocol.ENTRY_SCRIPT_LOGGER).handlers:
        handler.close()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()


def _succeeded(result: Result, written: Written, count: int) -> int:
    """Items that succeeded: one per returned element, or every item not listed as failed."""
    if not result.itemised:
        return min(len(result), count)
    failed = len({failure["item"] for failure in written.failures})
    if result.streamed is not None:
        return max(0, min(written.streamed_ok, count - failed))
    return max(0, count - failed)


def _shortfall(result: Result, items: list[Any], count: int, succeeded: int) -> list[ItemFailure]:
    """The failure entry for items of run()'s mini-batch that got no result, when run() did not say which.

    ``count`` tells the scheduler how many failed items the entry stands for, so that it is not taken
    for one item beside the refused ones listed with it.
    """
    missing = count - succeeded
    if result.itemised or missing <= 0:
        return []
    return [
        {
            "item": name_items(items),
            "error": f"run() returned {succeeded} results for {count} items; each missing result counts as a "
            "failed item",
            "count": missing,
        }
    ]


def _list_items(items: list[Any], limit: int = 20) -> str:
    lines = [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines)


def _send(fd: int, message: Mapping[str, Any]) -> None:
    data = protocol.encode(message)
    while data:
        data = data[os.write(fd, data) :]


def _exit_now(code: int) -> None:
    """Exit at once, logs flushed: threads or atexit hooks that a half-initialised script left behind must
    not hold the exit up."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> int:
    """Run a worker on the pipes named in the environment until told to shut down (or the parent goes)."""
    raw = json.loads(os.environ[protocol.WORKER_ENV])
    config, name = WorkerConfig.from_dict(raw), str(raw["worker"])
    read_fd, write_fd = (int(fd) for fd in os.environ.pop(protocol.FDS_ENV).split(","))
    for fd in (read_fd, write_fd):  # programs the script starts must not hold the pipes open
        os.set_inheritable(fd, False)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # line buffering: print() output survives a crash; backslashreplace: print(path) of a file name
        # that is not UTF-8 is logged (escaped) instead of raising UnicodeEncodeError in the script.
        sys.stdout.reconfigure(line_buffering=True, errors="backslashreplace")
    if isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr.reconfigure(errors="backslashreplace")
    faulthandler.enable(sys.stderr)  # a segfault's Python traceback lands in the stderr log
    _configure_logging(config, name)
    worker = Worker(config, name)
    first = worker.start()
    _send(write_fd, first)
    if first["event"] == "init_failed":
        _exit_now(protocol.INIT_FAILED_EXIT_CODE)
    with os.fdopen(read_fd, "rb") as tasks:
        for line in tasks:
            message = json.loads(line)
            if message["op"] == "run":
                _send(write_fd, worker.run_task(Task(**message["task"])))
            elif message["op"] == "release":
                _send(write_fd, worker.release())
            elif message["op"] == "bind":
                answer = worker.bind(JobBinding.from_dict(message["binding"]))
                _send(write_fd, answer)
                if answer["event"] == "init_failed":
                    _exit_now(protocol.INIT_FAILED_EXIT_CODE)
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
