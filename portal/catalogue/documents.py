"""Search documents of the catalogue: one ``duty`` document per item type that has duties.

A dispatcher searching 窨井盖 谁管 or 路灯 养护 should land on the item type's catalogue page, so
each document carries the item's names and aliases, its class, and for each role the agencies
and legal basis of its published duties in force today (district-wide entries first, then the
overrides with their area). Documents are keyed by item type id; any change to a duty or an item
type re-indexes its item type's document.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal import clock
from portal.catalogue.models import Agency, Area, Duty, ItemType
from portal.catalogue.resolution import ROLE_LABELS, ROLES
from portal.search.interfaces import IDocumentProvider, SearchDocument
from portal.workflow import State

DUTY = "duty"
SCHEME_SHORT = {"gbt30428": "四位码", "gb47678": "GB/T 47678.5-2026"}
KIND_LABELS = {"component": "部件", "event": "事件"}


def keys_of_duty(duty: Duty) -> Iterable[tuple[str, str]]:
    return [(DUTY, str(duty.item_type_id))] if duty.item_type_id else []


def keys_of_item_type(item: ItemType) -> Iterable[tuple[str, str]]:
    return [(DUTY, str(item.id))] if item.id else []


def item_type_path(item: ItemType) -> str:
    return f"/catalogue/item-types/{item.code}?scheme={item.scheme}&kind={item.kind}"


@implementer(IDocumentProvider)
class CatalogueDocumentProvider:
    doc_types = (DUTY,)
    # Asked for with type=duty and shown beside the regulations on /search: one query for 井盖
    # matches a dozen item types that would otherwise fill the first page.
    searched_by_default = ()

    def _published(self, today: dt.date) -> Any:
        return (
            Duty.state == State.PUBLISHED.value,
            or_(Duty.valid_from.is_(None), Duty.valid_from <= today),
            or_(Duty.valid_to.is_(None), Duty.valid_to >= today),
        )

    def documents(self, session: Session, doc_type: str, doc_ids: Iterable[str] | None = None) -> Iterator[SearchDocument]:
        today = clock.today()
        stmt = select(ItemType).where(
            ItemType.id.in_(select(Duty.item_type_id).where(*self._published(today)))
        )
        if doc_ids is not None:
            ids = [int(i) for i in doc_ids if str(i).isdigit()]
            if not ids:
                return
            stmt = stmt.where(ItemType.id.in_(ids))
        items = list(session.scalars(stmt.order_by(ItemType.id)))
        if not items:
            return
        rows = session.execute(
            select(Duty.item_type_id, Duty.role, Duty.citations, Duty.note, Agency.name, Area.name, Area.depth)
            .join(Agency, Duty.agency_id == Agency.id)
            .join(Area, Duty.area_id == Area.id)
            .where(Duty.item_type_id.in_([i.id for i in items]), *self._published(today))
            .order_by(Area.depth, Area.code)
        ).all()
        by_item: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            by_item[row.item_type_id].append(row)
        for item in items:
            lines = [f"{item.name}（{KIND_LABELS[item.kind]}，{item.major_name}）"]
            if item.aliases:
                lines.append("又称：" + "、".join(item.aliases))
            for role in ROLES:
                entries = [r for r in by_item[item.id] if r.role == role]
                if not entries:
                    continue
                agencies = []
                for entry in entries:
                    label = entry[4] if entry.depth == 0 else f"{entry[4]}（{entry[5]}）"
                    if label not in agencies:
                        agencies.append(label)
                citations = sorted({c for entry in entries for c in (entry.citations or ())})
                lines.append(f"{ROLE_LABELS[role]}：" + "、".join(agencies[:12])
                             + ("等" if len(agencies) > 12 else ""))
                if citations:
                    lines.append("依据：" + "；".join(citations))
            notes = sorted({entry.note for entry in by_item[item.id] if entry.note})
            lines.extend(notes[:5])
            yield SearchDocument(
                doc_type=DUTY,
                doc_id=str(item.id),
                title=f"{item.code} {item.name} · 权责（{SCHEME_SHORT[item.scheme]}）",
                body="\n".join(lines),
                url=item_type_path(item),
                extra={"code": item.code, "scheme": item.scheme, "kind": item.kind},
            )

    def count(self, session: Session, doc_type: str) -> int:
        today = clock.today()
        return session.scalar(
            select(func.count(func.distinct(Duty.item_type_id))).where(*self._published(today))
        ) or 0
