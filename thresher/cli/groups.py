"""The command groups of ``thresher`` (``model``, ``job``, ...), each imported only when it is used.

A group's commands import the SDK, and through it SQLAlchemy, pydantic and the specs: about half a
second that ``thresher --version`` and ``thresher --help`` do not need, and that ``thresher job show``
needs only for the ``job`` group. So the root command lists the groups from ``GROUPS`` (their names
and help texts, written once here and used by the groups' own apps) and imports a group's module when
a command line names it.

Every group is made by ``group_app``, whose group class (``arguments.AzCommands``) gives each of its
commands az's argument conventions: prefixes of long options, Azure-only options ignored, several
values after ``--set``.

Example: a new group ``thresher pipeline ...`` is a ``pipeline_app = group_app("pipeline")`` in
``thresher/cli/pipelines.py`` and an entry ``"pipeline": Group("thresher.cli.pipelines:pipeline_app", ...)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from thresher.cli.arguments import AzCommands

# Click's classes are typer's to name (newer typers carry their own copy of click): the signatures
# below say Any where click's Context and Command go.


@dataclass(frozen=True)
class Group:
    """A command group: the ``module:attribute`` of its ``typer.Typer`` app, and its help text."""

    app: str
    help: str


GROUPS: dict[str, Group] = {
    "model": Group(
        "thresher.cli.assets:model_app", "Register and inspect models (files or folders; MLflow models included)."
    ),
    "environment": Group(
        "thresher.cli.assets:environment_app",
        "Register and inspect Python environments (conda.yaml, requirements.txt).",
    ),
    "data": Group("thresher.cli.assets:data_app", "Register and inspect data assets (uri_file, uri_folder, mltable)."),
    "datastore": Group(
        "thresher.cli.infra:datastore_app",
        "Named storage roots (the default one, workspaceblobstore, is in the workspace).",
    ),
    "compute": Group(
        "thresher.cli.infra:compute_app",
        "Where workers run: local (this machine), amlcompute (simulated nodes here, or a Ray cluster with "
        "THRESHER_AMLCOMPUTE_RAY_ADDRESS) or ray (Ray actors on a Ray cluster).",
    ),
    # The endpoint and deployment apps are made in endpoints.py; jobs.py adds their job commands
    # (invoke, list-jobs), so they are taken from there.
    "batch-endpoint": Group(
        "thresher.cli.jobs:endpoint_app", "Batch endpoints: stable names that scoring jobs are invoked on."
    ),
    "batch-deployment": Group(
        "thresher.cli.jobs:deployment_app",
        "Batch deployments: model + scoring script + environment + compute + settings.",
    ),
    "online-endpoint": Group(
        "thresher.cli.online_calls:endpoint_app",
        "Online endpoints: names that requests are scored on, with their keys and their traffic split.",
    ),
    "online-deployment": Group(
        "thresher.cli.online_calls:deployment_app",
        "Online deployments: model + scoring script (or none, for MLflow models) + environment + request settings.",
    ),
    "job": Group(
        "thresher.cli.jobs:job_app",
        "Jobs (batch scoring and pipelines): create, list, show, stream, cancel, resume, download, explain-reuse, "
        "delete and prune them.",
    ),
    "batch": Group("thresher.cli.jobs:batch_app", "Quick local scoring without registering anything."),
    "component": Group(
        "thresher.cli.pipelines:component_app",
        "Register and inspect pipeline components (command, parallel and pipeline components).",
    ),
    "token": Group(
        "thresher.cli.service:token_app",
        "API tokens of a thresher server (reader, contributor, owner): create, list, revoke.",
    ),
    "schedule": Group(
        "thresher.cli.schedules:schedule_app",
        "Schedules: fire a pipeline job on cron, a recurrence or new files in a datastore folder (while a thresher "
        "server runs).",
    ),
    "pipeline": Group(
        "thresher.cli.published:pipeline_app",
        "Publish pipelines as versioned, stable names invoked with parameters (as Azure's published pipelines).",
    ),
    "pipeline-endpoint": Group(
        "thresher.cli.published:endpoint_app",
        "Pipeline endpoints: the published versions of a pipeline, its default, enable/disable, invoke.",
    ),
    "workspace": Group(
        "thresher.cli.workspace:workspace_app",
        "The workspace itself: check its database and datastore, back it up, show it.",
    ),
}


def group_app(name: str) -> typer.Typer:
    """The ``typer.Typer`` app of the group ``name``, its commands taking az's arguments."""
    return typer.Typer(help=GROUPS[name].help, cls=AzCommands)


def load(name: str) -> TyperGroup:
    """The group ``name`` with all its commands, its module imported."""
    module, _, attribute = GROUPS[name].app.partition(":")
    app: typer.Typer = getattr(importlib.import_module(module), attribute)
    group = typer.main.get_group(app)
    if not isinstance(group, AzCommands):  # a developer's slip, caught by the first test of the group
        raise TypeError(
            f"{GROUPS[name].app} must be made with group_app({name!r}), so its commands take az's arguments"
        )
    group.name = name
    return group


class _Listed(TyperCommand):
    """A group as the root's help lists it and as command names are matched: its name and help only."""

    def __init__(self, name: str, group: Group) -> None:
        super().__init__(name=name, help=group.help)


class LazyGroups(TyperGroup):
    """The root command: ``GROUPS`` are listed without importing them; the one a command line names loads."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, group in GROUPS.items():
            self.commands.setdefault(name, _Listed(name, group))

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        """The command a command line names (typos and suggestions as typer does), its group loaded."""
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Listed) and name is not None:
            command = self.commands[name] = load(name)
        return name, command, rest
