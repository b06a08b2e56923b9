"""Remote inputs are listed a page at a time: the order is the local lister's, nothing is missed across
pages, hidden names and MLTable files are skipped, and a flat prefix is not read whole before the
first item comes out.
"""

from __future__ import annotations

import pytest

from tests.remote.conftest import Remote, unique
from thresher.storage import listing
from thresher.storage.remote_files import RemoteFingerprint, iter_remote_files, remote_fingerprint


def test_a_flat_prefix_is_listed_page_by_page_in_input_order(remote: Remote, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "PAGE", 100)
    fs, root = remote.fs()
    prefix = f"{root}/flat-{unique()}"
    names = [f"item-{index:05d}.txt" for index in range(1050)]
    fs.pipe({f"{prefix}/{name}": name.encode() for name in names})
    fs.pipe(
        {
            f"{prefix}/.hidden": b"never data",
            f"{prefix}/MLTable": b"paths: []",
            f"{prefix}/sub/a.txt": b"a",
            f"{prefix}/sub/deeper/b.txt": b"b",
            f"{prefix}/zz/c.txt": b"c",
        }
    )
    target = remote.url.join(prefix.partition("/")[2])

    remote.proxy.reset()
    first = next(iter_remote_files(target))
    after_first = remote.proxy.downloaded
    listed = RemoteFingerprint()
    urls = list(iter_remote_files(target, listed))
    whole = remote.proxy.downloaded - after_first

    base = target.url
    expected = [f"{base}/{name}" for name in names] + [
        f"{base}/sub/a.txt",
        f"{base}/sub/deeper/b.txt",
        f"{base}/zz/c.txt",
    ]
    assert first == expected[0]
    assert urls == expected
    assert (listed.files, listed.bytes) == (1053, sum(len(name) for name in names) + 3)
    assert after_first * 5 < whole, (after_first, whole)  # one page of eleven, not the whole prefix
    assert remote_fingerprint(target) == listed.hexdigest()
    fs.pipe_file(f"{prefix}/sub/a.txt", b"changed")
    assert remote_fingerprint(target) != listed.hexdigest()
