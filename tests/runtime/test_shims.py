"""The Azure shims outside a worker, and the worker's environment and log paths (in-process)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thresher.runtime import protocol
from thresher.runtime.shims.azureml.core import Run
from thresher.runtime.shims.azureml.core.model import Model
from thresher.runtime.shims.azureml_user.parallel_run import EntryScript


def test_get_model_path_uses_the_named_folder_or_the_only_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "iris").mkdir()
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    assert Model.get_model_path("iris") == str(tmp_path / "iris")
    assert Model.get_model_path("registered-under-another-name", version=3) == str(tmp_path / "iris")
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match="has no 'nope' and holds 'iris', 'other'; pass one of those names"):
        Model.get_model_path("nope")


def test_get_model_path_without_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="AZUREML_MODEL_DIR is not set"):
        Model.get_model_path("iris")


def test_entry_script_outside_a_worker_has_local_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(protocol.WORKER_ENV, raising=False)
    monkeypatch.setenv("AZUREML_BI_OUTPUT_PATH", str(tmp_path))
    entry = EntryScript()
    assert entry is EntryScript()
    assert (entry.agent_name, entry.node_id, entry.output_dir) == ("process000", "node-0", str(tmp_path))
    assert entry.logger.name == protocol.ENTRY_SCRIPT_LOGGER


def test_offline_run_logs_metrics_locally(caplog: pytest.LogCaptureFixture) -> None:
    run = Run.get_context()
    assert run is Run.get_context()
    with caplog.at_level(logging.INFO, logger=protocol.ENTRY_SCRIPT_LOGGER):
        run.log("rmse", 0.5)
        run.log_row("per_file", file="a.csv", rows=3)
        run.log_row("per_file", file="b.csv", rows=4)
    assert run.get_metrics("rmse") == {"rmse": 0.5}
    assert run.get_metrics()["per_file"] == [{"file": "a.csv", "rows": 3}, {"file": "b.csv", "rows": 4}]
    assert "metric rmse = 0.5" in caplog.text


def test_worker_environment_puts_shims_first_and_keeps_the_platform_folders() -> None:
    config = protocol.WorkerConfig.from_dict(
        {
            "job": "j",
            "model_dir": "/m",
            "output_dir": "/o",
            "parts_dir": "/p",
            "logs_dir": "/l",
            "environment_variables": {"AZUREML_BI_OUTPUT_PATH": "/elsewhere", "A": 1},
            "threads": 3,
        }
    )
    base = {"PYTHONPATH": "/user/lib", "HOME": "/h", "MKL_NUM_THREADS": "8"}
    env = protocol.worker_environ(config, "node-1/process004", base)
    assert env["PYTHONPATH"].split(os.pathsep) == [protocol.shims_dir(), protocol.package_root(), "/user/lib"]
    assert (env["AZUREML_MODEL_DIR"], env["AZUREML_BI_OUTPUT_PATH"], env["A"], env["HOME"]) == ("/m", "/o", "1", "/h")
    assert env[protocol.NAME_ENV] == "node-1/process004"
    # The worker's share of the cores, unless the user chose (here for MKL).
    assert (env["OMP_NUM_THREADS"], env["OPENBLAS_NUM_THREADS"], env["MKL_NUM_THREADS"]) == ("3", "3", "8")
    assert os.path.isdir(os.path.join(protocol.shims_dir(), "azureml_user", "parallel_run"))
    assert protocol.worker_log("/l", "stdout", "node-1/process004") == "/l/user/stdout/node-1/process004.stdout.txt"
    assert protocol.worker_log("/l", "error", "node-1/process004") == "/l/user/error/node-1/process004.txt"


def test_an_installed_thresher_is_importable_without_its_site_packages(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "thresher").symlink_to(Path(protocol.__file__).parents[1])
    (site / "numpy").mkdir()  # one of thresher's dependencies, which a model environment must not see
    probe = "from thresher.runtime import protocol; print(protocol.package_root())"  # -S: no editable finder
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    printed = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    root = Path(printed.stdout.strip())
    assert root.is_relative_to(tmp_path / "cache")
    assert [p.name for p in root.iterdir()] == ["thresher"]
    assert (root / "thresher").resolve() == Path(protocol.__file__).parents[1].resolve()
