"""catalogue: item types, areas, agencies, duties, powers

Revision ID: 0100
Revises: 0002
Create Date: 2026-11-22 02:00:55.644429
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = '0100'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('catalogue_areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('geometry', sa.JSON(), nullable=True),
    sa.Column('area_km2', sa.Float(), nullable=True),
    sa.CheckConstraint("level IN ('district', 'street', 'zone', 'unit', 'grid')", name=op.f('ck_catalogue_areas_level')),
    sa.ForeignKeyConstraint(['parent_id'], ['catalogue_areas.id'], name=op.f('fk_catalogue_areas_parent_id_catalogue_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_areas')),
    sa.UniqueConstraint('code', name=op.f('uq_catalogue_areas_code'))
    )
    with op.batch_alter_table('catalogue_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_areas_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_areas_parent_id'), ['parent_id'], unique=False)

    op.create_table('catalogue_item_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('major_code', sa.String(length=4), nullable=False),
    sa.Column('major_name', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('urgent_hours', sa.Integer(), nullable=True),
    sa.Column('normal_working_days', sa.Integer(), nullable=True),
    sa.Column('name_variants', sa.String(length=200), nullable=False),
    sa.Column('dept_hint', sa.String(length=32), nullable=False),
    sa.Column('related_code', sa.String(length=8), nullable=False),
    sa.Column('provenance', sa.String(length=200), nullable=False),
    sa.CheckConstraint("kind IN ('component', 'event')", name=op.f('ck_catalogue_item_types_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_item_types')),
    sa.UniqueConstraint('scheme', 'kind', 'code', name=op.f('uq_catalogue_item_types_scheme'))
    )
    with op.batch_alter_table('catalogue_item_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_item_types_code'), ['code'], unique=False)

    op.create_table('catalogue_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=36), nullable=False),
    sa.Column('changed_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_state'))
    )
    op.create_table('catalogue_agencies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('short_name', sa.String(length=50), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('supervision_phone', sa.String(length=32), nullable=False),
    sa.Column('phone_is_demo', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('unit_codes', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('kb_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('government', 'street_office', 'utility', 'property_company', 'enterprise')", name=op.f('ck_catalogue_agencies_kind')),
    sa.ForeignKeyConstraint(['area_id'], ['catalogue_areas.id'], name=op.f('fk_catalogue_agencies_area_id_catalogue_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_id'], ['catalogue_agencies.id'], name=op.f('fk_catalogue_agencies_parent_id_catalogue_agencies'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_agencies')),
    sa.UniqueConstraint('code', name=op.f('uq_catalogue_agencies_code'))
    )
    with op.batch_alter_table('catalogue_agencies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_agencies_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_agencies_parent_id'), ['parent_id'], unique=False)

    op.create_table('catalogue_crosswalk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_item_id', sa.Integer(), nullable=False),
    sa.Column('to_item_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['from_item_id'], ['catalogue_item_types.id'], name=op.f('fk_catalogue_crosswalk_from_item_id_catalogue_item_types'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_item_id'], ['catalogue_item_types.id'], name=op.f('fk_catalogue_crosswalk_to_item_id_catalogue_item_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_crosswalk')),
    sa.UniqueConstraint('from_item_id', 'to_item_id', name=op.f('uq_catalogue_crosswalk_from_item_id'))
    )
    with op.batch_alter_table('catalogue_crosswalk', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_crosswalk_from_item_id'), ['from_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_crosswalk_to_item_id'), ['to_item_id'], unique=False)

    op.create_table('catalogue_duties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lineage_id', sa.Integer(), nullable=True),
    sa.Column('revision_of_id', sa.Integer(), nullable=True),
    sa.Column('item_type_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('citations', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('urgent_hours', sa.Integer(), nullable=True),
    sa.Column('normal_working_days', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('source_kind', sa.String(length=16), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('basis_reviewed_on', sa.Date(), nullable=True),
    sa.Column('conflict_forced', sa.Boolean(), nullable=False),
    sa.Column('conflict_note', sa.Text(), nullable=False),
    sa.Column('kb_key', sa.String(length=200), nullable=True),
    sa.Column('kb_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('published_at', portal.db.AwareDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('owner', 'maintainer', 'supervisor', 'enforcer')", name=op.f('ck_catalogue_duties_role')),
    sa.CheckConstraint("source_kind IN ('regulation', 'ruling', 'agreement')", name=op.f('ck_catalogue_duties_source_kind')),
    sa.CheckConstraint('valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from', name=op.f('ck_catalogue_duties_validity')),
    sa.ForeignKeyConstraint(['agency_id'], ['catalogue_agencies.id'], name=op.f('fk_catalogue_duties_agency_id_catalogue_agencies'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['area_id'], ['catalogue_areas.id'], name=op.f('fk_catalogue_duties_area_id_catalogue_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['item_type_id'], ['catalogue_item_types.id'], name=op.f('fk_catalogue_duties_item_type_id_catalogue_item_types'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['revision_of_id'], ['catalogue_duties.id'], name=op.f('fk_catalogue_duties_revision_of_id_catalogue_duties'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_duties')),
    sa.UniqueConstraint('kb_key', name=op.f('uq_catalogue_duties_kb_key'))
    )
    with op.batch_alter_table('catalogue_duties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_duties_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_duties_lineage_id'), ['lineage_id'], unique=False)
        batch_op.create_index('ix_catalogue_duties_lookup', ['item_type_id', 'area_id', 'role'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_duties_state'), ['state'], unique=False)

    op.create_table('catalogue_powers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=8), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('citations', sa.JSON(), nullable=False),
    sa.Column('item_type_keys', sa.JSON(), nullable=False),
    sa.Column('responsibilities', sa.JSON(), nullable=False),
    sa.Column('accountability', sa.Text(), nullable=False),
    sa.Column('accountability_citations', sa.JSON(), nullable=False),
    sa.Column('kb_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('行政处罚', '行政强制', '行政检查', '行政许可', '其他')", name=op.f('ck_catalogue_powers_category')),
    sa.ForeignKeyConstraint(['holder_id'], ['catalogue_agencies.id'], name=op.f('fk_catalogue_powers_holder_id_catalogue_agencies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_powers')),
    sa.UniqueConstraint('code', name=op.f('uq_catalogue_powers_code'))
    )
    with op.batch_alter_table('catalogue_powers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_powers_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalogue_powers_holder_id'), ['holder_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('catalogue_powers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_powers_holder_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_powers_category'))

    op.drop_table('catalogue_powers')
    with op.batch_alter_table('catalogue_duties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_duties_state'))
        batch_op.drop_index('ix_catalogue_duties_lookup')
        batch_op.drop_index(batch_op.f('ix_catalogue_duties_lineage_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_duties_agency_id'))

    op.drop_table('catalogue_duties')
    with op.batch_alter_table('catalogue_crosswalk', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_crosswalk_to_item_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_crosswalk_from_item_id'))

    op.drop_table('catalogue_crosswalk')
    with op.batch_alter_table('catalogue_agencies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_agencies_parent_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_agencies_kind'))

    op.drop_table('catalogue_agencies')
    op.drop_table('catalogue_state')
    with op.batch_alter_table('catalogue_item_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_item_types_code'))

    op.drop_table('catalogue_item_types')
    with op.batch_alter_table('catalogue_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_areas_parent_id'))
        batch_op.drop_index(batch_op.f('ix_catalogue_areas_level'))

    op.drop_table('catalogue_areas')

