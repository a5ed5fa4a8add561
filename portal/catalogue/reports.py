"""Integrity reports of the catalogue: duties whose legal basis went stale, coverage of every
item type in every street (the gaps a dispatcher would hit), and citations the library cannot resolve.

Split from ``services.py``: reports read everything and change with what the centre audits, not
with the look-up or the editing workflow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal import clock
from portal.catalogue.calendar import CHINA_TZ
from portal.catalogue.interfaces import ICatalogueReports
from portal.catalogue.legal import (
    IN_FORCE,
    MISSING,
    NOT_YET_EFFECTIVE,
    REPEALED,
    UNRESOLVED,
    LegalBasisCache,
    LegalBasisResolver,
    article_lookup_for,
)
from portal.catalogue.models import Agency, Area, Duty, ItemType
from portal.catalogue.resolution import EVENT_ROLE_LABELS, ROLE_LABELS, ROLES, is_valid_on
from portal.catalogue.services import CatalogueService, caches, route_dict
from portal.catalogue.snapshot import PowerInfo, SnapshotCache, freshness
from portal.workflow import State


@dataclasses.dataclass(frozen=True)
class StaleFinding:
    duty_id: int
    item: str
    area: str
    role: str
    agency: str
    citation: str
    problem: str  # repealed | missing | amended | not_yet_effective | unresolved | no_basis
    detail: str = ""

    @property
    def stale(self) -> bool:
        return self.problem in ("repealed", "missing", "amended", "not_yet_effective")

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "stale": self.stale}


PROBLEM_LABELS = {
    "repealed": "所引法规已废止或失效",
    "missing": "所引条文不存在",
    "amended": "所引条文在审核后已修改",
    "not_yet_effective": "所引法规尚未施行",
    "unresolved": "法规库未收录（未解析）",
    "no_basis": "未填写法律依据",
}


@implementer(ICatalogueReports)
class CatalogueReports:
    def __init__(self, session: Session, *, article_lookup: Any = None, snapshot_cache: SnapshotCache | None = None,
                 legal_cache: LegalBasisCache | None = None) -> None:
        self.session = session
        self.article_lookup = article_lookup
        self.catalogue = CatalogueService(session, snapshot_cache)
        self.legal_cache = legal_cache or LegalBasisCache()

    def stale_basis(self, on: dt.date | None = None) -> list[StaleFinding]:
        on = on or clock.today()
        _, stamp = freshness(self.session)
        legal = LegalBasisResolver(self.article_lookup, self.legal_cache, stamp)
        rows = self.session.execute(
            select(Duty.id, Duty.citations, Duty.basis_reviewed_on, Duty.created_at, Duty.role,
                   ItemType.scheme, ItemType.code, ItemType.name, Area.code.label("area_code"),
                   Area.name.label("area_name"), Agency.name.label("agency_name"))
            .join(ItemType, Duty.item_type_id == ItemType.id)
            .join(Area, Duty.area_id == Area.id)
            .join(Agency, Duty.agency_id == Agency.id)
            .where(Duty.state == State.PUBLISHED.value, or_(Duty.valid_to.is_(None), Duty.valid_to >= on),
                   or_(Duty.valid_from.is_(None), Duty.valid_from <= on))
            .order_by(ItemType.code, Area.code, Duty.role, Duty.id)
        ).all()
        findings: list[StaleFinding] = []
        for row in rows:
            common = {"duty_id": row.id, "item": f"{row.code} {row.name}", "area": f"{row.area_code} {row.area_name}",
                      "role": ROLE_LABELS[row.role], "agency": row.agency_name}
            if not row.citations:
                findings.append(StaleFinding(citation="", problem="no_basis", **common))
                continue
            reviewed = row.basis_reviewed_on or row.created_at.astimezone(CHINA_TZ).date()
            for text in row.citations:
                now = legal.resolve(text, on)
                if now.status == UNRESOLVED:
                    findings.append(StaleFinding(citation=text, problem="unresolved", **common))
                elif now.status in (REPEALED, MISSING, NOT_YET_EFFECTIVE):
                    detail = now.status_label + (f"；现行条文：{now.replaced_by.citation}" if now.replaced_by else "")
                    findings.append(StaleFinding(citation=text, problem=now.status, detail=detail, **common))
                elif now.status == IN_FORCE and reviewed < on:
                    then = legal.resolve(text, reviewed)
                    if then.changed_on and reviewed < then.changed_on <= on:
                        findings.append(StaleFinding(
                            citation=text, problem="amended",
                            detail=f"{then.changed_on.isoformat()} 起条文有修改（依据审核于 {reviewed.isoformat()}）",
                            **common))
        return findings

    def coverage(self, at: dt.date | None = None, kind: str | None = None,
                 scheme: str | None = None) -> dict[str, Any]:
        """Does every item type answer at every street, per role, with a basis?

        By default all three item lists (the 85 four-digit components, the 153 five-digit
        components and the 250 events); ``scheme``/``kind`` narrow it. Required roles: for a
        component the owner, maintainer and supervisor; for an event the supervisor and a unit
        that handles it (处置 or 执法). A cell is a gap when a required role has no answer or a
        conflict, when the answering duty has no legal basis and is not an agreement that names
        its document, or when an event's enforcer has no 行政处罚 power naming the event. Answers
        through the crosswalk or the component relation count (the lookup gives them), and the
        report says which route each came through. Unresolved citations of the published
        catalogue and power list are listed too.
        """
        at = at or clock.today()
        snap = self.catalogue.snapshot()
        streets = sorted((a for a in snap.areas.values() if a.level == "street"), key=lambda a: a.code)
        wanted = [(sch, knd, label) for sch, knd, label in COVERAGE_LISTS
                  if (scheme is None or sch == scheme) and (kind is None or knd == kind)]
        penalties_by_key: dict[str, list[PowerInfo]] = {
            key: [p for p in powers if p.category == "行政处罚"] for key, powers in snap.powers_by_item.items()
        }
        lists: list[dict[str, Any]] = []
        missing: list[dict[str, Any]] = []
        total_gaps = 0
        routes_used: dict[str, int] = {}
        for list_scheme, list_kind, label in wanted:
            items = sorted((i for i in snap.items.values() if i.kind == list_kind and i.scheme == list_scheme),
                           key=lambda i: i.code)
            required = REQUIRED_ROLES[list_kind]
            rows = []
            gaps = 0
            for item in items:
                cells = []
                for street in streets:
                    answers = {a.role: a for a in snap.decide(item, street, at)}
                    problems: list[dict[str, str]] = []
                    agencies: dict[str, str] = {}
                    routes: dict[str, str] = {}
                    for role in ROLES:
                        answer = answers[role]
                        decision = answer.decision
                        if decision.conflicts:
                            problems.append({"role": role, "problem": "conflict"})
                            continue
                        if decision.winner is None:
                            continue
                        duty = decision.winner.payload
                        agencies[role] = snap.agencies[duty.agency_id].short_name
                        route = route_dict(answer.route, duty)["kind"]
                        routes[role] = route
                        routes_used[route] = routes_used.get(route, 0) + 1
                        if not duty.citations and not (duty.source_kind == "agreement" and duty.source_ref):
                            problems.append({"role": role, "problem": "no_basis"})
                    for role_set in required:
                        if not any(r in agencies for r in role_set) and not any(
                                p["role"] in role_set for p in problems):
                            problems.append({"role": "/".join(role_set), "problem": "missing"})
                    # a violation (an enforcer written for the event itself) must name its power;
                    # an "X异常" answered through component X is a fault of X, not a violation
                    enforcer = answers["enforcer"]
                    if (list_kind == "event" and "enforcer" in agencies and enforcer.route is not None
                            and enforcer.route.kind == "duty" and not penalties_by_key.get(item.key)):
                        problems.append({"role": "enforcer", "problem": "no_power"})
                    status = "ok" if not problems else (
                        "conflict" if any(p["problem"] == "conflict" for p in problems) else "missing")
                    if problems:
                        gaps += 1
                        for p in problems:
                            missing.append({"list": label, "item": item.as_dict(), "street": street.code,
                                            "street_name": street.name, "role": p["role"],
                                            "role_label": _roles_label(p["role"], list_kind),
                                            "problem": p["problem"],
                                            "problem_label": COVERAGE_PROBLEMS[p["problem"]]})
                    cells.append({"street": street.code, "status": status, "problems": problems,
                                  "agencies": agencies, "routes": routes,
                                  "agency": agencies.get("owner") or agencies.get("maintainer")
                                  or agencies.get("enforcer") or agencies.get("supervisor")})
                rows.append({"item": item.as_dict(), "cells": cells,
                             "complete": all(c["status"] == "ok" for c in cells)})
            total_gaps += gaps
            lists.append({"scheme": list_scheme, "kind": list_kind, "label": label, "items": len(items),
                          "gaps": gaps, "incomplete_items": sum(1 for r in rows if not r["complete"]),
                          "rows": rows})
        unresolved = self.unresolved_citations(at)
        return {
            "at": at,
            "scheme": scheme,
            "kind": kind,
            "streets": [s.as_dict() for s in streets],
            "lists": lists,
            # the single list's rows (what the report page showed before it covered three lists)
            "rows": [row for lst in lists for row in lst["rows"]],
            "gaps": total_gaps,
            "missing": missing,
            "routes": routes_used,
            "unresolved": unresolved,
            "duties": snap.duty_count,
            "powers": len(snap.powers),
        }

    def unresolved_citations(self, at: dt.date | None = None) -> list[dict[str, Any]]:
        """Citations of published duties and powers the library cannot resolve (distinct texts)."""
        at = at or clock.today()
        snap = self.catalogue.snapshot()
        _, stamp = freshness(self.session)
        legal = LegalBasisResolver(self.article_lookup, self.legal_cache, stamp)
        used: dict[str, list[str]] = {}
        for duties in snap.duties.values():
            for duty in duties:
                if is_valid_on(duty.valid_from, duty.valid_to, at):
                    for text in duty.citations:
                        used.setdefault(text, []).append(f"#{duty.id}")
        for power in snap.powers:
            for text in power.citations:
                used.setdefault(text, []).append(power.code)
        result = []
        for text in sorted(used):
            if legal.resolve(text, at).status == UNRESOLVED:
                result.append({"citation": text, "used_by": used[text][:10], "uses": len(used[text])})
        return result


COVERAGE_LISTS: tuple[tuple[str, str, str], ...] = (
    ("gbt30428", "component", "四位码部件"),
    ("gb47678", "component", "五位码部件"),
    ("gb47678", "event", "五位码事件"),
)
#: each tuple is one requirement: any of its roles answers it
REQUIRED_ROLES: dict[str, tuple[tuple[str, ...], ...]] = {
    "component": (("owner",), ("maintainer",), ("supervisor",)),
    "event": (("supervisor",), ("maintainer", "enforcer")),
}
COVERAGE_PROBLEMS: dict[str, str] = {
    "missing": "未配置",
    "conflict": "存在冲突",
    "no_basis": "无法律依据且非具名协议",
    "no_power": "违法行为有执法单位，但权力清单无对应的行政处罚事项",
}


def _roles_label(roles: str, kind: str) -> str:
    labels = EVENT_ROLE_LABELS if kind == "event" else ROLE_LABELS
    return "或".join(labels[r] for r in roles.split("/"))


def reports_factory(context: Any, request: Any) -> CatalogueReports:
    snapshot_cache, legal_cache = caches(request.registry)
    return CatalogueReports(request.dbsession, article_lookup=article_lookup_for(request),
                            snapshot_cache=snapshot_cache, legal_cache=legal_cache)

