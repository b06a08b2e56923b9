"""What the server keeps: API tokens, answered idempotent requests, schedule fires, and the heartbeats of
servers and runners (migration 0004).

Tokens are stored as the SHA-256 of their secret, never the secret. A request key is inserted before the
request is answered, so two deliveries of one request race on the primary key and only one does the work;
a schedule's slot is fired once because its (schedule, slot) row can be inserted once, whichever server
tries first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from thresher.errors import AlreadyExistsError, NotFoundError
from thresher.store.arguments import check_name, plain_json
from thresher.store.engine import Database
from thresher.store.records import from_row, utc_now
from thresher.store.schema import api_tokens, idempotent_requests, schedule_fires, service_heartbeats

ROLES = ("reader", "contributor", "owner")
"""Token roles, each allowed what the one before it is, and more: readers read, contributors change
resources and run jobs, owners also manage tokens."""


@dataclass(frozen=True)
class TokenRecord:
    """An API token, without its secret (only its hash is stored)."""

    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class RequestRecord:
    """A request answered (or being answered) under an idempotency key."""

    key: str
    route: str
    status_code: int | None  # None: the first delivery is still being answered
    body: Any


@dataclass(frozen=True)
class FireRecord:
    """One slot of a schedule fired, and the job it created (None when creating it failed: see detail)."""

    schedule: str
    slot: str
    job: str | None
    detail: Mapping[str, Any] | None
    fired_at: datetime


@dataclass(frozen=True)
class ServiceRecord:
    """A server or runner process, as its last heartbeat described it."""

    name: str
    kind: str
    info: Mapping[str, Any]
    started_at: datetime
    heartbeat_at: datetime


class ServiceRows(Database):
    """The token, request, fire and heartbeat methods of ``SqlStore`` (documented in ``MetadataStore``)."""

    # -- tokens --------------------------------------------------------------------------------

    def create_token(self, name: str, role: str, secret_hash: str) -> TokenRecord:
        check_name("token", "name", name)
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        try:
            with self._write() as connection:
                connection.execute(
                    insert(api_tokens).values(name=name, role=role, secret_hash=secret_hash, created_at=utc_now())
                )
        except IntegrityError:
            raise AlreadyExistsError(
                f"A token named '{name}' already exists.",
                fix="Choose another --name, or revoke the old one first: thresher token revoke --name " + name,
            ) from None
        return self.get_token(name)

    def get_token(self, name: str) -> TokenRecord:
        with self._read() as connection:
            row = connection.execute(select(api_tokens).where(api_tokens.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"No token is named '{name}'.", fix="List tokens with: thresher token list")
        return from_row(TokenRecord, row)

    def list_tokens(self) -> list[TokenRecord]:
        with self._read() as connection:
            rows = connection.execute(select(api_tokens).order_by(api_tokens.c.name)).all()
        return [from_row(TokenRecord, row) for row in rows]

    def revoke_token(self, name: str) -> TokenRecord:
        with self._write() as connection:
            done = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            )
        if done.rowcount == 0:
            self.get_token(name)  # NotFoundError for an unknown name; an already revoked one stays revoked
        return self.get_token(name)

    def token_revision(self) -> tuple[Any, ...]:
        # how many tokens, how many revoked, the last revocation: a revocation moves the second
        counts = select(func.count(), func.count(api_tokens.c.revoked_at), func.max(api_tokens.c.revoked_at))
        with self._read() as connection:
            return tuple(connection.execute(counts).one())

    def token_for_secret(self, secret_hash: str) -> TokenRecord | None:
        with self._read() as connection:
            row = connection.execute(
                select(api_tokens).where(api_tokens.c.secret_hash == secret_hash, api_tokens.c.revoked_at.is_(None))
            ).first()
        return None if row is None else from_row(TokenRecord, row)

    # -- idempotent requests -------------------------------------------------------------------

    def get_request(self, key: str) -> RequestRecord | None:
        with self._read() as connection:
            row = connection.execute(select(idempotent_requests).where(idempotent_requests.c.key == key)).first()
        return None if row is None else from_row(RequestRecord, row)

    def begin_request(self, key: str, route: str) -> RequestRecord | None:
        try:
            with self._write() as connection:
                connection.execute(insert(idempotent_requests).values(key=key, route=route, created_at=utc_now()))
        except IntegrityError:
            with self._read() as connection:
                row = connection.execute(select(idempotent_requests).where(idempotent_requests.c.key == key)).first()
            if row is None:  # the first delivery failed and let the key go: this one is the first now
                return self.begin_request(key, route)
            return from_row(RequestRecord, row)
        return None

    def finish_request(self, key: str, status_code: int | None, body: Any) -> None:
        with self._write() as connection:
            if status_code is None:  # not answered (the server failed): the next delivery does the work
                connection.execute(delete(idempotent_requests).where(idempotent_requests.c.key == key))
                return
            connection.execute(
                update(idempotent_requests)
                .where(idempotent_requests.c.key == key)
                .values(status_code=status_code, body=body)
            )

    def prune_requests(self, before: datetime) -> int:
        with self._write() as connection:
            done = connection.execute(delete(idempotent_requests).where(idempotent_requests.c.created_at < before))
        return int(done.rowcount)

    # -- schedule fires ------------------------------------------------------------------------

    def record_fire(
        self, schedule: str, slot: str, *, job: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> FireRecord | None:
        fire = FireRecord(schedule, slot, job, None if detail is None else plain_json(detail, "fire detail"), utc_now())
        try:
            with self._write() as connection:
                connection.execute(
                    insert(schedule_fires).values(
                        schedule=schedule, slot=slot, job=job, detail=fire.detail, fired_at=fire.fired_at
                    )
                )
        except IntegrityError:
            return None  # fired already, here or by another server
        return fire

    def update_fire(
        self, schedule: str, slot: str, *, job: str | None, detail: Mapping[str, Any] | None = None
    ) -> None:
        values: dict[str, Any] = {"job": job}
        if detail is not None:
            values["detail"] = plain_json(detail, "fire detail")
        with self._write() as connection:
            connection.execute(
                update(schedule_fires)
                .where(schedule_fires.c.schedule == schedule, schedule_fires.c.slot == slot)
                .values(**values)
            )

    def list_fires(self, schedule: str, *, limit: int | None = 50) -> list[FireRecord]:
        query = (
            select(schedule_fires)
            .where(schedule_fires.c.schedule == schedule)
            .order_by(schedule_fires.c.fired_at.desc(), schedule_fires.c.slot.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as connection:
            return [from_row(FireRecord, row) for row in connection.execute(query)]

    def delete_fires(self, schedule: str) -> None:
        with self._write() as connection:
            connection.execute(delete(schedule_fires).where(schedule_fires.c.schedule == schedule))

    # -- heartbeats of servers and runners -----------------------------------------------------

    def beat(self, name: str, kind: str, info: Mapping[str, Any]) -> None:
        now = utc_now()
        data = plain_json(info, f"{kind} info")
        with self._write() as connection:
            done = connection.execute(
                update(service_heartbeats).where(service_heartbeats.c.name == name).values(heartbeat_at=now, info=data)
            )
            if done.rowcount == 0:
                connection.execute(
                    insert(service_heartbeats).values(name=name, kind=kind, info=data, started_at=now, heartbeat_at=now)
                )

    def services(self, kind: str, *, alive_since: datetime | None = None) -> list[ServiceRecord]:
        query = select(service_heartbeats).where(service_heartbeats.c.kind == kind)
        if alive_since is not None:
            query = query.where(service_heartbeats.c.heartbeat_at >= alive_since)
        with self._read() as connection:
            rows = connection.execute(query.order_by(service_heartbeats.c.name)).all()
        return [from_row(ServiceRecord, row) for row in rows]

    def end_service(self, name: str) -> None:
        with self._write() as connection:
            connection.execute(delete(service_heartbeats).where(service_heartbeats.c.name == name))
