"""The contract between the control plane (runner, executors) and a worker process, defined once.

Everything that crosses the process boundary is here: the worker's configuration, the task it is
given, the messages both ways, the error shape, the tabular slice, and the output formats. The
worker runtime runs inside the user's model environment (any Python from 3.8, none of thresher's
dependencies), so this module is standard library only and valid on Python 3.8.

A worker is started as ``python -m thresher.runtime.worker`` with two pipes (tasks in, events out)
whose fd numbers are in ``THRESHER_WORKER_FDS="<read_fd>,<write_fd>"`` and its configuration
(``WorkerConfig.to_dict()`` plus ``node``, ``process`` and ``worker``) as JSON in
``THRESHER_WORKER``. Messages are JSON lines::

    parent -> worker   RunOp {"op": "run", "task": {...Task...}}    ShutdownOp {"op": "shutdown"}
                       ReleaseOp {"op": "release"}         BindOp {"op": "bind", "binding": {...JobBinding...}}
    worker -> parent   ReadyEvent       {"event": "ready", "seconds": s, "warm"?: true}
                       InitFailedEvent  {"event": "init_failed", "error": ErrorInfo}   (then exit code 3)
                       DoneEvent        {"event": "done", "task": id, "items": n, "succeeded": k,
                                         "rows": r, "part": name | null, "seconds": s,
                                         "columns": [...] | null, "failures"?: [ItemFailure]}
                       FailedEvent      {"event": "failed", "task": id, "error": ErrorInfo, "seconds": s}
                       ByeEvent         {"event": "bye"}                             (after shutdown())
                       ReleasedEvent    {"event": "released"}            (the job's work on the worker ended)

A worker can serve several jobs with equal identities (warm compute): ``release`` ends a job on it
(``shutdown()`` runs if the script has one, the job's log files are closed) and ``bind`` gives it
the next job's binding (log files opened in the new job's folder, ``init()`` run again only if
``shutdown()`` ran), answered by ``ready`` (with ``"warm": true``) or ``init_failed``.

Result data never travels in a message: the worker writes each task's part file itself.

A worker's configuration has two halves. ``WorkerIdentity`` is what makes a worker what it is
(interpreter, code, model, variables, arguments, logging, input kind, thread share): two jobs whose
identities are equal could run on the same warm worker. ``JobBinding`` ties a worker to one job
(its name, output, parts and log folders, and what it writes).

``failures`` lists the items ``run()`` reported as failed and the items the worker did not pass to
``run()`` (at most 100, each error one short line, names shown escaped where not UTF-8); an entry
with ``"count": n`` stands for n failed items (a table slice, or results ``run()`` did not return).
The number of failed items is always ``items - succeeded``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypedDict

WORKER_ENV = "THRESHER_WORKER"
FDS_ENV = "THRESHER_WORKER_FDS"
NAME_ENV = "THRESHER_WORKER_NAME"
INIT_FAILED_EXIT_CODE = 3
# The shims (which cannot import thresher) use the same literal name.
ENTRY_SCRIPT_LOGGER = "azureml_user.parallel_run.entry_script"
# Math libraries that start a thread per core unless told otherwise (see WorkerIdentity.threads).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

# Azure's logs/ layout: logs/user/<kind>/<node>/<process><suffix>
_LOG_SUFFIXES = {
    "stdout": ".stdout.txt",
    "stderr": ".stderr.txt",
    "error": ".txt",
    "entry_script_log": ".log.txt",
}


class OutputFormat(str, Enum):
    """How result rows are written (``settings.output_format``; see ``thresher.runtime.formats``)."""

    AZURE = "azure"  # Azure's append_row: space-separated, no header
    MLFLOW = "mlflow"  # Azure's no-code MLflow driver: comma-separated, no header
    CSV = "csv"  # comma-separated, with a header
    JSONL = "jsonl"
    PARQUET = "parquet"

    @property
    def part_suffix(self) -> str:
        """The file name ending of this format's result parts."""
        return ".parquet" if self is OutputFormat.PARQUET else ".part"


class OutputAction(str, Enum):
    """``settings.output_action``: rows appended to one file, or files the script writes itself."""

    APPEND_ROW = "append_row"
    SUMMARY_ONLY = "summary_only"


class InputKind(str, Enum):
    """What ``run()`` gets: a list of file paths, or a DataFrame of tabular slices."""

    FILES = "files"
    TABULAR = "tabular"


@dataclass(frozen=True)
class WorkerIdentity:
    """What makes a worker what it is; equal identities mean interchangeable workers."""

    script: str | None  # absolute path of the scoring script; None: the built-in MLflow driver
    code_dir: str | None  # the snapshot folder holding the script (made importable, the cwd)
    model_dir: str | None  # AZUREML_MODEL_DIR: holds the model under its registered folder name
    python: str | None = None  # interpreter that runs the worker (its environment's); None: the current one
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    program_arguments: tuple[str, ...] = ()
    logging_level: str = "info"
    input_kind: InputKind = InputKind.FILES
    threads: int | None = None  # OMP_NUM_THREADS & co. unless the user sets them; None: leave alone

    def key(self) -> str:
        """A stable hash of the identity (two workers with the same key can serve the same jobs)."""
        data = json.dumps(_plain(asdict(self)), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@dataclass(frozen=True)
class JobBinding:
    """What ties a worker to one job."""

    job: str
    output_dir: str  # AZUREML_BI_OUTPUT_PATH: the job's `score` output folder
    parts_dir: str  # where workers write result parts, one file per task
    logs_dir: str  # the job's logs/ folder (Azure's layout below it)
    output_action: OutputAction = OutputAction.APPEND_ROW
    output_format: OutputFormat = OutputFormat.AZURE

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data (the ``bind`` message's ``binding``)."""
        return _plain(asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobBinding:
        """Back from ``to_dict()`` or ``WorkerConfig.to_dict()`` (other keys are ignored)."""
        return cls(
            job=str(data["job"]),
            output_dir=str(data["output_dir"]),
            parts_dir=str(data["parts_dir"]),
            logs_dir=str(data["logs_dir"]),
            output_action=OutputAction(data.get("output_action") or OutputAction.APPEND_ROW.value),
            output_format=OutputFormat(data.get("output_format") or OutputFormat.AZURE.value),
        )


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker is told: its identity and its job."""

    identity: WorkerIdentity
    binding: JobBinding

    def to_dict(self) -> dict[str, Any]:
        """As flat JSON-able data (the wire form in ``THRESHER_WORKER``; the shims read its keys)."""
        return _plain({**asdict(self.identity), **asdict(self.binding)})  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerConfig:
        """Back from ``to_dict()`` (extra keys such as ``node`` are ignored)."""
        identity = WorkerIdentity(
            script=data.get("script"),
            code_dir=data.get("code_dir"),
            model_dir=data.get("model_dir"),
            python=data.get("python"),
            environment_variables={str(k): str(v) for k, v in (data.get("environment_variables") or {}).items()},
            program_arguments=tuple(str(a) for a in data.get("program_arguments") or ()),
            logging_level=str(data.get("logging_level") or "info"),
            input_kind=InputKind(data.get("input_kind") or InputKind.FILES.value),
            threads=data.get("threads"),
        )
        return cls(identity, JobBinding.from_dict(data))


@dataclass(frozen=True)
class Task:
    """One attempt at (part of) a mini-batch.

    ``items`` are absolute file paths (``os.fsdecode`` strings) for file inputs, or ``TabularSlice``
    dicts for tabular inputs. ``part`` is the file name, inside ``JobBinding.parts_dir``, that the
    worker writes the result rows to (atomically); a retry of the same piece writes the same name,
    so a piece's rows can never appear twice.
    """

    id: str
    mini_batch: int
    start: int  # this piece covers items[start:stop] of the mini-batch
    stop: int
    items: list[Any]
    part: str
    partition: dict[str, Any] | None = None  # partition_keys value, passed as mini_batch_context


class TabularSliceBase(TypedDict):
    """The keys every tabular slice has."""

    path: str
    format: Literal["csv", "jsonl", "parquet"] | None  # None: an unusable entry, never read
    start: int
    stop: int
    unit: Literal["bytes", "rows"]


class TabularSlice(TabularSliceBase, total=False):
    """A piece of one table file, the item of a tabular mini-batch (``thresher.scheduler.tabular_plan``).

    csv/jsonl: ``start:stop`` are byte offsets of whole records (for csv, ``data_start`` ends the
    header, which belongs to every slice); parquet: row indices. ``first_row`` is the index of the
    slice's first record in the file and ``rows`` the number of records, None where planning did
    not count them; ``rows == 0`` marks a file without records. ``filter`` keeps the rows of one
    partition ({column: value}, None meaning missing). ``unusable`` marks an entry that planning found
    cannot be read (a broken link, a FIFO, ...): it says why, and the worker fails the item with it.
    """

    first_row: int | None
    rows: int | None
    read_options: dict[str, Any]
    data_start: int
    filter: dict[str, Any]
    unusable: str


class ErrorInfo(TypedDict, total=False):
    """An error as plain data: what user code (or the worker) raised, never a pickled exception.

    ``errno`` is set for operating-system errors, so that the runner can tell a full disk (which
    no retry fixes) from an item's failure.
    """

    type: str
    message: str
    traceback: str
    log: str | None  # the file holding the full traceback
    errno: int  # for OSError: its errno
    filename: str  # for OSError: the path it names, when it names one
    worker: str  # the worker it happened on, where the receiver needs to say so


class ItemFailure(TypedDict, total=False):
    """One item ``run()`` (or the worker) reported as failed."""

    item: str
    error: str  # "Type: message", one short line
    log: str
    count: int  # failed items this entry stands for (a table slice, missing results); 1 when absent


class ReadyEvent(TypedDict, total=False):
    event: Literal["ready"]
    seconds: float
    warm: bool  # a reused worker bound to a new job (no process start; init() only after a shutdown())


class InitFailedEvent(TypedDict):
    event: Literal["init_failed"]
    error: ErrorInfo


class DoneEvent(TypedDict, total=False):
    event: Literal["done"]
    task: str
    items: int  # input items the task covered (rows, for tabular slices)
    succeeded: int
    rows: int  # rows written to the part (0 for summary_only)
    part: str | None
    seconds: float
    columns: list[str] | None
    failures: list[ItemFailure]  # at most MAX_REPORTED_FAILURES; the failed count is items - succeeded


class FailedEvent(TypedDict):
    event: Literal["failed"]
    task: str
    error: ErrorInfo
    seconds: float


class ByeEvent(TypedDict):
    event: Literal["bye"]


class ReleasedEvent(TypedDict):
    event: Literal["released"]


class RunOp(TypedDict):
    op: Literal["run"]
    task: dict[str, Any]  # Task as a dict


class ShutdownOp(TypedDict):
    op: Literal["shutdown"]


class ReleaseOp(TypedDict):
    op: Literal["release"]


class BindOp(TypedDict):
    op: Literal["bind"]
    binding: dict[str, Any]  # JobBinding as a dict


MAX_REPORTED_FAILURES = 100  # per task, in the done event; the count of failed items is never cut


def shims_dir() -> str:
    """The folder holding the ``azureml`` and ``azureml_user`` shim packages (first on PYTHONPATH)."""
    return os.path.join(_RUNTIME_DIR, "shims")


def package_root() -> str:
    """A folder from which ``import thresher`` finds this thresher, and nothing else of its environment.

    A source checkout (or editable install) is used as it is. An installed thresher sits in
    site-packages beside all its dependencies, which must not leak into the model's environment (a
    model environment with another Python must never import thresher's numpy), so the folder is then
    a cache folder holding only a link to the package.
    """
    root = os.path.dirname(os.path.dirname(_RUNTIME_DIR))
    if os.path.basename(root) not in ("site-packages", "dist-packages"):
        return root
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(cache, "thresher", "runtime-" + hashlib.sha256(root.encode()).hexdigest()[:16])
    link, package = os.path.join(folder, "thresher"), os.path.join(root, "thresher")
    if os.path.realpath(link) != os.path.realpath(package):
        os.makedirs(folder, exist_ok=True)
        temporary = f"{link}.{os.getpid()}.tmp"
        os.symlink(package, temporary)
        os.replace(temporary, link)
    return folder


def worker_name(node: str, number: int) -> str:
    """``node-0/process003``: Azure's ``<node>/<processNNN>`` naming."""
    return f"{node}/process{number:03d}"


def worker_log(logs_dir: str, kind: str, worker: str) -> str:
    """Path of one of a worker's log files, e.g. ``logs/user/stdout/node-0/process000.stdout.txt``.

    ``kind`` is ``stdout``, ``stderr``, ``error`` (tracebacks) or ``entry_script_log``.
    """
    node, _, process = worker.partition("/")
    return os.path.join(logs_dir, "user", kind, node, process + _LOG_SUFFIXES[kind])


def azure_environ(config: WorkerConfig, worker: str) -> dict[str, str]:
    """The variables a scoring script sees: the deployment's ``environment_variables`` and Azure's own.

    The model and output folders, which the platform owns (as on Azure), come after the deployment's
    variables, so these cannot override them.
    """
    identity, binding = config.identity, config.binding
    env = {str(k): str(v) for k, v in identity.environment_variables.items()}
    if identity.model_dir:
        env["AZUREML_MODEL_DIR"] = env["THRESHER_MODEL_DIR"] = identity.model_dir
    env["AZUREML_BI_OUTPUT_PATH"] = env["THRESHER_OUTPUT_DIR"] = binding.output_dir
    # Azure samples pick EntryScript over their DummyEntryScript when this is set.
    env.setdefault("AZUREML_RUN_ID", binding.job or "thresher")
    env[NAME_ENV] = worker
    return env


def worker_environ(config: WorkerConfig, worker: str, base: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a worker process: ``base``, ``azure_environ``, the worker's JSON
    configuration, and a PYTHONPATH that puts the shims first, then the folder holding ``thresher``.

    Math libraries get the worker's share of the cores (``identity.threads``) unless ``base`` or the
    deployment sets their variables: left alone, each OpenMP/BLAS library starts a thread per core,
    and their spin-waiting threads slow every worker down (7.4 s instead of 1.3 s for the demo job
    on 2 cores).
    """
    env = {**base, **azure_environ(config, worker)}
    if config.identity.threads is not None:
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(config.identity.threads))
    # mlflow.log_* calls in scripts must work offline and never write into the code snapshot (the cwd).
    env.setdefault("MLFLOW_TRACKING_URI", Path(config.binding.logs_dir, "mlruns").absolute().as_uri())
    # Importing mlflow may phone home (config.mlflow-telemetry.io); a batch worker never should.
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "true")
    node, _, process = worker.partition("/")
    env[WORKER_ENV] = json.dumps({**config.to_dict(), "node": node, "process": process, "worker": worker})
    paths = [shims_dir(), package_root()]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def encode(message: Mapping[str, Any]) -> bytes:
    """One message as a JSON line (lone surrogates of undecodable file names survive as escapes)."""
    return (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode()


def _plain(value: Any) -> Any:
    """Enums as their values, tuples and mappings as lists and dicts: JSON-able data."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
