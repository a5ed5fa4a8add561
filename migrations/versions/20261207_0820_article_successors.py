"""regulations: article_successors, the stored article that took over each repealed article

Revision ID: 0820
Revises: 0810
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0820"
down_revision: str | Sequence[str] | None = "0810"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Left empty here: the matching needs the portal's text model, which a migration must not
    # import (a later change to it would break this step). The next `portal init` / `portal
    # load-kb` or any import fills it (apply_repeals matches every repeal it has no rows for).
    op.create_table(
        "article_successors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("regulation_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("suffix", sa.Integer(), nullable=False),
        sa.Column("repealed_version_id", sa.Integer(), nullable=False),
        sa.Column("repealing_version_id", sa.Integer(), nullable=False),
        sa.Column("successor_regulation_id", sa.Integer(), nullable=True),
        sa.Column("successor_number", sa.Integer(), nullable=True),
        sa.Column("successor_suffix", sa.Integer(), nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["regulation_id"], ["regulations.id"],
                                name=op.f("fk_article_successors_regulation_id_regulations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repealed_version_id"], ["regulation_versions.id"],
                                name=op.f("fk_article_successors_repealed_version_id_regulation_versions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repealing_version_id"], ["regulation_versions.id"],
                                name=op.f("fk_article_successors_repealing_version_id_regulation_versions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["successor_regulation_id"], ["regulations.id"],
                                name=op.f("fk_article_successors_successor_regulation_id_regulations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_successors")),
        sa.UniqueConstraint("regulation_id", "number", "suffix",
                            name=op.f("uq_article_successors_regulation_id")),
    )
    with op.batch_alter_table("article_successors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_successors_repealed_version_id"), ["repealed_version_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_article_successors_repealing_version_id"), ["repealing_version_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_article_successors_successor_regulation_id"),
                              ["successor_regulation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("article_successors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_successors_successor_regulation_id"))
        batch_op.drop_index(batch_op.f("ix_article_successors_repealing_version_id"))
        batch_op.drop_index(batch_op.f("ix_article_successors_repealed_version_id"))
    op.drop_table("article_successors")
