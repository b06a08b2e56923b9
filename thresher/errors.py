"""Every error thresher raises on purpose.

A message says what failed, the offending value and the rule; ``fix`` says what to do about it.
The CLI prints ``str(error)`` as the headline and ``error.fix`` on the line below.

    ThresherError                 base of everything below; .fix is the suggested fix
    ├── SettingsError             a THRESHER_* setting is invalid
    ├── SpecError                 a YAML file or spec is invalid; .problems lists every problem at once
    ├── ResourceError             a request about a named resource cannot be honoured
    │   ├── NotFoundError         a model, environment, endpoint, ... does not exist (lists what does)
    │   ├── AlreadyExistsError    the name (and version) is taken
    │   └── ConflictError         the resource is in a state that forbids the operation
    │       ├── JobTakenOverError another runner took the job over; this runner must leave it alone
    │       ├── DuplicateRequestError  a request's idempotency key was used already (.job: what it queued)
    │       └── RevisionMovedError   the rows a job was built from changed before it was queued (it was not)
    ├── StoreError                the metadata database cannot be reached, is damaged, or is at the wrong schema
    ├── StorageError              a datastore cannot be read or written
    │   ├── StorageUnavailableError   storage kept failing with transient errors for longer than the outage limit
    │   └── SecretKeyError        a stored secret cannot be decrypted with this workspace's key
    └── MissingExtraError         an optional dependency is not installed (says which pip extra)

Errors cross process boundaries as plain data (``to_dict``), never as pickled exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ThresherError(Exception):
    """Base of thresher's own errors: a headline (``str(err)``) and an optional fix line."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data, safe to send between processes or over HTTP."""
        return {"type": type(self).__name__, "message": self.message, "fix": self.fix}


class SettingsError(ThresherError):
    """A ``THRESHER_*`` setting has a value thresher cannot use."""


@dataclass(frozen=True)
class Problem:
    """One problem in a spec: where it is, what is wrong, and (maybe) the fix."""

    source: str  # file name, or "<flags>" / "<sdk>" for specs built in code
    line: int | None  # 1-based line in ``source``; None when not from a file
    path: str  # dotted key path, e.g. "settings.mini_batch_size"
    message: str  # the offending value and the rule

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        # Messages usually open with the key path already ("settings.x is 0; ..."): don't say it twice.
        key = f"{self.path}: " if self.path and not self.message.startswith(self.path) else ""
        return f"{where}: {key}{self.message}"


class SpecError(ThresherError):
    """A spec (usually a YAML file) is invalid. All problems are reported at once."""

    def __init__(self, problems: list[Problem], *, what: str = "spec", fix: str | None = None) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"The {what} has {count} {noun}:\n{lines}", fix=fix)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["problems"] = [
            {"source": p.source, "line": p.line, "path": p.path, "message": p.message} for p in self.problems
        ]
        return data


class ResourceError(ThresherError):
    """A request about a named resource (model, endpoint, ...) cannot be honoured."""


class NotFoundError(ResourceError):
    """The named resource does not exist."""


class AlreadyExistsError(ResourceError):
    """The name (and version) is already taken."""


class ConflictError(ResourceError):
    """The resource's current state forbids the operation."""


class JobTakenOverError(ConflictError):
    """A runner wrote to a job that another runner has taken over (it was presumed dead)."""


class DuplicateRequestError(ConflictError):
    """A request with an idempotency key that was used already: ``job`` is what the first delivery queued."""

    def __init__(self, key: str, job: str | None) -> None:
        super().__init__(
            f"The request with idempotency key {key!r} was made already"
            + (f": it queued job '{job}'." if job else "."),
            fix="Nothing to do: a retried request gets the first one's answer.",
        )
        self.key = key
        self.job = job


class RevisionMovedError(ConflictError):
    """A job built from kept metadata was not queued: one of the rows it was read from changed since. The
    invocation reads them again and builds the job anew (``thresher.sdk.resolved``)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Job '{name}' was not queued: the endpoint, deployment, model or compute it was built from changed.",
            fix="Invoke again: the job is then built from them as they are now.",
        )


class StoreError(ThresherError):
    """The metadata database cannot be reached, is damaged, or its schema is not the one this thresher expects."""


class StorageError(ThresherError):
    """A datastore cannot be read or written."""


class StorageUnavailableError(StorageError):
    """Storage kept failing with transient errors (timeouts, 5xx, throttling) for longer than the outage limit.

    Nothing is wrong with the job itself: it is left resumable and can continue once the storage answers.
    ``where`` names the place, ``seconds`` is how long it failed, ``detail`` the last error.
    """

    where: str = "the storage"
    seconds: float = 0.0
    detail: str = ""


class SecretKeyError(StorageError):
    """A secret stored in the workspace cannot be decrypted: the workspace key is missing or is another one."""


class MissingExtraError(ThresherError):
    """An optional dependency is needed but not installed."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs {package}, which is not installed.",
            fix=f"Install it with: pip install 'thresher[{extra}]'",
        )
