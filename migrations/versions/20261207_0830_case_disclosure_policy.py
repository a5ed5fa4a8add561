"""cases: the disclosure policy last applied (incremental sync sees cases it withdraws or discloses)

Revision ID: 0830
Revises: 0820
Create Date: 2026-12-07 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0830"
down_revision: str | Sequence[str] | None = "0820"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_disclosure_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hidden_item_ids", sa.JSON(), nullable=True),
        sa.Column("applied_at", portal.db.AwareDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_disclosure_policy")),
    )
    # No row yet: the first start records the policy in force (an empty table keeps a freshly
    # migrated database empty for `portal restore`).


def downgrade() -> None:
    op.drop_table("case_disclosure_policy")
