"""The store's error messages, in the user's words: what does not exist, what does, and what to run.

Kinds are named as users know them ("batch endpoint", "data asset"), and fixes name the CLI command
that lists or creates the thing (``thresher batch-endpoint list``).
"""

from __future__ import annotations

from collections.abc import Sequence

from thresher.errors import AlreadyExistsError, NotFoundError
from thresher.store.records import KIND_NAMES

LISTED = 20  # names shown in a message before "... and N more"


def listing(items: Sequence[str]) -> str:
    """``a, b, c`` for a message, cut after LISTED items."""
    shown = ", ".join(items[:LISTED])
    hidden = len(items) - LISTED
    return f"{shown}, ... and {hidden} more" if hidden > 0 else shown


def _create_hint(kind: str) -> str:
    command = KIND_NAMES[kind].command
    return f"thresher {command} create -f {command.split('-')[-1]}.yml"


def missing_name(kind: str, name: str, existing: Sequence[str]) -> NotFoundError:
    """``<kind> 'x' does not exist``, listing the names of that kind that do."""
    names = KIND_NAMES[kind]
    if existing:
        message = f"{names.singular} {name!r} does not exist. Existing {names.plural}: {listing(existing)}."
        fix = f"Use one of those names, or create it with: {_create_hint(kind)}"
    else:
        message = f"{names.singular} {name!r} does not exist. No {names.plural} exist yet."
        fix = f"Create it with: {_create_hint(kind)}"
    return NotFoundError(message, fix=fix)


def missing_version(kind: str, name: str, version: str, existing: Sequence[str]) -> NotFoundError:
    """``<kind> 'x' version 7 does not exist``, listing the versions that do."""
    names = KIND_NAMES[kind]
    return NotFoundError(
        f"{names.singular} {name!r} version {version} does not exist. Existing versions: {listing(existing)}.",
        fix=f"List them with: thresher {names.command} list --name {name}",
    )


def all_archived(kind: str, name: str, archived: Sequence[str]) -> NotFoundError:
    """No latest version: every version of the name is archived."""
    names = KIND_NAMES[kind]
    return NotFoundError(
        f"{names.singular} {name!r} has no active version to use as latest: "
        f"every version ({listing(archived)}) is archived.",
        fix=f"Ask for a version explicitly, or restore one with: "
        f"thresher {names.command} restore --name {name} --version {archived[-1]}",
    )


def version_taken(kind: str, name: str, version: str) -> AlreadyExistsError:
    """An explicit version that exists already."""
    names = KIND_NAMES[kind]
    return AlreadyExistsError(
        f"{names.singular} {name!r} version {version} already exists.",
        fix="Choose another version, or leave the version out to get the next number.",
    )


def name_taken(kind: str, name: str) -> AlreadyExistsError:
    """A resource created with mode 'create' whose name is taken."""
    names = KIND_NAMES[kind]
    return AlreadyExistsError(
        f"{names.singular} {name!r} already exists.",
        fix=f"Choose another name, or change it with: thresher {names.command} update -f "
        f"{names.command.split('-')[-1]}.yml",
    )


DEPLOYMENT_KINDS = {"batch_endpoint": "deployment", "online_endpoint": "online_deployment"}
"""The kind of the deployments each kind of endpoint holds."""


def missing_deployment(
    endpoint_name: str, name: str, existing: Sequence[str], endpoint_kind: str = "batch_endpoint"
) -> NotFoundError:
    """A deployment that its (existing) endpoint does not have."""
    where = f"{KIND_NAMES[endpoint_kind].singular} {endpoint_name!r}"
    deployment = DEPLOYMENT_KINDS[endpoint_kind]
    if existing:
        message = f"deployment {name!r} does not exist in {where}. Existing deployments: {listing(existing)}."
    else:
        message = f"deployment {name!r} does not exist: {where} has no deployments yet."
    return NotFoundError(
        message,
        fix=f"List them with: thresher {KIND_NAMES[deployment].command} list --endpoint-name {endpoint_name}. "
        f"Create one with: {_create_hint(deployment)}",
    )


def deployment_taken(endpoint_name: str, name: str, endpoint_kind: str = "batch_endpoint") -> AlreadyExistsError:
    """A deployment created with mode 'create' whose name is taken in its endpoint."""
    command = KIND_NAMES[DEPLOYMENT_KINDS[endpoint_kind]].command
    return AlreadyExistsError(
        f"deployment {name!r} already exists in {KIND_NAMES[endpoint_kind].singular} {endpoint_name!r}.",
        fix=f"Choose another name, or change it with: thresher {command} update -f deployment.yml",
    )
