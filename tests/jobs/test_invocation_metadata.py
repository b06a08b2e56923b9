"""Invocations keep what they read of the metadata (``thresher.sdk.resolved``): a job queued after any change of
its endpoint, deployment, model or compute, made by this workspace or by another process, is built from the
changed rows, never from the kept ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thresher import ConflictError, NotFoundError, Workspace
from thresher.specs import parse_spec
from thresher.store import JobRecord

ENDPOINT = "kept"


@pytest.fixture
def workspaces(tmp_path: Path) -> Iterator[tuple[Workspace, Workspace, Path]]:
    """Two workspaces on one folder (as a server and a CLI in another process would be), one deployment ``blue``
    of model ``m`` on compute ``cpu``, and a folder of input files."""
    root = tmp_path / "files"
    (root / "code").mkdir(parents=True)
    (root / "code" / "score.py").write_text("def init():\n    pass\n\ndef run(batch):\n    return batch\n")
    (root / "model").mkdir()
    (root / "model" / "weights.txt").write_text("w")
    (root / "data").mkdir()
    (root / "data" / "a.txt").write_text("a")
    serving, other = Workspace(tmp_path / "ws"), Workspace(tmp_path / "ws")
    other.models.create(parse_spec({"name": "m", "path": str(root / "model")}, "model", base_dir=root))  # type: ignore[arg-type]
    other.computes.create(parse_spec({"name": "cpu", "type": "local"}, "compute", base_dir=root))  # type: ignore[arg-type]
    other.batch_endpoints.create(parse_spec({"name": ENDPOINT}, "batch_endpoint", base_dir=root))  # type: ignore[arg-type]
    _deploy(other, root, "blue", mini_batch_size=2)
    try:
        yield serving, other, root
    finally:
        serving.close()
        other.close()


def _deploy(ws: Workspace, root: Path, name: str, **settings: Any) -> None:
    document = {
        "name": name,
        "endpoint_name": ENDPOINT,
        "type": "model",
        "model": "azureml:m@latest",
        "compute": "azureml:cpu",
        "code_configuration": {"code": str(root / "code"), "scoring_script": "score.py"},
        "settings": settings,
    }
    spec = parse_spec(document, "batch_deployment", base_dir=root)
    ws.batch_deployments.create(spec, set_default=True)  # type: ignore[arg-type]


def _invoke(ws: Workspace, root: Path, **kwargs: Any) -> JobRecord:
    return ws.jobs.invoke(ENDPOINT, input=str(root / "data"), start_runner=False, **kwargs)


def test_a_job_is_built_from_the_rows_as_they_are_after_every_change(
    workspaces: tuple[Workspace, Workspace, Path],
) -> None:
    serving, other, root = workspaces
    for _ in range(3):  # the first reads everything; the others use what it kept
        job = _invoke(serving, root)
        assert (job.deployment_name, job.spec["settings"]["mini_batch_size"], job.spec["model"]) == (
            "blue",
            2,
            "azureml:m:1",
        )
    assert job.spec["min_instances"] == 0

    other.batch_deployments.update("blue", ENDPOINT, ["settings.mini_batch_size=7"])
    assert _invoke(serving, root).spec["settings"]["mini_batch_size"] == 7

    other.models.create(parse_spec({"name": "m", "path": str(root / "model")}, "model", base_dir=root))  # type: ignore[arg-type]
    assert _invoke(serving, root).spec["model"] == "azureml:m:1"  # a deployment keeps the version it was made with
    other.batch_deployments.update("blue", ENDPOINT, ["model=azureml:m:2"])
    assert _invoke(serving, root).spec["model"] == "azureml:m:2"

    other.computes.create(parse_spec({"name": "cpu", "type": "local", "min_instances": 1}, "compute", base_dir=root))  # type: ignore[arg-type]
    assert _invoke(serving, root).spec["min_instances"] == 1

    _deploy(other, root, "green", mini_batch_size=3)  # and the endpoint's default moves to it
    job = _invoke(serving, root)
    assert (job.deployment_name, job.spec["settings"]["mini_batch_size"]) == ("green", 3)
    assert _invoke(serving, root, mini_batch_size=5).spec["settings"]["mini_batch_size"] == 5  # its own shape
    assert _invoke(serving, root).spec["settings"]["mini_batch_size"] == 3


def test_changes_made_in_this_workspace_are_seen_too(workspaces: tuple[Workspace, Workspace, Path]) -> None:
    serving, _other, root = workspaces
    assert _invoke(serving, root).spec["settings"]["mini_batch_size"] == 2
    serving.batch_deployments.update("blue", ENDPOINT, ["settings.mini_batch_size=9"])
    assert _invoke(serving, root).spec["settings"]["mini_batch_size"] == 9


def test_a_deleted_deployment_or_endpoint_fails_the_next_invocation_with_the_usual_message(
    workspaces: tuple[Workspace, Workspace, Path],
) -> None:
    serving, other, root = workspaces
    _invoke(serving, root)
    _invoke(serving, root)
    no_default = parse_spec({"name": ENDPOINT}, "batch_endpoint", base_dir=root)
    other.batch_endpoints.update(ENDPOINT, spec=no_default)  # type: ignore[arg-type]
    with pytest.raises(ConflictError, match=f"Batch endpoint '{ENDPOINT}' has no default deployment"):
        _invoke(serving, root)
    with pytest.raises(ConflictError, match="has no default deployment"):
        _invoke(serving, root)
    assert _invoke(serving, root, deployment_name="blue").deployment_name == "blue"
    other.batch_endpoints.delete(ENDPOINT)
    with pytest.raises(NotFoundError, match=f"'{ENDPOINT}'"):
        _invoke(serving, root, deployment_name="blue")


def test_a_check_that_fails_on_kept_metadata_is_made_again_on_the_rows_as_they_are(
    workspaces: tuple[Workspace, Workspace, Path],
) -> None:
    serving, other, root = workspaces
    _invoke(serving, root)  # keeps blue, whose output file is predictions.csv
    taken = root / "out"
    taken.mkdir()
    (taken / "predictions.csv").write_text("an earlier run's\n")
    other.batch_deployments.update("blue", ENDPOINT, ["settings.output_file_name=scores.csv"])
    job = _invoke(serving, root, output_path=str(taken))  # not refused for the old name
    assert job.spec["output_file"] == str(taken / "scores.csv")
    (taken / "scores.csv").write_text("")
    with pytest.raises(ConflictError, match=r"scores\.csv already exists"):
        _invoke(serving, root, output_path=str(taken))
