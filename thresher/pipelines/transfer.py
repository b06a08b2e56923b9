"""Step data in object storage, for command steps, which read and write local paths: inputs are fetched into
the workspace's input cache (what stands in for Azure's ``ro_mount`` and ``download``), outputs are
written locally and sent to their destination when the step succeeded (``rw_mount`` and ``upload``)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from thresher.storage.remote import RemoteURL
from thresher.storage.remote_files import download, iter_remote_files, relative_name, upload

COMPLETE = ".complete"


def fetch(source: RemoteURL, cache: Path) -> Path:
    """The local copy of ``source`` (a file or a folder), fetched once into ``cache``."""
    slot = cache / hashlib.sha256(source.url.encode()).hexdigest()[:24]
    if not (slot / COMPLETE).exists():
        staging = slot.with_name(slot.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        urls = list(iter_remote_files(source))
        if urls == [source.url]:  # one object
            download(source, staging / "data" / relative_name(source, source.url))
            (staging / "file").write_text(relative_name(source, source.url))
        else:
            for url in urls:
                name = relative_name(source, url)
                download(source.join(name), staging / "data" / name)
            (staging / "data").mkdir(parents=True, exist_ok=True)
        shutil.rmtree(slot, ignore_errors=True)
        staging.rename(slot)
        (slot / COMPLETE).touch()
    single = slot / "file"
    return slot / "data" / single.read_text() if single.exists() else slot / "data"


def send(local: Path, target: RemoteURL) -> int:
    """Upload the file or the files under ``local`` to ``target``; how many."""
    if local.is_file():
        upload(local, target)
        return 1
    sent = 0
    for path in sorted(local.rglob("*")):
        if path.is_file():
            upload(path, target.join(path.relative_to(local).as_posix()))
            sent += 1
    return sent
