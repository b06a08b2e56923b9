"""Batch jobs on object storage (a real S3-compatible server and Azurite): inputs listed and fetched
remotely, outputs published there, a runner killed and the job resumed, the line cut mid-job, and the
secret nowhere to be found afterwards.

Every test runs on both servers (the ``remote`` fixture); the expected output is what the same
deployment writes for the same files on local disk.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import echoed, text_inputs
from tests.faults.test_runner_phases import _settle
from tests.jobs.conftest import Bench
from tests.remote.conftest import ECHO, Remote, unique
from thresher.errors import StorageError
from thresher.sdk import Workspace
from thresher.specs import parse_spec

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
    bench.deploy(ECHO, settings={**SETTINGS, "mini_batch_size": 2})
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
    during = bench.ws.jobs.get(job.name)
    remote.proxy.restore()
    assert during.status == "Running"  # the cut held the job up (the output cannot be published without the line)
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


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_a_key_rotated_after_create_fails_invoke_naming_the_datastore_not_the_key(
    bench: Bench, remote: Remote, moto_s3: Any
) -> None:
    bench.deploy(ECHO, settings=SETTINGS)
    prefix = f"in-{unique()}"
    remote.upload(text_inputs(bench.root, 2), prefix)
    spec = moto_s3.datastore_spec("stale", remote.url.url.removeprefix("s3://"))
    spec["endpoint_url"] = remote.proxy.url
    bench.ws.datastores.create(parse_spec(spec, "datastore", base_dir=bench.root))
    wrong = {**spec, "credentials": {"access_key_id": moto_s3.access_key_id, "secret_access_key": "not-the-key-1234"}}
    bench.ws.datastores.create(parse_spec(wrong, "datastore", base_dir=bench.root), check=False)  # rotated since
    with pytest.raises(StorageError) as refused:
        bench.ws.jobs.invoke(bench.endpoint, input=f"azureml://datastores/stale/paths/{prefix}")
    message = f"{refused.value}\n{refused.value.fix}"
    assert "Cannot read --input datastore 'stale'" in message
    assert "credentials" in message
    assert "not-the-key-1234" not in message


def test_a_file_at_a_web_address_is_scored_as_a_one_file_input(bench: Bench, tmp_path: Path) -> None:
    served = tmp_path / "site"
    served.mkdir()
    (served / "item-0001.txt").write_text("hello from the web\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        bench.deploy(ECHO, settings=SETTINGS)
        url = f"http://127.0.0.1:{server.server_address[1]}/item-0001.txt"
        job = bench.ws.jobs.wait(bench.ws.jobs.invoke(bench.endpoint, input=url).name, timeout=60)
    finally:
        server.shutdown()
        thread.join()
    assert job.status == "Completed", job.headline
    assert bench.output(job) == "item-0001.txt hello from the web\n"


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_a_store_that_does_not_answer_at_invoke_is_named_and_no_job_is_said_resumable(
    bench: Bench, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench.deploy(ECHO, settings=SETTINGS)
    prefix = f"in-{unique()}"
    remote.upload(text_inputs(bench.root, 2), prefix)
    monkeypatch.setenv("THRESHER_STORAGE_OUTAGE_LIMIT", "1")
    remote.proxy.cut()
    try:
        with Workspace(bench.root / "ws") as ws, pytest.raises(StorageError) as refused:
            ws.jobs.invoke(bench.endpoint, input=remote.uri(prefix))
    finally:
        remote.proxy.restore()
    assert str(refused.value).startswith(f"--input datastore 'lake' ({remote.uri(prefix)}) did not answer for ")
    assert "run the command again" in str(refused.value.fix)
    assert "resume" not in str(refused.value) + str(refused.value.fix)
    assert bench.ws.jobs.list() == []


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_partition_keys_come_from_the_object_paths_below_the_input(bench: Bench, remote: Remote) -> None:
    folder = bench.root / "parts"
    for region in ("west", "east"):
        for day in ("1", "2"):
            target = folder / f"region={region}" / f"day={day}"
            target.mkdir(parents=True)
            for index in range(2):
                (target / f"f{index}.txt").write_text(f"{region}-{day}-{index}")
    prefix = f"region={unique()}"  # a key=value folder above the input's root does not count
    remote.upload(folder, prefix)
    bench.deploy(
        """
        def run(mini_batch, mini_batch_context):
            key = mini_batch_context.partition_key_value
            return [f"{key['region']}/{key['day']}:{len(mini_batch)}:{open(p).read()}" for p in mini_batch]
        """,
        settings={"partition_keys": ["region", "day"]},
    )
    job = bench.ws.jobs.wait(bench.ws.jobs.invoke(bench.endpoint, input=remote.uri(prefix)).name, timeout=60)
    assert job.status == "Completed", job.headline
    assert job.progress.mini_batches_total == 4
    lines = bench.output(job).splitlines()
    assert lines == [
        f"{region}/{day}:2:{region}-{day}-{index}"
        for region in ("east", "west")
        for day in ("1", "2")
        for index in (0, 1)
    ]
