"""Azure's mnist batch deploy script runs with `az ml` replaced by `thresher`, as a real bash process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import ScriptEnv

HERE = Path(__file__).resolve().parent.parent / "azure" / "mnist"


def test_deploy_script_runs_unchanged_but_for_the_command_name(tmp_path: Path, script_env: ScriptEnv) -> None:
    project = tmp_path / "mnist"
    shutil.copytree(HERE, project)
    home = tmp_path / "workspace"
    result = subprocess.run(
        ["bash", "deploy-and-run.sh"],
        cwd=project,
        env=script_env(home),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT default=mnist-torch-dpl mini_batch_size=20" in result.stdout
    model_path = next(line for line in result.stdout.splitlines() if line.startswith("RESULT model_path="))
    stored = Path(model_path.split("=", 1)[1])
    # The model folder was copied into the workspace's default datastore under its registered folder name.
    assert stored.name == "model"
    assert home in stored.parents
    assert (stored / "mnist_classifier.pt").read_bytes() == (
        HERE / "deployment-torch/model/mnist_classifier.pt"
    ).read_bytes()


@pytest.mark.local_only("the same script as the test before, whose server run covers it")
def test_script_leaves_the_registered_model_and_deletes_the_endpoint(tmp_path: Path, script_env: ScriptEnv) -> None:
    project = tmp_path / "mnist"
    shutil.copytree(HERE, project)
    home = tmp_path / "workspace"
    env = script_env(home)
    subprocess.run(["bash", "deploy-and-run.sh"], cwd=project, env=env, check=True, capture_output=True, timeout=180)
    listed = subprocess.run(
        ["thresher", "batch-endpoint", "list", "--query", "[].name", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(listed.stdout) == []
    models = subprocess.run(
        ["thresher", "model", "list", "--query", "[].[name, version]", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # The script registered mnist-classifier-torch once by flags and once more inline in deployment.yml.
    assert json.loads(models.stdout) == [["mnist-classifier-torch", "2"]]
