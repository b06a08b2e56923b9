"""What every MetadataStore must do, run on SQLite and on PostgreSQL (``store`` is parametrized)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from thresher.errors import AlreadyExistsError, NotFoundError, ResourceError
from thresher.store import AssetRecord, DeploymentRecord, ResourceRecord, SqlStore


def versions(records: list[AssetRecord]) -> list[str]:
    return [record.version for record in records]


def make(store: SqlStore, name: str, *explicit: str, kind: str = "model") -> list[str]:
    """Create one version per argument ("" = auto-numbered) and return the versions given."""
    return [
        store.create_asset(kind, name, spec={"n": i}, info={}, version=v or None).version
        for i, v in enumerate(explicit)
    ]


class TestMetadataStore:
    # -- versions ------------------------------------------------------------------------------

    def test_versions_count_up_per_kind_and_name(self, store: SqlStore) -> None:
        assert make(store, "churn", "", "", "") == ["1", "2", "3"]
        assert make(store, "fraud", "") == ["1"]
        assert make(store, "churn", "", kind="environment") == ["1"]
        assert make(store, "churn", "", kind="data") == ["1"]
        assert make(store, "churn", "") == ["4"]

    def test_explicit_versions_and_numbering_after_them(self, store: SqlStore) -> None:
        assert make(store, "m", "5", "") == ["5", "6"]
        assert make(store, "m", "1.2-beta", "") == ["1.2-beta", "7"]  # non-integers do not count
        assert make(store, "m", "2", "") == ["2", "8"]  # filling a gap does not lower the next number
        assert make(store, "only-text", "v1", "") == ["v1", "1"]

    def test_archived_versions_keep_their_numbers(self, store: SqlStore) -> None:
        make(store, "m", "", "")
        store.set_asset_archived("model", "m", None, True)
        assert make(store, "m", "") == ["3"]

    def test_an_existing_version_is_refused(self, store: SqlStore) -> None:
        store.create_asset("model", "m", spec={"first": True}, info={}, version="3")
        with pytest.raises(AlreadyExistsError, match="model 'm' version 3 already exists") as caught:
            store.create_asset("model", "m", spec={"first": False}, info={}, version="3")
        assert caught.value.fix
        assert store.get_asset("model", "m", "3").spec == {"first": True}

    def test_latest_cannot_be_a_version(self, store: SqlStore) -> None:
        with pytest.raises(ResourceError, match="'latest'"):
            store.create_asset("model", "m", spec={}, info={}, version="latest")
        assert store.list_assets("model") == []

    def test_latest_is_the_highest_integer_version_not_archived(self, store: SqlStore) -> None:
        make(store, "m", "2", "10", "1", "zeta")
        assert store.get_asset("model", "m").version == "10"  # 10 > 2 although "10" < "2" as text
        assert store.get_asset("model", "m", "latest").version == "10"
        store.set_asset_archived("model", "m", "10", True)
        assert store.get_asset("model", "m").version == "2"
        archived = store.get_asset("model", "m", "10")  # an explicit version is found when archived
        assert (archived.version, archived.archived) == ("10", True)

    def test_latest_without_integer_versions_is_the_newest(self, store: SqlStore) -> None:
        make(store, "m", "b", "a")
        assert store.get_asset("model", "m").version == "a"
        make(store, "m", "1")
        assert store.get_asset("model", "m").version == "1"  # an integer version wins

    def test_no_latest_when_every_version_is_archived(self, store: SqlStore) -> None:
        make(store, "m", "", "")
        store.set_asset_archived("model", "m", None, True)
        with pytest.raises(NotFoundError, match=r"every version \(1, 2\) is archived") as caught:
            store.get_asset("model", "m")
        assert "restore" in (caught.value.fix or "")

    # -- listing and archiving -------------------------------------------------------------------

    def test_list_orders_by_name_then_version_number(self, store: SqlStore) -> None:
        make(store, "b", "10", "2", "1.5", "1")
        make(store, "a", "")
        make(store, "c", "", kind="code")
        listed = store.list_assets("model")
        assert [(r.name, r.version) for r in listed] == [
            ("a", "1"),
            ("b", "1"),
            ("b", "1.5"),
            ("b", "2"),
            ("b", "10"),
        ]
        assert versions(store.list_assets("model", "b")) == ["1", "1.5", "2", "10"]
        assert store.list_assets("model", "nope") == []

    def test_list_latest_only_and_archived(self, store: SqlStore) -> None:
        make(store, "a", "", "", "")
        make(store, "b", "", "")
        make(store, "gone", "")
        store.set_asset_archived("model", "a", "3", True)
        store.set_asset_archived("model", "gone", None, True)
        latest = store.list_assets("model", latest_only=True)
        assert [(r.name, r.version) for r in latest] == [("a", "2"), ("b", "2")]
        with_archived = store.list_assets("model", latest_only=True, include_archived=True)
        assert [(r.name, r.version, r.archived) for r in with_archived] == [
            ("a", "2", False),
            ("b", "2", False),
            ("gone", "1", True),
        ]
        assert versions(store.list_assets("model", "a")) == ["1", "2"]
        assert versions(store.list_assets("model", "a", include_archived=True)) == ["1", "2", "3"]

    def test_archive_and_restore_every_version(self, store: SqlStore) -> None:
        make(store, "m", "", "", "")
        make(store, "other", "")
        changed = store.set_asset_archived("model", "m", None, True)
        assert [(r.version, r.archived) for r in changed] == [("1", True), ("2", True), ("3", True)]
        assert [r.name for r in store.list_assets("model")] == ["other"]
        restored = store.set_asset_archived("model", "m", "2", False)
        assert [(r.version, r.archived) for r in restored] == [("2", False)]
        assert store.get_asset("model", "m").version == "2"
        assert store.get_asset("model", "m", "3").archived is True

    # -- not found -----------------------------------------------------------------------------------

    def test_unknown_names_list_what_exists(self, store: SqlStore) -> None:
        with pytest.raises(NotFoundError, match=r"^model 'm' does not exist\. No models exist yet\.$") as none:
            store.get_asset("model", "m")
        assert "thresher model create" in (none.value.fix or "")
        make(store, "beta", "")
        make(store, "alpha", "")
        make(store, "x", "", kind="environment")
        with pytest.raises(NotFoundError, match=r"^model 'm' does not exist\. Existing models: alpha, beta\.$"):
            store.get_asset("model", "m")
        with pytest.raises(NotFoundError, match=r"^data asset 'd' does not exist\. No data assets exist yet\."):
            store.get_asset("data", "d")
        with pytest.raises(NotFoundError, match="Existing models: alpha, beta"):
            store.set_asset_archived("model", "m", None, True)

    def test_unknown_versions_list_the_versions(self, store: SqlStore) -> None:
        make(store, "m", "", "", "1.5")
        listed = r"^model 'm' version 7 does not exist\. Existing versions: 1, 1\.5, 2\.$"
        with pytest.raises(NotFoundError, match=listed) as caught:
            store.get_asset("model", "m", "7")
        assert "thresher model list --name m" in (caught.value.fix or "")
        with pytest.raises(NotFoundError, match=listed):
            store.set_asset_archived("model", "m", "7", True)

    # -- named resources ------------------------------------------------------------------------

    def test_resource_create_update_upsert(self, store: SqlStore) -> None:
        created = store.save_resource("compute", "cpu", {"size": 2}, mode="create")
        assert (created.spec, created.created_at) == ({"size": 2}, created.updated_at)
        with pytest.raises(AlreadyExistsError, match="compute 'cpu' already exists"):
            store.save_resource("compute", "cpu", {"size": 3}, mode="create")
        with pytest.raises(NotFoundError, match=r"compute 'gpu' does not exist\. Existing computes: cpu\."):
            store.save_resource("compute", "gpu", {"size": 3}, mode="update")
        updated = store.save_resource("compute", "cpu", {"size": 4}, mode="update")
        assert updated.created_at == created.created_at and updated.updated_at >= created.updated_at
        store.save_resource("compute", "gpu", {"size": 8})  # upsert creates
        store.save_resource("compute", "cpu", {"size": 5})  # upsert updates
        assert store.get_resource("compute", "cpu").spec == {"size": 5}
        assert store.get_resource("compute", "cpu").created_at == created.created_at
        assert [(r.name, r.spec) for r in store.list_resources("compute")] == [
            ("cpu", {"size": 5}),
            ("gpu", {"size": 8}),
        ]
        assert store.list_resources("datastore") == []
        with pytest.raises(NotFoundError, match=r"^datastore 'cpu' does not exist\. No datastores exist yet\."):
            store.get_resource("datastore", "cpu")

    def test_delete_resource(self, store: SqlStore) -> None:
        store.save_resource("datastore", "lake", {"path": "/data"})
        store.save_resource("datastore", "blob", {"path": "/blob"})
        store.delete_resource("datastore", "lake")
        with pytest.raises(NotFoundError, match="Existing datastores: blob"):
            store.get_resource("datastore", "lake")
        with pytest.raises(NotFoundError, match="datastore 'lake' does not exist"):
            store.delete_resource("datastore", "lake")
        assert [r.name for r in store.list_resources("datastore")] == ["blob"]

    # -- deployments -----------------------------------------------------------------------------

    def test_deployments_of_an_endpoint(self, store: SqlStore) -> None:
        store.save_resource("batch_endpoint", "ep", {})
        blue = store.save_deployment("ep", "blue", {"model": "m:1"}, mode="create")
        store.save_deployment("ep", "aqua", {"model": "m:2"})
        with pytest.raises(AlreadyExistsError, match="deployment 'blue' already exists in batch endpoint 'ep'"):
            store.save_deployment("ep", "blue", {}, mode="create")
        listed = r"^deployment 'red' does not exist in batch endpoint 'ep'\. Existing deployments: aqua, blue\.$"
        with pytest.raises(NotFoundError, match=listed):
            store.save_deployment("ep", "red", {}, mode="update")
        updated = store.save_deployment("ep", "blue", {"model": "m:3"}, mode="update")
        assert updated.created_at == blue.created_at
        assert [(d.name, d.spec) for d in store.list_deployments("ep")] == [
            ("aqua", {"model": "m:2"}),
            ("blue", {"model": "m:3"}),
        ]
        store.delete_deployment("ep", "aqua")
        with pytest.raises(NotFoundError, match="Existing deployments: blue"):
            store.get_deployment("ep", "aqua")
        with pytest.raises(NotFoundError, match="deployment 'aqua' does not exist"):
            store.delete_deployment("ep", "aqua")

    def test_deployments_need_their_endpoint(self, store: SqlStore) -> None:
        store.save_resource("compute", "nope", {})  # same name, other kind: not an endpoint
        missing = r"^batch endpoint 'nope' does not exist\. No batch endpoints exist yet\.$"
        with pytest.raises(NotFoundError, match=missing):
            store.save_deployment("nope", "blue", {})
        store.save_resource("batch_endpoint", "ep", {})
        listed = r"^batch endpoint 'nope' does not exist\. Existing batch endpoints: ep\.$"
        for call in (
            lambda: store.save_deployment("nope", "blue", {}),
            lambda: store.get_deployment("nope", "blue"),
            lambda: store.list_deployments("nope"),
            lambda: store.delete_deployment("nope", "blue"),
        ):
            with pytest.raises(NotFoundError, match=listed):
                call()
        assert store.list_deployments("ep") == []

    def test_deleting_an_endpoint_deletes_its_deployments(self, store: SqlStore) -> None:
        store.save_resource("batch_endpoint", "ep", {})
        store.save_resource("batch_endpoint", "other", {})
        store.save_deployment("ep", "blue", {})
        store.save_deployment("ep", "green", {})
        store.save_deployment("other", "blue", {"keep": True})
        store.delete_resource("batch_endpoint", "ep")
        with pytest.raises(NotFoundError, match="batch endpoint 'ep' does not exist"):
            store.list_deployments("ep")
        store.save_resource("batch_endpoint", "ep", {})  # a new endpoint of that name starts empty
        assert store.list_deployments("ep") == []
        assert [(d.name, d.spec) for d in store.list_deployments("other")] == [("blue", {"keep": True})]

    # -- records -----------------------------------------------------------------------------------

    def test_records_are_frozen(self, store: SqlStore) -> None:
        store.save_resource("batch_endpoint", "ep", {})
        records: list[AssetRecord | ResourceRecord | DeploymentRecord] = [
            store.create_asset("model", "m", spec={}, info={}),
            store.get_resource("batch_endpoint", "ep"),
            store.save_deployment("ep", "blue", {}),
        ]
        for record in records:
            with pytest.raises(dataclasses.FrozenInstanceError):
                record.spec = {"changed": True}  # type: ignore[misc]

    def test_records_do_not_share_state(self, store: SqlStore) -> None:
        spec = {"path": "model/", "flavors": {"python": ["3.11"]}}
        created = store.create_asset("model", "m", spec=spec, info={"files": [1]})
        spec["flavors"]["python"].append("changed by the caller")  # type: ignore[index]
        assert created.spec == {"path": "model/", "flavors": {"python": ["3.11"]}}
        fetched = store.get_asset("model", "m")
        assert fetched == created
        fetched.spec["flavors"]["python"].append("changed by a reader")
        fetched.info["files"].append(2)
        again = store.get_asset("model", "m")
        assert (again.spec, again.info) == (
            {"path": "model/", "flavors": {"python": ["3.11"]}},
            {"files": [1]},
        )

    def test_records_do_not_change_on_later_writes(self, store: SqlStore) -> None:
        store.save_resource("batch_endpoint", "ep", {"description": "first"})
        endpoint = store.get_resource("batch_endpoint", "ep")
        deployment = store.save_deployment("ep", "blue", {"v": 1})
        store.save_resource("batch_endpoint", "ep", {"description": "second"})
        store.save_deployment("ep", "blue", {"v": 2})
        asset = store.create_asset("model", "m", spec={}, info={})
        store.set_asset_archived("model", "m", "1", True)
        assert endpoint.spec == {"description": "first"}
        assert deployment.spec == {"v": 1}
        assert asset.archived is False

    def test_timestamps_are_utc(self, store: SqlStore) -> None:
        before = datetime.now(timezone.utc) - timedelta(seconds=1)
        store.create_asset("model", "m", spec={}, info={})
        store.save_resource("datastore", "d", {})
        for stamp in (
            store.get_asset("model", "m").created_at,
            store.get_resource("datastore", "d").updated_at,
        ):
            assert stamp.utcoffset() == timedelta(0)
            assert before <= stamp <= datetime.now(timezone.utc)

    def test_specs_must_be_json(self, store: SqlStore) -> None:
        with pytest.raises(TypeError, match="must be JSON data"):
            store.create_asset("model", "m", spec={"when": datetime.now()}, info={})
        with pytest.raises(TypeError, match="must be JSON data"):
            store.save_resource("compute", "c", {"nan": float("nan")})
        assert store.list_assets("model") == [] and store.list_resources("compute") == []
