"""What a command loads to start: ``--version`` and ``--help`` none of the workspace's libraries, a
command its own group only, and no command Alembic once the workspace's database is at head.

Each runs ``thresher`` as a new process and reads its ``sys.modules`` (``tests/imports.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.imports import run_and_list_imports
from thresher import __version__


def _environment(home: Path) -> dict[str, str]:
    environment = dict(os.environ, THRESHER_HOME=str(home))
    environment.pop("THRESHER_DATABASE_URL", None)
    return environment


def test_version_and_help_load_no_database_or_data_library(tmp_path: Path) -> None:
    version = run_and_list_imports(["-m", "thresher", "--version"], tmp_path, env=_environment(tmp_path / "ws"))
    assert (version.code, version.out.strip()) == (0, f"thresher {__version__}")
    assert version.heavy() == [] and "pydantic" not in version.packages, version.heavy()
    helped = run_and_list_imports(["-m", "thresher", "--help"], tmp_path, env=_environment(tmp_path / "ws"))
    assert helped.code == 0
    assert "batch-endpoint" in helped.out  # every group listed, with its help:
    assert "Jobs (batch scoring and pipelines): create, list, show" in helped.out
    assert helped.heavy() == [], helped.heavy()
    assert not (tmp_path / "ws").exists()  # neither touched the workspace


def test_a_command_loads_its_own_group_and_no_alembic_once_migrated(tmp_path: Path) -> None:
    environment = _environment(tmp_path / "ws")
    first = run_and_list_imports(["-m", "thresher", "job", "list"], tmp_path, env=environment)
    assert (first.code, first.out.strip()) == (0, "[]"), first.err
    assert "alembic" in first.packages  # a new workspace: its database is created by migrating
    again = run_and_list_imports(["-m", "thresher", "job", "list"], tmp_path, env=environment)
    assert (again.code, again.out.strip()) == (0, "[]"), again.err
    assert "alembic" not in again.packages  # at head: the revision is read with plain SQL
    assert "thresher.cli.jobs" in again.modules
    assert not {"thresher.cli.assets", "thresher.cli.infra", "thresher.cli.workspace"} & again.modules
    assert not {"pandas", "pyarrow", "fsspec", "ray"} & again.packages
    assert not {"rich", "ruamel", "jmespath"} & again.packages  # JSON output: no tables, YAML or query


def test_a_mistyped_group_is_named_with_a_suggestion(tmp_path: Path) -> None:
    ran = run_and_list_imports(["-m", "thresher", "jobs", "list"], tmp_path, env=_environment(tmp_path / "ws"))
    assert ran.code == 2
    assert "No such command 'jobs'. Did you mean 'job'?" in ran.err
