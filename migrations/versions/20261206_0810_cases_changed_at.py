"""cases: changed_at, when the stored case last changed (incremental sync)

Revision ID: 0810
Revises: 0800
Create Date: 2026-12-06 23:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0810"
down_revision: str | Sequence[str] | None = "0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_at", portal.db.AwareDateTime(timezone=True), nullable=True))
    # Existing cases last changed when their latest step or their rating was stored, whichever
    # is later; the rating's time is the best record there is of when it arrived.
    op.execute(
        "UPDATE cases SET changed_at = COALESCE((SELECT CASE WHEN f.at > cases.updated_at THEN f.at "
        "ELSE cases.updated_at END FROM case_feedback f WHERE f.case_id = cases.id), cases.updated_at)")
    # Left nullable: making it NOT NULL would have SQLite copy the whole table (a million rows);
    # every write sets it.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_changed", ["changed_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_changed")
        batch_op.drop_column("changed_at")
