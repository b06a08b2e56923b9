"""``MetadataStore``: what thresher keeps in its metadata database, as use-case methods.

The registry has three shapes of things:

- versioned assets (``model``, ``environment``, ``code``, ``data``): every create adds a version;
  versions are never changed, only archived and restored;
- named resources (``datastore``, ``compute``, ``batch_endpoint``, ``online_endpoint``, ...): one row
  per name, saved whole; an online endpoint with its keys;
- deployments, which belong to a batch or an online endpoint.

Every method returns frozen records holding private copies of the data, so a record never changes
after it is returned. Errors are thresher's: ``NotFoundError`` (its message lists what does exist),
``AlreadyExistsError``, and ``StoreError`` when the database cannot be used. A wrong ``kind`` or
``mode`` is a programming error (``ValueError``).

Example::

    store = open_store("sqlite:////tmp/ws/thresher.db")
    model = store.create_asset("model", "churn", spec={"path": "model/"}, info={"files": 3})
    assert model.version == "1"
    store.save_resource("batch_endpoint", "churn-ep", {"description": "nightly"}, mode="create")
    store.save_deployment("churn-ep", "blue", {"model": "azureml:churn:1"})
    store.get_asset("model", "churn").version          # "1": the latest active version
    [d.name for d in store.list_deployments("churn-ep")]  # ["blue"]
    store.close()
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, runtime_checkable

from thresher.store.job_records import JobRecord, JobStatus, MiniBatchRecord
from thresher.store.online import EndpointKeysRecord, KeyType, SealedKeys
from thresher.store.progress import JobProgress
from thresher.store.records import AssetRecord, DeploymentRecord, ResourceRecord, RowRef, SaveMode
from thresher.store.service import FireRecord, RequestRecord, ServiceRecord, TokenRecord

if TYPE_CHECKING:  # typing has these from Python 3.11; annotations here are strings, read by the type checker only
    from typing import NotRequired, Unpack

JOBS_LISTED = 50
"""How many jobs ``list_jobs`` returns unless its ``limit`` says otherwise."""

BATCH_SCORING = "batch_scoring"
"""The kind of job ``create_job`` queues unless told otherwise."""


# The keyword arguments of the methods that take several, each group stated once as a TypedDict: callers
# pass them as keywords (``store.list_jobs(statuses=["Queued"], limit=None)``); ``**options: Unpack[...]``
# lets the interface and its implementation name the group instead of restating every parameter.


class NewAsset(TypedDict):
    """What ``create_asset`` stores: JSON data, copied."""

    spec: Mapping[str, Any]  # the asset as declared (YAML or SDK), normalised by thresher.specs
    info: Mapping[str, Any]  # what thresher recorded when creating it: stored path, fingerprint, ...
    version: NotRequired[str | None]  # None (the default): the next integer


class AssetListing(TypedDict, total=False):
    """Which versions ``list_assets`` returns (both False by default)."""

    include_archived: bool
    latest_only: bool


class NewJob(TypedDict):
    """What ``create_job`` queues."""

    spec: Mapping[str, Any]  # JSON data: everything the runner needs
    endpoint_name: NotRequired[str | None]
    deployment_name: NotRequired[str | None]
    kind: NotRequired[str]  # default BATCH_SCORING
    parent: NotRequired[str | None]  # the pipeline job of a step job
    cache_key: NotRequired[str | None]  # a step job's cache key
    results: NotRequired[Mapping[str, Any] | None]  # JSON data: a step's outputs, metrics, reuse record
    # A step job reused from an earlier run is created Completed, with its headline; default Queued.
    status: NotRequired[Literal["Queued", "Completed"]]
    headline: NotRequired[str | None]
    # The idempotency key of the request that queues it (a server's invocation): stored with the job in one
    # transaction, so that a second delivery of the request finds the job instead of queueing another.
    request_key: NotRequired[str | None]
    request_route: NotRequired[str]
    # The rows the job was built from and the ``revision`` they had then: the job is queued only if they still
    # read so, in the same transaction (RevisionMovedError otherwise, and nothing is written).
    expect: NotRequired[tuple[Sequence[RowRef], tuple[tuple[Any, ...], ...]] | None]


class JobFilter(TypedDict, total=False):
    """Which jobs ``list_jobs`` returns: every one by default, newest first, at most ``limit``."""

    endpoint_name: str | None
    deployment_name: str | None
    statuses: Collection[str]  # empty (the default): any status
    parent: str | None  # the step jobs of this pipeline job (oldest first); None (the default): any job
    top_level: bool  # only jobs that are not steps of a pipeline (default False)
    cache_key: str | None  # only step jobs with this cache key
    kind: str | None  # only jobs of this kind ("pipeline", ...)
    limit: int | None  # default JOBS_LISTED; None: no limit


class StatusChange(TypedDict, total=False):
    """What ``set_job_status`` records with the new status; each part optional."""

    runner: str | None  # the runner that must own the job (JobTakenOverError otherwise); None: anyone
    attempt: int | None  # with runner: the claim's fencing token, which must still be the job's attempt
    headline: str | None
    error: Mapping[str, Any] | None  # JSON data
    progress: JobProgress | None
    results: Mapping[str, Any] | None  # JSON data, replacing the job's results
    spec: Mapping[str, Any] | None  # JSON data, replacing the job's spec (a resumed pipeline read again)


@runtime_checkable
class MetadataStore(Protocol):
    """The metadata store's interface; ``thresher.store.SqlStore`` implements it on SQLite and PostgreSQL."""

    def close(self) -> None:
        """Release the database connections. The store must not be used afterwards."""

    # -- versioned assets: kind is "model", "environment", "code" or "data" --------------------

    def create_asset(self, kind: str, name: str, **asset: Unpack[NewAsset]) -> AssetRecord:
        """Add a version of an asset (its ``spec``, ``info`` and optional ``version``) and return it.

        With ``version=None`` the version is the next integer for this kind and name: 1 + the
        highest integer version ever created, archived ones included ("1" first). Non-integer
        versions ("1.2-beta") may be given explicitly; auto-numbering ignores them. Two processes
        creating at once never get the same number. A given version that exists raises
        AlreadyExistsError; ``"latest"`` cannot be a version (ResourceError). ``spec`` and ``info``
        must be JSON data.
        """
        ...

    def get_asset(self, kind: str, name: str, version: str | None = None) -> AssetRecord:
        """One version; ``None`` or ``"latest"`` means the latest active (non-archived) version.

        Latest is the highest integer version; when no active version is an integer, the most
        recently created one. An explicit version is returned even when archived. NotFoundError lists
        the existing names of the kind (unknown name) or the name's versions (unknown version).
        """
        ...

    def list_assets(self, kind: str, name: str | None = None, **listing: Unpack[AssetListing]) -> list[AssetRecord]:
        """Versions of a kind (or of one name), sorted by name, then version (1 < 2 < 10).

        ``latest_only`` keeps, per name, the version ``get_asset`` resolves to as latest; with
        ``include_archived`` a name whose versions are all archived shows its newest one. An unknown
        name gives an empty list.
        """
        ...

    def set_asset_archived(self, kind: str, name: str, version: str | None, archived: bool) -> list[AssetRecord]:
        """Archive (or restore) one version, or every version when ``version`` is None.

        Returns the changed versions, sorted. Archived versions are hidden from lists and from
        "latest" but stay readable by explicit version. NotFoundError as in ``get_asset``.
        """
        ...

    # -- named resources: kind is "datastore", "compute" or "batch_endpoint" -------------------

    def save_resource(
        self, kind: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> ResourceRecord:
        """Store a resource's spec whole. ``create``: AlreadyExistsError if the name is taken;
        ``update``: NotFoundError if it is not; ``upsert``: either. Updating keeps ``created_at``."""
        ...

    def get_resource(self, kind: str, name: str) -> ResourceRecord:
        """One resource; NotFoundError listing the existing names of that kind."""
        ...

    def list_resources(self, kind: str) -> list[ResourceRecord]:
        """Every resource of a kind, sorted by name."""
        ...

    def delete_resource(self, kind: str, name: str) -> None:
        """Delete a resource; an endpoint takes its deployments (and an online one its keys) with it.
        NotFoundError if absent."""
        ...

    # -- deployments of a batch endpoint (which must exist: NotFoundError otherwise) ------------

    def save_deployment(
        self, endpoint_name: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> DeploymentRecord:
        """Store a deployment's spec whole, with the same ``mode`` rules as ``save_resource``."""
        ...

    def get_deployment(self, endpoint_name: str, name: str) -> DeploymentRecord:
        """One deployment; NotFoundError listing the endpoint's deployments (or the endpoints)."""
        ...

    def list_deployments(self, endpoint_name: str) -> list[DeploymentRecord]:
        """The endpoint's deployments, sorted by name."""
        ...

    def delete_deployment(self, endpoint_name: str, name: str) -> None:
        """Delete one deployment; NotFoundError if it (or its endpoint) does not exist."""
        ...

    def revision(self, refs: Sequence[RowRef]) -> tuple[tuple[Any, ...], ...]:
        """A value per ref, read in one statement, that changes whenever one of the rows it names is created,
        saved, archived or deleted (a missing row reads as empty): for caches of what was read from them.

        Read it *before* reading the rows a cache keeps, and compare it again before using them::

            refs = [RowRef("batch_endpoint", "churn-ep"), RowRef("deployment", "blue", "churn-ep")]
            seen = store.revision(refs)
            kept = build_from(store)            # reads the endpoint and its deployment
            ...
            if store.revision(refs) == seen:    # nothing changed since: ``kept`` is still current
                use(kept)
        """
        ...

    # -- online endpoints: the endpoint with its keys, and its deployments (online.py) ------------

    def save_online_endpoint(
        self, name: str, spec: Mapping[str, Any], keys: SealedKeys, *, mode: SaveMode = "upsert"
    ) -> ResourceRecord:
        """Store an online endpoint's spec (``mode`` as in ``save_resource``) and, in the same transaction,
        ``keys`` when it has none yet: a new endpoint gets them, an existing one keeps its own."""
        ...

    def get_endpoint_keys(self, name: str) -> EndpointKeysRecord:
        """An online endpoint's sealed keys; NotFoundError listing the online endpoints if it does not exist."""
        ...

    def rotate_endpoint_key(self, name: str, key_type: KeyType, sealed: str, key_id: str) -> EndpointKeysRecord:
        """Replace the primary or secondary key with ``sealed`` and add 1 to ``keys_version``."""
        ...

    def save_online_deployment(
        self, endpoint_name: str, name: str, spec: Mapping[str, Any], *, mode: SaveMode = "upsert"
    ) -> DeploymentRecord:
        """Store a deployment of an online endpoint, with the ``mode`` rules of ``save_resource``."""
        ...

    def get_online_deployment(self, endpoint_name: str, name: str) -> DeploymentRecord:
        """One online deployment; NotFoundError listing the endpoint's deployments (or the endpoints)."""
        ...

    def list_online_deployments(self, endpoint_name: str) -> list[DeploymentRecord]:
        """The online endpoint's deployments, sorted by name."""
        ...

    def delete_online_deployment(self, endpoint_name: str, name: str) -> None:
        """Delete one online deployment; NotFoundError if it (or its endpoint) does not exist."""
        ...

    # -- jobs: the queue, the status machine (job_records.TRANSITIONS) and committed mini-batches

    def create_job(self, name: str, **job: Unpack[NewJob]) -> JobRecord:
        """Queue a job (status Queued); AlreadyExistsError if the name is taken. On PostgreSQL the commit
        notifies ``jobs.JOBS_CHANNEL`` (payload: the job's name), so listening runners claim it at once."""
        ...

    def get_job(self, name: str) -> JobRecord:
        """One job; NotFoundError naming the most recent jobs."""
        ...

    def list_jobs(self, **where: Unpack[JobFilter]) -> list[JobRecord]:
        """Jobs, newest first, optionally of one endpoint/deployment or in some statuses."""
        ...

    def active_runners(self, *, top_level: bool = False) -> list[str]:
        """The runners named by Running or Finalizing jobs (``top_level``: by jobs that are not pipeline steps),
        each once: what a runner checks for dead ones between claims, without reading the jobs."""
        ...

    def claim_job(
        self, runner: str, *, stale_before: datetime, dead_runners: Collection[str] = (), name: str | None = None
    ) -> JobRecord | None:
        """Take the oldest Queued job, or an orphaned Running/Finalizing one (its runner is in
        ``dead_runners`` or its heartbeat is older than ``stale_before``), for ``runner``; None if none.
        Two claimers never get the same job. Step jobs of pipelines are claimed only by ``name`` (by the
        runner of their pipeline job).

        Each claim increments the job's ``attempt``: the returned record's ``attempt`` is the claim's
        fencing token, which the runner passes to every later write for the job (``heartbeat``,
        ``commit_mini_batches``, ``set_job_status``) and puts in the names of the files it writes, so
        that once another claim took the job over nothing of the old claim can be written."""
        ...

    def heartbeat(self, name: str, runner: str, *, attempt: int | None = None) -> JobRecord:
        """Record that ``runner`` is alive on the job; JobTakenOverError (a ConflictError) unless ``runner``
        still holds it and, when ``attempt`` is given, under that claim (see ``claim_job``)."""
        ...

    def set_job_status(self, name: str, status: JobStatus, **change: Unpack[StatusChange]) -> JobRecord:
        """Move a job to ``status`` if TRANSITIONS allows it (ConflictError otherwise); with ``runner`` (and
        ``attempt``), only while that runner holds the job under that claim (JobTakenOverError otherwise).
        Back to Queued, it notifies ``jobs.JOBS_CHANNEL`` on PostgreSQL, as ``create_job`` does."""
        ...

    def request_cancel(self, name: str) -> JobRecord:
        """Cancel a Queued job at once, or ask the runner of a Running one to stop."""
        ...

    def commit_mini_batches(
        self,
        name: str,
        runner: str,
        results: Sequence[MiniBatchRecord],
        progress: JobProgress,
        *,
        attempt: int | None = None,
    ) -> None:
        """Record finished mini-batches and the job's progress in one transaction (idempotent per index);
        JobTakenOverError, writing nothing, unless ``runner`` still holds the job (under the claim
        ``attempt``, when given)."""
        ...

    def delete_job(self, name: str, *, orphaned_runner: str | None = None) -> None:
        """Delete a job and its committed mini-batches. Only a job that ended, or a Running/Finalizing one
        whose runner is ``orphaned_runner`` (the caller found it gone), can be deleted: ConflictError
        otherwise (checked in the same transaction, so a runner cannot claim it meanwhile)."""
        ...

    def mini_batches(self, name: str) -> list[MiniBatchRecord]:
        """The job's committed mini-batches, by index."""
        ...

    # -- the server: tokens, idempotent requests, schedule fires, heartbeats (service.py) ------

    def create_token(self, name: str, role: str, secret_hash: str) -> TokenRecord:
        """Store a token (the SHA-256 of its secret, never the secret); AlreadyExistsError if the name is taken."""
        ...

    def get_token(self, name: str) -> TokenRecord:
        """One token, revoked or not; NotFoundError if none has that name."""
        ...

    def token_revision(self) -> tuple[Any, ...]:
        """A value that changes whenever a token is made or revoked, read in one small statement: for caches of
        ``token_for_secret`` (tokens are never deleted, and a revoked one stays revoked)."""
        ...

    def list_tokens(self) -> list[TokenRecord]:
        """Every token, revoked ones included, by name."""
        ...

    def revoke_token(self, name: str) -> TokenRecord:
        """Revoke a token for good (revoking twice keeps the first time); NotFoundError if unknown."""
        ...

    def token_for_secret(self, secret_hash: str) -> TokenRecord | None:
        """The unrevoked token whose secret hashes to ``secret_hash``, or None."""
        ...

    def get_request(self, key: str) -> RequestRecord | None:
        """The request answered (or being answered) under ``key``, if any."""
        ...

    def begin_request(self, key: str, route: str) -> RequestRecord | None:
        """Claim an idempotency key: None when this is its first delivery (answer it, then
        ``finish_request``), else the record of the delivery that claimed it (``status_code`` None
        while that one is still being answered)."""
        ...

    def finish_request(self, key: str, status_code: int | None, body: Any) -> None:
        """Store the answer to a claimed key; ``status_code`` None lets the key go (nothing was done)."""
        ...

    def prune_requests(self, before: datetime) -> int:
        """Forget request keys claimed before ``before``; returns how many."""
        ...

    def record_fire(
        self, schedule: str, slot: str, *, job: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> FireRecord | None:
        """Record that a schedule fired a slot; None if that slot was fired already (by any server)."""
        ...

    def update_fire(
        self, schedule: str, slot: str, *, job: str | None, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Record the job a fire created (or, in ``detail``, why it created none)."""
        ...

    def list_fires(self, schedule: str, *, limit: int | None = 50) -> list[FireRecord]:
        """A schedule's fires, newest first."""
        ...

    def delete_fires(self, schedule: str) -> None:
        """Forget a schedule's fires (the schedule is being deleted)."""
        ...

    def beat(self, name: str, kind: str, info: Mapping[str, Any]) -> None:
        """Record that the server or runner ``name`` is alive, with what describes it (host, pid, url)."""
        ...

    def services(self, kind: str, *, alive_since: datetime | None = None) -> list[ServiceRecord]:
        """Servers or runners (``kind``) by name; with ``alive_since``, only those that beat since then."""
        ...

    def end_service(self, name: str) -> None:
        """Forget a server or runner that stopped."""
        ...
