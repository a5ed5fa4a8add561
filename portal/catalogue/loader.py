"""``portal load-kb`` for the catalogue: knowledge_base/ → database, idempotently.

* Item types, the crosswalk and areas are reference data: inserted or updated to match the files.
* Agencies, duties and powers remember a hash of the content they were last loaded with
  (``kb_hash``). On the next load a row is updated only if the files changed **and** nobody changed
  the row in the portal since (its current content still hashes to ``kb_hash``). A duty an editor
  revised, withdrew or superseded is left alone. Nothing is ever deleted.
* A second load with unchanged files writes nothing at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import clock
from portal.catalogue.kb import KnowledgeBase, read_knowledge_base
from portal.catalogue.models import Agency, Area, CrosswalkLink, Duty, ItemType, Power
from portal.catalogue.resolution import LEVEL_DEPTH
from portal.db import utcnow
from portal.workflow import State


def content_hash(values: dict[str, Any]) -> str:
    text = json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _set(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


class CatalogueLoader:
    def __init__(self, session: Session, kb: KnowledgeBase, *, today: dt.date | None = None) -> None:
        self.session = session
        self.kb = kb
        self.today = today or clock.today()
        self.stats: Counter[str] = Counter()

    # -- reference data ---------------------------------------------------------------------

    def load_item_types(self) -> dict[str, int]:
        existing = {(i.scheme, i.kind, i.code): i for i in self.session.scalars(select(ItemType))}
        for record in self.kb.item_types:
            values = {
                "major_code": record.major_code, "major_name": record.major_name, "name": record.name,
                "aliases": list(record.aliases), "urgent_hours": record.urgent_hours,
                "normal_working_days": record.normal_working_days, "name_variants": record.name_variants,
                "dept_hint": record.dept_hint, "related_code": record.related_code,
                "provenance": record.provenance,
            }
            row = existing.get((record.scheme, record.kind, record.code))
            if row is None:
                row = ItemType(scheme=record.scheme, kind=record.kind, code=record.code, **values)
                self.session.add(row)
                existing[(record.scheme, record.kind, record.code)] = row
                self.stats["item types added"] += 1
            elif _set(row, values):
                self.stats["item types updated"] += 1
        self.session.flush()
        return {f"{k[0]}:{k[1]}:{k[2]}": row.id for k, row in existing.items()}

    def load_crosswalk(self, items: dict[str, int]) -> None:
        existing = {(c.from_item_id, c.to_item_id): c for c in self.session.scalars(select(CrosswalkLink))}
        for record in self.kb.crosswalk:
            source = items[f"{record.from_scheme}:component:{record.from_code}"]
            target = items.get(f"{record.to_scheme}:component:{record.to_code}") if record.to_code else None
            row = existing.get((source, target))
            if row is None:
                self.session.add(CrosswalkLink(from_item_id=source, to_item_id=target, kind=record.kind))
                self.stats["crosswalk links added"] += 1
            elif row.kind != record.kind:
                row.kind = record.kind
        self.session.flush()

    def load_areas(self) -> dict[str, int]:
        existing = {a.code: a for a in self.session.scalars(select(Area))}
        ids: dict[str, int] = {}
        for record in sorted(self.kb.areas, key=lambda a: LEVEL_DEPTH[a.level]):
            parent_id = existing[record.parent_code].id if record.parent_code else None
            values = {"level": record.level, "depth": LEVEL_DEPTH[record.level], "name": record.name,
                      "parent_id": parent_id, "geometry": record.geometry, "area_km2": record.area_km2}
            row = existing.get(record.code)
            if row is None:
                row = Area(code=record.code, **values)
                self.session.add(row)
                existing[record.code] = row
                self.session.flush()
                self.stats["areas added"] += 1
            elif _set(row, values):
                self.stats["areas updated"] += 1
            ids[record.code] = row.id
        self.session.flush()
        return {code: row.id for code, row in existing.items()}

    # -- published content ------------------------------------------------------------------

    def load_agencies(self, areas: dict[str, int]) -> dict[str, int]:
        existing = {a.code: a for a in self.session.scalars(select(Agency))}
        codes_by_id = {a.id: a.code for a in existing.values()}
        area_codes = {v: k for k, v in areas.items()}

        def current(row: Agency) -> dict[str, Any]:
            return {
                "name": row.name, "short_name": row.short_name, "kind": row.kind,
                "parent": codes_by_id.get(row.parent_id) if row.parent_id else None,
                "area": area_codes.get(row.area_id) if row.area_id else None,
                "supervision_phone": row.supervision_phone, "phone_is_demo": row.phone_is_demo,
                "tags": list(row.tags or ()), "unit_codes": list(row.unit_codes or ()), "note": row.note,
            }

        pending_parents: list[tuple[Agency, str | None]] = []
        for record in self.kb.agencies:
            wanted = {
                "name": record.name, "short_name": record.short_name, "kind": record.kind,
                "parent": record.parent_code, "area": record.area_code,
                "supervision_phone": record.supervision_phone, "phone_is_demo": record.phone_is_demo,
                "tags": list(record.tags), "unit_codes": list(record.unit_codes), "note": record.note,
            }
            digest = content_hash(wanted)
            row = existing.get(record.code)
            if row is not None and row.kb_hash == digest:
                continue
            if row is not None and content_hash(current(row)) != row.kb_hash:
                self.stats["agencies kept (edited in portal)"] += 1
                continue
            fields: dict[str, Any] = {k: v for k, v in wanted.items() if k not in ("parent", "area")}
            fields["area_id"] = areas.get(record.area_code) if record.area_code else None
            if row is None:
                row = Agency(code=record.code, kb_hash=digest, **fields)
                self.session.add(row)
                existing[record.code] = row
                self.stats["agencies added"] += 1
            else:
                _set(row, fields)
                row.kb_hash = digest
                self.stats["agencies updated"] += 1
            pending_parents.append((row, record.parent_code))
        self.session.flush()
        for row, parent_code in pending_parents:
            parent_id = existing[parent_code].id if parent_code else None
            if row.parent_id != parent_id:
                row.parent_id = parent_id
        self.session.flush()
        return {code: row.id for code, row in existing.items()}

    def load_duties(self, items: dict[str, int], areas: dict[str, int], agencies: dict[str, int]) -> None:
        existing = {d.kb_key: d for d in self.session.scalars(select(Duty).where(Duty.kb_key.is_not(None)))}
        item_keys = {v: k for k, v in items.items()}
        area_codes = {v: k for k, v in areas.items()}
        agency_codes = {v: k for k, v in agencies.items()}
        revised = {
            d.revision_of_id for d in self.session.scalars(select(Duty).where(Duty.revision_of_id.is_not(None)))
        }

        def current(row: Duty) -> dict[str, Any]:
            return {
                "item": item_keys.get(row.item_type_id), "area": area_codes.get(row.area_id), "role": row.role,
                "agency": agency_codes.get(row.agency_id), "citations": list(row.citations or ()),
                "note": row.note, "urgent_hours": row.urgent_hours,
                "normal_working_days": row.normal_working_days, "valid_from": row.valid_from,
                "valid_to": row.valid_to, "source_kind": row.source_kind, "source_ref": row.source_ref,
            }

        now = utcnow()
        for record in self.kb.duties:
            wanted = {
                "item": record.item_key, "area": record.area_code, "role": record.role,
                "agency": record.agency_code, "citations": list(record.citations), "note": record.note,
                "urgent_hours": record.urgent_hours, "normal_working_days": record.normal_working_days,
                "valid_from": record.valid_from, "valid_to": record.valid_to,
                "source_kind": record.source_kind, "source_ref": record.source_ref,
            }
            digest = content_hash(wanted)
            row = existing.get(record.key)
            if row is not None and row.kb_hash == digest:
                continue
            fields = {
                "item_type_id": items[record.item_key], "area_id": areas[record.area_code], "role": record.role,
                "agency_id": agencies[record.agency_code], "citations": list(record.citations),
                "note": record.note, "urgent_hours": record.urgent_hours,
                "normal_working_days": record.normal_working_days, "valid_from": record.valid_from,
                "valid_to": record.valid_to, "source_kind": record.source_kind, "source_ref": record.source_ref,
            }
            if row is None:
                row = Duty(kb_key=record.key, kb_hash=digest, state=State.PUBLISHED.value, published_at=now,
                           basis_reviewed_on=self.today, **fields)
                self.session.add(row)
                self.stats["duties added"] += 1
                continue
            edited = content_hash(current(row)) != row.kb_hash
            if edited or row.state != State.PUBLISHED.value or row.id in revised:
                self.stats["duties kept (edited in portal)"] += 1
                continue
            _set(row, fields)
            row.kb_hash = digest
            row.basis_reviewed_on = self.today
            self.stats["duties updated"] += 1
        self.session.flush()
        # lineage of fresh rows is themselves
        for row in self.session.scalars(select(Duty).where(Duty.lineage_id.is_(None))):
            row.lineage_id = row.id
        known = {d.key for d in self.kb.duties}
        orphans = sum(1 for key in existing if key not in known)
        if orphans:
            self.stats["duties no longer in knowledge base (kept)"] += orphans
        self.session.flush()

    def load_powers(self, agencies: dict[str, int]) -> None:
        existing = {p.code: p for p in self.session.scalars(select(Power))}
        agency_codes = {v: k for k, v in agencies.items()}

        def as_values(name: str, category: str, holder: str | None, citations: Iterable[str], keys: Iterable[str],
                      responsibilities: list[dict[str, Any]], accountability: str, acc_citations: Iterable[str],
                      penalty: str | None) -> dict[str, Any]:
            values = {"name": name, "category": category, "holder": holder, "citations": list(citations),
                      "item_type_keys": list(keys), "responsibilities": responsibilities,
                      "accountability": accountability, "accountability_citations": list(acc_citations)}
            # only hashed when set, so powers loaded before the field existed keep their hash
            if penalty:
                values["penalty"] = penalty
            return values

        for record in self.kb.powers:
            responsibilities = [{"name": r.name, "text": r.text, "citations": list(r.citations)}
                                for r in record.responsibilities]
            wanted = as_values(record.name, record.category, record.holder_code, record.citations,
                               record.item_keys, responsibilities, record.accountability,
                               record.accountability_citations, record.penalty)
            digest = content_hash(wanted)
            row = existing.get(record.code)
            if row is not None and row.kb_hash == digest:
                continue
            if row is not None:
                now_values = as_values(row.name, row.category, agency_codes.get(row.holder_id), row.citations,
                                       row.item_type_keys, row.responsibilities, row.accountability,
                                       row.accountability_citations, row.penalty)
                if content_hash(now_values) != row.kb_hash:
                    self.stats["powers kept (edited in portal)"] += 1
                    continue
            fields = {k: v for k, v in wanted.items() if k != "holder"}
            fields["holder_id"] = agencies[record.holder_code]
            if row is None:
                self.session.add(Power(code=record.code, kb_hash=digest, **fields))
                self.stats["powers added"] += 1
            else:
                _set(row, fields)
                row.kb_hash = digest
                self.stats["powers updated"] += 1
        self.session.flush()

    def run(self) -> Counter[str]:
        items = self.load_item_types()
        self.load_crosswalk(items)
        areas = self.load_areas()
        agencies = self.load_agencies(areas)
        self.load_duties(items, areas, agencies)
        self.load_powers(agencies)
        return self.stats


def load_catalogue(session: Session, root: str | Path | None = None, *, today: dt.date | None = None) -> Counter[str]:
    """Load the catalogue part of the knowledge base at ``root`` into ``session``."""
    kb = read_knowledge_base(root)
    previous = session.info.get("audit_comment")
    session.info["audit_comment"] = "load-kb: knowledge_base/"
    try:
        return CatalogueLoader(session, kb, today=today).run()
    finally:
        if previous is None:
            session.info.pop("audit_comment", None)
        else:
            session.info["audit_comment"] = previous


def kb_loader(context: Any) -> str:
    """The ``catalogue`` loader registered with ``config.add_kb_loader``."""
    stats = load_catalogue(context.session, context.knowledge_base)
    if not stats:
        return "无变化"
    return "，".join(f"{name} {count}" for name, count in sorted(stats.items()))
