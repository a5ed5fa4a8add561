"""Search documents of the arbitration domain: one ``ruling`` document per published ruling.

A dispatcher or a resident asks in everyday words (小区里的雨水井盖坏了归谁管, 河边废弃的亭子谁拆):
the document carries the item type's names and aliases, the places, the question, the decision
per role, the reasoning and the citations. Only published rulings are indexed; a ruling that is
withdrawn disappears from the index with the change that withdrew it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from zope.interface import implementer

from portal.arbitration.models import Dispute, DisputeParty, Ruling
from portal.arbitration.services import DEFAULT_PREFIX, SCOPE_LABELS
from portal.catalogue.models import Agency
from portal.catalogue.resolution import ROLE_LABELS
from portal.search.interfaces import IDocumentProvider, SearchDocument
from portal.workflow import State

RULING = "ruling"


def keys_of_ruling(ruling: Ruling) -> Iterable[tuple[str, str]]:
    return [(RULING, str(ruling.id))] if ruling.id else []


def keys_of_dispute(dispute: Dispute) -> Iterable[tuple[str, str]]:
    # The question and the place of a ruling live on its dispute. Only an already loaded ruling is
    # looked at: this runs inside a flush, where a lazy load must not be started.
    ruling = dispute.__dict__.get("ruling")
    return [(RULING, str(ruling.id))] if ruling is not None and ruling.id else []


@implementer(IDocumentProvider)
class RulingDocumentProvider:
    doc_types = (RULING,)
    # Reached with type=ruling and shown in a box beside the regulations on /search (like duties).
    searched_by_default = ()

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def documents(self, session: Session, doc_type: str, doc_ids: Iterable[str] | None = None) -> Iterator[SearchDocument]:
        stmt = (select(Ruling).where(Ruling.state == State.PUBLISHED.value)
                .options(selectinload(Ruling.dispute).selectinload(Dispute.item_type),
                         selectinload(Ruling.dispute).selectinload(Dispute.area),
                         selectinload(Ruling.dispute).selectinload(Dispute.parties).selectinload(DisputeParty.agency),
                         selectinload(Ruling.scope_area))
                .order_by(Ruling.id))
        if doc_ids is not None:
            ids = [int(i) for i in doc_ids if str(i).isdigit()]
            if not ids:
                return
            stmt = stmt.where(Ruling.id.in_(ids))
        rulings = list(session.scalars(stmt))
        codes = {d["agency"] for r in rulings for d in r.decisions or ()}
        agencies = {a.code: a.name for a in session.scalars(select(Agency).where(Agency.code.in_(codes)))} if codes else {}
        for ruling in rulings:
            dispute = ruling.dispute
            item = dispute.item_type
            number = f"{self.prefix}{ruling.number}"
            lines = [number, ruling.title, dispute.question,
                     f"{item.name}（{item.major_name}）" + (f"，又称{'、'.join(item.aliases)}" if item.aliases else ""),
                     f"地点：{dispute.area.name}" + (f"，{dispute.location_note}" if dispute.location_note else ""),
                     f"适用范围：{SCOPE_LABELS[ruling.scope]}（{ruling.scope_area.name}）",
                     "当事方：" + "、".join(p.agency.name for p in dispute.parties)]
            for decision in ruling.decisions or ():
                lines.append(f"{ROLE_LABELS.get(decision['role'], decision['role'])}："
                             f"{agencies.get(decision['agency'], decision['agency'])}"
                             + (f"（{decision['note']}）" if decision.get("note") else ""))
            lines.append(ruling.reasoning)
            if ruling.citations:
                lines.append("依据：" + "；".join(ruling.citations))
            yield SearchDocument(
                doc_type=RULING, doc_id=str(ruling.id), title=f"{number} {ruling.title}", body="\n".join(lines),
                url=f"/rulings/{ruling.id}", valid_from=ruling.effective_date,
                extra={"number": ruling.number, "item_code": item.code, "effective_date":
                       ruling.effective_date.isoformat() if ruling.effective_date else ""},
            )

    def count(self, session: Session, doc_type: str) -> int:
        return session.scalar(select(func.count(Ruling.id)).where(Ruling.state == State.PUBLISHED.value)) or 0


def provider_for(settings: dict[str, Any]) -> RulingDocumentProvider:
    return RulingDocumentProvider(str(settings.get("arbitration.document_prefix") or DEFAULT_PREFIX))
