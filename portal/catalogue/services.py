"""Catalogue services: reading, the dispatch look-up, editing with review, integrity reports."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload
from zope.interface import implementer

from portal import clock
from portal.audit import AuditEntry, actor_of
from portal.audit import record as record_audit
from portal.catalogue.calendar import CHINA_TZ, LimitUnit, TimeLimit, WorkingCalendar
from portal.catalogue.interfaces import (
    ICatalogueReports,
    ICatalogueService,
    IDutyService,
    IResponsibilityService,
)
from portal.catalogue.legal import (
    IN_FORCE,
    MISSING,
    NOT_YET_EFFECTIVE,
    REPEALED,
    UNRESOLVED,
    LegalBasis,
    LegalBasisCache,
    LegalBasisResolver,
    article_lookup_for,
)
from portal.catalogue.models import Agency, Area, Duty, ItemType, Power
from portal.catalogue.resolution import (
    EVENT_ROLE_LABELS,
    LEVEL_DEPTH,
    ROLE_LABELS,
    ROLES,
    ROUTE_LABELS,
    SOURCE_LABELS,
    Candidate,
    collisions,
    is_valid_on,
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
from portal.errors import Conflict, InvalidInput, NotFound, PortalError
from portal.regulations.citations import citation_path, parse_citation
from portal.settings import as_bool
from portal.workflow import State, WorkflowTransition, reinstate
from portal.workflow import transition as workflow_transition

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
        for answer in answers:
            decision = answer.decision
            if decision.conflicts:
                conflicts.append({
                    "role": decision.role,
                    "role_label": labels[decision.role],
                    "route": _route_dict(answer.route, decision.conflicts[0].payload),
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
                deadlines[applied] = (self.calendar.deadline(reported_at, applied).astimezone(CHINA_TZ)
                                      if applied else None)
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
            "route": _route_dict(route, duty),
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


def _route_dict(route: Route | None, duty: Any) -> dict[str, Any]:
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


# =========================================================================== editing

EDITABLE_FIELDS = (
    "item_type_id", "area_id", "role", "agency_id", "citations", "note", "urgent_hours",
    "normal_working_days", "valid_from", "valid_to", "source_kind", "source_id", "source_ref",
    "basis_reviewed_on", "conflict_note",
)
OPEN_STATES = (State.DRAFT.value, State.PENDING.value)


def _candidate(duty: Duty, depth: int | None = None) -> Candidate:
    return Candidate(duty.id, duty.role, duty.agency_id, depth if depth is not None else 0, duty.source_kind,
                     duty.valid_from, duty.valid_to, duty)


class SecondPersonRequired(PortalError):
    status = 403
    code = "second_person_required"


# Columns a workflow transition sets: changing them is reviewing, not writing the change.
_TRANSITION_COLUMNS = frozenset({"state", "published_at", "conflict_forced", "conflict_note"})


@implementer(IDutyService)
class DutyService:
    def __init__(self, session: Session, catalogue: CatalogueService | None = None, *,
                 four_eyes: bool = True) -> None:
        self.session = session
        self.catalogue = catalogue or CatalogueService(session)
        # Four eyes (setting catalogue.four_eyes, on by default): whoever wrote or submitted a
        # change may not publish it too.
        self.four_eyes = four_eyes

    def get(self, duty_id: int) -> Duty:
        duty = self.session.get(Duty, duty_id)
        if duty is None:
            raise NotFound(f"未找到权责条目 #{duty_id}。", code="duty_not_found")
        return duty

    # (Below this method, annotations spell `builtins.list`: the name `list` is the method here.)
    def list(self, *, item_type_id: int | None = None, area_id: int | None = None, state: str | None = None,
             agency_id: int | None = None, role: str | None = None, source_kind: str | None = None,
             within_area: str | None = None, text: str | None = None, limit: int = 200,
             offset: int = 0, states: tuple[str, ...] | None = None, updated_since: dt.datetime | None = None,
             after_id: int | None = None) -> tuple[list[Duty], int]:
        """Duties by any of: item type, area (exactly, or ``within_area``: that area and the areas
        below it), state (or ``states``), agency, role, source, and ``text`` (every word must occur
        in the item type's code or name, the agency, the area, a citation, the note or the source
        reference). Newest change first; with ``after_id`` (a cursor) or ``updated_since`` in id
        order instead, so paging through stays stable while duties are added or edited."""
        from sqlalchemy import func

        stmt = select(Duty)
        if states is not None:
            stmt = stmt.where(Duty.state.in_(states))
        if updated_since is not None:
            stmt = stmt.where(Duty.updated_at >= updated_since)
        if item_type_id:
            stmt = stmt.where(Duty.item_type_id == item_type_id)
        if area_id:
            stmt = stmt.where(Duty.area_id == area_id)
        if state:
            stmt = stmt.where(Duty.state == state)
        if agency_id:
            stmt = stmt.where(Duty.agency_id == agency_id)
        if role:
            stmt = stmt.where(Duty.role == role)
        if source_kind:
            stmt = stmt.where(Duty.source_kind == source_kind)
        if within_area or text:
            stmt = stmt.join(Area, Duty.area_id == Area.id)
        if within_area:
            # area codes nest by prefix (district 330199 → street 330199001 → …)
            stmt = stmt.where(Area.code.startswith(within_area, autoescape=True))
        for word in (text or "").split():
            stmt = stmt.where(self._mentions(word))
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        stmt = stmt.options(joinedload(Duty.item_type), joinedload(Duty.area), joinedload(Duty.agency))
        if after_id is not None or updated_since is not None:
            stmt = stmt.where(Duty.id > (after_id or 0)).order_by(Duty.id)
        else:
            stmt = stmt.order_by(Duty.updated_at.desc(), Duty.id.desc())
        return list(self.session.scalars(stmt.limit(limit).offset(offset))), total

    @staticmethod
    def _mentions(word: str) -> Any:
        from sqlalchemy import String, cast, exists

        # Citations are stored as JSON, whose serialiser escapes non-ASCII (\uXXXX): compare with
        # the word in that form.
        escaped = json.dumps(word)[1:-1]
        return or_(
            Duty.note.contains(word, autoescape=True),
            Duty.source_ref.contains(word, autoescape=True),
            cast(Duty.citations, String).contains(escaped, autoescape=True),
            Area.name.contains(word, autoescape=True),
            Area.code == word,
            exists().where(ItemType.id == Duty.item_type_id,
                           or_(ItemType.code == word, ItemType.name.contains(word, autoescape=True))),
            exists().where(Agency.id == Duty.agency_id,
                           or_(Agency.code == word, Agency.name.contains(word, autoescape=True))),
        )

    # -- input ------------------------------------------------------------------------------

    def _resolve_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        if "item_type" in data:
            try:
                values["item_type_id"] = self.catalogue.resolve_item_info(
                    data["item_type"], data.get("scheme"), data.get("kind")).id
            except (NotFound, InvalidInput) as exc:
                errors["item_type"] = [exc.message]
        if "area" in data:
            area = self.session.scalar(select(Area).where(Area.code == data["area"]))
            if area is None:
                errors["area"] = ["未知的区域编码。"]
            else:
                values["area_id"] = area.id
        if "agency" in data:
            agency = self.session.scalar(select(Agency).where(Agency.code == data["agency"]))
            if agency is None:
                errors["agency"] = ["未知的单位编码。"]
            else:
                values["agency_id"] = agency.id
        if "citations" in data:
            rendered, bad = [], []
            for text in data["citations"] or ():
                citation = parse_citation(text)
                if citation is None:
                    bad.append(f"无法识别的引用：{text}")
                else:
                    rendered.append(citation.render())
            if bad:
                errors["citations"] = bad
            values["citations"] = list(dict.fromkeys(rendered))
        for name in ("role", "note", "urgent_hours", "normal_working_days", "valid_from", "valid_to",
                     "source_kind", "source_id", "source_ref", "basis_reviewed_on", "conflict_note"):
            if name in data:
                values[name] = data[name]
        if values.get("source_kind") == "ruling" and not (data.get("source_id") or data.get("source_ref")):
            errors.setdefault("source_id", []).append("来源为裁定时须给出裁定编号或文号。")
        if errors:
            raise InvalidInput("输入校验未通过，请查看各字段的说明。", fields=errors)
        return values

    @staticmethod
    def _check_dates(duty: Duty) -> None:
        if duty.valid_from and duty.valid_to and duty.valid_to < duty.valid_from:
            raise InvalidInput("失效日期不能早于生效日期。", fields={"valid_to": ["须不早于 valid_from。"]})

    # -- writes -----------------------------------------------------------------------------

    def create(self, data: dict[str, Any], force: bool = False) -> Duty:
        values = self._resolve_refs(data)
        missing = [f for f in ("item_type_id", "area_id", "role", "agency_id") if f not in values]
        if missing:
            names = {"item_type_id": "item_type", "area_id": "area", "agency_id": "agency", "role": "role"}
            raise InvalidInput("缺少必填字段。", fields={names[f]: ["必填。"] for f in missing})
        values.setdefault("basis_reviewed_on", clock.today())
        values.setdefault("citations", [])
        duty = Duty(state=State.DRAFT.value, **values)
        self._check_dates(duty)
        self.session.add(duty)
        self.session.flush()
        duty.lineage_id = duty.id
        self.session.flush()
        return duty

    def open_revision(self, duty: Duty) -> Duty | None:
        return self.session.scalar(
            select(Duty).where(Duty.revision_of_id == duty.id, Duty.state.in_(OPEN_STATES))
        )

    def update(self, duty: Duty, data: dict[str, Any], force: bool = False) -> Duty:
        values = self._resolve_refs(data)
        if "citations" in values and "basis_reviewed_on" not in values and values["citations"] != duty.citations:
            values["basis_reviewed_on"] = clock.today()
        if duty.state == State.DRAFT.value:
            for name, value in values.items():
                if getattr(duty, name) != value:
                    setattr(duty, name, value)
            self._check_dates(duty)
            self.session.flush()
            return duty
        if duty.state == State.PUBLISHED.value:
            existing = self.open_revision(duty)
            if existing is not None:
                raise Conflict(f"该条目已有未发布的修订 #{existing.id}，请在修订上继续编辑。",
                               code="revision_exists", fields={"revision_id": [str(existing.id)]})
            revision = Duty(
                state=State.DRAFT.value,
                lineage_id=duty.lineage_id or duty.id,
                revision_of_id=duty.id,
                **{name: getattr(duty, name) for name in EDITABLE_FIELDS},
            )
            for name, value in values.items():
                setattr(revision, name, value)
            revision.conflict_forced = False
            self._check_dates(revision)
            self.session.add(revision)
            self.session.flush()
            return revision
        raise Conflict(f"状态为“{duty.state_label}”的条目不能直接修改。", code="invalid_state")

    def collisions(self, duty: Duty) -> builtins.list[Duty]:
        stmt = select(Duty).where(
            Duty.item_type_id == duty.item_type_id,
            Duty.area_id == duty.area_id,
            Duty.role == duty.role,
            Duty.state == State.PUBLISHED.value,
            Duty.id != duty.id,
        )
        if duty.revision_of_id:
            stmt = stmt.where(Duty.id != duty.revision_of_id)
        others = list(self.session.scalars(stmt))
        hits = collisions(_candidate(duty), [_candidate(o) for o in others])
        return [c.payload for c in hits]

    def authors(self, duty: Duty) -> set[tuple[int | None, str]]:
        """Who wrote this revision or submitted it for review, as (user id, name)."""
        people: set[tuple[int | None, str]] = set()
        for actor_id, actor_name, action, after in self.session.execute(
            select(AuditEntry.actor_id, AuditEntry.actor_name, AuditEntry.action, AuditEntry.after)
            .where(AuditEntry.entity_type == Duty.__tablename__, AuditEntry.entity_id == str(duty.id))
        ):
            if action.endswith(".create") or set(after or ()) - _TRANSITION_COLUMNS:
                people.add((actor_id, actor_name))
        people.update((actor_id, actor_name) for actor_id, actor_name in self.session.execute(
            select(WorkflowTransition.actor_id, WorkflowTransition.actor_name)
            .where(WorkflowTransition.content_type == Duty.__tablename__,
                   WorkflowTransition.content_id == str(duty.id), WorkflowTransition.transition == "submit")))
        return people

    def _check_second_person(self, duty: Duty, override_reason: str | None) -> str | None:
        """Refuse a publication by the change's own author; returns the note an admin's override leaves."""
        actor_id, actor_name = actor_of(self.session)
        # The rule is about people: operators' CLI runs and loaders act as no one in particular.
        if not self.four_eyes or actor_id is None:
            return None
        if actor_id not in {author_id for author_id, _ in self.authors(duty)}:
            return None
        if not override_reason:
            raise SecondPersonRequired(
                "发布须由另一位工作人员审核（四眼原则）：您编写或提交了这项修改，请由其他有发布权限的人员审核发布。"
                "管理员可填写理由越过此规则。", fields={"transition": ["须由另一位工作人员发布。"]})
        note = f"四眼原则豁免（{actor_name}）：{override_reason}"
        record_audit(self.session, f"{Duty.__tablename__}.four_eyes_override", Duty.__tablename__, str(duty.id),
                     comment=override_reason)
        return note

    def transition(self, duty: Duty, name: str, comment: str | None = None, force: bool = False, *,
                   override_reason: str | None = None, reviewed_elsewhere: bool = False) -> Duty:
        """Apply workflow transition ``name``. Publishing needs a second person unless
        ``override_reason`` is given (admins only: the views check) or the change was
        ``reviewed_elsewhere`` (a ruling's panel)."""
        if name == "publish":
            if not reviewed_elsewhere:
                note = self._check_second_person(duty, override_reason)
                if note:
                    comment = f"{comment}；{note}" if comment else note
            hits = self.collisions(duty)
            if hits and not force:
                raise Conflict(
                    "与已发布的权责条目冲突：同一类型、同一区域、同一角色、有效期重叠，但责任单位不同。"
                    "请调整，或确认后强制发布（将作为冲突在查询中显示）。",
                    code="duty_collision",
                    fields={"collisions": [f"#{d.id} {d.agency.name}" for d in hits]},
                )
            if hits:
                duty.conflict_forced = True
                if comment:
                    duty.conflict_note = comment
        workflow_transition(self.session, duty, name, comment)
        if name == "publish" and duty.revision_of_id:
            previous = self.session.get(Duty, duty.revision_of_id)
            if previous is not None and previous.state == State.PUBLISHED.value:
                workflow_transition(self.session, previous, "supersede", f"由修订 #{duty.id} 取代")
        self.session.flush()
        return duty

    def apply_ruling(self, ruling_id: Any, ruling_ref: str, decisions: builtins.list[dict[str, Any]],
                     comment: str | None = None) -> builtins.list[Duty]:
        """Publish the duties a ruling decides, with the ruling as their source.

        ``decisions`` are duty inputs (``item_type``, ``area``, ``role``, ``agency``,
        ``citations``, ``valid_from`` …). A ruling outranks every general entry within its scope,
        so those stay as they are; an earlier *ruling* duty for the same item type, area and role
        is superseded by the new one. The ruling was reviewed by the panel, so its duties are
        published at once (the transitions are still recorded).
        """
        created = []
        for decision in decisions:
            data = {**decision, "source_kind": "ruling", "source_id": str(ruling_id),
                    "source_ref": ruling_ref}
            duty = self.create(data)
            for earlier in self.session.scalars(select(Duty).where(
                Duty.item_type_id == duty.item_type_id, Duty.area_id == duty.area_id, Duty.role == duty.role,
                Duty.state == State.PUBLISHED.value, Duty.source_kind == "ruling", Duty.id != duty.id,
            )):
                workflow_transition(self.session, earlier, "supersede", f"由裁定 {ruling_ref} 取代")
            self.transition(duty, "submit", comment or f"依裁定 {ruling_ref}")
            self.transition(duty, "publish", comment or f"依裁定 {ruling_ref}", reviewed_elsewhere=True)
            created.append(duty)
        return created

    def revoke_ruling(self, ruling_id: Any, ruling_ref: str, comment: str | None = None) -> tuple[builtins.list[Duty], builtins.list[Duty]]:
        """Withdraw the duties a ruling decided and put back in force the earlier ruling duties it
        superseded (found through the supersede transitions :meth:`apply_ruling` recorded).
        General entries were never touched by the ruling, so they answer again by themselves."""
        withdrawn = list(self.session.scalars(select(Duty).where(
            Duty.source_kind == "ruling", Duty.source_id == str(ruling_id), Duty.state == State.PUBLISHED.value)))
        for duty in withdrawn:
            workflow_transition(self.session, duty, "withdraw", comment or f"裁定 {ruling_ref} 撤销")
        superseded_ids = self.session.scalars(select(WorkflowTransition.content_id).where(
            WorkflowTransition.content_type == Duty.__tablename__, WorkflowTransition.transition == "supersede",
            WorkflowTransition.comment == f"由裁定 {ruling_ref} 取代"))
        restored = []
        for content_id in set(superseded_ids):
            earlier = self.session.get(Duty, int(content_id))
            if earlier is not None and earlier.state == State.SUPERSEDED.value:
                reinstate(self.session, earlier, comment or f"裁定 {ruling_ref} 撤销，恢复原裁定条目")
                restored.append(earlier)
        self.session.flush()
        return withdrawn, restored

    # -- history ----------------------------------------------------------------------------

    def lineage(self, duty: Duty) -> builtins.list[Duty]:
        lineage_id = duty.lineage_id or duty.id
        return list(self.session.scalars(
            select(Duty).where(or_(Duty.lineage_id == lineage_id, Duty.id == lineage_id)).order_by(Duty.id)
        ))

    def history(self, duty: Duty, *, include_drafts: bool = False) -> builtins.list[dict[str, Any]]:
        """The lineage's history: everything for staff (``include_drafts``), else the published
        revisions only (see :mod:`portal.catalogue.history`)."""
        from portal.catalogue.history import public_history, staff_history

        lineage = self.lineage(duty)
        return staff_history(self.session, lineage) if include_drafts else public_history(self.session, lineage)


def duty_service_factory(context: Any, request: Any) -> DutyService:
    snapshot_cache, _ = caches(request.registry)
    four_eyes = as_bool(request.registry.settings.get("catalogue.four_eyes", True))
    return DutyService(request.dbsession, CatalogueService(request.dbsession, snapshot_cache), four_eyes=four_eyes)


# =========================================================================== reports


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
                    findings.append(StaleFinding(citation=text, problem=now.status, detail=now.status_label,
                                                 **common))
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
                        route = _route_dict(answer.route, duty)["kind"]
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

