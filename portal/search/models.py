"""The search change log: the database's record of what the index still has to catch up on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class SearchChange(Base):
    """A document whose source rows changed. Written in the same transaction as the change,
    so a rolled-back change leaves nothing behind and a committed one is never missed."""

    __tablename__ = "search_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    doc_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
