"""Batch jobs on object storage (a real S3-compatible server and Azurite): inputs listed and fetched
remotely, outputs published there, a runner killed and the job resumed, the line cut mid-job, and the
secret nowhere to be found afterwards.

Every test runs on both servers (the ``remote`` fixture); the expected output is what the same
deployment writes for the same files on local disk.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import echoed, text_inputs
from tests.faults.test_runner_phases import _settle
from tests.jobs.conftest import Bench
from tests.remote.conftest import ECHO, Remote, unique

SETTINGS = {"mini_batch_size": 10, "max_concurrency_per_instance": 2}


def _files_in(home: Path) -> list[Path]:
    return [path for path in home.rglob("*") if path.is_file()]


def test_500_files_read_and_written_remotely_survive_a_killed_runner_byte_for_byte(
    bench: Bench, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench.deploy(ECHO, settings=SETTINGS)
    folder = text_inputs(bench.root, 500, lambda index: f"value-{index * 7}")
    prefix = f"in-{unique()}"
    remote.upload(folder, prefix)
    monkeypatch.setenv("THRESHER_FAULT_INJECTION", "committed=kill")  # the runner dies at its first commit
    job = bench.ws.jobs.invoke(bench.endpoint, input=remote.uri(prefix), output_path=remote.uri(f"out-{prefix}"))
    killed = _settle(bench, job.name)
    monkeypatch.delenv("THRESHER_FAULT_INJECTION")
    assert killed.status == "Running"  # orphaned, resumable
    assert killed.progress.mini_batches_done < 50
    bench.ws.jobs.resume(job.name)
    ended = bench.ws.jobs.wait(job.name, timeout=120)

    assert ended.status == "Completed", ended.headline
    assert (ended.progress.items_succeeded, ended.progress.items_failed) == (500, 0)
    local = bench.run(folder)  # the same deployment on the same files on local disk
    assert local.status == "Completed", local.headline
    published = remote.read(f"out-{prefix}/predictions.csv")
    assert published == Path(str(local.spec["output_file"])).read_bytes() == echoed(folder).encode()
    assert ended.headline.endswith(f"Output: {remote.uri(f'out-{prefix}')}/predictions.csv")
    job_folder = Path(str(ended.spec["folder"]))
    assert not (job_folder / "work" / "fetched").exists()  # the fetch cache went with the job's end
    leaked = [path for path in _files_in(bench.root / "ws") if remote.secret.encode() in path.read_bytes()]
    assert leaked == []


def test_the_storage_unreachable_for_seconds_mid_job_loses_no_item(bench: Bench, remote: Remote) -> None:
    bench.deploy(ECHO + "\nimport time\ntime.sleep(0)\n", settings={**SETTINGS, "mini_batch_size": 2})
    folder = text_inputs(bench.root, 60)
    prefix = f"in-{unique()}"
    remote.upload(folder, prefix)
    job = bench.ws.jobs.invoke(bench.endpoint, input=remote.uri(prefix), output_path=remote.uri(f"out-{prefix}"))
    deadline = time.monotonic() + 60
    while bench.ws.jobs.get(job.name).progress.mini_batches_done < 2:
        assert time.monotonic() < deadline, "the job never got going"
        time.sleep(0.02)
    remote.proxy.cut()  # every connection dropped, new ones refused
    time.sleep(3)
    remote.proxy.restore()
    ended = bench.ws.jobs.wait(job.name, timeout=120)
    assert ended.status == "Completed", ended.headline
    assert (ended.progress.items_succeeded, ended.progress.items_failed) == (60, 0)
    assert remote.read(f"out-{prefix}/predictions.csv") == echoed(folder).encode()


def test_an_outage_past_the_limit_stops_the_job_resumable_naming_the_datastore(
    bench: Bench, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench.deploy(ECHO, settings={**SETTINGS, "mini_batch_size": 2})
    folder = text_inputs(bench.root, 40)
    prefix = f"in-{unique()}"
    remote.upload(folder, prefix)
    monkeypatch.setenv("THRESHER_STORAGE_OUTAGE_LIMIT", "2")
    job = bench.ws.jobs.invoke(bench.endpoint, input=remote.uri(prefix), output_path=remote.uri(f"out-{prefix}"))
    deadline = time.monotonic() + 60
    while bench.ws.jobs.get(job.name).progress.mini_batches_done < 1:
        assert time.monotonic() < deadline, "the job never got going"
        time.sleep(0.02)
    remote.proxy.cut()
    try:
        stopped = bench.ws.jobs.wait(job.name, timeout=60)
    finally:
        remote.proxy.restore()
    assert stopped.status == "Failed"
    assert f"Job '{job.name}' stopped: Storage at datastore 'lake'" in str(stopped.headline)
    assert "over the outage limit of 2 s" in str(stopped.headline)
    assert stopped.error is not None and stopped.error.get("resumable") is True
    bench.ws.jobs.resume(job.name)
    ended = bench.ws.jobs.wait(job.name, timeout=120)
    assert ended.status == "Completed", ended.headline
    assert remote.read(f"out-{prefix}/predictions.csv") == echoed(folder).encode()


def test_an_existing_output_object_is_refused_at_invoke_and_a_missing_input_named(bench: Bench, remote: Remote) -> None:
    bench.deploy(ECHO, settings=SETTINGS)
    folder = text_inputs(bench.root, 3)
    prefix = f"in-{unique()}"
    remote.upload(folder, prefix)
    fs, root = remote.fs()
    fs.pipe_file(f"{root}/taken/predictions.csv", b"someone else's\n")
    with pytest.raises(Exception, match=r"already exists; thresher never overwrites outputs") as refused:
        bench.ws.jobs.invoke(bench.endpoint, input=remote.uri(prefix), output_path=remote.uri("taken"))
    assert "datastore 'lake'" in str(refused.value)
    with pytest.raises(Exception, match=r"does not exist") as missing:
        bench.ws.jobs.invoke(bench.endpoint, input=remote.uri(f"{prefix}-typo"))
    assert f"{prefix}-typo" in str(missing.value)
