"""Input entries that cannot be scored fail alone, each with its own message; names that are not UTF-8 go
through byte for byte. Real jobs over real folders holding broken links, link loops, FIFOs and files
that vanish while the job runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from tests.faults.conftest import fifo, job_error, output_bytes
from tests.jobs.conftest import Bench
from thresher.specs import parse_spec
from thresher.store import JobRecord

# Reads each file it is given, returns its name and text (object columns: pandas' default string
# type, backed by pyarrow, refuses a name that is not UTF-8), and notes every path run() received.
NAMES_SCRIPT = """
import os
import pandas as pd

def init():
    pass

def run(mini_batch):
    with open(os.environ["SEEN"], "ab") as seen:
        for path in mini_batch:
            seen.write(os.fsencode(path) + b"\\n")
    print("scoring", mini_batch)  # a name that is not UTF-8 must not break print() in the script
    names = [os.path.basename(path) for path in mini_batch]
    texts = [open(path, encoding="utf-8").read().strip() for path in mini_batch]
    return pd.DataFrame({"file": pd.Series(names, dtype=object), "text": pd.Series(texts, dtype=object)})
"""

LATIN_1_NAME = b"caf\xe9.txt"  # "café.txt" in Latin-1: not valid UTF-8


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _seen(bench: Bench) -> list[bytes]:
    return (bench.root / "seen.txt").read_bytes().splitlines()


def _deploy_names(bench: Bench, **settings: object) -> None:
    seen = str(bench.root / "seen.txt")
    bench.deploy(
        NAMES_SCRIPT,
        settings={"max_concurrency_per_instance": 1, "environment_variables": {"SEEN": seen}, **settings},
    )


def _failures(job: JobRecord) -> dict[str, str]:
    return {failure.item: failure.error for failure in job.progress.first_failures}


def test_each_bad_entry_is_one_failed_item_with_its_own_error_and_good_rows_keep_input_order(db_bench: Bench) -> None:
    bench = db_bench
    data = bench.root / "data"
    _write(data / "a.txt", "alpha")
    broken = os.fsencode(data) + b"/b\xff-broken"  # a broken link whose own name is not UTF-8 either
    os.symlink(bench.root / "nowhere.txt", broken)
    _write(data / "c.txt", "gamma")
    (data / os.fsdecode(LATIN_1_NAME)).write_text("latin\n", encoding="utf-8")
    os.symlink(data / "d-loop", data / "d-loop")  # points at itself: ELOOP
    fifo(data / "e-pipe")
    _write(data / "f.txt", "phi")
    _write(data / "g" / "h.txt", "eta")
    os.symlink(data, data / "g" / "up")  # leads back to a folder above it
    _write(data / "z.txt", "zeta")
    _deploy_names(bench, mini_batch_size=3)

    job = bench.run(data)

    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (6, 4)
    assert "6 of 10 items succeeded, 4 failed (within the thresholds)" in str(job.headline)
    # The good files' rows, in input order, the Latin-1 name byte for byte.
    assert output_bytes(job) == (
        b"a.txt alpha\nc.txt gamma\n" + LATIN_1_NAME + b" latin\nf.txt phi\nh.txt eta\nz.txt zeta\n"
    )
    # run() never got a bad entry.
    good = [b"a.txt", b"c.txt", LATIN_1_NAME, b"f.txt", b"g/h.txt", b"z.txt"]
    assert _seen(bench) == [os.fsencode(data) + b"/" + name for name in good]
    # Each bad entry is a failed item with its own message, its name shown escaped where not UTF-8.
    shown = f"{data}/b\\xff-broken"
    expected = {
        shown: f"UnusableInput: {shown} is a broken symbolic link to {bench.root}/nowhere.txt (target does not "
        "exist). Fix the link or remove it from the input folder.",
        f"{data}/d-loop": f"UnusableInput: {data}/d-loop is a symbolic link loop: it points to {data}/d-loop, which "
        "leads back to it (too many levels of symbolic links). Remove the link or point it at a file.",
        f"{data}/e-pipe": f"UnusableInput: {data}/e-pipe is a FIFO (named pipe), not a regular file; only regular "
        "files are scored. Remove it from the input folder, or point the job at a folder without it.",
        f"{data}/g/up": f"UnusableInput: {data}/g/up is a symbolic link to {data} that leads back to {data}, a folder "
        "above it; following it would list the same files forever, so it is not scored. Remove the link.",
    }
    assert _failures(job) == expected
    assert [f.mini_batch for f in job.progress.first_failures] == [0, 1, 1, 2]
    report = job_error(job)
    for item, error in expected.items():
        assert f"- {item} (mini-batch " in report and error in report


def test_a_file_deleted_after_planning_fails_alone_as_vanished(bench: Bench) -> None:
    data = bench.root / "data"
    for name in ("a", "b", "c", "d"):
        _write(data / f"{name}.txt", name * 3)
    # run() of mini-batch 0 deletes c.txt, which mini-batch 2 holds (one worker: mini-batches run in order).
    script = NAMES_SCRIPT.replace(
        "    names = [",
        "    if os.path.basename(mini_batch[0]) == 'a.txt':\n"
        "        os.remove(os.path.join(os.path.dirname(mini_batch[0]), 'c.txt'))\n"
        "    names = [",
    )
    seen = str(bench.root / "seen.txt")
    settings = {"mini_batch_size": 1, "max_concurrency_per_instance": 1, "environment_variables": {"SEEN": seen}}
    bench.deploy(script, settings=settings)

    job = bench.run(data)

    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (3, 1)
    assert output_bytes(job) == b"a.txt aaa\nb.txt bbb\nd.txt ddd\n"
    assert _failures(job) == {
        f"{data}/c.txt": f"UnusableInput: {data}/c.txt vanished after the job was planned. Don't change the input "
        "folder while a job runs; score the file in a new job."
    }
    assert b"c.txt" not in b"".join(_seen(bench))


def test_bad_entries_count_against_error_threshold(bench: Bench) -> None:
    data = bench.root / "data"
    _write(data / "a.txt", "alpha")
    os.symlink(data / "missing.txt", data / "b-broken")
    fifo(data / "c-pipe")
    _write(data / "d.txt", "delta")
    _deploy_names(bench, mini_batch_size=10, error_threshold=1)

    job = bench.run(data)

    assert job.status == "Failed"
    assert str(job.headline).startswith(
        f"Job '{job.name}' failed: 2 items failed, over error_threshold 1. First failure: {data}/b-broken: "
        f"UnusableInput: {data}/b-broken is a broken symbolic link to {data}/missing.txt (target does not exist)."
    )


def test_bad_entries_and_missing_results_add_up_without_double_counting(bench: Bench) -> None:
    data = bench.root / "data"
    _write(data / "a.txt", "alpha")
    os.symlink(data / "missing.txt", data / "b-broken")
    _write(data / "c.txt", "gamma")
    # run() gets a.txt and c.txt and returns one result: the other counts as failed (Azure's contract).
    bench.deploy(
        "def run(mini_batch):\n    return [f'{len(mini_batch)} scored']\n",
        settings={"mini_batch_size": 3, "max_concurrency_per_instance": 1},
    )

    job = bench.run(data)

    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (1, 2)
    assert output_bytes(job) == b"2 scored\n"
    assert _failures(job) == {
        f"{data}/b-broken": f"UnusableInput: {data}/b-broken is a broken symbolic link to {data}/missing.txt "
        "(target does not exist). Fix the link or remove it from the input folder.",
        f"2 items from {data}/a.txt to {data}/c.txt": "run() returned 1 results for 2 items; each missing result "
        "counts as a failed item",
    }


def test_item_results_failures_and_bad_entries_are_each_listed_once(bench: Bench) -> None:
    data = bench.root / "data"
    _write(data / "a.txt", "alpha")
    fifo(data / "b-pipe")
    _write(data / "c.txt", "gamma")
    script = """
from thresher.runtime.results import ItemResults

def run(mini_batch):
    good = [p for p in mini_batch if not p.endswith("c.txt")]
    bad = [{"item": p, "error": ValueError("no gamma here")} for p in mini_batch if p.endswith("c.txt")]
    return ItemResults(rows=[p.rsplit("/", 1)[1] for p in good], failures=bad)
"""
    bench.deploy(script, settings={"mini_batch_size": 3, "max_concurrency_per_instance": 1})

    job = bench.run(data)

    assert (job.progress.items_succeeded, job.progress.items_failed) == (1, 2)
    assert output_bytes(job) == b"a.txt\n"
    failures = _failures(job)
    assert failures[f"{data}/c.txt"] == "ValueError: no gamma here"
    assert failures[f"{data}/b-pipe"].startswith(f"UnusableInput: {data}/b-pipe is a FIFO (named pipe)")
    assert len(failures) == 2  # no "more items failed" entry: every failed item is accounted for


def test_a_failing_item_whose_name_is_not_utf8_reaches_the_database_and_the_report_readably(
    db_bench: Bench,
) -> None:
    bench = db_bench
    data = bench.root / "data"
    _write(data / "a.txt", "alpha")
    with open(os.fsencode(data) + b"/" + LATIN_1_NAME, "wb") as handle:
        handle.write(b"not, a number\n")
    bench.deploy(
        "def run(mini_batch):\n"
        "    for path in mini_batch:\n"
        "        if not path.endswith('a.txt'):\n"
        "            raise ValueError(f'cannot score {path}')\n"
        "    return ['ok'] * len(mini_batch)\n",
        settings={"mini_batch_size": 1, "max_concurrency_per_instance": 1, "retry_settings": {"max_retries": 0}},
    )

    job = bench.run(data)

    assert job.status == "Completed", job.headline
    shown = f"{data}/caf\\xe9.txt"
    assert _failures(job) == {shown: f"ValueError: cannot score {shown}"}
    assert f"- {shown} (mini-batch 1): ValueError: cannot score {shown}" in job_error(job)
    processed = (Path(str(job.spec["folder"])) / "logs" / "sys" / "processed_mini_batches.csv").read_text()
    assert f"ValueError: cannot score {shown}" in processed


def test_a_resumed_job_is_not_refused_because_of_its_bad_entries(bench: Bench) -> None:
    data = bench.root / "data"
    for index in range(8):
        _write(data / f"f{index}.txt", f"text{index}")
    os.symlink(data / "missing.txt", data / "f3-broken")
    fifo(data / "f5-pipe")
    script = NAMES_SCRIPT.replace("    names = [", "    import time\n    time.sleep(0.3)\n    names = [")
    seen = str(bench.root / "seen.txt")
    settings = {"mini_batch_size": 1, "max_concurrency_per_instance": 1, "environment_variables": {"SEEN": seen}}
    bench.deploy(script, settings=settings)
    job = bench.ws.jobs.invoke(bench.endpoint, input=str(data))
    deadline = time.monotonic() + 60
    while bench.ws.jobs.get(job.name).progress.mini_batches_done < 2:
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.05)
    bench.ws.jobs.cancel(job.name)
    assert bench.ws.jobs.wait(job.name, timeout=60).status == "Canceled"

    bench.ws.jobs.resume(job.name)
    ended = bench.ws.jobs.wait(job.name, timeout=120)

    assert ended.status == "Completed", ended.headline
    assert (ended.progress.items_succeeded, ended.progress.items_failed) == (8, 2)
    assert output_bytes(ended) == b"".join(f"f{i}.txt text{i}\n".encode() for i in range(8))
    assert sorted(_failures(ended)) == [f"{data}/f3-broken", f"{data}/f5-pipe"]


def test_tabular_entries_that_cannot_be_read_fail_alone(bench: Bench) -> None:
    folder = bench.root / "table"
    folder.mkdir()
    for index in range(3):
        pd.DataFrame({"id": [index * 10, index * 10 + 1]}).to_csv(folder / f"part-{index}.csv", index=False)
    (folder / "MLTable").write_text(
        "paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
    )
    asset = bench.ws.data.create(
        parse_spec({"name": "table", "type": "mltable", "path": str(folder)}, "data", base_dir=bench.root)
    )
    # Registering copies the files into the workspace, so the bad entries are made in that copy.
    stored = Path(str(asset.info["path"]))
    (stored / "part-1.csv").unlink()
    os.symlink(stored / "gone.csv", stored / "part-1.csv")
    fifo(stored / "part-3.csv")
    bench.deploy(
        "def run(mini_batch):\n    return mini_batch[['id']]\n",
        settings={"mini_batch_size": "100 rows", "max_concurrency_per_instance": 1},
    )

    job = bench.ws.jobs.wait(bench.ws.jobs.invoke(bench.endpoint, input="azureml:table@latest").name, timeout=120)

    assert job.status == "Completed", job.headline
    assert (job.progress.items_succeeded, job.progress.items_failed) == (4, 2)
    assert output_bytes(job) == b"0\n1\n20\n21\n"
    failures = _failures(job)
    assert failures[f"{stored}/part-1.csv"].startswith(f"UnusableInput: {stored}/part-1.csv is a broken symbolic")
    assert failures[f"{stored}/part-3.csv"].startswith(f"UnusableInput: {stored}/part-3.csv is a FIFO (named pipe)")
