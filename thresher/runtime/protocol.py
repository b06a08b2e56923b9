"""What the control plane and a worker process agree on: environment, messages and log paths.

A worker is started as ``python -m thresher.runtime.worker`` with two pipes (tasks in, events out)
whose fd numbers are in ``THRESHER_WORKER_FDS="<read_fd>,<write_fd>"`` and its configuration (the
``WorkerConfig`` as a dict plus ``node``, ``process`` and ``worker``) as JSON in ``THRESHER_WORKER``.
Messages are JSON lines::

    parent -> worker   {"op": "run", "task": {...Task...}}    {"op": "shutdown"}
    worker -> parent   {"event": "ready", "seconds": s}
                       {"event": "init_failed", "error": {...}}            (then exits with code 3)
                       {"event": "done", "task": id, "items": n, "succeeded": k, "rows": r,
                        "part": name | null, "seconds": s, "columns": [...] | null,
                        "failures": [{"item": path, "error": "Type: message", "log"?: path}]}  (optional)
                       {"event": "failed", "task": id, "error": {...}, "seconds": s}
                       {"event": "bye"}                                     (after shutdown() ran)

Errors are ``{"type", "message", "traceback", "log"}``; result data never travels in a message.
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
from pathlib import Path
from typing import Any

WORKER_ENV = "THRESHER_WORKER"
FDS_ENV = "THRESHER_WORKER_FDS"
NAME_ENV = "THRESHER_WORKER_NAME"
INIT_FAILED_EXIT_CODE = 3
# The shims (which cannot import thresher) use the same literal name.
ENTRY_SCRIPT_LOGGER = "azureml_user.parallel_run.entry_script"

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

# Azure's logs/ layout: logs/user/<kind>/<node>/<process><suffix>
_LOG_SUFFIXES = {
    "stdout": ".stdout.txt",
    "stderr": ".stderr.txt",
    "error": ".txt",
    "entry_script_log": ".log.txt",
}


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


def azure_environ(config: Mapping[str, Any], worker: str) -> dict[str, str]:
    """The variables a scoring script sees: the deployment's ``environment_variables`` and Azure's own.

    ``config`` is ``WorkerConfig.to_dict()``. The model and output folders, which the platform owns (as
    on Azure), come after the deployment's variables, so these cannot override them.
    """
    env = {str(k): str(v) for k, v in (config.get("environment_variables") or {}).items()}
    if config.get("model_dir"):
        env["AZUREML_MODEL_DIR"] = env["THRESHER_MODEL_DIR"] = str(config["model_dir"])
    env["AZUREML_BI_OUTPUT_PATH"] = env["THRESHER_OUTPUT_DIR"] = str(config["output_dir"])
    # Azure samples pick EntryScript over their DummyEntryScript when this is set.
    env.setdefault("AZUREML_RUN_ID", str(config.get("job") or "thresher"))
    env[NAME_ENV] = worker
    return env


def worker_environ(config: Mapping[str, Any], worker: str, base: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a worker process: ``base``, ``azure_environ``, the worker's JSON
    configuration, and a PYTHONPATH that puts the shims first, then the folder holding ``thresher``.
    """
    env = {**base, **azure_environ(config, worker)}
    # mlflow.log_* calls in scripts must work offline and never write into the code snapshot (the cwd).
    env.setdefault("MLFLOW_TRACKING_URI", Path(config["logs_dir"], "mlruns").absolute().as_uri())
    # Importing mlflow may phone home (config.mlflow-telemetry.io); a batch worker never should.
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "true")
    node, _, process = worker.partition("/")
    env[WORKER_ENV] = json.dumps({**config, "node": node, "process": process, "worker": worker})
    paths = [shims_dir(), package_root()]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def encode(message: Mapping[str, Any]) -> bytes:
    """One message as a JSON line."""
    return (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode()
