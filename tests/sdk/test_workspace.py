"""The Python SDK: its public surface, and the same semantics as the CLI over one workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import thresher
import thresher.sdk
from tests.imports import run_and_list_imports
from tests.sdk.conftest import OpenWorkspace
from thresher import NotFoundError, SpecError, Workspace
from thresher.cli import main
from thresher.specs import load_spec, parse_spec


def test_public_surface_is_pinned() -> None:
    assert thresher.__all__ == [
        "AlreadyExistsError",
        "ConflictError",
        "NotFoundError",
        "SpecError",
        "ThresherError",
        "Workspace",
        "__version__",
    ]
    assert thresher.sdk.__all__ == [
        "Workspace",
        "asset_document",
        "deployment_document",
        "online_endpoint_document",
        "resource_document",
    ]
    for name in thresher.__all__:
        assert getattr(thresher, name) is not None


def test_importing_thresher_does_not_load_the_sdk() -> None:
    import subprocess
    import sys

    code = "import sys, thresher; print('sqlalchemy' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # The worker runtime imports the package inside users' environments, which lack these.
    assert out.split() == ["False", "False"]


def test_opening_a_workspace_at_head_loads_no_alembic_and_nothing_for_data(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom thresher import Workspace\n"
        "with Workspace(sys.argv[1]) as ws:\n    print(len(ws.models.list()), len(ws.jobs.list()))\n"
    )
    home = str(tmp_path / "ws")
    first = run_and_list_imports(["-c", code, home], tmp_path)
    assert (first.code, first.out.split()) == (0, ["0", "0"]), first.err
    assert "alembic" in first.packages  # a new workspace: its database is created by migrating
    again = run_and_list_imports(["-c", code, home], tmp_path)
    assert (again.code, again.out.split()) == (0, ["0", "0"]), again.err
    assert again.heavy() == ["sqlalchemy"], again.heavy()  # the store's; no Alembic, storage or data library


def test_sdk_and_cli_see_the_same_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], open_workspace: OpenWorkspace
) -> None:
    home = tmp_path / "ws"
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"\x00\x01")
    with open_workspace(home) as ws:
        spec = parse_spec({"name": "m", "path": "model"}, "model", base_dir=tmp_path)
        record = ws.models.create(spec)
        assert (record.name, record.version) == ("m", "1")
        assert ws.models.get("m").version == "1"
    monkeypatch.setenv("THRESHER_HOME", str(home))
    capsys.readouterr()
    assert main(["model", "show", "-n", "m", "--query", "[name, version]", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == ["m", "1"]


def test_sdk_errors_are_the_cli_errors(tmp_path: Path, open_workspace: OpenWorkspace) -> None:
    with open_workspace(tmp_path / "ws") as ws:
        with pytest.raises(NotFoundError) as missing:
            ws.batch_endpoints.get("nope")
        assert "nope" in str(missing.value)
        assert missing.value.fix
        bad = tmp_path / "endpoint.yml"
        bad.write_text("name: 1x\nauth_mod: key\n")
        with pytest.raises(SpecError) as invalid:
            load_spec(bad, "batch_endpoint")
        assert len(invalid.value.problems) == 2


def test_default_datastore_exists_and_cannot_be_deleted(tmp_path: Path, open_workspace: OpenWorkspace) -> None:
    with open_workspace(tmp_path / "ws") as ws:
        names = [d.name for d in ws.datastores.list()]
        assert names == ["workspaceblobstore"]
        assert Path(ws.datastores.get("workspaceblobstore").spec["path"]).is_relative_to(tmp_path / "ws")
        with pytest.raises(thresher.ConflictError):
            ws.datastores.delete("workspaceblobstore")


def test_database_url_setting_moves_the_metadata(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with Workspace(tmp_path / "ws", database_url=url) as ws:
        ws.computes.create(parse_spec({"name": "cpu"}, "compute", base_dir=tmp_path))
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "ws" / "thresher.db").exists()
    with Workspace(tmp_path / "other", database_url=url) as ws:
        assert [c.name for c in ws.computes.list()] == ["cpu"]
