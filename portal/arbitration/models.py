"""Arbitration models: experts, disputes with their parties, evidence and cases, panels, votes, rulings.

A dispute moves through stages (filed → accepted → inspected → deliberating → ruled → published,
or rejected / withdrawn); each stage change is recorded in ``workflow_transitions`` beside the
audit log, and each open stage carries its working-day deadline. The ruling is publishable
content (:class:`~portal.workflow.Publishable`): a draft while the panel deliberates, pending once
the majority adopted it, published when the clerk publishes it (its duties enter the catalogue),
withdrawn when revoked (the duties it superseded come back).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.audit import Audited
from portal.catalogue.models import Agency, Area, ItemType
from portal.db import Base, TimestampMixin, utcnow
from portal.workflow import Publishable

STAGES = ("filed", "accepted", "inspected", "deliberating", "ruled", "published", "rejected", "withdrawn")
OPEN_STAGES = ("filed", "accepted", "inspected", "deliberating", "ruled")
SCOPES = ("asset", "area", "district")
VOTE_CHOICES = ("concur", "dissent")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Expert(TimestampMixin, Audited, Base):
    """A member of the standing expert pool (专家智库)."""

    __tablename__ = "arbitration_experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(100), default="")
    # The agency the expert works for: a party of that agency (or its parent or child) recuses them.
    affiliation_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="SET NULL"))
    # Major classes of item types (two-digit codes: 01 公用设施, 04 园林绿化 …).
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    kb_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    affiliation: Mapped[Agency | None] = relationship()
    user: Mapped[User | None] = relationship()


class Dispute(TimestampMixin, Audited, Base):
    """权属争议: who owns an item type at a place, disputed between agencies."""

    __tablename__ = "arbitration_disputes"
    __table_args__ = (
        CheckConstraint(_in("stage", STAGES), name="stage"),
        UniqueConstraint("year", "serial"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text, default="")
    item_type_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item_types.id", ondelete="RESTRICT"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="RESTRICT"), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="RESTRICT"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_note: Mapped[str] = mapped_column(String(300), default="")
    origin: Mapped[str] = mapped_column(String(16), default="manual")  # manual | hotspot | kb
    hotspot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stage: Mapped[str] = mapped_column(String(16), default="filed", index=True)
    stage_since: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stage_due: Mapped[dt.datetime | None]
    # Stages left after their deadline: a dispute with any is counted as overdue in the figures.
    late_stages: Mapped[int] = mapped_column(Integer, default=0)
    filed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ruled_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    inspection_record: Mapped[str] = mapped_column(Text, default="")
    inspected_on: Mapped[dt.date | None] = mapped_column(Date)
    closing_note: Mapped[str] = mapped_column(Text, default="")
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    kb_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    item_type: Mapped[ItemType] = relationship()
    area: Mapped[Area] = relationship(foreign_keys=[area_id])
    street: Mapped[Area | None] = relationship(foreign_keys=[street_id])
    parties: Mapped[list[DisputeParty]] = relationship(back_populates="dispute", cascade="all, delete-orphan",
                                                       order_by="DisputeParty.id")
    evidence: Mapped[list[Evidence]] = relationship(back_populates="dispute", cascade="all, delete-orphan",
                                                    order_by="Evidence.id")
    cases: Mapped[list[DisputeCase]] = relationship(back_populates="dispute", cascade="all, delete-orphan")
    panel: Mapped[list[PanelSeat]] = relationship(back_populates="dispute", cascade="all, delete-orphan",
                                                  order_by="PanelSeat.id")
    ruling: Mapped[Ruling | None] = relationship(back_populates="dispute", uselist=False)

    @property
    def number(self) -> str:
        return f"争〔{self.year}〕{self.serial}号"

    def overdue(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return self.stage in OPEN_STAGES and self.stage_due is not None and now > self.stage_due

    @property
    def active_seats(self) -> list[PanelSeat]:
        return [seat for seat in self.panel if seat.recused_at is None]


class DisputeParty(Audited, Base):
    """An agency party to a dispute, with its written position (internal: never public)."""

    __tablename__ = "arbitration_parties"
    __table_args__ = (UniqueConstraint("dispute_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("arbitration_disputes.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="RESTRICT"))
    position: Mapped[str] = mapped_column(Text, default="")
    position_at: Mapped[dt.datetime | None]
    bounces: Mapped[int] = mapped_column(Integer, default=0)

    dispute: Mapped[Dispute] = relationship(back_populates="parties")
    agency: Mapped[Agency] = relationship()


class DisputeCase(Base):
    """A case the dispute concerns (the bounced cases of a hotspot, or any the clerk names)."""

    __tablename__ = "arbitration_dispute_cases"

    dispute_id: Mapped[int] = mapped_column(ForeignKey("arbitration_disputes.id", ondelete="CASCADE"),
                                            primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True)

    dispute: Mapped[Dispute] = relationship(back_populates="cases")


class Evidence(Audited, Base):
    """An evidence file, stored under the var directory by a generated name."""

    __tablename__ = "arbitration_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("arbitration_disputes.id", ondelete="CASCADE"), index=True)
    party_agency_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(300), default="")
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(100), default="")

    dispute: Mapped[Dispute] = relationship(back_populates="evidence")
    party_agency: Mapped[Agency | None] = relationship()


class PanelSeat(Audited, Base):
    """An expert seated on a dispute's panel (合议组). Recusal keeps the row, stamped."""

    __tablename__ = "arbitration_panel_seats"
    __table_args__ = (UniqueConstraint("dispute_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("arbitration_disputes.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("arbitration_experts.id", ondelete="RESTRICT"), index=True)
    chair: Mapped[bool] = mapped_column(Boolean, default=False)
    seated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recused_at: Mapped[dt.datetime | None]
    recusal_reason: Mapped[str] = mapped_column(String(200), default="")

    dispute: Mapped[Dispute] = relationship(back_populates="panel")
    expert: Mapped[Expert] = relationship()


class Ruling(TimestampMixin, Publishable, Base):
    """裁定书: the panel's decision per role, its reasoning, legal basis, scope and number."""

    __tablename__ = "arbitration_rulings"
    __table_args__ = (
        CheckConstraint(_in("scope", SCOPES), name="scope"),
        UniqueConstraint("year", "serial"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("arbitration_disputes.id", ondelete="CASCADE"), unique=True)
    # The document number 〔year〕serial号, given when the majority adopts the ruling.
    year: Mapped[int | None] = mapped_column(Integer)
    serial: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    # [{"role": "owner", "agency": "PS", "note": "…"}, …]
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    citations: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(String(16), default="area")
    scope_area_id: Mapped[int] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="RESTRICT"))
    effective_date: Mapped[dt.date | None] = mapped_column(Date)
    # Voting rounds: a draft changed after votes were cast opens a new round.
    round: Mapped[int] = mapped_column(Integer, default=1)
    ruled_at: Mapped[dt.datetime | None]
    concur: Mapped[int] = mapped_column(Integer, default=0)
    dissent: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    kb_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    dispute: Mapped[Dispute] = relationship(back_populates="ruling")
    scope_area: Mapped[Area] = relationship()
    votes: Mapped[list[Vote]] = relationship(back_populates="ruling", cascade="all, delete-orphan",
                                             order_by="Vote.id")

    @property
    def number(self) -> str:
        return f"〔{self.year}〕{self.serial}号" if self.year and self.serial else ""

    def round_votes(self, round_: int | None = None) -> list[Vote]:
        wanted = self.round if round_ is None else round_
        return [vote for vote in self.votes if vote.round == wanted]


class Vote(Audited, Base):
    """One expert's vote on the draft ruling of a round, with a written opinion."""

    __tablename__ = "arbitration_votes"
    __table_args__ = (
        UniqueConstraint("ruling_id", "expert_id", "round"),
        CheckConstraint(_in("choice", VOTE_CHOICES), name="choice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ruling_id: Mapped[int] = mapped_column(ForeignKey("arbitration_rulings.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("arbitration_experts.id", ondelete="RESTRICT"))
    round: Mapped[int] = mapped_column(Integer, default=1)
    choice: Mapped[str] = mapped_column(String(8))
    opinion: Mapped[str] = mapped_column(Text)
    cast_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    ruling: Mapped[Ruling] = relationship(back_populates="votes")
    expert: Mapped[Expert] = relationship()
