"""What an invocation reads of the metadata, kept for the next one while the rows it came from are unchanged.

Invoking an endpoint reads the endpoint, its deployment, the deployment's model and compute and the default
datastore, and parses the deployment's spec: most of an invocation's work, and the same for every job a
server queues on one endpoint. ``ResolvedDeployments`` keeps that result per request shape (endpoint,
deployment, ``--set`` overrides, working directory) with the store's ``revision`` of those rows, read before
the rows themselves were. A later invocation builds its job from what is kept and hands the revision to
``create_job``, which reads it again in the job's own transaction and queues the job only if it is unchanged
(one statement instead of five read transactions); otherwise (``RevisionMovedError``: any create, save,
archive or delete of one of those rows, by this process or any other) nothing is queued, and the invocation
reads everything again. An invocation whose checks fail on kept metadata reads the revision before it
reports the error, so that an error always comes from the rows as they are. What an invocation checks on the
file system (the input, the output, a model's files) is never kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import ThresherError
from thresher.specs import BatchDeploymentSpec
from thresher.store import AssetRecord, DeploymentRecord, MetadataStore, ResourceRecord
from thresher.store.records import RowRef

KEPT = 64
"""How many request shapes are kept (the least recently used goes first)."""


@dataclass(frozen=True)
class RequestShape:
    """What an invocation's metadata depends on besides the database: the key of a kept resolution."""

    endpoint_name: str
    deployment_name: str | None
    overrides: tuple[str, ...]  # the --set items (with --mini-batch-size and --instance-count)
    cwd: str | None  # relative paths in a stored spec resolve against it; None: it was deleted (never kept)


@dataclass(frozen=True)
class ResolvedDeployment:
    """The metadata of one request shape: records, parsed spec, compute placement and the jobs folder.

    Shared by every invocation that uses it: nothing here is ever changed."""

    endpoint: ResourceRecord
    deployment: DeploymentRecord
    spec: BatchDeploymentSpec
    model: AssetRecord
    placement: Mapping[str, Any]
    jobs_dir: Path  # the default datastore's jobs/ folder, resolved

    @property
    def refs(self) -> tuple[RowRef, ...]:
        """The rows this was read from (but the datastore's)."""
        return rows_read(self.endpoint.name, self.deployment.name, self.spec)

    def job_root(self, name: str) -> Path | None:
        """The folder of job ``name``: None for a name that is not one plain path part (the datastore checks
        those)."""
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            return None
        return self.jobs_dir / name


def rows_read(endpoint_name: str, deployment_name: str, spec: BatchDeploymentSpec) -> tuple[RowRef, ...]:
    """The rows an invocation of a deployment reads (but the datastore's): its endpoint, itself, every version of
    its model (one of them is "latest") and its compute."""
    refs = [RowRef("batch_endpoint", endpoint_name), RowRef("deployment", deployment_name, endpoint_name)]
    if spec.model is not None:
        refs.append(RowRef("model", spec.model.name))
    if spec.compute is not None:
        refs.append(RowRef("compute", spec.compute.name))
    return tuple(refs)


@dataclass(frozen=True)
class Kept:
    """A kept resolution with the rows it was read from and their revision then."""

    resolved: ResolvedDeployment
    refs: tuple[RowRef, ...]
    revision: tuple[tuple[Any, ...], ...]

    @property
    def expect(self) -> tuple[tuple[RowRef, ...], tuple[tuple[Any, ...], ...]]:
        """What ``create_job`` checks before it queues a job built from this (its ``expect``)."""
        return self.refs, self.revision


class ResolvedDeployments:
    """Resolved deployments by request shape, each used only while the store's revision of its rows holds.

    Example::

        kept = ResolvedDeployments(lambda: instance.store, datastore_ref=RowRef("datastore", "workspaceblobstore"))
        known = kept.get(shape)                 # None: not seen yet (nothing read)
        if known is None:
            ...                                 # read everything, queue the job
            kept.learn(shape, rows_read(endpoint.name, deployment.name, spec), lambda: resolve(shape))
        else:
            ...                                 # build from known.resolved; create_job(..., expect=known.expect)
    """

    def __init__(self, store: Callable[[], MetadataStore], *, datastore_ref: RowRef, limit: int = KEPT) -> None:
        self._store = store  # the workspace's store as it is now (it is opened again after a close)
        self._datastore_ref = datastore_ref
        self._limit = limit
        self._kept: OrderedDict[RequestShape, Kept] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, shape: RequestShape) -> Kept | None:
        """What was kept for ``shape``, unchecked (``create_job`` checks it with ``expect``); None: nothing."""
        if shape.cwd is None:
            return None
        with self._lock:
            kept = self._kept.get(shape)
            if kept is not None:
                self._kept.move_to_end(shape)
        return kept

    def current(self, kept: Kept) -> bool:
        """Whether the rows ``kept`` was read from still read as they did (one small read)."""
        return self._store().revision(kept.refs) == kept.revision

    def drop(self, shape: RequestShape, kept: Kept) -> None:
        """Forget ``kept`` (one of its rows changed), unless a newer resolution replaced it already."""
        with self._lock:
            if self._kept.get(shape) is kept:
                del self._kept[shape]

    def learn(
        self, shape: RequestShape, refs: tuple[RowRef, ...], resolve: Callable[[], ResolvedDeployment | None]
    ) -> None:
        """Keep ``resolve()``'s result for ``shape``: the revision of ``refs`` (``rows_read`` of what an invocation
        just read) is read first, then everything again, so that a change racing this leaves a revision that
        differs from the one kept."""
        if shape.cwd is None:
            return
        refs = (*refs, self._datastore_ref)
        revision = self._store().revision(refs)
        try:
            resolved = resolve()
        except ThresherError:  # a row changed or went away meanwhile: the next invocation reads again
            return
        if resolved is None or (*resolved.refs, self._datastore_ref) != refs:
            return
        with self._lock:
            self._kept[shape] = Kept(resolved, refs, revision)
            self._kept.move_to_end(shape)
            while len(self._kept) > self._limit:
                self._kept.popitem(last=False)
