"""What cases need from the catalogue: names and codes, grid geometry, and who handles what.

Everything is answered from the catalogue's in-memory snapshot (``portal.catalogue.snapshot``),
so a list of a hundred cases or an import of a million never queries the catalogue per row.
``responsible`` applies the catalogue's own decision rule (``portal.catalogue.resolution``) to
the snapshot's published duties: the same answer as the dispatch look-up, without the legal-basis
texts that a case does not need.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import threading
from functools import lru_cache
from typing import Any, ClassVar

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.catalogue.calendar import CHINA_TZ, LimitUnit, TimeLimit, WorkingCalendar

#: Which role's duty answers "who handles this case", in order of preference.
HANDLING_ROLES = ("maintainer", "owner", "enforcer", "supervisor")
DEFAULT_NORMAL_DAYS = 3
DEFAULT_URGENT_HOURS = 4


@dataclasses.dataclass(frozen=True, slots=True)
class Handling:
    """Who handles an item type at a place, and within what time."""

    agency_id: int | None
    role: str | None
    limit: TimeLimit
    duty_id: Any = None

    def deadline(self, start: dt.datetime, calendar: WorkingCalendar | None = None) -> dt.datetime:
        return (calendar or WorkingCalendar.default()).deadline(start, self.limit)


@dataclasses.dataclass(frozen=True, slots=True)
class GridShape:
    area_id: int
    code: str
    name: str
    street_id: int | None
    centroid: tuple[float, float]  # (lat, lon), rounded: the public point of a case
    rings: tuple[tuple[tuple[float, float], ...], ...]  # exterior rings, (lon, lat)


def get_snapshot(session: Session, registry: Any = None) -> Any:
    """The catalogue's current snapshot (rebuilt when the catalogue's token moves); shared with
    the catalogue's own services when a registry is given."""
    if registry is not None:
        from portal.catalogue.services import caches

        return caches(registry)[0].get(session)
    return _snapshot_cache().get(session)


@lru_cache(maxsize=1)
def _snapshot_cache() -> Any:
    from portal.catalogue.snapshot import SnapshotCache

    return SnapshotCache()


class Places:
    """Per-snapshot helpers: codes ↔ ids, streets of grids, grid shapes, handling limits."""

    _lock = threading.Lock()
    _cache: ClassVar[dict[str, Places]] = {}

    def __init__(self, snapshot: Any, session: Session) -> None:
        self.snapshot = snapshot
        self.street_of: dict[int, int | None] = {}
        for area in snapshot.areas.values():
            street = next((snapshot.areas[i] for i in area.chain if snapshot.areas[i].level == "street"), None)
            self.street_of[area.id] = street.id if street else None
        self.district = next((a for a in snapshot.areas.values() if a.level == "district"), None)
        self._shapes: dict[int, GridShape] | None = None
        self._handling: dict[tuple[int, int, int, str, int], Handling] = {}
        boundaries = set()
        for duties in snapshot.duties.values():
            for duty in duties:
                if duty.valid_from is not None:
                    boundaries.add(duty.valid_from)
                if duty.valid_to is not None:
                    boundaries.add(duty.valid_to + dt.timedelta(days=1))
        self._boundaries = sorted(boundaries)

    @classmethod
    def of(cls, session: Session, registry: Any = None) -> Places:
        snapshot = get_snapshot(session, registry)
        places = cls._cache.get(snapshot.token)
        if places is None or places.snapshot is not snapshot:
            with cls._lock:
                places = cls(snapshot, session)
                places.load_shapes(session)
                cls._cache.clear()
                cls._cache[snapshot.token] = places
        return places

    # -- codes ----------------------------------------------------------------------------

    def item(self, item_id: int) -> Any:
        return self.snapshot.items.get(item_id)

    def agency(self, agency_id: int | None) -> Any:
        return self.snapshot.agencies.get(agency_id) if agency_id is not None else None

    def area(self, area_id: int | None) -> Any:
        return self.snapshot.areas.get(area_id) if area_id is not None else None

    def items_for_code(self, code: str) -> list[Any]:
        """Item types a client's code means: a key (scheme:kind:code) or a bare code."""
        code = (code or "").strip()
        if code.count(":") == 2:
            item = self.snapshot.item_by_key.get(code)
            return [item] if item else []
        return list(self.snapshot.items_by_code.get(code, ()))

    def item_for_code(self, code: str) -> Any | None:
        """The one item type for a code; a bare code shared by several prefers one with duties."""
        items = self.items_for_code(code)
        with_duties = [i for i in items if i.id in self.snapshot.items_with_duties]
        chosen = with_duties or items
        return chosen[0] if chosen else None

    def service_code(self, item: Any) -> str:
        """The public code of an item type: the bare code unless another offered type shares it."""
        sharing = [i for i in self.snapshot.items_by_code.get(item.code, ())
                   if i.id in self.snapshot.items_with_duties]
        return item.code if len(sharing) <= 1 else item.key

    def area_by_code(self, code: str) -> Any | None:
        return self.snapshot.area_by_code.get((code or "").strip())

    def agency_by_code(self, code: str) -> Any | None:
        return self.snapshot.agency_by_code.get((code or "").strip())

    def locate(self, session: Session, lat: float, lon: float, hint: str | None = None) -> Any | None:
        """The grid containing the point, or None outside the district.

        ``hint`` is the grid the sender says the point is in: when the point lies inside that
        grid (not merely on its border) it is the answer, without searching all grids.
        """
        locator = self.snapshot.locator(session)
        if hint:
            geometry = self._hint_geometry(locator, hint)
            if geometry is not None and shapely.contains_xy(geometry, lon, lat):
                return self.snapshot.area_by_code.get(hint)
        code = locator.locate(lat, lon)
        return self.snapshot.area_by_code.get(code) if code else None

    def _hint_geometry(self, locator: Any, code: str) -> Any:
        geometries = self.__dict__.get("_geometries")
        if geometries is None or geometries[0] is not locator:
            geometries = (locator, {c: locator.geometry(c) for c in locator.codes})
            self.__dict__["_geometries"] = geometries
        return geometries[1].get(code)

    def place_label(self, grid_id: int | None, street_id: int | None = None) -> str:
        """The public place: street and grid, never closer."""
        grid = self.area(grid_id)
        street = self.area(street_id if street_id is not None else self.street_of.get(grid_id or -1))
        parts = [a.name for a in (street, grid) if a is not None]
        if not parts and self.district is not None:
            parts = [self.district.name]
        return " ".join(parts)

    # -- geometry -------------------------------------------------------------------------

    def load_shapes(self, session: Session) -> dict[int, GridShape]:
        """Grid polygons and public centroids (loaded once per catalogue version)."""
        if self._shapes is None:
            from shapely.geometry import shape

            from portal.catalogue.models import Area

            shapes: dict[int, GridShape] = {}
            rows = session.execute(
                select(Area.id, Area.code, Area.name, Area.geometry).where(Area.level == "grid")
            )
            for row in rows:
                if not row.geometry:
                    continue
                geometry = shape(row.geometry)
                point = geometry.representative_point() if not geometry.centroid.within(geometry) else geometry.centroid
                polygons = getattr(geometry, "geoms", [geometry])
                rings = tuple(tuple((round(x, 6), round(y, 6)) for x, y in p.exterior.coords) for p in polygons)
                shapes[row.id] = GridShape(row.id, row.code, row.name, self.street_of.get(row.id),
                                           (round(point.y, 5), round(point.x, 5)), rings)
            self._shapes = shapes
        return self._shapes

    def shapes(self) -> dict[int, GridShape]:
        """The shapes loaded by :meth:`load_shapes` (``Places.of`` loads them)."""
        return self._shapes or {}

    def public_point(self, grid_id: int | None) -> tuple[float | None, float | None]:
        shape = self.shapes().get(grid_id) if grid_id is not None else None
        return shape.centroid if shape else (None, None)

    # -- handling -------------------------------------------------------------------------

    def handling(self, item_id: int, area_id: int | None, at: dt.datetime, urgency: str = "normal",
                 agency_id: int | None = None) -> Handling:
        """Who handles ``item_id`` at ``area_id`` on ``at`` and its time limit.

        When the dispatcher chose an agency, the limit of the duty that agency holds is used;
        otherwise the handling roles in order (maintainer, owner, enforcer, supervisor).
        """
        area_id = area_id if area_id is not None else (self.district.id if self.district else None)
        day = at.astimezone(CHINA_TZ).date()
        # Answers only change on the dates where some duty starts or ends: cache per such period.
        period = bisect.bisect_right(self._boundaries, day)
        key = (item_id, area_id or 0, period, urgency, agency_id or 0)
        cached = self._handling.get(key)
        if cached is not None:
            return cached
        snapshot = self.snapshot
        area = snapshot.areas.get(area_id) if area_id is not None else None
        item = snapshot.items.get(item_id)
        # The dispatch look-up's own decision, routes included (crosswalk, event → component).
        decisions = ({a.role: a.decision for a in snapshot.decide(item, area, day)}
                     if item is not None and area is not None else {})
        chosen = None
        if agency_id is not None:
            chosen = next((decisions[r].winner for r in HANDLING_ROLES if r in decisions
                           and decisions[r].winner is not None and decisions[r].winner.agency == agency_id), None)
        if chosen is None:
            chosen = next((decisions[r].winner for r in HANDLING_ROLES
                           if r in decisions and decisions[r].winner is not None), None)
        duty = chosen.payload if chosen else None

        def pick(attribute: str) -> int | None:
            value = getattr(duty, attribute, None) if duty is not None else None
            return value if value is not None else (getattr(item, attribute, None) if item is not None else None)

        # The same rule as the look-up: the urgency's limit, else the other one, else a default.
        urgent_hours, normal_days = pick("urgent_hours"), pick("normal_working_days")
        if urgency == "urgent" and urgent_hours is not None:
            limit = TimeLimit(urgent_hours, LimitUnit.HOURS)
        elif normal_days is not None:
            limit = TimeLimit(normal_days, LimitUnit.WORKING_DAYS)
        elif urgent_hours is not None:
            limit = TimeLimit(urgent_hours, LimitUnit.HOURS)
        else:
            limit = (TimeLimit(DEFAULT_URGENT_HOURS, LimitUnit.HOURS) if urgency == "urgent"
                     else TimeLimit(DEFAULT_NORMAL_DAYS, LimitUnit.WORKING_DAYS))
        result = Handling(chosen.agency if chosen else None, chosen.role if chosen else None, limit,
                          chosen.duty_id if chosen else None)
        if len(self._handling) > 200_000:
            self._handling.clear()
        self._handling[key] = result
        return result
