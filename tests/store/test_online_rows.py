"""Online endpoints' tables on SQLite and PostgreSQL: the endpoint with its keys, and its deployments."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import create_engine, text

from thresher.errors import AlreadyExistsError, NotFoundError
from thresher.store import SealedKeys, SqlStore

from .conftest import Backend


def keys(tag: str) -> SealedKeys:
    return {"primary_key": f"p-{tag}", "secondary_key": f"s-{tag}", "token_secret": f"t-{tag}", "key_id": "k1"}


def test_an_endpoint_is_created_with_its_keys_and_keeps_them_when_saved_again(store: SqlStore) -> None:
    created = store.save_online_endpoint("ep", {"auth_mode": "key"}, keys("first"), mode="create")
    assert (created.kind, created.name, created.spec) == ("online_endpoint", "ep", {"auth_mode": "key"})
    stored = store.get_endpoint_keys("ep")
    assert (stored.primary_key, stored.secondary_key, stored.token_secret, stored.keys_version) == (
        "p-first",
        "s-first",
        "t-first",
        1,
    )
    with pytest.raises(AlreadyExistsError, match="online endpoint 'ep' already exists"):
        store.save_online_endpoint("ep", {}, keys("second"), mode="create")
    store.save_online_endpoint("ep", {"auth_mode": "aml_token"}, keys("third"))  # upsert: an update
    assert store.get_resource("online_endpoint", "ep").spec == {"auth_mode": "aml_token"}
    assert store.get_endpoint_keys("ep") == stored  # the endpoint's own keys stay
    assert "p-first" not in repr(stored) and "t-first" not in repr(stored)


def test_rotating_a_key_changes_that_key_only_and_moves_the_version(store: SqlStore) -> None:
    store.save_online_endpoint("ep", {}, keys("a"))
    rotated = store.rotate_endpoint_key("ep", "secondary", "s-new", "k2")
    assert (rotated.primary_key, rotated.secondary_key, rotated.keys_version, rotated.key_id) == (
        "p-a",
        "s-new",
        2,
        "k2",
    )
    again = store.rotate_endpoint_key("ep", "primary", "p-new", "k2")
    assert (again.primary_key, again.secondary_key, again.keys_version) == ("p-new", "s-new", 3)
    assert store.get_endpoint_keys("ep") == again
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.primary_key = "changed"  # type: ignore[misc]
    with pytest.raises(NotFoundError, match=r"online endpoint 'nope' does not exist\. Existing online endpoints: ep"):
        store.rotate_endpoint_key("nope", "primary", "x", "k2")
    with pytest.raises(NotFoundError, match="online endpoint 'nope' does not exist"):
        store.get_endpoint_keys("nope")


def test_online_deployments_belong_to_an_online_endpoint(store: SqlStore) -> None:
    store.save_resource("batch_endpoint", "ep", {})  # a batch endpoint of that name is another endpoint
    with pytest.raises(NotFoundError, match=r"^online endpoint 'ep' does not exist\. No online endpoints exist yet"):
        store.save_online_deployment("ep", "blue", {})
    store.save_online_endpoint("ep", {}, keys("a"))
    blue = store.save_online_deployment("ep", "blue", {"model": "azureml:m:1"}, mode="create")
    assert (blue.kind, blue.endpoint_name) == ("online_deployment", "ep")
    store.save_online_deployment("ep", "aqua", {"model": "azureml:m:2"})
    with pytest.raises(AlreadyExistsError, match="deployment 'blue' already exists in online endpoint 'ep'") as taken:
        store.save_online_deployment("ep", "blue", {}, mode="create")
    assert "thresher online-deployment update" in (taken.value.fix or "")
    listed = r"^deployment 'red' does not exist in online endpoint 'ep'\. Existing deployments: aqua, blue\.$"
    with pytest.raises(NotFoundError, match=listed) as missing:
        store.get_online_deployment("ep", "red")
    assert "thresher online-deployment list --endpoint-name ep" in (missing.value.fix or "")
    assert [d.name for d in store.list_online_deployments("ep")] == ["aqua", "blue"]
    assert store.list_deployments("ep") == []  # the batch endpoint's deployments are its own
    store.delete_online_deployment("ep", "aqua")
    with pytest.raises(NotFoundError, match="deployment 'aqua' does not exist"):
        store.delete_online_deployment("ep", "aqua")
    assert store.get_online_deployment("ep", "blue").spec == {"model": "azureml:m:1"}


def test_deleting_an_online_endpoint_deletes_its_deployments_and_keys(store: SqlStore) -> None:
    store.save_online_endpoint("ep", {}, keys("old"))
    store.save_online_endpoint("other", {}, keys("other"))
    store.save_online_deployment("ep", "blue", {})
    store.save_online_deployment("other", "blue", {"keep": True})
    store.delete_resource("online_endpoint", "ep")
    with pytest.raises(NotFoundError, match="online endpoint 'ep' does not exist"):
        store.list_online_deployments("ep")
    store.save_online_endpoint("ep", {}, keys("new"))  # a new endpoint of that name starts afresh
    assert store.list_online_deployments("ep") == []
    assert (store.get_endpoint_keys("ep").primary_key, store.get_endpoint_keys("ep").keys_version) == ("p-new", 1)
    assert [(d.name, d.spec) for d in store.list_online_deployments("other")] == [("blue", {"keep": True})]


def test_the_database_cascades_an_endpoints_rows_without_the_store(store: SqlStore, backend: Backend) -> None:
    # The foreign keys hold in the database itself: a row deleted by plain SQL takes its rows with it.
    store.save_online_endpoint("ep", {}, keys("a"))
    store.save_online_deployment("ep", "blue", {})
    engine = create_engine(backend.url)
    try:
        with engine.begin() as connection:
            if backend.name == "sqlite":
                connection.execute(text("PRAGMA foreign_keys = ON"))
            connection.execute(text("DELETE FROM resources WHERE kind = 'online_endpoint' AND name = 'ep'"))
            left = [
                connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("online_deployments", "endpoint_keys")
            ]
    finally:
        engine.dispose()
    assert left == [0, 0]
