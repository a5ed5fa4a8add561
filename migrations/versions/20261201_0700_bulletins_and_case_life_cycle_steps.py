"""bulletins; case life cycle: 不予立案, 缓办/延期, 返工 count, handling hours

Revision ID: 0700
Revises: 0600
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = '0700'
down_revision: str | Sequence[str] | None = '0600'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ('reported', 'dispatched', 'handled', 'verified', 'supervised', 'closed', 'bounced', 'reopened',
                'cancelled')
NEW_STATUSES = OLD_STATUSES + ('rejected',)
OLD_KINDS = ('report', 'dispatch', 'handle', 'verify', 'supervise', 'close', 'bounce', 'reopen', 'cancel')
NEW_KINDS = OLD_KINDS + ('reject', 'postpone')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table('bulletins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('period_kind', sa.String(length=8), nullable=False),
    sa.Column('issue_label', sa.String(length=40), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('correction_note', sa.Text(), nullable=False),
    sa.Column('data_json', sa.Text(), nullable=False),
    sa.Column('data_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('watermark', sa.JSON(), nullable=False),
    sa.Column('generated_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('generated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', portal.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('published_at', portal.db.AwareDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("period_kind IN ('month', 'quarter', 'year')", name=op.f('ck_bulletins_period_kind')),
    sa.ForeignKeyConstraint(['corrects_id'], ['bulletins.id'], name=op.f('fk_bulletins_corrects_id_bulletins'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletins')),
    sa.UniqueConstraint('period', 'revision', name=op.f('uq_bulletins_period'))
    )
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulletins_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulletins_state'), ['state'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rework_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('postponed_at', portal.db.AwareDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handling_hours', sa.Float(), nullable=True))
        batch_op.drop_constraint(op.f('ck_cases_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_cases_status'), _in('status', NEW_STATUSES))
        batch_op.create_index('ix_cases_deadline', ['deadline'], unique=False)
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_case_events_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_case_events_kind'), _in('kind', NEW_KINDS))
    _backfill_handling_hours()


def _backfill_handling_hours() -> None:
    """Cases handled before this revision get their working hours from the same calendar."""
    from portal.cases.lifecycle import working_hours_between
    from portal.catalogue.calendar import WorkingCalendar

    bind = op.get_bind()
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('handling_hours', sa.Float),
                     sa.column('dispatched_at', portal.db.AwareDateTime(timezone=True)),
                     sa.column('handled_at', portal.db.AwareDateTime(timezone=True)))
    calendar = WorkingCalendar.default()
    last = 0
    while True:
        rows = bind.execute(sa.select(cases.c.id, cases.c.dispatched_at, cases.c.handled_at)
                            .where(cases.c.id > last, cases.c.handled_at.is_not(None),
                                   cases.c.dispatched_at.is_not(None))
                            .order_by(cases.c.id).limit(5000)).all()
        if not rows:
            return
        bind.execute(sa.update(cases).where(cases.c.id == sa.bindparam('case_id'))
                     .values(handling_hours=sa.bindparam('hours')),
                     [{'case_id': r.id, 'hours': working_hours_between(calendar, r.dispatched_at, r.handled_at)}
                      for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_case_events_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_case_events_kind'), _in('kind', OLD_KINDS))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_deadline')
        batch_op.drop_constraint(op.f('ck_cases_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_cases_status'), _in('status', OLD_STATUSES))
        batch_op.drop_column('handling_hours')
        batch_op.drop_column('postponed_at')
        batch_op.drop_column('rework_count')
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletins_state'))
        batch_op.drop_index(batch_op.f('ix_bulletins_period'))
    op.drop_table('bulletins')
