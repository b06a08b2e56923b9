"""The server: API tokens, idempotent requests, schedule fires and the heartbeats of servers and runners.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        _time("created_at"),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_api_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_api_tokens_secret_hash"),
    )
    op.create_table(
        "idempotent_requests",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("route", sa.String(255), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("key", name="pk_idempotent_requests"),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("slot", sa.String(64), nullable=False),
        sa.Column("job", sa.String(255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        _time("fired_at"),
        sa.PrimaryKeyConstraint("schedule", "slot", name="pk_schedule_fires"),
    )
    op.create_table(
        "service_heartbeats",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
        _time("started_at"),
        _time("heartbeat_at"),
        sa.PrimaryKeyConstraint("name", name="pk_service_heartbeats"),
    )


def downgrade() -> None:
    op.drop_table("service_heartbeats")
    op.drop_table("schedule_fires")
    op.drop_table("idempotent_requests")
    op.drop_table("api_tokens")
