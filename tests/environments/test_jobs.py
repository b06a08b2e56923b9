"""Batch jobs whose workers run in the deployment's environment: built once, reused after."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import six  # type: ignore[import-untyped]

from tests.environments.conftest import PINNED_SIX, EnvBench
from thresher.environments import job_python
from thresher.environments.interpreters import pyenv_interpreters
from thresher.specs import parse_spec
from thresher.store import JobRecord, SqlStore

VERSION_SCRIPT = """
import os
import sys

import six

def init():
    pass

def run(mini_batch):
    return [f"{os.path.basename(path)} six={six.__version__} prefix={sys.prefix}" for path in mini_batch]
"""


def _environment_log(job: JobRecord) -> str:
    return (Path(str(job.spec["folder"])) / "logs" / "sys" / "environment.txt").read_text()


def _ready_seconds(job: JobRecord) -> float:
    match = re.search(r"ready in ([0-9.]+) s", _environment_log(job))
    assert match is not None
    return float(match.group(1))


def test_workers_see_the_pinned_version_and_the_second_job_reuses_the_environment(env_bench: EnvBench) -> None:
    assert six.__version__ != PINNED_SIX
    conda = env_bench.conda_file("pinned", f"six=={PINNED_SIX}", "azureml-defaults")
    env_bench.deploy(VERSION_SCRIPT, {"conda_file": str(conda)})
    first = env_bench.run()
    assert first.status == "Completed", first.headline
    lines = Path(str(first.spec["output_file"])).read_text().splitlines()
    envs = env_bench.ws.settings.workspace_dir / "envs"
    assert len(lines) == 2
    for line in lines:
        assert f"six={PINNED_SIX}" in line
        assert f"prefix={envs}/" in line
    assert "built in" in _environment_log(first)
    assert "azureml-defaults" in _environment_log(first)  # the note travels into the job's log

    folder = Path(lines[0].split("prefix=")[1])
    metadata = json.loads((folder / "thresher-env.json").read_text())
    stamps = (os.stat(folder).st_mtime_ns, os.stat(str(metadata["log"])).st_mtime_ns)

    second = env_bench.run()
    assert second.status == "Completed", second.headline
    assert f"six={PINNED_SIX}" in Path(str(second.spec["output_file"])).read_text()
    assert "reused" in _environment_log(second) and "built in" not in _environment_log(second)
    assert (os.stat(folder).st_mtime_ns, os.stat(str(metadata["log"])).st_mtime_ns) == stamps
    assert json.loads((folder / "thresher-env.json").read_text())["built_at"] == metadata["built_at"]
    assert len([p for p in envs.iterdir() if p.is_dir()]) == 1
    print(
        f"\nenvironment ready: first job {_ready_seconds(first):.3f} s (built), second {_ready_seconds(second):.3f} s"
    )


def test_workers_run_the_python_version_the_environment_asks_for(env_bench: EnvBench) -> None:
    others = [i for i in pyenv_interpreters() if i.numbers[:2] != sys.version_info[:2] and i.numbers >= (3, 8)]
    if not others:
        pytest.skip("no Python other than thresher's own (3.8 or later) is installed")
    other = others[0]
    minor = ".".join(other.version.split(".")[:2])
    conda = env_bench.conda_file(f"python{minor}", f"six=={PINNED_SIX}", python=minor)
    env_bench.deploy(
        VERSION_SCRIPT.replace("prefix=", "python={sys.version.split()[0]} prefix="),
        {"conda_file": str(conda)},
        name="other-python",
    )
    job = env_bench.run()
    assert job.status == "Completed", job.headline
    assert f"python={other.version} " in Path(str(job.spec["output_file"])).read_text()


def test_a_failing_build_fails_the_job_with_the_build_error(env_bench: EnvBench) -> None:
    conda = env_bench.conda_file("missing", "thresher-no-such-package-zz9==1.0")
    env_bench.deploy(VERSION_SCRIPT, {"conda_file": str(conda)}, name="broken")
    job = env_bench.run()
    assert job.status == "Failed"
    headline = str(job.headline)
    assert headline.startswith(f"Job '{job.name}' failed: Building environment 'broken-env:")
    assert "thresher-no-such-package-zz9" in headline
    log = re.search(r"Full build log: (\S+)", headline)
    assert log is not None and Path(log.group(1)).is_file()
    assert not list((env_bench.ws.settings.workspace_dir / "envs").glob("*.staging"))


def _python(
    store: SqlStore, envs: Path, root: Path, *, environment: str | None = None, files: str | None = None
) -> str | None:
    record = root / "job" / "logs" / "sys" / "environment.txt"
    return job_python(store, envs, environment=environment, files_dir=files, record_to=record)


def test_a_model_folder_defines_the_environment(env_bench: EnvBench, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "requirements.txt").write_text(f"six=={PINNED_SIX}\n")
    (model / "python_env.yaml").write_text(f"python: {sys.version.split()[0]}\ndependencies:\n- -r requirements.txt\n")
    store, envs = env_bench.ws.instance.store, tmp_path / "envs"
    assert _python(store, envs, tmp_path) is None  # no environment: the current interpreter
    python = _python(store, envs, tmp_path, files=str(model))
    assert python is not None and Path(python).parent.parent.parent == envs
    log = (tmp_path / "job" / "logs" / "sys" / "environment.txt").read_text()
    assert f"the environment of {model}: built" in log


def test_an_environment_without_dependency_file_runs_in_the_current_interpreter(
    env_bench: EnvBench, tmp_path: Path
) -> None:
    spec = parse_spec({"name": "plain", "image": "python:3.11"}, "environment", base_dir=tmp_path)
    env_bench.ws.environments.create(spec)  # type: ignore[arg-type]
    assert _python(env_bench.ws.instance.store, tmp_path / "envs", tmp_path, environment="azureml:plain:1") is None
    assert "no dependency file" in (tmp_path / "job" / "logs" / "sys" / "environment.txt").read_text()
