"""P6's servers as processes: the peers' venvs and command lines, starting one and timing it to its first
200, its process tree and memory, stopping it; and why the machine is busy when it is.

Each peer runs in its own process group (so that stopping it ends its workers too) with one math
thread (``OMP_NUM_THREADS=1`` and the like), its output in ``logs/<name>-<rep>.log`` of the work folder.
The venvs of the peers that need packages of their own are made here by ``uv`` from PyPI, pinned to
the versions of scikit-learn, numpy, pandas and cloudpickle that saved the model, once per package
list (``venvs/<name>``, a marker remembers the list).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import common
from bench.online_load import connect, exchange

AZMLINFSRV = "azureml-inference-server-http==1.5.1"
MLSERVER = ("mlserver==1.7.1", "mlserver-mlflow==1.7.1", "uvloop<0.22")  # uvloop 0.22+ kills its workers
START_TIMEOUT = 240.0  # seconds from spawn to the first 200 (mlflow models serve took 19 s in the pilot)
MODEL_PACKAGES = ("scikit-learn", "numpy", "pandas", "cloudpickle")

SCORE_PY = '''"""An Azure ML scoring script for P6: the same body as thresher's /score, the model's own predict."""
import json
import os

import cloudpickle
import pandas as pd

model = None


def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"), "rb") as handle:
        model = cloudpickle.load(handle)


def run(raw_data):
    split = json.loads(raw_data)["input_data"]
    return model.predict(pd.DataFrame(split["data"], columns=split["columns"])).tolist()
'''


@dataclass(frozen=True)
class Route:
    """Where a server takes one body format, and in which JSON family (``azure``, ``mlflow``, ``v2``, ``csv``)."""

    path: str
    family: str


@dataclass(frozen=True)
class Peer:
    """A server P6 starts itself: how, and where it takes bodies."""

    name: str
    label: str
    workers: int
    json: Route
    csv: Route | None = None
    split: Route | None = None  # MLflow's dataframe_split on /invocations, where json is another family
    venv: str | None = None  # "azmlinfsrv" or "mlserver" (see venv_packages), else this interpreter
    batching: bool = False

    def routes(self) -> dict[str, Route]:
        """Body format -> route: ``json`` (its own JSON family), ``split``, ``csv``."""
        found = {"json": self.json, "split": self.split, "csv": self.csv}
        return {fmt: route for fmt, route in found.items() if route is not None}


CSV = Route("/invocations", "csv")
PEERS = {
    peer.name: peer
    for peer in (
        Peer("floor", "bare ASGI app (floor)", 1, Route("/score", "azure"), CSV, Route("/invocations", "mlflow")),
        Peer("azmlinfsrv_w1", "azmlinfsrv, 1 worker", 1, Route("/score", "azure"), venv="azmlinfsrv"),
        Peer("azmlinfsrv_w2", "azmlinfsrv, 2 workers", 2, Route("/score", "azure"), venv="azmlinfsrv"),
        Peer("mlflow_serve", "mlflow models serve -w 1", 1, Route("/invocations", "mlflow"), CSV),
        Peer("mlserver", "MLServer, V2, no batching", 1, Route("/v2/models/hgb/infer", "v2"), venv="mlserver"),
        Peer(
            "mlserver_batching",
            "MLServer, V2, adaptive batching 16 / 2 ms",
            1,
            Route("/v2/models/hgb/infer", "v2"),
            venv="mlserver",
            batching=True,
        ),
    )
}


def pinned() -> list[str]:
    """The model's packages at the versions that saved it (this interpreter's)."""
    return [f"{name}=={metadata.version(name)}" for name in MODEL_PACKAGES]


def venv_packages(name: str) -> list[str]:
    """What a peer's venv holds."""
    if name == "azmlinfsrv":
        return [AZMLINFSRV, *pinned()]
    if name == "mlserver":  # mlserver-mlflow needs full mlflow: the same version as the model's
        return [*MLSERVER, f"mlflow=={metadata.version('mlflow-skinny')}", *pinned()]
    raise ValueError(name)


def ensure_venv(work: Path, name: str) -> Path:
    """``venvs/<name>`` made by uv with its packages (once per package list); its bin folder."""
    packages = venv_packages(name)
    folder = work / "venvs" / name
    uv = Path(sys.executable).parent / "uv"

    def build(target: Path) -> None:
        log = work / "logs" / f"venv-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            for command in (
                [str(uv), "venv", "--quiet", "--python", sys.executable, str(target)],
                [str(uv), "pip", "install", "--python", str(target / "bin" / "python"), *packages],
            ):
                out.write(f"$ {' '.join(command)}\n")
                out.flush()
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
                if done.returncode != 0:
                    tail = log.read_text(errors="replace")[-1500:]
                    raise common.BenchError(f"installing {name}'s venv failed (exit {done.returncode}):\n{tail}")

    started = time.monotonic()
    common.cached(folder, {"packages": packages}, build)
    print(f"  venv {name}: ready in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return folder / "bin"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlserver_folder(root: Path, model: Path, *, batching: bool) -> tuple[Path, int]:
    """MLServer's settings.json and model-settings.json for the model; the folder and its HTTP port."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 1,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    model_settings: dict[str, Any] = {
        "name": "hgb",
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": str(model)},
    }
    if batching:
        model_settings.update(max_batch_size=16, max_batch_time=0.002)
    (root / "model-settings.json").write_text(json.dumps(model_settings))
    return root, port


def command(peer: Peer, work: Path, model: Path, bins: dict[str, Path]) -> tuple[list[str], dict[str, str], Path, int]:
    """The command line, environment, working folder and HTTP port of a peer."""
    env = common.baseline_env()
    env.pop("PYTHONPATH", None)
    if peer.name == "floor":
        port = free_port()
        env.update(P6_MODEL_DIR=str(model), PYTHONPATH=str(common.REPO))
        argv = [sys.executable, "-m", "uvicorn", "bench.online_floor:app", "--http", "httptools", "--loop", "asyncio"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
        return argv, env, common.REPO, port
    if peer.name.startswith("azmlinfsrv"):
        port = free_port()
        folder = work / "azure-app"
        folder.mkdir(exist_ok=True)
        (folder / "score.py").write_text(SCORE_PY)
        env.update(WORKER_COUNT=str(peer.workers), AZUREML_MODEL_DIR=str(model))
        argv = [str(bins["azmlinfsrv"] / "azmlinfsrv"), "--entry_script", "score.py", "--model_dir", str(model)]
        argv += ["--port", str(port), "--worker_count", str(peer.workers)]
        return argv, env, folder, port
    if peer.name == "mlflow_serve":
        port = free_port()
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # it runs `bash -c uvicorn`
        argv = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", str(model)]
        argv += ["--env-manager", "local", "-w", "1", "-h", "127.0.0.1", "-p", str(port)]
        return argv, env, work, port
    if peer.name.startswith("mlserver"):
        folder, port = mlserver_folder(work / f"mlserver-{peer.name}", model, batching=peer.batching)
        env["PATH"] = f"{bins['mlserver']}{os.pathsep}{env.get('PATH', '')}"
        return [str(bins["mlserver"] / "mlserver"), "start", str(folder)], env, folder, port
    raise ValueError(peer.name)


@dataclass
class Started:
    """A running server: its process (group leader), port, log, and how long it took to its first 200."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    start_s: float = 0.0
    handles: list[Any] = field(default_factory=list)

    def stop(self, timeout: float = 15.0) -> None:
        """End the server's process group, gently then not."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        for handle in self.handles:
            handle.close()


def wait_for_200(port: int, request: bytes, *, alive: Callable[[], str | None], timeout: float) -> float:
    """Seconds until ``request`` on ``port`` answers 200, polled every 20 ms; BenchError when ``alive``
    says the server died (its message) or the timeout passes."""
    started = time.monotonic()
    last = "no answer"
    while (elapsed := time.monotonic() - started) < timeout:
        try:
            with connect("127.0.0.1", port, timeout=30) as sock:
                answer = exchange(sock, request, bytearray())
            if answer.status == 200:
                return time.monotonic() - started
            last = f"{answer.status}: {answer.body[:300]!r}"
        except OSError as error:
            last = str(error)
        if (death := alive()) is not None:
            raise common.BenchError(f"the server exited before its first 200 ({death}); last answer: {last}")
        time.sleep(0.02)
    raise common.BenchError(f"no 200 within {elapsed:.0f} s; last answer: {last}")


def start(
    peer: Peer, work: Path, model: Path, bins: dict[str, Path], probe: Callable[[int], bytes], rep: int
) -> Started:
    """Start ``peer`` and wait for its first 200 to ``probe(port)``: that wait is its start time."""
    argv, env, cwd, port = command(peer, work, model, bins)
    log = work / "logs" / f"{peer.name}-{rep}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("wb")
    began = time.monotonic()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    started = Started(process, port, log, handles=[handle])

    def alive() -> str | None:
        if process.poll() is None:
            return None
        return f"exit {process.returncode}; {log}: {log.read_text(errors='replace')[-1500:]}"

    try:
        wait_for_200(port, probe(port), alive=alive, timeout=START_TIMEOUT)
    except BaseException:
        started.stop()
        raise
    started.start_s = time.monotonic() - began
    return started


# -- processes and memory -------------------------------------------------------------------------


def _parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    found[int(entry)] = int(handle.read().split(b") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def tree(roots: Sequence[int]) -> list[int]:
    """``roots`` and all their descendants alive now."""
    parents = _parents()
    found, frontier = set(roots) & set(parents), list(roots)
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return sorted(found)


def rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def loaded_model(pid: int) -> bool:
    """Whether ``pid`` has scikit-learn's compiled modules mapped: it loaded the model (a worker)."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as handle:
            return any("/sklearn/" in line for line in handle)
    except OSError:
        return False


def memory(pids: Sequence[int]) -> dict[str, Any]:
    """RSS of a server's processes: per worker (those that loaded the model), and in all."""
    workers = [pid for pid in pids if loaded_model(pid)]
    per = [rss_mb(pid) for pid in workers]
    return {
        "workers": len(workers),
        "rss_per_worker_mb": sum(per) / len(per) if per else None,
        "rss_total_mb": sum(rss_mb(pid) for pid in pids),
    }


def with_environ(text: str) -> list[int]:
    """Processes whose environment holds ``text`` exactly (``VAR=value``): a detached server's."""
    needle = b"\0" + text.encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if needle in b"\0" + handle.read() + b"\0":
                        found.append(int(entry))
            except OSError:
                continue
    return sorted(found)


def busiest(seconds: float = 1.0, count: int = 5) -> list[str]:
    """The processes that used the most CPU over ``seconds`` (alive at both ends: short-lived ones are not
    seen): why the machine is busy."""

    def times() -> dict[int, tuple[int, str]]:
        found = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as handle:
                        head, rest = handle.read().split(b") ", 1)
                    fields = rest.split()
                    name = head.split(b"(", 1)[1].decode(errors="replace")
                    found[int(entry)] = (int(fields[11]) + int(fields[12]), name)
                except (OSError, IndexError, ValueError):
                    continue
        return found

    before = times()
    time.sleep(seconds)
    after = times()
    ticks = os.sysconf("SC_CLK_TCK")
    used = sorted(
        ((after[pid][0] - before[pid][0], pid, after[pid][1]) for pid in after if pid in before), reverse=True
    )
    return [f"pid {pid} ({name}) {delta / ticks / seconds:.0%} of a core" for delta, pid, name in used[:count] if delta]
