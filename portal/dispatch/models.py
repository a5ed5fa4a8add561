"""What dispatchers taught the assistant: texts with the item type they were filed under.

An example is evidence for later suggestions until an editor discards it. Every insert and change
is audited (who confirmed, who discarded and why). The text is stored scrubbed of phone and ID
numbers; it is staff-only and never shown publicly.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit import Audited
from portal.db import Base, TimestampMixin

EXAMPLE_SOURCES = {"screen": "派遣页面", "case_api": "案件接口"}


class DispatchExample(Audited, TimestampMixin, Base):
    __tablename__ = "dispatch_examples"
    __table_args__ = (
        CheckConstraint("source IN ('screen', 'case_api')", name="source"),
        Index("ix_dispatch_examples_active", "discarded_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    #: the five-digit code the dispatcher chose, and the item type row it stands for
    code: Mapped[str] = mapped_column(String(8), index=True)
    item_type_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item_types.id", ondelete="CASCADE"))
    #: the assistant's first suggestion at the time ("" when it had none): a correction when it differs
    suggested_code: Mapped[str] = mapped_column(String(8), default="")
    source: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(100), default="")
    discarded_at: Mapped[dt.datetime | None]
    discarded_by: Mapped[str] = mapped_column(String(100), default="")
    discard_reason: Mapped[str] = mapped_column(Text, default="")

    @property
    def corrected(self) -> bool:
        return bool(self.suggested_code) and self.suggested_code != self.code
