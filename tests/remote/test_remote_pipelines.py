"""A pipeline whose data lives in object storage (S3 on moto, Azure Blob on Azurite): a command step reads
its input from the bucket (fetched into the workspace's input cache) and writes its output there
(``{run-id}`` in the path), a parallel step scores that output and publishes its rows to the bucket, and a
last command step reads them back."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.jobs.conftest import Bench
from tests.remote.conftest import Remote, unique

SCORE = """
import os

def run(mini_batch):
    return [os.path.basename(path) + " " + str(2 * int(open(path).read().strip())) for path in mini_batch]
"""


def test_command_and_parallel_steps_read_and_write_a_datastore_in_object_storage(bench: Bench, remote: Remote) -> None:
    run = unique()
    source = bench.root / "numbers"
    source.mkdir()
    for index in range(3):
        (source / f"n{index}.txt").write_text(str(index + 1))
    remote.upload(source, f"in-{run}")
    code = bench.root / "code"
    code.mkdir()
    (code / "score.py").write_text(textwrap.dedent(SCORE))
    (bench.root / "pipeline.yml").write_text(
        textwrap.dedent(f"""\
        type: pipeline
        display_name: remote-{run}
        inputs:
          numbers: {{type: uri_folder, path: "{remote.uri(f"in-{run}")}"}}
        outputs:
          copied: {{type: uri_folder, path: "{remote.uri(f"copied-{run}/{{run-id}}")}"}}
          scored: {{type: uri_folder, path: "{remote.uri(f"scored-{run}")}"}}
        jobs:
          copy:
            type: command
            command: cp ${{{{inputs.src}}}}/*.txt ${{{{outputs.out}}}}/ && ls ${{{{outputs.out}}}}
            inputs: {{src: "${{{{parent.inputs.numbers}}}}"}}
            outputs: {{out: "${{{{parent.outputs.copied}}}}"}}
          score:
            type: parallel
            component:
              type: parallel
              inputs: {{data: {{type: uri_folder}}}}
              outputs: {{rows: {{type: uri_folder}}}}
              input_data: ${{{{inputs.data}}}}
              mini_batch_size: "1"
              task: {{type: run_function, code: ./code, entry_script: score.py, append_row_to: "${{{{outputs.rows}}}}"}}
            inputs: {{data: "${{{{parent.jobs.copy.outputs.out}}}}"}}
            outputs: {{rows: "${{{{parent.outputs.scored}}}}"}}
          total:
            type: command
            command: cat ${{{{inputs.rows}}}}/parallel_run_step.txt | sort > ${{{{outputs.sum}}}}/rows.txt
            inputs: {{rows: "${{{{parent.jobs.score.outputs.rows}}}}"}}
            outputs: {{sum: {{type: uri_folder}}}}
    """)
    )
    job = bench.ws.pipelines.create(bench.root / "pipeline.yml")
    ended = bench.ws.jobs.wait(job.name, timeout=180)
    assert ended.status == "Completed", ended.headline
    steps = {(s.results or {})["step"]: s for s in bench.ws.jobs.list(parent_job_name=job.name)}
    copied = f"copied-{run}/{job.name}.copy"  # {run-id} is the step job's name
    assert sorted(remote.read(f"{copied}/n{i}.txt").decode() for i in range(3)) == ["1", "2", "3"]
    assert steps["copy"].results["outputs"]["out"]["path"] == remote.uri(copied)  # type: ignore[index]
    published = remote.read(f"scored-{run}/parallel_run_step.txt").decode().splitlines()
    assert sorted(published) == ["n0.txt 2", "n1.txt 4", "n2.txt 6"]
    total = Path(steps["total"].results["outputs"]["sum"]["path"]) / "rows.txt"  # type: ignore[index]
    assert total.read_text().splitlines() == ["n0.txt 2", "n1.txt 4", "n2.txt 6"]


def test_a_missing_input_in_object_storage_fails_the_step_naming_it(bench: Bench, remote: Remote) -> None:
    missing = remote.uri(f"nothing-here-{unique()}")
    (bench.root / "pipeline.yml").write_text(
        textwrap.dedent(f"""\
        type: pipeline
        jobs:
          read:
            type: command
            command: ls ${{{{inputs.src}}}}
            inputs: {{src: {{type: uri_folder, path: "{missing}"}}}}
    """)
    )
    job = bench.ws.pipelines.create(bench.root / "pipeline.yml")
    ended = bench.ws.jobs.wait(job.name, timeout=120)
    assert ended.status == "Failed"
    assert ended.headline is not None and "Step 'read' failed:" in ended.headline
    assert "unexpected error" not in ended.headline and "nothing-here-" in ended.headline
    assert f"thresher job resume --name {job.name}" in ended.headline
