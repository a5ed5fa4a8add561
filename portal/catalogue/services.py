"""Catalogue services: reading the reference data and the dispatch look-up, which share the
snapshot and legal-basis caches. Editing with review lives in ``editing.py``, the integrity reports
in ``reports.py``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from zope.interface import implementer

from portal import clock
from portal.catalogue.calendar import CHINA_TZ, LimitUnit, TimeLimit, WorkingCalendar, calendar_note
from portal.catalogue.interfaces import ICatalogueService, IResponsibilityService
from portal.catalogue.legal import LegalBasis, LegalBasisCache, LegalBasisResolver, article_lookup_for
from portal.catalogue.models import Agency, Area, Duty, ItemType, Power
from portal.catalogue.resolution import (
    EVENT_ROLE_LABELS,
    LEVEL_DEPTH,
    ROLE_LABELS,
    ROLES,
    ROUTE_LABELS,
    SOURCE_LABELS,
)
from portal.catalogue.snapshot import (
    AreaInfo,
    CatalogueSnapshot,
    FreshnessGate,
    ItemInfo,
    PowerInfo,
    Route,
    SessionProvider,
    SnapshotCache,
    as_session,
    freshness,
)
from portal.errors import InvalidInput, NotFound
from portal.regulations.citations import citation_path, parse_citation
from portal.workflow import State

SNAPSHOT_CACHE_KEY = "portal.catalogue.snapshot_cache"
LEGAL_CACHE_KEY = "portal.catalogue.legal_cache"


def caches(registry: Any) -> tuple[SnapshotCache, LegalBasisCache]:
    """The process-wide caches kept in the registry (one per application)."""
    snapshot_cache = registry.get(SNAPSHOT_CACHE_KEY) if registry is not None else None
    legal_cache = registry.get(LEGAL_CACHE_KEY) if registry is not None else None
    if snapshot_cache is None:
        snapshot_cache = SnapshotCache()
        if registry is not None:
            registry[SNAPSHOT_CACHE_KEY] = snapshot_cache
    if legal_cache is None:
        legal_cache = LegalBasisCache()
        if registry is not None:
            registry[LEGAL_CACHE_KEY] = legal_cache
    return snapshot_cache, legal_cache


# =========================================================================== reading


@implementer(ICatalogueService)
class CatalogueService:
    def __init__(self, session: Session | SessionProvider, snapshot_cache: SnapshotCache | None = None,
                 freshness_check: Callable[[], tuple[str, int]] | None = None) -> None:
        # A callable is opened only when the database is really needed (cache misses).
        self._session_source = session
        self.snapshot_cache = snapshot_cache or SnapshotCache()
        self.freshness_check = freshness_check

    @property
    def session(self) -> Session:
        if not isinstance(self._session_source, Session):
            self._session_source = as_session(self._session_source)
        return self._session_source

    def snapshot(self, token: str | None = None) -> CatalogueSnapshot:
        if token is None and self.freshness_check is not None:
            token = self.freshness_check()[0]
        return self.snapshot_cache.get(lambda: self.session, token)

    # -- item types -------------------------------------------------------------------------

    def item_types(self, kind: str | None = None, scheme: str | None = None, major_code: str | None = None,
                   q: str | None = None) -> list[ItemType]:
        stmt = select(ItemType)
        if kind:
            stmt = stmt.where(ItemType.kind == kind)
        if scheme:
            stmt = stmt.where(ItemType.scheme == scheme)
        if major_code:
            stmt = stmt.where(ItemType.major_code == major_code)
        rows = list(self.session.scalars(stmt.order_by(ItemType.scheme.desc(), ItemType.kind, ItemType.code)))
        if q:
            wanted = {item.id for item in self.snapshot().find_items(q, limit=10_000, kind=kind, scheme=scheme)}
            rows = [r for r in rows if r.id in wanted]
        return rows

    def resolve_item_info(self, value: str | ItemInfo, scheme: str | None = None,
                          kind: str | None = None, snap: CatalogueSnapshot | None = None) -> ItemInfo:
        if isinstance(value, ItemInfo):
            return value
        snap = snap or self.snapshot()
        text = str(value or "").strip()
        if not text:
            raise InvalidInput("请指定部件或事件类型。", fields={"item_type": ["必填。"]})
        if text.count(":") == 2:
            item = snap.item_by_key.get(text)
            if item is None:
                raise NotFound(f"未找到部件/事件类型 {text}。", code="item_type_not_found")
            return item
        candidates = [
            i for i in snap.items_by_code.get(text, ())
            if (scheme is None or i.scheme == scheme) and (kind is None or i.kind == kind)
        ]
        if not candidates:
            # a name typed in full (上水井盖) is as good as a code
            found = snap.find_items(text, limit=50, kind=kind, scheme=scheme)
            named = [i for i in found if i.name == text] or [i for i in found if text in i.aliases]
            if len(named) == 1:
                return named[0]
            candidates = named
        if not candidates:
            raise NotFound(f"未找到部件/事件类型“{text}”。", code="item_type_not_found",
                           fields={"item_type": ["未知的部件或事件编码。"]})
        if len(candidates) > 1:
            # GB/T 47678.5 gives components and events the same numbers; a component is meant
            # unless the caller says kind=event.
            components = [c for c in candidates if c.kind == "component"]
            if kind is None and len(components) == 1 and text.isdigit():
                return components[0]
            raise InvalidInput(
                f"“{text}”对应多个类型，请指定 scheme 或 kind。",
                code="ambiguous_item_type",
                fields={"item_type": [f"{c.key} {c.name}" for c in candidates]},
            )
        return candidates[0]

    def item_type(self, code: str, scheme: str | None = None, kind: str | None = None) -> ItemType:
        info = self.resolve_item_info(code, scheme, kind)
        return self.session.get(ItemType, info.id)  # type: ignore[return-value]

    def find_item_types(self, text: str, limit: int = 10, kind: str | None = None,
                        scheme: str | None = None) -> list[ItemInfo]:
        return self.snapshot().find_items(text, limit=limit, kind=kind, scheme=scheme)

    def crosswalk_of(self, item: ItemType) -> list[tuple[ItemInfo, str]]:
        snap = self.snapshot()
        info = snap.items.get(item.id)
        return snap.counterparts(info) if info else []

    def duties_of(self, item: ItemType, *, public_only: bool = True) -> list[Duty]:
        stmt = (
            select(Duty)
            .options(joinedload(Duty.area), joinedload(Duty.agency))
            .where(Duty.item_type_id == item.id)
        )
        if public_only:
            stmt = stmt.where(Duty.is_public())
        else:
            stmt = stmt.where(Duty.state.in_([State.DRAFT.value, State.PENDING.value, State.PUBLISHED.value]))
        rows = list(self.session.scalars(stmt))
        rows.sort(key=lambda d: (d.area.depth, d.area.code, ROLES.index(d.role), d.valid_from or dt.date.min))
        return rows

    def powers_of(self, item: ItemType) -> list[Power]:
        return [p for p in self.powers() if item.key in (p.item_type_keys or ())]

    def powers(self, category: str | None = None) -> list[Power]:
        stmt = select(Power).options(joinedload(Power.holder)).order_by(Power.code)
        if category:
            stmt = stmt.where(Power.category == category)
        return list(self.session.scalars(stmt))

    def power(self, code: str) -> Power:
        power = self.session.scalar(select(Power).where(Power.code == code))
        if power is None:
            raise NotFound(f"未找到权力事项 {code}。")
        return power

    # -- agencies and areas -------------------------------------------------------------------

    def agencies(self, kind: str | None = None) -> list[Agency]:
        stmt = select(Agency).options(joinedload(Agency.parent), joinedload(Agency.area))
        if kind:
            stmt = stmt.where(Agency.kind == kind)
        order = {k: i for i, k in enumerate(("government", "street_office", "utility", "enterprise",
                                              "property_company"))}
        return sorted(self.session.scalars(stmt), key=lambda a: (order.get(a.kind, 9), a.code))

    def agency(self, code: str) -> Agency:
        agency = self.session.scalar(select(Agency).where(Agency.code == code))
        if agency is None:
            raise NotFound(f"未找到单位 {code}。", code="agency_not_found")
        return agency

    def area(self, code: str) -> Area:
        area = self.session.scalar(select(Area).where(Area.code == code))
        if area is None:
            raise NotFound(f"未找到区域 {code}。", code="area_not_found")
        return area

    def area_info(self, code: str, snap: CatalogueSnapshot | None = None) -> AreaInfo:
        info = (snap or self.snapshot()).area_by_code.get(str(code))
        if info is None:
            raise NotFound(f"未找到区域 {code}。", code="area_not_found",
                           fields={"area": ["未知的区域编码。"]})
        return info

    def area_tree(self, max_level: str = "grid") -> list[dict[str, Any]]:
        snap = self.snapshot()
        limit = LEVEL_DEPTH.get(max_level, 4)

        def node(area_id: int) -> dict[str, Any]:
            a = snap.areas[area_id]
            result: dict[str, Any] = {"code": a.code, "name": a.name, "level": a.level}
            if a.depth < limit:
                result["children"] = [node(c) for c in snap.children.get(a.id, ())]
            return result

        return [node(root) for root in snap.children.get(None, ())]

    def locate(self, lat: float, lon: float,
               snap: CatalogueSnapshot | None = None) -> tuple[AreaInfo, list[AreaInfo]]:
        snap = snap or self.snapshot()
        try:
            code = snap.locator(lambda: self.session).locate(lat, lon)
        except ValueError as exc:
            raise InvalidInput(str(exc), fields={"lat": [str(exc)]}) from exc
        if code is None:
            raise NotFound("该坐标不在任何网格内。", code="outside_grids")
        grid = snap.area_by_code[code]
        return grid, snap.ancestors(grid)


def request_freshness_check(request: Any) -> Callable[[], tuple[str, int]]:
    """How a request learns the catalogue's current token (see :class:`FreshnessGate`)."""
    gate = freshness_gate(request.registry)

    def check() -> tuple[str, int]:
        # A request that already has its session (it wrote, or a test injected one) must see its
        # own transaction; otherwise the committed state, read at most every 0.2 s per process,
        # spares a read-only look-up a transaction-managed session.
        if gate is None or "dbsession" in request.__dict__ or request.environ.get("app.dbsession") is not None:
            return freshness(request.dbsession)
        return gate()

    return check


def catalogue_service_factory(context: Any, request: Any) -> CatalogueService:
    snapshot_cache, _ = caches(request.registry)
    return CatalogueService(lambda: request.dbsession, snapshot_cache, request_freshness_check(request))


# =========================================================================== the look-up


def _limits(duty: Any, item: ItemInfo) -> dict[str, TimeLimit | None]:
    urgent = duty.urgent_hours if duty.urgent_hours is not None else item.urgent_hours
    normal = duty.normal_working_days if duty.normal_working_days is not None else item.normal_working_days
    return {
        "urgent": TimeLimit(urgent, LimitUnit.HOURS) if urgent is not None else None,
        "normal": TimeLimit(normal, LimitUnit.WORKING_DAYS) if normal is not None else None,
    }


@implementer(IResponsibilityService)
class ResponsibilityService:
    """The look-up. Answers come from the in-memory snapshot; the database is read for the
    freshness token on every call, and otherwise only on cache misses (new token, uncached
    citation, first point location)."""

    def __init__(self, session: Session | None = None, *, snapshot_cache: SnapshotCache | None = None,
                 legal_cache: LegalBasisCache | None = None, article_lookup: Any = None,
                 calendar: WorkingCalendar | None = None, request: Any = None,
                 session_provider: SessionProvider | None = None,
                 freshness_check: Callable[[], tuple[str, int]] | None = None) -> None:
        self._session = session
        self._session_provider = session_provider
        self.snapshot_cache = snapshot_cache or SnapshotCache()
        self.legal_cache = legal_cache or LegalBasisCache()
        self.article_lookup = article_lookup
        self.calendar = calendar or WorkingCalendar.default()
        self.request = request
        self.freshness_check = freshness_check
        self.catalogue = CatalogueService(lambda: self.session, self.snapshot_cache)

    @property
    def session(self) -> Session:
        if self._session is None:
            if self._session_provider is None:
                raise RuntimeError("ResponsibilityService needs a session or a session provider")
            self._session = self._session_provider()
        return self._session

    def resolve(self, item_type: Any, area: str | None = None, lat: float | None = None,
                lon: float | None = None, at: dt.date | None = None, reported_at: dt.datetime | None = None,
                urgency: str = "normal", scheme: str | None = None, kind: str | None = None) -> dict[str, Any]:
        token, stamp = self.freshness_check() if self.freshness_check else freshness(self.session)
        snap = self.catalogue.snapshot(token)
        item = self.catalogue.resolve_item_info(item_type, scheme, kind, snap)
        located = None
        if area:
            place = self.catalogue.area_info(area, snap)
        elif lat is not None and lon is not None:
            place, _ = self.catalogue.locate(lat, lon, snap)
            located = {"lat": lat, "lon": lon, "grid": place.code}
        else:
            raise InvalidInput("请指定区域编码（area）或坐标（lat、lon）。",
                               fields={"area": ["area 与 lat/lon 二选一。"]})
        reported_at = reported_at or clock.now()
        if reported_at.tzinfo is None:
            reported_at = reported_at.replace(tzinfo=CHINA_TZ)
        at = at or reported_at.astimezone(CHINA_TZ).date()
        if urgency not in ("normal", "urgent"):
            raise InvalidInput("urgency 只能是 normal 或 urgent。", fields={"urgency": ["normal | urgent"]})

        answers = snap.decide(item, place, at)
        legal = LegalBasisResolver(self.article_lookup, self.legal_cache, stamp, self.request)
        labels = EVENT_ROLE_LABELS if item.kind == "event" else ROLE_LABELS

        roles = []
        conflicts = []
        missing = []
        used_routes: list[Route] = []
        deadlines: dict[TimeLimit | None, dt.datetime | None] = {}
        unscheduled: set[int] = set()  # years a deadline ran through without a holiday schedule
        for answer in answers:
            decision = answer.decision
            if decision.conflicts:
                conflicts.append({
                    "role": decision.role,
                    "role_label": labels[decision.role],
                    "route": route_dict(answer.route, decision.conflicts[0].payload),
                    "duties": [self._duty_ref(snap, c.payload) for c in decision.conflicts],
                })
                continue
            if decision.winner is None:
                missing.append(decision.role)
                continue
            duty = decision.winner.payload
            if answer.route is not None and answer.route not in used_routes:
                used_routes.append(answer.route)
            # everything about a duty's answer except the legal basis and the deadline is fixed for
            # the snapshot's lifetime: built once, shared by every later answer. Time limits are
            # those of the item asked about (an event's own), unless the duty sets its own.
            memo_key = (duty.id, item.id, urgency)
            fixed = snap.memo.get(memo_key)
            if fixed is None:
                fixed = self._fixed_parts(snap, duty, item, urgency, answer.route)
                snap.memo[memo_key] = fixed
            head, time_limit, applied, tail = fixed
            if applied not in deadlines:
                deadlines[applied] = None
                if applied:
                    due = self.calendar.deadline(reported_at, applied).astimezone(CHINA_TZ)
                    deadlines[applied] = due
                    unscheduled.update(self.calendar.unknown_years(applied, reported_at, due))
            roles.append({
                **head,
                "legal_basis": [legal.resolve_dict(c, at) for c in duty.citations],
                "time_limit": time_limit,
                "deadline": deadlines[applied],
                **tail,
            })
        if item.kind == "event":
            # an event has no owner, and one that an enforcer handles needs no separate 处置 unit:
            # only a missing supervisor or handler is worth a dispatcher's attention
            answered = {r["role"] for r in roles} | {c["role"] for c in conflicts}
            missing = [r for r in missing if r != "owner" and not (r == "maintainer" and "enforcer" in answered)]
        # kept for clients of the first API version: the first item answered through another code
        indirect = next((r for r in used_routes if r.kind != "duty"), None)
        via = None
        if indirect is not None:
            last = indirect.via[-1]
            via = {**last, "route": indirect.kind}
        powers = snap.powers_for(item, used_routes)
        return {
            "item_type": item.as_dict(),
            "answered_as": via,
            "area": {**place.as_dict(), "ancestors": [a.as_dict() for a in snap.ancestors(place)]},
            "located": located,
            "at": at,
            "reported_at": reported_at.astimezone(CHINA_TZ),
            "urgency": urgency,
            "roles": roles,
            "missing_roles": missing,
            "conflicts": conflicts,
            "powers": [_power_dict(snap, p, legal, at) for p in powers],
            "calendar_note": calendar_note(sorted(unscheduled)),
        }

    def legal_basis(self, citations: Sequence[str], on: dt.date) -> list[LegalBasis]:
        """A duty's citations as the look-up resolves them (status and text on ``on``), each
        linked to the article as it stood that day, with the cited paragraph or item picked out."""
        _, stamp = self.freshness_check() if self.freshness_check else freshness(self.session)
        legal = LegalBasisResolver(self.article_lookup, self.legal_cache, stamp, self.request)
        answers = []
        for text in citations:
            basis = legal.resolve(text, on)
            citation = parse_citation(text)
            if basis.regulation_id is not None and citation is not None and self.request is not None:
                basis = dataclasses.replace(basis, url=citation_path(self.request, basis.regulation_id, citation, on))
            answers.append(basis)
        return answers

    @staticmethod
    def _fixed_parts(snap: CatalogueSnapshot, duty: Any, item: ItemInfo, urgency: str,
                     route: Route | None = None) -> tuple[dict[str, Any], dict[str, Any], TimeLimit | None, dict[str, Any]]:
        limits = _limits(duty, item)
        applied = limits[urgency] or limits["normal"] or limits["urgent"]
        labels = EVENT_ROLE_LABELS if item.kind == "event" else ROLE_LABELS
        head = {
            "role": duty.role,
            "role_label": labels[duty.role],
            "agency": snap.agencies[duty.agency_id].as_dict(),
            "duty_id": duty.id,
            "scope": snap.areas[duty.area_id].as_dict(),
        }
        time_limit = {
            "urgent": limits["urgent"].as_dict() if limits["urgent"] else None,
            "normal": limits["normal"].as_dict() if limits["normal"] else None,
            "applied": urgency if limits[urgency] else ("normal" if limits["normal"] else "urgent"),
        }
        tail = {
            "source": {"kind": duty.source_kind, "label": SOURCE_LABELS[duty.source_kind],
                       "id": duty.source_id, "ref": duty.source_ref or None},
            "route": route_dict(route, duty),
            "note": duty.note or None,
            "valid_from": duty.valid_from.isoformat() if duty.valid_from else None,
            "valid_to": duty.valid_to.isoformat() if duty.valid_to else None,
        }
        return head, time_limit, applied, tail

    @staticmethod
    def _duty_ref(snap: CatalogueSnapshot, duty: Any) -> dict[str, Any]:
        return {
            "duty_id": duty.id,
            "agency": snap.agencies[duty.agency_id].as_dict(),
            "scope": snap.areas[duty.area_id].as_dict(),
            "source": {"kind": duty.source_kind, "id": duty.source_id, "ref": duty.source_ref or None},
            "citations": list(duty.citations),
            "conflict_forced": duty.conflict_forced,
        }


def route_dict(route: Route | None, duty: Any) -> dict[str, Any]:
    """Which way the answer came: this code's own duty, the crosswalk, the component relation, or a
    ruling (a ruling's duty, whichever code it was written for)."""
    kind = route.kind if route is not None else "duty"
    shown = "ruling" if duty.source_kind == "ruling" else kind
    return {
        "kind": shown,
        "label": ROUTE_LABELS[shown],
        "through": kind,
        "via": [dict(step) for step in route.via] if route is not None else [],
    }


#: what an answer says of a power's basis: the citation and whether it holds (the article texts are
#: on the power's page; the roles' bases already carry theirs)
POWER_BASIS_FIELDS = ("citation", "status", "status_label", "in_force", "url")


def _power_dict(snap: CatalogueSnapshot, power: PowerInfo, legal: LegalBasisResolver,
                at: dt.date) -> dict[str, Any]:
    holder = snap.agencies.get(power.holder_id)
    return {
        "code": power.code,
        "name": power.name,
        "category": power.category,
        "penalty": power.penalty or None,
        "holder": holder.as_dict() if holder else None,
        "legal_basis": [{k: basis[k] for k in POWER_BASIS_FIELDS}
                        for basis in (legal.resolve_dict(c, at) for c in power.citations)],
    }


FRESHNESS_KEY = "portal.catalogue.freshness_gate"


def freshness_gate(registry: Any) -> FreshnessGate | None:
    gate = registry.get(FRESHNESS_KEY)
    if gate is None and registry.get("dbengine") is not None:
        window = float(registry.settings.get("portal.catalogue.freshness_window", 0.2)) if registry.settings else 0.2
        gate = registry[FRESHNESS_KEY] = FreshnessGate(registry["dbengine"], window)
    return gate


def responsibility_service_factory(context: Any, request: Any) -> ResponsibilityService:
    snapshot_cache, legal_cache = caches(request.registry)
    check = request_freshness_check(request)
    return ResponsibilityService(session_provider=lambda: request.dbsession, snapshot_cache=snapshot_cache,
                                 legal_cache=legal_cache, article_lookup=lambda: article_lookup_for(request),
                                 request=request, freshness_check=check)
