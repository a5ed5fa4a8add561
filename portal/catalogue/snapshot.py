"""An in-memory snapshot of the published catalogue, for millisecond look-ups.

The database stays the source of truth. A :class:`CatalogueSnapshot` holds plain tuples of what
``resolve`` and ``locate`` need (published duties by item type and area, the area tree, agencies,
item types, the grid locator) and is keyed by the token in ``catalogue_state``, which every write
to the catalogue changes (``portal.catalogue.models``). Each look-up reads that token (one indexed
row) and rebuilds the snapshot only when it moved, so every process and node of a deployment
answers from current data without any message bus. With Redis, change notices
(``portal.sharing``) tell each process when to re-read it instead of every 0.2 s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.catalogue.geo import GridLocator
from portal.catalogue.models import Agency, Area, CrosswalkLink, Duty, ItemType, Power
from portal.catalogue.resolution import (
    CROSSWALK_ROUTE_LINKS,
    ROLES,
    Candidate,
    RoleDecision,
    decide_role,
    is_valid_on,
)
from portal.db import ends_a_savepoint
from portal.workflow import State


@dataclasses.dataclass(frozen=True, slots=True)
class AreaInfo:
    id: int
    code: str
    name: str
    level: str
    depth: int
    parent_id: int | None
    chain: tuple[int, ...]  # itself first, then its ancestors up to the district

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "level": self.level}


@dataclasses.dataclass(frozen=True, slots=True)
class AgencyInfo:
    id: int
    code: str
    name: str
    short_name: str
    kind: str
    supervision_phone: str
    phone_is_demo: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "short_name": self.short_name,
            "kind": self.kind,
            "supervision_phone": self.supervision_phone,
            "phone_is_demo": self.phone_is_demo,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ItemInfo:
    id: int
    scheme: str
    kind: str
    code: str
    name: str
    major_code: str
    major_name: str
    aliases: tuple[str, ...]
    urgent_hours: int | None
    normal_working_days: int | None
    related_code: str = ""  # events of classes 01–05: the component "X" of "X异常"

    @property
    def key(self) -> str:
        return f"{self.scheme}:{self.kind}:{self.code}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "kind": self.kind,
            "code": self.code,
            "name": self.name,
            "major_code": self.major_code,
            "major_name": self.major_name,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class DutyInfo:
    id: int
    item_type_id: int
    area_id: int
    role: str
    agency_id: int
    citations: tuple[str, ...]
    note: str
    urgent_hours: int | None
    normal_working_days: int | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    source_kind: str
    source_id: str | None
    source_ref: str
    conflict_forced: bool


@dataclasses.dataclass(frozen=True, slots=True)
class PowerInfo:
    id: int
    code: str
    name: str
    category: str
    holder_id: int
    citations: tuple[str, ...]
    penalty: str
    item_keys: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """How an item type may be answered: by its own duties or through another item type.

    ``kind`` is ``duty`` (entries written for this code), ``crosswalk`` (a four-digit ↔
    five-digit counterpart of the same component, exact or renamed) or ``component_relation``
    (an event "X异常" answered by component X). ``via`` names the steps taken.
    """

    kind: str
    item: ItemInfo
    via: tuple[dict[str, str], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class RoleAnswer:
    """The decision for one role, with the route it came through (``route`` None: no answer)."""

    role: str
    decision: RoleDecision
    route: Route | None


def _step(item: ItemInfo, link: str) -> dict[str, str]:
    return {"scheme": item.scheme, "kind": item.kind, "code": item.code, "name": item.name, "link": link}


#: how a report says a facility is broken; stripped to find the facility itself
FAULT_WORDS: tuple[str, ...] = (
    "缺失", "丢失", "被盗", "破损", "损坏", "坏了", "不亮", "熄灭", "常亮", "异常", "松动", "移位", "塌陷",
    "故障", "倾斜", "倒了", "歪了", "脏了", "满了", "堵塞", "没了",
)


def _strip_fault(text: str) -> str:
    for word in sorted(FAULT_WORDS, key=len, reverse=True):
        if text.endswith(word):
            return text[: -len(word)]
    return text


def normalise(text: str) -> str:
    """Fold full-width forms and case so 输油（气） matches 输油(气)."""
    return unicodedata.normalize("NFKC", text or "").strip().lower()


class CatalogueSnapshot:
    def __init__(self, token: str, session: Session) -> None:
        self.token = token
        self.built_at = dt.datetime.now(dt.UTC)
        self._locator: GridLocator | None = None
        #: answers' fixed parts, filled by the look-up (valid as long as the snapshot)
        self.memo: dict[Any, Any] = {}
        self._locator_lock = threading.Lock()

        rows = session.execute(
            select(Area.id, Area.code, Area.name, Area.level, Area.depth, Area.parent_id)
        ).all()
        parents = {r.id: r.parent_id for r in rows}
        self.areas: dict[int, AreaInfo] = {}
        for area in rows:
            chain = [area.id]
            parent = area.parent_id
            while parent is not None and len(chain) < 10:
                chain.append(parent)
                parent = parents.get(parent)
            self.areas[area.id] = AreaInfo(area.id, area.code, area.name, area.level, area.depth, area.parent_id,
                                           tuple(chain))
        self.area_by_code: dict[str, AreaInfo] = {a.code: a for a in self.areas.values()}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        for a in sorted(self.areas.values(), key=lambda a: a.code):
            self.children[a.parent_id].append(a.id)

        self.agencies: dict[int, AgencyInfo] = {
            r.id: AgencyInfo(r.id, r.code, r.name, r.short_name, r.kind, r.supervision_phone, r.phone_is_demo)
            for r in session.execute(
                select(Agency.id, Agency.code, Agency.name, Agency.short_name, Agency.kind,
                       Agency.supervision_phone, Agency.phone_is_demo)
            )
        }
        self.agency_by_code: dict[str, AgencyInfo] = {a.code: a for a in self.agencies.values()}

        self.items: dict[int, ItemInfo] = {
            r.id: ItemInfo(r.id, r.scheme, r.kind, r.code, r.name, r.major_code, r.major_name,
                           tuple(r.aliases or ()), r.urgent_hours, r.normal_working_days, r.related_code or "")
            for r in session.execute(
                select(ItemType.id, ItemType.scheme, ItemType.kind, ItemType.code, ItemType.name,
                       ItemType.major_code, ItemType.major_name, ItemType.aliases,
                       ItemType.urgent_hours, ItemType.normal_working_days, ItemType.related_code)
            )
        }
        self.item_by_key: dict[str, ItemInfo] = {i.key: i for i in self.items.values()}
        self.items_by_code: dict[str, list[ItemInfo]] = defaultdict(list)
        for item in sorted(self.items.values(), key=lambda i: (i.scheme != "gbt30428", i.kind, i.code)):
            self.items_by_code[item.code].append(item)

        self.crosswalk: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for link in session.execute(select(CrosswalkLink.from_item_id, CrosswalkLink.to_item_id, CrosswalkLink.kind)):
            if link.to_item_id is not None:
                self.crosswalk[link.from_item_id].append((link.to_item_id, link.kind))
                self.crosswalk[link.to_item_id].append((link.from_item_id, link.kind))

        self.duties: dict[tuple[int, int], list[DutyInfo]] = defaultdict(list)
        #: the same duties as resolution candidates, built once per snapshot
        self.candidates: dict[tuple[int, int], list[Candidate]] = defaultdict(list)
        self.items_with_duties: set[int] = set()
        count = 0
        depth_of = {a.id: a.depth for a in self.areas.values()}
        for r in session.execute(
            select(Duty.id, Duty.item_type_id, Duty.area_id, Duty.role, Duty.agency_id, Duty.citations,
                   Duty.note, Duty.urgent_hours, Duty.normal_working_days, Duty.valid_from, Duty.valid_to,
                   Duty.source_kind, Duty.source_id, Duty.source_ref, Duty.conflict_forced)
            .where(Duty.state == State.PUBLISHED.value)
        ):
            info = DutyInfo(r.id, r.item_type_id, r.area_id, r.role, r.agency_id, tuple(r.citations or ()),
                            r.note or "", r.urgent_hours, r.normal_working_days, r.valid_from, r.valid_to,
                            r.source_kind, r.source_id, r.source_ref or "", bool(r.conflict_forced))
            self.duties[(r.item_type_id, r.area_id)].append(info)
            self.candidates[(r.item_type_id, r.area_id)].append(
                Candidate(info.id, info.role, info.agency_id, depth_of.get(info.area_id, 0), info.source_kind,
                          info.valid_from, info.valid_to, info))
            self.items_with_duties.add(r.item_type_id)
            count += 1
        self.duty_count = count

        self.powers: list[PowerInfo] = [
            PowerInfo(r.id, r.code, r.name, r.category, r.holder_id, tuple(r.citations or ()), r.penalty or "",
                      tuple(r.item_type_keys or ()))
            for r in session.execute(
                select(Power.id, Power.code, Power.name, Power.category, Power.holder_id, Power.citations,
                       Power.penalty, Power.item_type_keys).order_by(Power.code)
            )
        ]
        self.powers_by_item: dict[str, list[PowerInfo]] = defaultdict(list)
        for power in self.powers:
            for key in power.item_keys:
                self.powers_by_item[key].append(power)
        self._routes: dict[int, tuple[Route, ...]] = {}

        # completion: (normalised text, is_alias, item id)
        self._names: list[tuple[str, bool, int]] = []
        for item in self.items.values():
            self._names.append((normalise(item.name), False, item.id))
            for alias in item.aliases:
                self._names.append((normalise(alias), True, item.id))

    # -- areas ----------------------------------------------------------------------------

    def ancestors(self, area: AreaInfo) -> list[AreaInfo]:
        """The area's ancestors, district first."""
        return [self.areas[i] for i in reversed(area.chain[1:])]

    def grids(self) -> list[AreaInfo]:
        return [a for a in self.areas.values() if a.level == "grid"]

    def locator(self, session: Session | SessionProvider) -> GridLocator:
        if self._locator is None:
            with self._locator_lock:
                if self._locator is None:
                    session = as_session(session)
                    pairs = [
                        (r.code, r.geometry)
                        for r in session.execute(
                            select(Area.code, Area.geometry).where(Area.level == "grid", Area.geometry.is_not(None))
                        )
                    ]
                    self._locator = GridLocator.from_pairs(pairs) if pairs else GridLocator([], [])
        return self._locator

    # -- item types -----------------------------------------------------------------------

    def find_items(self, text: str, *, limit: int = 10, kind: str | None = None,
                   scheme: str | None = None) -> list[ItemInfo]:
        """Item types whose code, name or alias matches ``text``: exact, then prefix, then substring."""
        needle = normalise(text)
        if not needle:
            return []
        scored: dict[int, tuple[float, str]] = {}
        for item in self.items_by_code.get(needle, ()):  # a code typed in full
            scored[item.id] = (0, item.code)
        for name, is_alias, item_id in self._names:
            if needle == name:
                rank = 1 if not is_alias else 2
            elif name.startswith(needle):
                rank = 3 if not is_alias else 4
            elif needle in name:
                rank = 5 if not is_alias else 6
            else:
                continue
            item = self.items[item_id]
            best = scored.get(item_id)
            if best is None or rank < best[0]:
                scored[item_id] = (rank, item.code)
        if needle.isdigit():
            for code, items in self.items_by_code.items():
                if code.startswith(needle):
                    for item in items:
                        scored.setdefault(item.id, (3, item.code))
        if not scored and not needle.isdigit():
            # "雨水井盖缺失", "路灯坏了": a thing plus how it is broken. Look the thing up, and put
            # the event "X异常" of that thing first: a report is about a fault, not the component.
            stem = _strip_fault(needle)
            if stem and stem != needle:
                for position, found in enumerate(self.find_items(stem, limit=limit * 3)):
                    for offset, candidate in enumerate([*self.fault_events(found), found]):
                        scored.setdefault(candidate.id, (7 + position / 100 + offset / 1000, candidate.code))
        result = []
        for item_id, _score in sorted(
            scored.items(),
            key=lambda kv: (kv[1][0], self.items[kv[0]].scheme != "gbt30428", self.items[kv[0]].kind,
                            self.items[kv[0]].code),
        ):
            item = self.items[item_id]
            if kind and item.kind != kind:
                continue
            if scheme and item.scheme != scheme:
                continue
            result.append(item)
            if len(result) >= limit:
                break
        return result

    def fault_events(self, item: ItemInfo) -> list[ItemInfo]:
        """The events "X异常" of component ``item`` (through the crosswalk for four-digit codes)."""
        if item.kind != "component":
            return []
        components = [item] + [o for o, link in self.counterparts(item) if link in CROSSWALK_ROUTE_LINKS]
        events = []
        for component in components:
            event = self.item_by_key.get(f"{component.scheme}:event:{component.code}")
            if event is not None and event.related_code == component.code:
                events.append(event)
        return events

    def counterparts(self, item: ItemInfo) -> list[tuple[ItemInfo, str]]:
        """Crosswalk neighbours of ``item`` (either direction) with the link kind."""
        return [(self.items[i], kind) for i, kind in self.crosswalk.get(item.id, ()) if i in self.items]

    # -- the routes of an answer ----------------------------------------------------------

    def routes(self, item: ItemInfo) -> tuple[Route, ...]:
        """The ways ``item`` can be answered, in order of precedence.

        1. its own duties; 2. the crosswalk, when it names the *same* component under the other
        scheme (exact or renamed: a split or approximate link names a different thing, so such
        a code needs duties of its own); 3. for an event "X异常" (classes 01–05), component X
        and X's crosswalk counterpart.
        """
        cached = self._routes.get(item.id)
        if cached is not None:
            return cached
        routes = [Route("duty", item)]
        seen = {item.id}
        for other, link in self.counterparts(item):
            if link in CROSSWALK_ROUTE_LINKS and other.id not in seen:
                seen.add(other.id)
                routes.append(Route("crosswalk", other, (_step(other, link),)))
        if item.kind == "event" and item.related_code:
            component = self.item_by_key.get(f"{item.scheme}:component:{item.related_code}")
            if component is not None and component.id not in seen:
                seen.add(component.id)
                first = _step(component, "related")
                routes.append(Route("component_relation", component, (first,)))
                for other, link in self.counterparts(component):
                    if link in CROSSWALK_ROUTE_LINKS and other.id not in seen:
                        seen.add(other.id)
                        routes.append(Route("component_relation", other, (first, _step(other, link))))
        result = tuple(routes)
        self._routes[item.id] = result
        return result

    def decide(self, item: ItemInfo, place: AreaInfo, at: dt.date | None,
               roles: tuple[str, ...] = ROLES) -> list[RoleAnswer]:
        """Per role: the first route that has a duty valid on ``at`` at ``place`` answers.

        A published ruling outranks general entries within its scope, so a route holding a
        ruling for the role answers before an earlier route that holds none (a ruling on 0114
        decides 01023 不明井盖 too). Within the route the rule of :mod:`resolution` applies.
        """
        per_route: list[tuple[Route, dict[str, list[Candidate]]]] = []
        for route in self.routes(item):
            by_role: dict[str, list[Candidate]] = {}
            for area_id in place.chain:
                for c in self.candidates.get((route.item.id, area_id), ()):
                    if at is not None and not is_valid_on(c.valid_from, c.valid_to, at):
                        continue
                    by_role.setdefault(c.role, []).append(c)
            if by_role:
                per_route.append((route, by_role))
        answers = []
        for role in roles:
            chosen: tuple[Route, list[Candidate]] | None = None
            for route, by_role in per_route:
                cands = by_role.get(role)
                if cands and any(c.source_kind == "ruling" for c in cands):
                    chosen = (route, cands)
                    break
            if chosen is None:
                chosen = next(((route, by_role[role]) for route, by_role in per_route if by_role.get(role)), None)
            if chosen is None:
                answers.append(RoleAnswer(role, RoleDecision(role, None), None))
            else:
                answers.append(RoleAnswer(role, decide_role(role, chosen[1]), chosen[0]))
        return answers

    def powers_for(self, item: ItemInfo, routes: Iterable[Route] = ()) -> list[PowerInfo]:
        """Powers (权力事项) naming ``item``, then those naming the items it was answered through."""
        found: dict[int, PowerInfo] = {}
        for key in [item.key, *(r.item.key for r in routes)]:
            for power in self.powers_by_item.get(key, ()):
                found.setdefault(power.id, power)
        return list(found.values())


class SnapshotCache:
    """One snapshot per process (per registry), rebuilt when the catalogue token moves."""

    def __init__(self) -> None:
        self._snapshot: CatalogueSnapshot | None = None
        self._lock = threading.Lock()

    @staticmethod
    def current_token(session: Session) -> str:
        return freshness(session)[0]

    def get(self, session: Session | SessionProvider, token: str | None = None) -> CatalogueSnapshot:
        """The snapshot for ``token`` (read from the database when not given).

        ``session`` may be a callable returning the session, so that a look-up answered from
        the cache never opens one.
        """
        token = token or self.current_token(as_session(session))
        snapshot = self._snapshot
        if snapshot is not None and snapshot.token == token:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.token != token:
                snapshot = CatalogueSnapshot(token, as_session(session))
                self._snapshot = snapshot
        return snapshot

    def clear(self) -> None:
        self._snapshot = None


SessionProvider = Callable[[], Session]


def as_session(value: Session | SessionProvider) -> Session:
    return value() if callable(value) else value


_FRESHNESS_SQL = (
    "SELECT (SELECT token FROM catalogue_state WHERE id = 1), (SELECT max(id) FROM search_changes)"
)


def freshness(session: Session | Any) -> tuple[str, int]:
    """(catalogue token, newest search change id) in one round trip.

    The second number moves whenever searchable content changes (regulations included), which
    is what the legal-basis cache needs to know. Plain SQL: this runs on every look-up, and
    building an expression each time would cost more than the query.
    """
    connection = session.connection() if isinstance(session, Session) else session
    row = connection.exec_driver_sql(_FRESHNESS_SQL).one()
    return (row[0] or "empty", int(row[1] or 0))


def committed_freshness(engine: Any) -> tuple[str, int]:
    """The same, read on a pooled DBAPI connection outside any ORM session.

    For read-only look-ups: about a tenth of the cost of going through a session, which matters
    when the answer itself comes from memory in a few microseconds.
    """
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(_FRESHNESS_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if engine.dialect.name != "sqlite":
            connection.rollback()  # end the implicit read transaction before the pool reset
    finally:
        connection.close()
    return (row[0] or "empty", int(row[1] or 0))


class FreshnessGate:
    """Reads :func:`committed_freshness` at most once per ``window`` seconds per process.

    Commits made by this process move :data:`local_commits`, which opens the gate at once, so a
    process always sees its own writes immediately; changes made by other processes or nodes are
    seen within ``window`` seconds. That bound is what a dispatcher can tell apart from "now",
    and it takes the database round trip off almost every look-up under load.
    """

    def __init__(self, engine: Any, window: float = 0.2, notified_window: float = 5.0) -> None:
        self.engine = engine
        self.window = window
        #: while change notices arrive (Redis, see portal.sharing), another process's commit
        #: opens the gate itself, and the database is read only this often as a safety net
        self.notified_window = notified_window
        self.notified: Callable[[], bool] | None = None
        self._value: tuple[str, int] | None = None
        self._at = 0.0
        self._generation = -1

    def __call__(self) -> tuple[str, int]:
        now = time.monotonic()
        value = self._value
        window = self.notified_window if self.notified is not None and self.notified() else self.window
        if value is not None and now - self._at < window and self._generation == local_commits[0]:
            return value
        generation = local_commits[0]
        value = committed_freshness(self.engine)
        self._value, self._at, self._generation = value, now, generation
        return value


#: bumped after every commit in this process that flushed anything (see the listeners below),
#: and by :func:`note_remote_commit` when another process announces one
local_commits = [0]


def note_remote_commit() -> None:
    """Another process or node committed: the next look-up re-reads the catalogue token."""
    local_commits[0] += 1


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _context: Any) -> None:
    session.info["_portal_flushed"] = True


@event.listens_for(Session, "after_commit")
def _count_commit(session: Session) -> None:
    if not ends_a_savepoint(session) and session.info.pop("_portal_flushed", False):
        local_commits[0] += 1


@event.listens_for(Session, "after_rollback")
def _forget_write(session: Session) -> None:
    if ends_a_savepoint(session):
        return
    session.info.pop("_portal_flushed", None)


def iter_chunks(values: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
