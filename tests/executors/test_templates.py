"""Workers forked from a template (thresher.executors.templates): real templates, real forks, real kills.

A worker tells how it was started by writing, when its script is imported, its pid, its parent's pid and
command line, and which heavy libraries were loaded before the script was: a forked worker's parent is
the template (``python -m thresher.runtime.template``) and finds pandas loaded; a spawned one's parent is
this process (the executor) and finds nothing loaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.executors.conftest import WAIT, Job, of_type, start, wait_for
from thresher.environments.interpreters import find_interpreter
from thresher.errors import ThresherError
from thresher.executors.base import WorkerConfig, WorkerLost, WorkerReady
from thresher.executors.local import LocalExecutor
from thresher.executors.templates import per_worker
from thresher.runtime import protocol

TEMPLATE_MODULE = "thresher.runtime.template"

# Notes, at import, how this worker came to be; init() adds its math libraries' thread pools.
REPORTER = """
import json, os, sys

_HEAVY = ("numpy", "pandas", "pyarrow", "sklearn", "mlflow")
_this = sys.modules[__name__]
NOTE = {
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "parent": open("/proc/%d/cmdline" % os.getppid(), "rb").read().split(b"\\0")[:4],
    "preloaded": [name for name in _HEAVY if name in sys.modules],
    "script_loaded_before": [
        name for name, module in list(sys.modules.items())
        if getattr(module, "__file__", None) == __file__ and module is not _this
    ],
    "python": sys.version_info[:2],
    "threads": {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    "stdout_line_buffered": sys.stdout.line_buffering,
    "stderr_line_buffered": sys.stderr.line_buffering,
    "my_setting": os.environ.get("MY_SETTING"),
}
NOTE["parent"] = [part.decode() for part in NOTE["parent"]]

def _write():
    folder = os.environ["AZUREML_BI_OUTPUT_PATH"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "%d.json" % os.getpid()), "w") as handle:
        json.dump(NOTE, handle)

def init():
    if os.environ.get("THRESHER_LOAD_ALL"):  # the same libraries loaded, forked or spawned, to compare their pools
        import importlib, importlib.util, threadpoolctl
        for name in _HEAVY:
            if importlib.util.find_spec(name):
                importlib.import_module(name)
        NOTE["pools"] = sorted(
            (pool["user_api"], pool["internal_api"], pool["num_threads"]) for pool in threadpoolctl.threadpool_info()
        )
    _write()

def run(mini_batch):
    return mini_batch
"""


def _notes(job: Job) -> dict[int, dict[str, Any]]:
    """What each worker of the job wrote, by pid."""
    return {int(path.stem): json.loads(path.read_text()) for path in job.outputs.glob("*.json")}


def _forked(note: dict[str, Any]) -> bool:
    return note["ppid"] != os.getpid() and TEMPLATE_MODULE in note["parent"]


@pytest.fixture
def pools() -> Iterator[list[LocalExecutor]]:
    """Local executors made by the test, killed at its end."""
    made: list[LocalExecutor] = []
    yield made
    for executor in made:
        executor.shutdown(graceful=False)


def _run(pools: list[LocalExecutor], config: WorkerConfig, *, per_node: int = 1, **options: Any) -> LocalExecutor:
    executor = LocalExecutor(**options)
    pools.append(executor)
    start(executor, config, per_node=per_node)
    return executor


def _gone(pid: int) -> bool:
    """The process no longer runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return found


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().replace(b"\0", b" ").decode()


def test_workers_fork_from_a_template_that_has_the_libraries_loaded_and_never_the_script(
    job: Job, pools: list[LocalExecutor]
) -> None:
    config = job.config(REPORTER)
    _run(pools, config, per_node=2)
    first = _notes(job)
    assert len(first) == 2 and all(_forked(note) for note in first.values()), first
    (template,) = {note["ppid"] for note in first.values()}
    installed = [name for name in ("numpy", "pandas") if importlib.util.find_spec(name) is not None]
    for note in first.values():
        assert set(installed) <= set(note["preloaded"])
        assert note["script_loaded_before"] == []  # the template never imports the user's script
        # The same stdio a spawned worker gets (a pipe, not the template's own stdout)
        assert note["stdout_line_buffered"] is True  # the worker runtime asks for it
    # A later job of the same environment forks from the same template, which has still not seen the script.
    for path in job.outputs.glob("*.json"):
        path.unlink()
    _run(pools, replace(config, binding=replace(config.binding, job="job-2")))
    (second,) = _notes(job).values()
    assert second["ppid"] == template and second["script_loaded_before"] == []


def test_a_forked_workers_thread_pools_are_those_a_spawned_worker_gets(job: Job, pools: list[LocalExecutor]) -> None:
    if importlib.util.find_spec("threadpoolctl") is None or importlib.util.find_spec("numpy") is None:
        pytest.skip("threadpoolctl and numpy are needed to see the thread pools")
    for threads in (1, 2):
        config = job.config(REPORTER)
        identity = replace(config.identity, threads=threads, environment_variables={"THRESHER_LOAD_ALL": "1"})
        config = replace(config, identity=identity)
        seen = {}
        for template in (True, False):
            for path in job.outputs.glob("*.json"):
                path.unlink()
            _run(pools, config, worker_template=template)
            (note,) = _notes(job).values()
            assert _forked(note) is template
            seen[template] = (note["threads"], note["pools"])
        assert seen[True] == seen[False]
        assert seen[True][0] == dict.fromkeys(protocol.THREAD_VARIABLES, str(threads))
        assert {count for _, _, count in seen[True][1]} == {threads}


def test_kill_9_of_a_forked_worker_is_reported_as_for_a_spawned_one(job: Job, pools: list[LocalExecutor]) -> None:
    executor = _run(pools, job.config(REPORTER))
    (note,) = _notes(job).values()
    assert _forked(note)
    pid = executor.pid("node-0/process000")
    assert pid == note["pid"]
    os.kill(pid, signal.SIGKILL)
    events = wait_for(executor, lambda evs: len(of_type(evs, WorkerReady)) == 1)
    (lost,) = of_type(events, WorkerLost)
    assert lost.exit_code == -signal.SIGKILL
    assert lost.reason.startswith("killed by signal 9 (SIGKILL), possibly out of memory")
    assert _gone(pid)
    replacement = executor.pid("node-0/process001")
    assert replacement is not None and _forked(_notes(job)[replacement])


def test_a_worker_of_another_interpreter_forks_from_its_own_template(job: Job, pools: list[LocalExecutor]) -> None:
    try:
        interpreter, _ = find_interpreter("3.8", "tests/executors/test_templates.py")
    except ThresherError:
        pytest.skip("Python 3.8 is not installed (uv python install 3.8): the runtime's oldest Python")
    config = job.config(REPORTER)
    _run(pools, config)
    _run(pools, replace(config, identity=replace(config.identity, python=interpreter.path)))
    notes = sorted(_notes(job).values(), key=lambda note: note["python"])
    assert [note["python"][:2] for note in notes] == [[3, 8], list(sys.version_info[:2])]
    assert all(_forked(note) for note in notes)
    assert notes[0]["ppid"] != notes[1]["ppid"]
    assert notes[0]["parent"][0] == interpreter.path


@pytest.mark.parametrize("change", ["a module of the code folder named like a preloaded library", "templates off"])
def test_workers_are_spawned_where_forking_could_differ(job: Job, pools: list[LocalExecutor], change: str) -> None:
    config = job.config(REPORTER)
    options: dict[str, Any] = {}
    if change == "templates off":
        options["worker_template"] = False
    else:
        if importlib.util.find_spec("numpy") is None:
            pytest.skip("numpy is not installed, so the template has nothing to shadow")
        (job.code / "numpy.py").write_text("# the user's own numpy, which a spawned worker imports\n")
    _run(pools, config, **options)
    (note,) = _notes(job).values()
    assert note["ppid"] == os.getpid() and TEMPLATE_MODULE not in note["parent"]


def test_a_deployment_that_sets_variables_gets_a_template_started_with_them(
    job: Job, pools: list[LocalExecutor]
) -> None:
    config = job.config(REPORTER)
    _run(pools, config)
    (plain,) = _notes(job).values()
    for path in job.outputs.glob("*.json"):
        path.unlink()
    variables = {"MY_SETTING": "on", "THRESHER_OWN": "1"}
    _run(pools, replace(config, identity=replace(config.identity, environment_variables=variables)))
    (note,) = _notes(job).values()
    assert _forked(note) and _forked(plain) and note["ppid"] != plain["ppid"]
    assert note["my_setting"] == "on"
    # Its libraries were imported under the deployment's variable, as a spawned worker's would be; thresher's
    # own variables are the worker's alone.
    with open(f"/proc/{note['ppid']}/environ", "rb") as environ:
        variables_of_template = environ.read().split(b"\0")
    assert b"MY_SETTING=on" in variables_of_template
    assert not any(entry.startswith(b"THRESHER_") for entry in variables_of_template)


def test_a_template_that_dies_leaves_its_workers_reported_and_later_workers_spawned(
    job: Job, pools: list[LocalExecutor]
) -> None:
    # A thread share of its own: a template of its own (its environment differs), which this test kills.
    config = job.config(REPORTER)
    config = replace(config, identity=replace(config.identity, threads=7))
    executor = _run(pools, config)
    (note,) = _notes(job).values()
    assert _forked(note)
    os.kill(note["ppid"], signal.SIGKILL)
    os.kill(note["pid"], signal.SIGKILL)
    events = wait_for(executor, lambda evs: len(of_type(evs, WorkerReady)) == 1)
    (lost,) = of_type(events, WorkerLost)
    # Either the template reported the kill before it died, or the status went with it: both say so.
    assert lost.reason.startswith(("killed by signal 9 (SIGKILL)", "exited, with an exit status that was lost"))
    replacement = executor.pid("node-0/process001")
    assert replacement is not None
    assert _notes(job)[replacement]["ppid"] == os.getpid()  # spawned: the template is not used again


RUNNER = """
import json, sys, threading, time
from thresher.executors.local import LocalExecutor
from thresher.runtime.protocol import WorkerConfig

def serve():
    executor = LocalExecutor()
    executor.start(WorkerConfig.from_dict(json.loads(sys.argv[1])), nodes=1, per_node=2)
    ready = 0
    while ready < 2:
        ready += len(executor.poll(1.0))
    print(json.dumps([executor.pid("node-0/process000"), executor.pid("node-0/process001")]), flush=True)
    time.sleep(600)

if sys.argv[2] == "thread":
    threading.Thread(target=serve).start()
else:
    serve()
"""


@pytest.mark.parametrize("where", ["main", "thread"])
def test_killing_the_runner_leaves_no_template_and_no_worker_behind(job: Job, where: str) -> None:
    # From a thread the template gets no PR_SET_PDEATHSIG (it fires when the starting thread ends): end of
    # file on its socket ends it.
    config = job.config(REPORTER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    runner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(RUNNER), json.dumps(config.to_dict()), where],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert runner.stdout is not None
        workers = json.loads(runner.stdout.readline())
        (template,) = [pid for pid in _children(runner.pid) if TEMPLATE_MODULE in _cmdline(pid)]
        assert sorted(_children(template)) == sorted(workers)
        runner.kill()
        runner.wait()
        deadline = time.monotonic() + WAIT
        while not all(_gone(pid) for pid in [template, *workers]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in [template, *workers] if not _gone(pid)] == []
    finally:
        runner.kill()
        runner.wait()


def test_only_thresher_and_azure_variables_differ_between_workers_of_one_environment(job: Job) -> None:
    # The fork rule compares everything else with the template's environment: it must be the same for
    # two workers of two jobs of one deployment.
    first = job.config(REPORTER)
    second = replace(
        first,
        binding=replace(first.binding, job="job-2", output_dir="/o2", parts_dir="/p2", logs_dir="/l2"),
        identity=replace(first.identity, model_dir="/m2"),
    )
    one = protocol.worker_environ(first, "node-0/process000", os.environ)
    two = protocol.worker_environ(second, "node-1/process007", os.environ)
    differ = {name for name in {*one, *two} if one.get(name) != two.get(name)}
    assert differ and all(per_worker(name) for name in differ), differ
