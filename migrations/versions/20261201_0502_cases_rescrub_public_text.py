"""cases: re-scrub stored public texts (personal names, zero-width characters)

The scrubber now masks personal names in free text ("我叫王小明…") and sees through zero-width and
direction characters; texts stored before it learnt that are scrubbed again.

Revision ID: 0502
Revises: 0501
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0502'
down_revision: str | Sequence[str] | None = '0501'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from portal.cases.rescrub import rescrub_public_text

    rescrub_public_text(op.get_bind())


def downgrade() -> None:
    # The texts scrubbed less thoroughly are not worth restoring.
    pass
