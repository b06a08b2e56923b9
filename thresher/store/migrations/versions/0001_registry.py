"""The registry: versioned assets, named resources and batch deployments.

Revision ID: 0001
Revises:
Create Date: 2024-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        *_kind_and_name(),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("version_number", sa.BigInteger(), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("kind", "name", "version", name=op.f("uq_assets_kind_name_version")),
    )
    op.create_table(
        "resources",
        *_kind_and_name(),
        *_spec_saved_at(),
        sa.PrimaryKeyConstraint("kind", "name", name=op.f("pk_resources")),
    )
    op.create_table(
        "deployments",
        sa.Column("endpoint_kind", sa.String(32), nullable=False, server_default=sa.text("'batch_endpoint'")),
        sa.Column("endpoint_name", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        *_spec_saved_at(),
        sa.PrimaryKeyConstraint("endpoint_name", "name", name=op.f("pk_deployments")),
        sa.ForeignKeyConstraint(
            ["endpoint_kind", "endpoint_name"],
            ["resources.kind", "resources.name"],
            name=op.f("fk_deployments_endpoint_kind_endpoint_name_resources"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("endpoint_kind = 'batch_endpoint'", name=op.f("ck_deployments_endpoint_kind")),
    )


def _kind_and_name() -> list[sa.Column[Any]]:
    """The key of an asset (with its version) and of a resource."""
    return [sa.Column("kind", sa.String(32), nullable=False), sa.Column("name", sa.String(255), nullable=False)]


def _spec_saved_at() -> list[sa.Column[Any]]:
    """A row saved whole (a resource, a deployment): its spec, and when it was created and last saved."""
    return [
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def downgrade() -> None:
    op.drop_table("deployments")
    op.drop_table("resources")
    op.drop_table("assets")
