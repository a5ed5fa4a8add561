"""catalogue: the penalty range of a power (权力事项的处罚幅度)

Revision ID: 0520
Revises: 0503
Create Date: 2026-12-01 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0520"
down_revision: str | Sequence[str] | None = "0503"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_powers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("penalty", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("catalogue_powers", schema=None) as batch_op:
        batch_op.drop_column("penalty")
