"""The worker contract: a configuration survives its trip to the worker, and its identity half is the
same for two jobs whose workers would be interchangeable (the key warm workers will be looked up by)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from thresher.runtime.protocol import InputKind, OutputFormat, WorkerConfig
from thresher.scheduler.jobspec import JobInput, JobSpec
from thresher.specs import BatchSettings


def _spec(root: Path, job: str, **settings: object) -> JobSpec:
    return JobSpec(
        input=JobInput(uri=str(root), path=str(root), type="uri_folder"),
        settings=BatchSettings.model_validate({"program_arguments": "--alpha 1", **settings}),
        nodes=1,
        folder=str(root / job),
        output_dir=str(root / job / "outputs"),
        output_file=str(root / job / "outputs" / "predictions.csv"),
        script=str(root / "code" / "score.py"),
        code_dir=str(root / "code"),
        model_dir=str(root / "model"),
    )


def test_a_configuration_comes_back_from_its_wire_form_unchanged(tmp_path: Path) -> None:
    config = _spec(tmp_path, "job-a", output_format="parquet").worker_config("job-a")
    wire = config.to_dict()
    assert wire["output_format"] == "parquet" and wire["program_arguments"] == ["--alpha", "1"]
    assert WorkerConfig.from_dict({**wire, "node": "node-0", "worker": "node-0/process000"}) == config


def test_two_jobs_of_one_deployment_have_the_same_worker_identity_and_their_own_binding(tmp_path: Path) -> None:
    first = _spec(tmp_path, "job-a").worker_config("job-a")
    second = _spec(tmp_path, "job-b", output_format="csv").worker_config("job-b")
    assert first.identity == second.identity and first.identity.key() == second.identity.key()
    assert (first.binding.job, second.binding.job) == ("job-a", "job-b")
    assert (first.binding.output_format, second.binding.output_format) == (OutputFormat.AZURE, OutputFormat.CSV)
    assert first.binding.parts_dir != second.binding.parts_dir


def test_what_changes_a_worker_changes_its_identity_key(tmp_path: Path) -> None:
    base = _spec(tmp_path, "job-a").worker_config("job-a").identity
    changed = [
        replace(base, environment_variables={"MODE": "fast"}),
        replace(base, program_arguments=("--alpha", "2")),
        replace(base, python="/usr/bin/python3.8"),
        replace(base, model_dir="/elsewhere"),
        replace(base, input_kind=InputKind.TABULAR),
        replace(base, logging_level="debug"),
    ]
    keys = {base.key(), *(identity.key() for identity in changed)}
    assert len(keys) == 1 + len(changed)
