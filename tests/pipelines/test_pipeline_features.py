"""Pipelines of inline command steps: concurrency and failures, optional inputs, retries, metrics from MLflow,
cancel, delete, lineage, content fingerprints, curated environments and the checks before anything runs."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from thresher.sdk import Workspace


def _write(folder: Path, text: str, name: str = "pipeline.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _create(cli: Callable[..., Result], path: Path, *args: str) -> Result:
    return cli("job", "create", "-f", str(path), "--stream", "-o", "json", *args)


def _steps(cli: Callable[..., Result], pipeline: str) -> dict[str, dict[str, object]]:
    return {str(s["step"]): s for s in cli("job", "list", "--parent-job-name", pipeline, "-o", "json").json()}


def test_independent_steps_run_concurrently_and_a_failure_stops_what_depends_on_it(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    path = _write(
        tmp_path,
        """\
        type: pipeline
        display_name: fan
        jobs:
          left:
            type: command
            command: date +%s.%N > ${{outputs.out}}/start && sleep 1
            outputs: {out: {type: uri_folder}}
          right:
            type: command
            command: date +%s.%N > ${{outputs.out}}/start && sleep 1
            outputs: {out: {type: uri_folder}}
          broken:
            type: command
            command: echo about to fail && python -c "raise SystemExit('bad row 7 in input.csv')"
          after_broken:
            type: command
            command: cat ${{inputs.x}}/start
            inputs: {x: "${{parent.jobs.left.outputs.out}}"}
        settings:
          continue_on_step_failure: true
    """,
    )
    ran = _create(cli, path)
    assert ran.code != 0
    pipeline = cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip()
    steps = _steps(cli, pipeline)
    starts = [float((Path(str(steps[s]["outputs"]["out"])) / "start").read_text()) for s in ("left", "right")]  # type: ignore[index]
    assert abs(starts[0] - starts[1]) < 0.9, "the two independent steps ran one after the other"
    assert steps["after_broken"]["status"] == "Completed"  # continue_on_step_failure: the others go on
    shown = cli("job", "show", "-n", pipeline, "-o", "json").json()
    assert shown["status"] == "Failed"
    assert "Step 'broken' failed: its command exited with code 1: bad row 7 in input.csv" in shown["headline"]
    log = Path(str(steps["broken"]["logs"]))
    assert log.name == "std_log.txt" and "about to fail" in log.read_text()


def test_without_continue_on_step_failure_the_steps_after_a_failure_do_not_run_and_say_why(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    path = _write(
        tmp_path,
        """\
        type: pipeline
        jobs:
          first:
            type: command
            command: exit 3
            outputs: {out: {type: uri_folder}}
          second:
            type: command
            command: ls ${{inputs.x}}
            inputs: {x: "${{parent.jobs.first.outputs.out}}"}
    """,
    )
    assert _create(cli, path).code != 0
    shown = cli("job", "show", "-n", cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip(), "-o", "json")
    document = shown.json()
    rows = {row["step"]: row for row in document["steps"]}
    assert rows["second"]["status"] == "NotStarted"
    assert rows["second"]["headline"] == "not run: step 'first' before it failed"
    assert "Not run: second." in document["headline"]


def test_optional_inputs_retries_metrics_and_lineage(tmp_path: Path, cli: Callable[..., Result]) -> None:
    _write(
        tmp_path,
        """\
        type: command
        name: train
        inputs:
          rows: {type: integer, default: 10}
          extra: {type: string, optional: true}
        outputs:
          model: {type: uri_folder}
        code: .
        command: >-
          python train.py --rows ${{inputs.rows}} $[[--extra ${{inputs.extra}}]] --out ${{outputs.model}}
        retry_settings:
          max_retries: 2
    """,
        "train.yml",
    )
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""\
        import os, sys
        from pathlib import Path
        import mlflow
        marker = Path(os.environ["THRESHER_STEP_DIR"]) / "attempts"
        attempts = int(marker.read_text()) + 1 if marker.exists() else 1
        marker.write_text(str(attempts))
        if attempts < 2:
            raise SystemExit("flaky on the first attempt")
        mlflow.log_metric("rmse", 0.25)
        mlflow.log_param("rows", sys.argv[2])
        Path(sys.argv[-1], "args.txt").write_text(" ".join(sys.argv[1:]))
    """)
    )
    path = _write(
        tmp_path,
        """\
        type: pipeline
        display_name: lineage
        jobs:
          train:
            type: command
            component: ./train.yml
            inputs: {rows: 5}
    """,
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"], check=True
    )
    ran = _create(cli, path)
    assert ran.code == 0, ran.err
    pipeline = cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip()
    step = _steps(cli, pipeline)["train"]
    assert (
        Path(str(step["outputs"]["model"])) / "args.txt"
    ).read_text() == f"--rows 5 --out {step['outputs']['model']}"  # type: ignore[index]
    assert step["metrics"] == {"rmse": 0.25, "params": {"rows": "5"}}
    assert "attempt 1 failed; retrying" in Path(str(step["logs"])).read_text()
    lineage = cli("job", "show", "-n", pipeline, "-o", "json").json()["lineage"]
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert lineage["commit"] == head.strip() and lineage["dirty"] is False and lineage["branch"]

    with_extra = _create(cli, path, "--set", "jobs.train.inputs.extra=fast")
    assert with_extra.code == 0, with_extra.err
    second = _steps(cli, cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip())["train"]
    assert "--extra fast" in (Path(str(second["outputs"]["model"])) / "args.txt").read_text()  # type: ignore[index]


def test_a_canceled_pipeline_stops_its_running_step_and_can_be_deleted(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    path = _write(
        tmp_path,
        """\
        type: pipeline
        jobs:
          slow:
            type: command
            command: sleep 30
    """,
    )
    created = cli("job", "create", "-f", str(path), "-o", "json")
    assert created.code == 0, created.err
    pipeline = created.json()["name"]
    with Workspace() as ws:
        deadline = time.monotonic() + 20
        while not ws.jobs.list(parent_job_name=pipeline) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cli("job", "cancel", "-n", pipeline, "-o", "none").code == 0
        began = time.monotonic()
        ended = ws.jobs.wait(pipeline, timeout=20)
        assert ended.status == "Canceled" and time.monotonic() - began < 10
        step = ws.jobs.get(f"{pipeline}.slow")
        assert step.status == "Canceled"
        folder = Path(str(step.spec["folder"]))
    refused = cli("job", "delete", "-n", f"{pipeline}.slow", "--yes")
    assert refused.code != 0 and f"thresher job delete --name {pipeline} --yes" in refused.err
    deleted = cli("job", "delete", "-n", pipeline, "--yes", "-o", "json")
    assert deleted.code == 0, deleted.err
    assert not folder.exists() and Path.cwd().exists()
    assert cli("job", "show", "-n", f"{pipeline}.slow").code != 0


def test_content_fingerprints_and_identity_decide_reuse_of_a_changed_input_folder(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("1")
    path = _write(
        tmp_path,
        """\
        type: pipeline
        inputs:
          src: {type: uri_folder, path: ./data, fingerprint: content}
        jobs:
          count:
            type: command
            command: ls ${{inputs.src}} | wc -l > ${{outputs.n}}/n
            inputs: {src: "${{parent.inputs.src}}"}
            outputs: {n: {type: uri_folder}}
    """,
    )
    assert _create(cli, path).code == 0
    (data / "a.txt").write_text("1")  # rewritten, same bytes: reused
    assert _create(cli, path).code == 0
    latest = cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip()
    assert _steps(cli, latest)["count"]["reuse"]["reused"] is True  # type: ignore[index]
    (data / "b.txt").write_text("2")
    assert _create(cli, path).code == 0
    latest = cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip()
    assert _steps(cli, latest)["count"]["reuse"]["reused"] is False  # type: ignore[index]
    why = cli("job", "explain-reuse", f"{latest}.count").out
    assert "input src:" in why and "holds other files than before" in why


def test_cycles_type_mismatches_and_reserved_names_are_refused_before_anything_runs(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    path = _write(
        tmp_path,
        """\
        type: pipeline
        jobs:
          a:
            type: command
            command: echo ${{inputs.x}}
            inputs: {x: "${{parent.jobs.b.outputs.o}}"}
            outputs: {o: {type: uri_folder}}
          b:
            type: command
            command: echo ${{inputs.x}}
            inputs: {x: "${{parent.jobs.a.outputs.o}}"}
            outputs: {o: {type: uri_folder}}
          typed:
            type: command
            component:
              type: command
              inputs: {n: {type: integer}, parent: {type: string}}
              command: echo ${{inputs.n}}
            inputs:
              n: "${{parent.jobs.a.outputs.o}}"
              parent: x
    """,
    )
    refused = _create(cli, path)
    assert refused.code != 0
    assert "steps a -> b -> a form a cycle" in refused.err or "steps b -> a -> b form a cycle" in refused.err
    assert "binds output 'o' of step 'a' (a uri_folder) to input 'n', which is a integer" in refused.err
    assert "input name 'parent' is reserved" in refused.err
    assert cli("job", "list", "-o", "json").json() == []


def test_a_curated_azure_environment_resolves_to_pinned_packages_with_a_note(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    from thresher.pipelines.yaml_loader import load_pipeline
    from thresher.sdk.pipelines import WorkspaceSources

    path = _write(
        tmp_path,
        """\
        type: pipeline
        jobs:
          step:
            type: command
            command: echo hi
            environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
          old:
            type: command
            command: echo hi
            environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    """,
    )
    with Workspace() as ws:
        pipeline = load_pipeline(path, WorkspaceSources(ws.instance))
        note = pipeline.steps["step"].environment_note or ""
        assert "sklearn-1.5 resolved to thresher's catalogue entry sklearn-1.5" in note
        assert "scikit-learn==1.5.2" in note
        record = ws.environments.get("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
        assert "python=3.8" in json.dumps(record.info["conda"])
        sources = WorkspaceSources(ws.instance)  # the default of seed 004's driver
        reference, seed_note = sources.environment("azureml:AzureML-sklearn-0.24-ubuntu18.04-py37-cpu@latest", tmp_path)
        assert reference and "scikit-learn==0.24.2" in (seed_note or "")


@pytest.mark.parametrize("command", ["echo done"])
def test_a_command_step_job_can_be_streamed_and_shown(tmp_path: Path, cli: Callable[..., Result], command: str) -> None:
    path = _write(
        tmp_path,
        f"""\
        type: pipeline
        jobs:
          only:
            type: command
            command: {command}
    """,
    )
    assert _create(cli, path).code == 0
    pipeline = cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip()
    streamed = cli("job", "stream", "-n", f"{pipeline}.only")
    assert streamed.code == 0 and "Completed" in streamed.err
    shown = cli("job", "show", "-n", f"{pipeline}.only", "-o", "json").json()
    assert shown["type"] == "command" and shown["parent_job_name"] == pipeline and shown["command"] == command
    resumed = cli("job", "resume", "-n", f"{pipeline}.only")
    assert resumed.code != 0 and f"thresher job resume --name {pipeline}" in resumed.err


def test_allow_reuse_false_and_is_deterministic_false_always_rerun_and_say_so(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    path = _write(
        tmp_path,
        """\
        type: pipeline
        jobs:
          stamp:
            type: command
            command: date +%s.%N > ${{outputs.o}}/t
            outputs: {o: {type: uri_folder}}
            allow_reuse: false
          random:
            type: command
            component:
              type: command
              is_deterministic: false
              outputs: {o: {type: uri_folder}}
              command: echo $RANDOM > ${{outputs.o}}/r
          plain:
            type: command
            command: echo same > ${{outputs.o}}/s
            outputs: {o: {type: uri_folder}}
    """,
    )
    assert _create(cli, path).code == 0
    assert _create(cli, path).code == 0
    latest = cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip()
    steps = _steps(cli, latest)
    assert steps["stamp"]["reuse"] == {"reused": False, "why": ["allow_reuse is false"]}
    assert steps["random"]["reuse"] == {"reused": False, "why": ["is_deterministic is false"]}
    assert steps["plain"]["reuse"]["reused"] is True  # type: ignore[index]
    forced = _create(cli, path, "--set", "settings.force_rerun=true")
    assert forced.code == 0 and "3 ran, 0 reused" in forced.err


def test_a_parallel_step_reads_the_tables_of_an_mltable_an_upstream_step_wrote(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "make.py").write_text(
        textwrap.dedent("""\
        import sys
        from pathlib import Path
        out = Path(sys.argv[1])
        for part in range(3):
            rows = "\\n".join(f"{part * 100 + i},{i * 0.5}" for i in range(40))
            (out / f"part-{part}.csv").write_text("id,value\\n" + rows + "\\n")
        mltable = "paths:\\n  - pattern: ./*.csv\\n"
        mltable += "transformations:\\n  - read_delimited:\\n      delimiter: ','\\n"
        (out / "MLTable").write_text(mltable)
    """)
    )
    (code / "score.py").write_text(
        textwrap.dedent("""\
        def run(mini_batch):
            return mini_batch.assign(double=mini_batch["value"] * 2)[["id", "double"]]
    """)
    )
    path = _write(
        tmp_path,
        """\
        type: pipeline
        jobs:
          make:
            type: command
            code: ./code
            command: python make.py ${{outputs.tables}}
            outputs: {tables: {type: mltable}}
          score:
            type: parallel
            component:
              type: parallel
              inputs: {tables: {type: mltable}}
              outputs: {rows: {type: uri_folder}}
              input_data: ${{inputs.tables}}
              mini_batch_size: "1KB"
              task: {type: run_function, code: ./code, entry_script: score.py, append_row_to: "${{outputs.rows}}"}
            inputs: {tables: "${{parent.jobs.make.outputs.tables}}"}
    """,
    )
    ran = _create(cli, path)
    assert ran.code == 0, ran.err
    pipeline = cli("job", "list", "--query", "[0].name", "-o", "tsv").out.strip()
    score = _steps(cli, pipeline)["score"]
    assert int(score["mini_batches"]) > 1  # cut by size, as Azure cuts tables  # type: ignore[call-overload]
    lines = Path(str(score["output_file"])).read_text().splitlines()
    assert len(lines) == 120 and lines[0].split()[-1] == "0.0" and lines[-1].split()[-1] == "39.0"


def test_a_runner_killed_during_a_command_step_leaves_no_writer_behind_its_resume(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    import os
    import signal

    from thresher.scheduler.launch import alive

    path = _write(
        tmp_path,
        """\
        type: pipeline
        jobs:
          count:
            type: command
            command: for i in $(seq 1 15); do echo $i >> ${{outputs.o}}/log; sleep 0.2; done
            outputs: {o: {type: uri_folder}}
    """,
    )
    created = cli("job", "create", "-f", str(path), "-o", "json")
    assert created.code == 0, created.err
    pipeline = created.json()["name"]
    with Workspace() as ws:
        deadline = time.monotonic() + 20
        step = None
        while time.monotonic() < deadline:
            steps = ws.jobs.list(parent_job_name=pipeline)
            if steps and steps[0].status == "Running":
                step = steps[0]
                log = Path(str(step.spec["outputs"]["o"])) / "log"
                if log.exists() and log.read_text().strip():
                    break
            time.sleep(0.05)
        assert step is not None and step.runner is not None
        marker = Path(str(step.spec["folder"])) / "command.process"
        orphan = int(marker.read_text().split()[0])
        os.kill(int(step.runner.rsplit(":", 1)[1]), signal.SIGKILL)
        time.sleep(0.5)
        assert alive(orphan), "the command outlived its runner (this is what resume has to deal with)"
    resumed = cli("job", "resume", "-n", pipeline, "--stream", "-o", "none")
    assert resumed.code == 0, resumed.err
    assert not alive(orphan)  # the old attempt's command was ended before the step ran again
    assert (Path(str(step.spec["outputs"]["o"])) / "log").read_text().split() == [str(i) for i in range(1, 16)]
