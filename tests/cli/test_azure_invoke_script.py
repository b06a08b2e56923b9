"""Azure's invoke/stream/show/download script runs with `az ml` replaced by `thresher` (real processes)."""

from __future__ import annotations

import pickle
import shutil
import subprocess
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.cli.conftest import ScriptEnv

HERE = Path(__file__).resolve().parent.parent / "azure" / "iris"


def test_invoke_stream_show_download(tmp_path: Path, script_env: ScriptEnv) -> None:
    project = tmp_path / "iris"
    shutil.copytree(HERE, project)
    iris = load_iris(as_frame=True)
    features = iris.frame.drop(columns="target")
    model = LogisticRegression(max_iter=500).fit(features, iris.frame["target"])
    (project / "model").mkdir()
    with (project / "model" / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)
    (project / "data").mkdir()
    for index in range(6):
        features.iloc[index * 25 : (index + 1) * 25].to_csv(project / "data" / f"iris-{index}.csv", index=False)

    env = script_env(tmp_path / "workspace")
    result = subprocess.run(
        ["bash", "deploy-and-run.sh"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT job=" in result.stdout and "status=Completed" in result.stdout

    scores = pd.read_csv(
        project / "named-outputs" / "score" / "predictions.csv", sep=" ", header=None, names=["file", "prediction"]
    )
    expected = []
    for index in range(6):
        chunk = features.iloc[index * 25 : (index + 1) * 25]
        expected += [(f"iris-{index}.csv", int(p)) for p in model.predict(chunk)]
    assert list(zip(scores["file"], scores["prediction"], strict=True)) == expected
