"""Catalogue models: item types, the crosswalk, areas, agencies, duties and powers.

Item types, the crosswalk and areas are reference data loaded from ``knowledge_base/`` and are not
edited in the portal. Agencies, duties and powers are published content: audited, and (duties)
going through the publication workflow. Editing a published duty creates a new draft *revision*
(``revision_of_id``); publishing the revision supersedes the duty it revises, so the lookup never
loses an answer while an edit is under review. All revisions of one duty share a ``lineage_id``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.audit import Audited
from portal.db import Base, TimestampMixin, utcnow
from portal.workflow import Publishable

ROLE_VALUES = ("owner", "maintainer", "supervisor", "enforcer")
SOURCE_VALUES = ("regulation", "ruling", "agreement")
LEVEL_VALUES = ("district", "street", "zone", "unit", "grid")
AGENCY_KIND_VALUES = ("government", "street_office", "utility", "property_company", "enterprise")
POWER_CATEGORY_VALUES = ("行政处罚", "行政强制", "行政检查", "行政许可", "其他")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ItemType(Base):
    """A management component (部件) or event (事件) of one classification scheme."""

    __tablename__ = "catalogue_item_types"
    __table_args__ = (
        UniqueConstraint("scheme", "kind", "code"),
        CheckConstraint(_in("kind", ("component", "event")), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(8), index=True)
    major_code: Mapped[str] = mapped_column(String(4))
    major_name: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    urgent_hours: Mapped[int | None] = mapped_column(Integer)
    normal_working_days: Mapped[int | None] = mapped_column(Integer)
    name_variants: Mapped[str] = mapped_column(String(200), default="")
    dept_hint: Mapped[str] = mapped_column(String(32), default="")
    related_code: Mapped[str] = mapped_column(String(8), default="")
    provenance: Mapped[str] = mapped_column(String(200), default="")

    @property
    def key(self) -> str:
        return f"{self.scheme}:{self.kind}:{self.code}"


class CrosswalkLink(Base):
    """Four-digit component → five-digit component (exact, renamed, split, approximate, none)."""

    __tablename__ = "catalogue_crosswalk"
    __table_args__ = (UniqueConstraint("from_item_id", "to_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item_types.id", ondelete="CASCADE"), index=True)
    to_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_item_types.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))

    from_item: Mapped[ItemType] = relationship(foreign_keys=[from_item_id])
    to_item: Mapped[ItemType | None] = relationship(foreign_keys=[to_item_id])


class Area(Base):
    """District, street, zone, unit (社区) or grid, with its GeoJSON polygon."""

    __tablename__ = "catalogue_areas"
    __table_args__ = (CheckConstraint(_in("level", LEVEL_VALUES), name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    depth: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="RESTRICT"), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    area_km2: Mapped[float | None] = mapped_column(Float)

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class Agency(TimestampMixin, Audited, Base):
    """A government department, street office, utility, enterprise or property company."""

    __tablename__ = "catalogue_agencies"
    __table_args__ = (CheckConstraint(_in("kind", AGENCY_KIND_VALUES), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(50), default="")
    kind: Mapped[str] = mapped_column(String(20), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="SET NULL"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="SET NULL"))
    supervision_phone: Mapped[str] = mapped_column(String(32), default="")
    phone_is_demo: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    kb_hash: Mapped[str | None] = mapped_column(String(64))

    parent: Mapped[Agency | None] = relationship(remote_side=[id])
    area: Mapped[Area | None] = relationship()

    @property
    def label(self) -> str:
        return self.short_name or self.name


class Duty(TimestampMixin, Publishable, Base):
    """权责条目: item type × area scope × role → agency, with legal basis and time limits."""

    __tablename__ = "catalogue_duties"
    __table_args__ = (
        Index("ix_catalogue_duties_lookup", "item_type_id", "area_id", "role"),
        CheckConstraint(_in("role", ROLE_VALUES), name="role"),
        CheckConstraint(_in("source_kind", SOURCE_VALUES), name="source_kind"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lineage_id: Mapped[int | None] = mapped_column(Integer, index=True)
    revision_of_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_duties.id", ondelete="SET NULL"))
    item_type_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item_types.id", ondelete="RESTRICT"))
    area_id: Mapped[int] = mapped_column(ForeignKey("catalogue_areas.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[int] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="RESTRICT"), index=True)
    citations: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    urgent_hours: Mapped[int | None] = mapped_column(Integer)
    normal_working_days: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    source_kind: Mapped[str] = mapped_column(String(16), default="regulation")
    source_id: Mapped[str | None] = mapped_column(String(64))
    source_ref: Mapped[str] = mapped_column(String(200), default="")
    # The date the legal basis was last checked by an editor: an article amended after it is stale.
    basis_reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    # Published despite colliding with another published duty: the lookup reports the conflict.
    conflict_forced: Mapped[bool] = mapped_column(Boolean, default=False)
    conflict_note: Mapped[str] = mapped_column(Text, default="")
    # Knowledge-base origin: stable key and the hash of what was last loaded from it.
    kb_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kb_hash: Mapped[str | None] = mapped_column(String(64))

    item_type: Mapped[ItemType] = relationship()
    area: Mapped[Area] = relationship()
    agency: Mapped[Agency] = relationship()
    revision_of: Mapped[Duty | None] = relationship(remote_side=[id])


class Power(TimestampMixin, Audited, Base):
    """权力事项 of the power list."""

    __tablename__ = "catalogue_powers"
    __table_args__ = (CheckConstraint(_in("category", POWER_CATEGORY_VALUES), name="category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(8), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("catalogue_agencies.id", ondelete="RESTRICT"), index=True)
    citations: Mapped[list[str]] = mapped_column(JSON, default=list)
    # 处罚幅度 of an administrative penalty, as the power list states it (e.g. 处五千元以上五万元以下罚款)
    penalty: Mapped[str] = mapped_column(Text, default="", server_default="")
    item_type_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    responsibilities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    accountability: Mapped[str] = mapped_column(Text, default="")
    accountability_citations: Mapped[list[str]] = mapped_column(JSON, default=list)
    kb_hash: Mapped[str | None] = mapped_column(String(64))

    holder: Mapped[Agency] = relationship()


class CatalogueState(Base):
    """One row whose token changes with every catalogue write: in-process caches key on it."""

    __tablename__ = "catalogue_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(36))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


_WATCHED = (ItemType, CrosswalkLink, Area, Agency, Duty, Power)


@event.listens_for(Session, "before_flush")
def _bump_catalogue_token(session: Session, _context: Any, _instances: Any) -> None:
    # Every flush that touches the catalogue gets a fresh token, so a cache built from an earlier
    # flush of the same transaction is never mistaken for the current state.
    touched = any(isinstance(obj, _WATCHED) for obj in (*session.new, *session.dirty, *session.deleted))
    if not touched:
        return
    state = session.get(CatalogueState, 1)
    if state is None:
        session.add(CatalogueState(id=1, token=uuid.uuid4().hex, changed_at=utcnow()))
    else:
        state.token = uuid.uuid4().hex
        state.changed_at = utcnow()
