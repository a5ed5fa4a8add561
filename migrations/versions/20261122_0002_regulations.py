"""regulations: regulations, versions, articles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:59:58.847074
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('regulations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('short_title', sa.String(length=200), nullable=True),
    sa.Column('document_number', sa.String(length=100), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=True),
    sa.Column('doc_type', sa.String(length=16), nullable=True),
    sa.Column('issuing_authority', sa.String(length=200), nullable=True),
    sa.Column('region', sa.String(length=50), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('promulgation_date', sa.Date(), nullable=True),
    sa.Column('effective_date', sa.Date(), nullable=True),
    sa.Column('amended_date', sa.Date(), nullable=True),
    sa.Column('repealed_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_ref', sa.String(length=500), nullable=True),
    sa.Column('created_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulations')),
    sa.UniqueConstraint('title', name=op.f('uq_regulations_title'))
    )
    with op.batch_alter_table('regulations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regulations_issuing_authority'), ['issuing_authority'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulations_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulations_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulations_short_title'), ['short_title'], unique=False)
        batch_op.create_index(batch_op.f('ix_regulations_status'), ['status'], unique=False)

    op.create_table('regulation_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('regulation_id', sa.Integer(), nullable=False),
    sa.Column('version_no', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('version_date', sa.Date(), nullable=True),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('header_lines', sa.JSON(), nullable=False),
    sa.Column('preamble', sa.JSON(), nullable=False),
    sa.Column('appendix', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_ref', sa.String(length=500), nullable=True),
    sa.Column('imported_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['regulation_id'], ['regulations.id'], name=op.f('fk_regulation_versions_regulation_id_regulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulation_versions')),
    sa.UniqueConstraint('regulation_id', 'version_no', name=op.f('uq_regulation_versions_regulation_id'))
    )
    with op.batch_alter_table('regulation_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regulation_versions_is_current'), ['is_current'], unique=False)
        batch_op.create_index('ix_regulation_versions_validity', ['regulation_id', 'valid_from', 'valid_to'], unique=False)

    op.create_table('regulation_articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('regulation_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('suffix', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('chapter_path', sa.JSON(), nullable=False),
    sa.Column('paragraphs', sa.JSON(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['regulation_id'], ['regulations.id'], name=op.f('fk_regulation_articles_regulation_id_regulations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['regulation_versions.id'], name=op.f('fk_regulation_articles_version_id_regulation_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulation_articles')),
    sa.UniqueConstraint('version_id', 'number', 'suffix', name=op.f('uq_regulation_articles_version_id'))
    )
    with op.batch_alter_table('regulation_articles', schema=None) as batch_op:
        batch_op.create_index('ix_regulation_articles_number', ['regulation_id', 'number', 'suffix'], unique=False)




def downgrade() -> None:
    
    with op.batch_alter_table('regulation_articles', schema=None) as batch_op:
        batch_op.drop_index('ix_regulation_articles_number')

    op.drop_table('regulation_articles')
    with op.batch_alter_table('regulation_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_regulation_versions_validity')
        batch_op.drop_index(batch_op.f('ix_regulation_versions_is_current'))

    op.drop_table('regulation_versions')
    with op.batch_alter_table('regulations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regulations_status'))
        batch_op.drop_index(batch_op.f('ix_regulations_short_title'))
        batch_op.drop_index(batch_op.f('ix_regulations_region'))
        batch_op.drop_index(batch_op.f('ix_regulations_level'))
        batch_op.drop_index(batch_op.f('ix_regulations_issuing_authority'))

    op.drop_table('regulations')

