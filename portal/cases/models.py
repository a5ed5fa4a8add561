"""Case models: the case, its life-cycle events, the reporter's personal data, feedback.

Personal data lives in :class:`CaseReporter`, a table of its own that no public query ever joins:
nothing that renders a case for the public can reach it by accident. The case row holds what is
needed to list and filter a million cases from one table: codes are integer foreign keys into the
catalogue, the current status, the current agency, the dates, and the scrubbed public text
(computed once at write time, so lists never run the scrubber).

Cases are operational records, not published content: their history is their own event list
(``case_events``), so they are not :class:`~portal.audit.Audited` row by row; ingestion records
one audit entry per batch instead.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.cases.lifecycle import BOUNCE_REASONS, EventKind, Status
from portal.db import Base, utcnow

CHANNELS: dict[str, str] = {
    "hotline_12345": "12345 热线",
    "hotline_12319": "12319 城建热线",
    "web": "网站",
    "app": "手机应用",
    "patrol": "巡查上报",
    "video": "视频发现",
    "open311": "Open311 接口",
}
URGENCIES: dict[str, str] = {"normal": "一般", "urgent": "紧急"}
RATINGS: dict[str, str] = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
SOURCES = ("api", "import", "open311", "demo")


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"  # type: ignore[attr-defined]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("status", [s.value for s in Status]), name="status"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        # The public list: newest first, optionally by type, status, agency, grid or street.
        Index("ix_cases_reported", "reported_at", "id"),
        Index("ix_cases_item_reported", "item_type_id", "reported_at"),
        Index("ix_cases_status_reported", "status", "reported_at"),
        Index("ix_cases_agency_reported", "agency_id", "reported_at"),
        Index("ix_cases_grid_reported", "grid_id", "reported_at"),
        Index("ix_cases_street_reported", "street_id", "reported_at"),
        # The district map counts cases per grid under the list's filters; with every filter
        # column in one index the count never reads the table (1.7 s → 0.15 s on a million).
        Index("ix_cases_map", "grid_id", "item_type_id", "status", "street_id", "agency_id", "reported_at"),
        # Bulletins count the cases that fell due in a period (按期处置率, 问题及时解决率).
        Index("ix_cases_deadline", "deadline"),
        # Incremental sync: the cases changed since a moment, in id order.
        Index("ix_cases_changed", "changed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The linkage centre's own id: a replay of the same case finds it here instead of duplicating.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    channel: Mapped[str] = mapped_column(String(16))
    item_type_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item_types.id", ondelete="RESTRICT"))
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    # Internal only: what the reporter said, the exact point and address.
    description: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    # Public: scrubbed text, and the place only at grid (and street) level.
    public_description: Mapped[str] = mapped_column(Text, default="")
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="RESTRICT"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default=Status.REPORTED.value)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="RESTRICT"))
    reported_at: Mapped[dt.datetime]
    dispatched_at: Mapped[dt.datetime | None]
    deadline: Mapped[dt.datetime | None]
    # The time limit the deadline came from, as the catalogue labels it (3个工作日, 2小时).
    time_limit_label: Mapped[str] = mapped_column(String(32), default="")
    handled_at: Mapped[dt.datetime | None]
    verified_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime]
    handled: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # 返工: reopens after a failed verification (a reopen of a closed case is not counted).
    rework_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # 缓办/延期: when the current round's deadline was extended (the deadline column holds the new one).
    postponed_at: Mapped[dt.datetime | None]
    # Working hours (rest days and holidays not counted) from the last dispatch to handling:
    # computed once at write time, so statistics average a column instead of running a calendar.
    handling_hours: Mapped[float | None] = mapped_column(Float)
    # SHA-256 of the tracking code given to the reporter (shown once, like an API key).
    tracking_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the stored case last changed (a step, a rating, a correction), unlike ``updated_at``
    # (the time of its latest step, which a late import of old steps leaves in the past):
    # incremental sync (``updated_since``) reads this.
    changed_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", cascade="all, delete-orphan"
    )
    reporter: Mapped[CaseReporter | None] = relationship(back_populates="case", cascade="all, delete-orphan")
    feedback: Mapped[Feedback | None] = relationship(back_populates="case", cascade="all, delete-orphan")

    @property
    def case_number(self) -> str:
        """The number shown to people: AJ + report date (China time) + id."""
        from portal.cases.public import case_number

        return case_number(self.id, self.reported_at)


class CaseReporter(Base):
    """Who reported a case: personal data, for call-backs only, never shown or exported."""

    __tablename__ = "case_reporters"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    id_number: Mapped[str] = mapped_column(String(32), default="")
    # Open311 clients may identify their user (account_id, device_id).
    account_id: Mapped[str] = mapped_column(String(100), default="")

    case: Mapped[Case] = relationship(back_populates="reporter")


class CaseEvent(Base):
    """One step of a case's life cycle."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(_in("kind", [k.value for k in EventKind]), name="kind"),
        CheckConstraint(f"reason IS NULL OR {_in('reason', BOUNCE_REASONS)}", name="reason"),
        UniqueConstraint("case_id", "seq"),
        # Bounces by agency feed the dispute-hotspot report.
        Index("ix_case_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime]
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="RESTRICT"))
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    public_note: Mapped[str] = mapped_column(Text, default="")
    # Set on dispatch: the deadline the catalogue gave at that moment.
    deadline: Mapped[dt.datetime | None]
    # The source system's id of this step, if it has one: replays are recognised by it.
    external_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100), default="")

    case: Mapped[Case] = relationship(back_populates="events")


class Feedback(Base):
    """回访评价: the reporter's rating, once per case."""

    __tablename__ = "case_feedback"
    __table_args__ = (CheckConstraint(_in("rating", RATINGS), name="rating"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    rating: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    public_comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16), default="track")

    case: Mapped[Case] = relationship(back_populates="feedback")


class DisclosurePolicy(Base):
    """The item types whose cases were last withheld from the public (one row): the setting
    ``cases.nondisclosable`` can change between starts, and the cases it moves in or out of the
    public record must then count as changed for incremental sync (see
    :mod:`portal.cases.disclosure`)."""

    __tablename__ = "case_disclosure_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None until the first start records the policy in force.
    hidden_item_ids: Mapped[list[int] | None] = mapped_column(JSON)
    applied_at: Mapped[dt.datetime | None]
