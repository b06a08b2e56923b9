"""A job folder with a scoring script in it, and an executor running real worker processes on it.

Every executor backend runs the same tests (``BACKENDS``); a backend whose extra is not installed is
skipped with the reason. ``ray`` runs on the session's 3-node test cluster (``ray_cluster`` in
tests/conftest.py), its workers spread over the nodes.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.ray_cluster import CPUS_PER_WORKER
from thresher.errors import MissingExtraError
from thresher.executors import load_executor
from thresher.executors.base import Event, Executor, Task, WorkerConfig

BACKENDS = ["local", "ray"]
WAIT = 30.0  # the most any test waits for an event; the usual wait is milliseconds (a Ray actor: ~1 s)


def backend(executor: Executor) -> str:
    """``local`` or ``ray``: for the few facts that differ, each stated where it is asserted."""
    return "ray" if type(executor).__name__ == "RayExecutor" else "local"


@dataclass
class Job:
    """A job's folders: code/, model/<registered folder>/, outputs/, parts/, logs/."""

    root: Path
    inputs: list[str] = field(default_factory=list)

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def parts(self) -> Path:
        return self.root / "parts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def config(self, script: str, **settings: Any) -> WorkerConfig:
        """Write ``script`` (dedented) as code/score.py; the WorkerConfig that runs it."""
        self.code.mkdir(parents=True, exist_ok=True)
        path = self.code / "score.py"
        path.write_text(textwrap.dedent(script))
        return WorkerConfig.from_dict(
            {
                "job": "job-1",
                "script": str(path),
                "code_dir": str(self.code),
                "model_dir": str(self.model_dir),
                "output_dir": str(self.outputs),
                "parts_dir": str(self.parts),
                "logs_dir": str(self.logs),
                **settings,
            }
        )

    def input_files(self, count: int, text: str = "x") -> list[str]:
        """``count`` input files under data/; their absolute paths."""
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        paths = []
        for index in range(count):
            path = data / f"file-{index:03d}.txt"
            path.write_text(f"{text}{index}\n")
            paths.append(str(path))
        return paths

    def log(self, kind: str, worker: str) -> Path:
        node, process = worker.split("/")
        suffix = {"stdout": ".stdout.txt", "stderr": ".stderr.txt", "error": ".txt", "entry_script_log": ".log.txt"}
        return self.logs / "user" / kind / node / f"{process}{suffix[kind]}"


@pytest.fixture
def job(tmp_path: Path) -> Job:
    """An empty job folder whose model folder holds ``model/weights.txt``."""
    (tmp_path / "model" / "model").mkdir(parents=True)
    (tmp_path / "model" / "model" / "weights.txt").write_text("0.5")
    return Job(tmp_path)


@pytest.fixture(params=BACKENDS)
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """A fresh executor of each backend, killed at the end of the test whatever happened."""
    try:
        cls = load_executor(request.param)
    except MissingExtraError as exc:
        pytest.skip(str(exc))
    options: dict[str, Any] = {}
    if request.param == "ray":
        cluster = request.getfixturevalue("ray_cluster")
        options = {"address": cluster.address, "cpus_per_worker": CPUS_PER_WORKER}
    instance: Executor = cls(**options)
    yield instance
    instance.shutdown(graceful=False)


def wait_for(executor: Executor, done: Callable[[list[Event]], bool], timeout: float = WAIT) -> list[Event]:
    """Poll until ``done(events so far)``; fails the test with what arrived when it takes too long."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while not done(events):
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s; events so far: {events}")
        events.extend(executor.poll(0.1))
    return events


def of_type(events: list[Event], kind: type) -> list[Any]:
    """The events of one type, in order."""
    return [event for event in events if isinstance(event, kind)]


def start(executor: Executor, config: WorkerConfig, *, nodes: int = 1, per_node: int = 1) -> list[Event]:
    """Start the workers and wait until all are ready (fails on an init failure)."""
    executor.start(config, nodes=nodes, per_node=per_node)
    return wait_for(executor, lambda events: len(events) >= nodes * per_node)


_serial = iter(range(1_000_000))


def task(items: list[Any], *, mini_batch: int = 0, partition: dict[str, Any] | None = None) -> Task:
    """A task covering all of ``items``, with a part name of its own."""
    serial = next(_serial)
    return Task(
        id=f"t{serial}",
        mini_batch=mini_batch,
        start=0,
        stop=len(items),
        items=items,
        part=f"{mini_batch:09d}-{serial:06d}.part",
        partition=partition,
    )


def run_task(executor: Executor, work: Task) -> Event:
    """Submit one task and return the event that ends it."""
    executor.submit(work)
    events = wait_for(executor, lambda evs: any(getattr(e, "task", None) == work.id for e in evs))
    return next(e for e in events if getattr(e, "task", None) == work.id)
