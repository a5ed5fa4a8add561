"""Bulletins (考评通报): a frozen snapshot of one period's indicators, its PDF and their hashes.

A bulletin is :class:`~portal.workflow.Publishable`. While it is a draft it may be regenerated;
from the moment it is published its snapshot (indicator JSON, PDF, hashes, the case-data
watermark) is frozen: :func:`_refuse_changes_to_published` stops any flush that would alter or
delete it, whatever route or command tries. A correction is a new revision of the same period
that names the one it corrects; publishing it marks the old one superseded (its snapshot stays
untouched and public).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column

from portal.db import Base, utcnow
from portal.errors import Conflict
from portal.workflow import Publishable, State

PERIOD_KINDS = ("month", "quarter", "year")
#: States whose snapshot is frozen and public (a superseded bulletin stays readable beside its correction).
FROZEN_STATES = frozenset({State.PUBLISHED.value, State.SUPERSEDED.value, State.WITHDRAWN.value})
PUBLIC_STATES = (State.PUBLISHED.value, State.SUPERSEDED.value)
#: What may still change on a frozen bulletin: its workflow state (published → superseded).
MUTABLE_WHEN_FROZEN = frozenset({"state", "updated_at"})


class Bulletin(Publishable, Base):
    __tablename__ = "bulletins"
    __table_args__ = (
        UniqueConstraint("period", "revision"),
        CheckConstraint("period_kind IN ('month', 'quarter', 'year')", name="period_kind"),
    )
    # The PDF and the JSON are large: the audit log records their hashes instead.
    __audit_exclude__ = frozenset({"updated_at", "pdf", "data_json"})

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(8), index=True)
    period_kind: Mapped[str] = mapped_column(String(8))
    issue_label: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("bulletins.id", ondelete="RESTRICT"))
    correction_note: Mapped[str] = mapped_column(Text, default="")
    # Canonical JSON (sorted keys, no generation time): the same cases give the same bytes.
    data_json: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    data_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    watermark: Mapped[dict[str, Any]]
    generated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    generated_by: Mapped[str] = mapped_column(String(100), default="system")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_correction(self) -> bool:
        return self.corrects_id is not None


class FrozenBulletin(Conflict):
    code = "bulletin_frozen"


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_published(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if not isinstance(obj, Bulletin):
            continue
        state = inspect(obj)
        history = state.attrs.state.history
        was = history.deleted[0] if history.deleted else obj.state
        if was not in FROZEN_STATES:
            continue
        changed = {attr.key for attr in state.mapper.column_attrs
                   if attr.key not in MUTABLE_WHEN_FROZEN and state.attrs[attr.key].history.has_changes()}
        if changed:
            raise FrozenBulletin(f"已发布的通报不可修改（{'、'.join(sorted(changed))}）；如需更正，请生成更正版。")
    for obj in session.deleted:
        if isinstance(obj, Bulletin) and obj.state in FROZEN_STATES:
            raise FrozenBulletin("已发布的通报不可删除；如需更正，请生成更正版。")
