"""Pipelines: step jobs under a pipeline job, their cache keys and what they produced.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("parent", sa.String(255), nullable=True))
        batch.add_column(sa.Column("cache_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("results", sa.JSON(), nullable=True))
    op.create_index("ix_jobs_parent", "jobs", ["parent"])
    op.create_index("ix_jobs_cache_key", "jobs", ["cache_key"])


def downgrade() -> None:
    op.drop_index("ix_jobs_cache_key", table_name="jobs")
    op.drop_index("ix_jobs_parent", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("results")
        batch.drop_column("cache_key")
        batch.drop_column("parent")
