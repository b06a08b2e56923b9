"""Building environments for real with uv: the cache, reuse, concurrent builds, failures, SDK and CLI."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import six  # type: ignore[import-untyped]

from tests.environments.conftest import PINNED_SIX, EnvBench
from thresher.cli import main
from thresher.errors import ThresherError
from thresher.specs import parse_spec
from thresher.store import AssetRecord


def _create(bench: EnvBench, name: str, conda: Path) -> AssetRecord:
    spec = parse_spec({"name": name, "conda_file": str(conda)}, "environment", base_dir=bench.root)
    return bench.ws.environments.create(spec)  # type: ignore[arg-type]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def six_env(env_bench: EnvBench) -> AssetRecord:
    return _create(env_bench, "six-env", env_bench.conda_file("six", f"six=={PINNED_SIX}", "azureml-defaults"))


def test_build_installs_the_pinned_version_compiled_and_reuses_it(env_bench: EnvBench, six_env: AssetRecord) -> None:
    assert six.__version__ != PINNED_SIX, "the pin must differ from thresher's own six to prove anything"
    environments = env_bench.ws.environments
    assert environments.build_status("six-env").built is False
    built = environments.build("six-env")
    assert (built.built, built.reused, built.python_version) == (
        True,
        False,
        f"{sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}",
    )
    assert Path(built.path).parent == env_bench.ws.settings.workspace_dir / "envs"
    assert built.size_bytes and built.size_bytes > 10_000
    assert any("azureml-defaults" in note for note in built.notes)
    seen = subprocess.run([built.python, "-c", "import six; print(six.__version__)"], capture_output=True, text=True)
    assert seen.stdout.strip() == PINNED_SIX
    assert list(Path(built.path).glob("lib/python*/site-packages/__pycache__/six.*.pyc")), (
        "bytecode compiled at install"
    )
    assert not list(Path(built.path).glob("lib/python*/site-packages/azureml*"))

    log_mtime = os.stat(str(built.log)).st_mtime_ns
    again = environments.build("six-env")
    assert (again.reused, again.path, again.built_at) == (True, built.path, built.built_at)
    assert os.stat(str(built.log)).st_mtime_ns == log_mtime
    assert environments.build_status("six-env").built is True


PKG_RESOURCES_PROBE = """
import importlib.metadata as metadata
import pkg_resources
print(pkg_resources.get_distribution("six").version)
print(*(metadata.version(name) for name in ("pip", "setuptools", "wheel")))
"""


def test_a_conda_file_that_lists_pip_gives_pip_setuptools_wheel_and_pkg_resources(env_bench: EnvBench) -> None:
    """As conda's pip package does; setuptools 82 removed pkg_resources, which older packages still import."""
    conda = env_bench.conda_file("with-pip", f"six=={PINNED_SIX}")
    assert "  - pip\n" in conda.read_text()
    _create(env_bench, "with-pip", conda)
    built = env_bench.ws.environments.build("with-pip")
    assert any("Added pip, setuptools<82, wheel" in note for note in built.notes)
    probe = subprocess.run([built.python, "-c", PKG_RESOURCES_PROBE], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    six_version, versions = probe.stdout.splitlines()
    assert six_version == PINNED_SIX  # pkg_resources sees the environment's packages
    pip, setuptools, wheel = versions.split()
    assert int(setuptools.split(".")[0]) < 82 and pip and wheel
    # pip works as a command in the environment, as in a conda environment
    shown = subprocess.run([built.python, "-m", "pip", "show", "six"], capture_output=True, text=True)
    assert f"Version: {PINNED_SIX}" in shown.stdout, shown.stderr


def test_cli_build_and_show(env_bench: EnvBench, six_env: AssetRecord, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "environment", "build", "--name", "six-env", "--version", "1", "-o", "json")
    assert code == 0, err
    built = json.loads(out)
    assert built["id"] == "azureml:six-env:1" and built["built"] is True
    code, out, err = _cli(capsys, "environment", "show", "six-env:1", "--query", "build", "-o", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["built"], shown["path"], shown["size_bytes"]) == (True, built["path"], built["size_bytes"])
    assert shown["python_version"] == built["python_version"] and shown["key"] == built["key"]


def test_concurrent_builds_wait_for_one(env_bench: EnvBench) -> None:
    _create(env_bench, "race", env_bench.conda_file("race", "six==1.15.0"))
    key = env_bench.ws.environments.build_status("race").key
    envs = env_bench.ws.settings.workspace_dir / "envs"
    envs.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "thresher", "environment", "build", "race:1", "-o", "json"]
    with (envs / f"{key}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as if a third build were running: both must wait for it
        builders = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
        time.sleep(1.5)
        assert [b.poll() for b in builders] == [None, None]
        assert not (envs / str(key)).exists()
        fcntl.flock(lock, fcntl.LOCK_UN)
    results = [json.loads(b.communicate(timeout=120)[0]) for b in builders]
    assert sorted(r["reused"] for r in results) == [False, True]
    assert {r["path"] for r in results} == {str(envs / str(key))}
    assert sorted(p.name for p in envs.glob(f"{key}*")) == [key, f"{key}.build.log", f"{key}.lock"]
    assert Path(results[0]["log"]).read_text().count("Built in") == 1


def test_failed_build_leaves_nothing_and_names_its_log(env_bench: EnvBench) -> None:
    _create(env_bench, "broken", env_bench.conda_file("broken", "six==1.16.0", "thresher-no-such-package-zz9==1.0"))
    status = env_bench.ws.environments.build_status("broken")
    with pytest.raises(ThresherError) as caught:
        env_bench.ws.environments.build("broken")
    message = caught.value.message
    assert "Building environment 'broken:1' failed while installing its requirements" in message
    assert "thresher-no-such-package-zz9" in message
    assert f"Full build log: {status.log}" in message
    assert "thresher environment build broken:1" in (caught.value.fix or "")
    assert "thresher-no-such-package-zz9" in Path(str(status.log)).read_text()
    assert not Path(status.path).exists() and not Path(status.path + ".staging").exists()
    assert env_bench.ws.environments.build_status("broken").built is False


def test_conda_only_packages_are_refused_at_create_and_at_build(
    env_bench: EnvBench, capsys: pytest.CaptureFixture[str]
) -> None:
    conda = env_bench.root / "conda-only.yaml"
    conda.write_text("dependencies:\n  - python=3.11\n  - numpy=1.26\n  - pip\n  - pip:\n    - six\n")
    code, _, err = _cli(capsys, "environment", "create", "-n", "conda-only", "--conda-file", str(conda))
    assert code == 1
    assert "numpy=1.26 (line 3)" in err and "numpy==1.26.*" in err
    # recorded before the check existed: building it says the same
    document = {"name": "legacy", "conda_file": {"dependencies": ["mkl=2024.0", {"pip": ["six"]}]}}
    env_bench.ws.instance.store.create_asset(
        "environment", "legacy", spec=document, info={"conda": document["conda_file"]}
    )
    with pytest.raises(ThresherError, match=r"only conda installs: mkl=2024\.0"):
        env_bench.ws.environments.build("legacy")


def test_a_python_version_that_is_not_installed(env_bench: EnvBench, capsys: pytest.CaptureFixture[str]) -> None:
    _create(env_bench, "old-python", env_bench.conda_file("old", "six", python="3.4"))
    with pytest.raises(ThresherError) as caught:
        env_bench.ws.environments.build("old-python")
    assert "Installed: " in caught.value.message and sys.version.split()[0] in caught.value.message
    assert "uv python install 3.4" in (caught.value.fix or "")
    code, out, err = _cli(capsys, "environment", "show", "old-python", "--query", "build", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["built"] is False and "Installed: " in json.loads(out)["error"]


def test_an_environment_without_dependency_file_is_the_current_interpreter(env_bench: EnvBench) -> None:
    document = {"name": "image-only", "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"}
    spec = parse_spec(document, "environment", base_dir=env_bench.root)
    env_bench.ws.environments.create(spec)  # type: ignore[arg-type]
    built = env_bench.ws.environments.build("image-only")
    assert (built.key, built.python, built.built) == (None, sys.executable, True)
