"""Online endpoints: their deployments, and their keys (sealed with the workspace key).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _endpoint(table: str) -> list[Any]:
    """The columns and constraints that tie a row to its online endpoint's row in ``resources``."""
    return [
        sa.ForeignKeyConstraint(
            ["endpoint_kind", "endpoint_name"],
            ["resources.kind", "resources.name"],
            name=op.f(f"fk_{table}_endpoint_kind_endpoint_name_resources"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("endpoint_kind = 'online_endpoint'", name=op.f(f"ck_{table}_endpoint_kind")),
    ]


def _kind() -> sa.Column[Any]:
    return sa.Column("endpoint_kind", sa.String(32), nullable=False, server_default=sa.text("'online_endpoint'"))


def upgrade() -> None:
    op.create_table(
        "online_deployments",
        _kind(),
        sa.Column("endpoint_name", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("endpoint_name", "name", name=op.f("pk_online_deployments")),
        *_endpoint("online_deployments"),
    )
    op.create_table(
        "endpoint_keys",
        _kind(),
        sa.Column("endpoint_name", sa.String(255), nullable=False),
        sa.Column("primary_key", sa.Text(), nullable=False),
        sa.Column("secondary_key", sa.Text(), nullable=False),
        sa.Column("token_secret", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("keys_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("endpoint_name", name=op.f("pk_endpoint_keys")),
        *_endpoint("endpoint_keys"),
    )


def downgrade() -> None:
    op.drop_table("endpoint_keys")
    op.drop_table("online_deployments")
