"""``MetadataStore.revision``: it changes with every create, save, archive and delete of the rows it names, and
only then, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from thresher.errors import RevisionMovedError
from thresher.store import SqlStore
from thresher.store.records import RowRef

REFS = [
    RowRef("batch_endpoint", "ep"),
    RowRef("deployment", "blue", "ep"),
    RowRef("model", "m"),
    RowRef("compute", "cpu"),
]


def test_revision_moves_with_each_change_of_the_rows_it_names_and_only_then(store: SqlStore) -> None:
    seen = [store.revision(REFS)]
    assert seen[0] == ((), (), (), ())  # none of them exists yet

    def changed() -> bool:
        now = store.revision(REFS)
        moved = now != seen[-1]
        seen.append(now)
        return moved

    store.save_resource("batch_endpoint", "ep", {"description": "a"})
    assert changed()
    store.save_deployment("ep", "blue", {"model": "azureml:m:1"})
    assert changed()
    store.create_asset("model", "m", spec={}, info={})
    assert changed()
    store.save_resource("compute", "cpu", {"type": "local"})
    assert changed()
    assert not changed()  # reading changes nothing
    store.save_resource("compute", "other", {"type": "local"})
    store.create_job("a-job", spec={})
    assert not changed()  # rows it does not name
    store.save_deployment("ep", "blue", {"model": "azureml:m:1"})  # saved as it was: a save all the same
    assert changed()
    store.create_asset("model", "m", spec={}, info={})  # a new version: "latest" moves
    assert changed()
    store.set_asset_archived("model", "m", "2", True)
    assert changed()
    store.delete_deployment("ep", "blue")
    assert changed()
    store.save_deployment("ep", "blue", {"model": "azureml:m:1"})  # the same again, made anew
    assert changed()
    store.delete_resource("batch_endpoint", "ep")  # takes its deployment along
    now = store.revision(REFS)
    assert now[0] == now[1] == () and now != seen[-1]


def test_a_job_expecting_a_revision_is_queued_only_while_its_rows_still_read_so(store: SqlStore) -> None:
    store.save_resource("batch_endpoint", "ep", {"description": "a"})
    store.save_deployment("ep", "blue", {"model": "azureml:m:1"})
    refs = REFS[:2]
    seen = store.revision(refs)
    queued = store.create_job("j1", spec={}, request_key="k1", expect=(refs, seen))
    assert queued.status == "Queued"
    store.save_deployment("ep", "blue", {"model": "azureml:m:2"})
    with pytest.raises(RevisionMovedError, match="'j2' was not queued"):
        store.create_job("j2", spec={}, request_key="k2", expect=(refs, seen))
    assert [job.name for job in store.list_jobs()] == ["j1"] and store.get_request("k2") is None  # nothing written
    assert store.create_job("j2", spec={}, request_key="k2", expect=(refs, store.revision(refs))).name == "j2"
