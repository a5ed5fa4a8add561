"""Arbitration views: HTML pages (:mod:`.html`) and the JSON API (:mod:`.api`), both thin.

The helpers here turn rows into what both surfaces show. ``public=True`` output (rulings for
everyone) never carries the parties' positions, evidence or anything of a ruling not published.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyramid.request import Request
from sqlalchemy import select

from portal.arbitration.interfaces import IArbitrationService
from portal.arbitration.models import Dispute, Expert, Ruling
from portal.arbitration.services import CHOICE_LABELS, SCOPE_LABELS, STAGE_LABELS
from portal.catalogue.models import Agency, ItemType
from portal.catalogue.resolution import ROLE_LABELS

_MAX_ID = 2**31 - 1


def arbitration(request: Request) -> Any:
    return request.find_service(IArbitrationService)


def path_id(request: Request, name: str = "id") -> int:
    raw = request.matchdict.get(name, "")
    value = int(raw) if raw.isdigit() else 0
    if not 0 < value <= _MAX_ID:
        from portal.errors import NotFound

        raise NotFound("未找到。")
    return value


def specialty_names(request: Request) -> dict[str, str]:
    """Major class code → name (01 → 公用设施), from the classification."""
    cache = request.registry.get("arbitration.majors")
    if cache is None:
        rows = request.dbsession.execute(
            select(ItemType.major_code, ItemType.major_name).where(ItemType.scheme == "gbt30428").distinct()).all()
        cache = dict(sorted(rows))
        if cache:
            request.registry["arbitration.majors"] = cache
    return cache


def expert_public(request: Request, expert: Expert) -> dict[str, Any]:
    names = specialty_names(request)
    return {"id": expert.id, "name": expert.name, "specialties": list(expert.specialties or []),
            "specialty_names": [names.get(s, s) for s in expert.specialties or []]}


def _agencies(request: Request, codes: list[str]) -> dict[str, Agency]:
    if not codes:
        return {}
    return {a.code: a for a in request.dbsession.scalars(select(Agency).where(Agency.code.in_(codes)))}


def decisions_out(request: Request, ruling: Ruling) -> list[dict[str, Any]]:
    agencies = _agencies(request, [d["agency"] for d in ruling.decisions or ()])
    out = []
    for d in ruling.decisions or ():
        agency = agencies.get(d["agency"])
        out.append({"role": d["role"], "role_label": ROLE_LABELS.get(d["role"], d["role"]),
                    "agency": {"code": d["agency"], "name": agency.name if agency else d["agency"]},
                    "note": d.get("note") or ""})
    return out


def legal_basis(request: Request, citations: list[str], on: dt.date | None) -> list[dict[str, Any]]:
    """Citations resolved through the regulations library, the way duties' citations are."""
    from portal.catalogue.legal import LegalBasisResolver, article_lookup_for

    resolver = LegalBasisResolver(article_lookup_for(request), request=request)
    day = on or dt.date.today()
    return [resolver.resolve(text, day).as_dict() for text in citations or ()]


def ruling_summary(request: Request, ruling: Ruling) -> dict[str, Any]:
    service = arbitration(request)
    dispute = ruling.dispute
    street = dispute.street
    return {
        "id": ruling.id,
        "number": service.reference(ruling) if ruling.number else "",
        "short_number": ruling.number,
        "title": ruling.title,
        "item_type": {"code": dispute.item_type.code, "name": dispute.item_type.name},
        "scope": ruling.scope,
        "scope_label": SCOPE_LABELS[ruling.scope],
        "scope_area": {"code": ruling.scope_area.code, "name": ruling.scope_area.name},
        "street": {"code": street.code, "name": street.name} if street else None,
        "effective_date": ruling.effective_date,
        "published_at": ruling.published_at,
        "state": ruling.state,
        "url": request.route_url("arbitration.ruling", id=ruling.id),
        "pdf_url": request.route_url("arbitration.ruling_pdf", id=ruling.id),
    }


def ruling_dict(request: Request, ruling: Ruling) -> dict[str, Any]:
    """The ruling as published: no positions of the parties, no evidence, no internal notes."""
    service = arbitration(request)
    dispute = ruling.dispute
    seats = sorted(dispute.active_seats, key=lambda s: (not s.chair, s.id))
    votes = {v.expert_id: v for v in ruling.round_votes()}
    dissents = [{"expert": v.expert.name, "choice": v.choice, "opinion": v.opinion}
                for v in ruling.round_votes() if v.choice == "dissent"]
    return {
        **ruling_summary(request, ruling),
        "question": dispute.question,
        "dispute_number": dispute.number,
        "location_note": dispute.location_note,
        "parties": [{"code": p.agency.code, "name": p.agency.name} for p in dispute.parties],
        "decisions": decisions_out(request, ruling),
        "reasoning": ruling.reasoning,
        "legal_basis": legal_basis(request, ruling.citations, ruling.effective_date),
        "panel": [{"name": s.expert.name, "chair": s.chair,
                   "vote": CHOICE_LABELS.get(votes[s.expert_id].choice) if s.expert_id in votes else None}
                  for s in seats],
        "majority": {"concur": ruling.concur, "dissent": ruling.dissent},
        "dissents": dissents,
        "ruled_at": ruling.ruled_at,
        "ruled_on": china_date(ruling.ruled_at),
        "inspected_on": dispute.inspected_on,
        "filed_on": china_date(dispute.filed_at),
        "duties": [{"id": d.id, "role": d.role, "agency": d.agency.code, "area": d.area.code, "state": d.state,
                    "url": request.route_url("catalogue.api.duty", id=d.id)}
                   for d in service.decided_duties(ruling)],
        "withdrawn_reason": ruling.withdrawn_reason or None,
    }


def dispute_dict(request: Request, dispute: Dispute) -> dict[str, Any]:
    """The dispute file for clerks and its panel (never public)."""
    ruling = dispute.ruling
    return {
        "id": dispute.id,
        "number": dispute.number,
        "title": dispute.title,
        "question": dispute.question,
        "stage": dispute.stage,
        "stage_label": STAGE_LABELS[dispute.stage],
        "stage_due": dispute.stage_due,
        "overdue": dispute.overdue(),
        "item_type": {"code": dispute.item_type.code, "name": dispute.item_type.name},
        "area": {"code": dispute.area.code, "name": dispute.area.name},
        "parties": [{"agency": {"code": p.agency.code, "name": p.agency.name}, "position": p.position,
                     "bounces": p.bounces} for p in dispute.parties],
        "panel": [{"expert_id": s.expert_id, "name": s.expert.name, "chair": s.chair,
                   "recused": s.recused_at is not None, "recusal_reason": s.recusal_reason} for s in dispute.panel],
        "cases": sorted(c.case_id for c in dispute.cases),
        "evidence": [{"id": e.id, "filename": e.filename, "content_type": e.content_type, "size": e.size,
                      "sha256": e.sha256,
                      "url": request.route_url("arbitration.evidence", id=dispute.id, evidence_id=e.id)}
                     for e in dispute.evidence],
        "ruling": None if ruling is None else {
            "id": ruling.id, "state": ruling.state, "round": ruling.round, "number": ruling.number or None,
            "decisions": ruling.decisions, "reasoning": ruling.reasoning, "citations": ruling.citations,
            "scope": ruling.scope, "scope_area": ruling.scope_area.code,
            "votes": [{"expert": v.expert.name, "round": v.round, "choice": v.choice, "opinion": v.opinion}
                      for v in ruling.votes],
        },
        "url": request.route_url("arbitration.dispute", id=dispute.id),
    }


def china_date(moment: dt.datetime | None) -> dt.date | None:
    from portal.catalogue.calendar import CHINA_TZ

    return moment.astimezone(CHINA_TZ).date() if moment is not None else None


def china_time(moment: dt.datetime | None) -> str:
    """A moment as the clerks read it: China time, to the minute."""
    from portal.catalogue.calendar import CHINA_TZ

    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if moment is not None else "—"


def template_globals() -> dict[str, Any]:
    from portal.catalogue.views import LEVEL_LABELS

    return {"china_time": china_time, "china_date": china_date,"STAGE_LABELS": STAGE_LABELS, "SCOPE_LABELS": SCOPE_LABELS, "CHOICE_LABELS": CHOICE_LABELS,
            "ROLE_LABELS": ROLE_LABELS, "LEVEL_LABELS": LEVEL_LABELS}
