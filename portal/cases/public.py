"""The one public view of a case, used by every public surface (HTML, JSON API, Open311, exports).

:func:`public_fields` is the only way a case leaves the portal for the public. It reads the
columns of :data:`PUBLIC_COLUMNS` and :data:`PUBLIC_TIMES` (the case row's public part and the
scrubbed rating) and the catalogue's names, never the reporter table, the raw description, the
exact point or the exact address: a new public output built on it cannot leak what it never
receives. :func:`public_case` shapes its answer for the pages and the API; the bulk export writes
it as it is, a million rows at a time, so it works on plain column tuples with the catalogue's
strings computed once per catalogue version (:class:`PublicNames`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, select
from sqlalchemy.orm import aliased

from portal.cases.lifecycle import EVENT_LABELS, STATUS_LABELS, EventKind, Status, public_status
from portal.cases.models import CHANNELS, RATINGS, URGENCIES, Case, CaseEvent, Feedback
from portal.cases.places import Places

#: Statuses in which no agency holds the case yet.
UNASSIGNED = frozenset({Status.REPORTED.value, Status.REOPENED.value})
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))

# An alias, so that the filters' own EXISTS subqueries on ratings (the bulletins' measures) are
# never correlated with the rating joined here.
_rating = aliased(Feedback, name="public_rating")

#: The case's public columns and its scrubbed rating, in the order :func:`public_fields` reads them.
PUBLIC_COLUMNS: tuple[Any, ...] = (
    Case.id, Case.item_type_id, Case.channel, Case.urgency, Case.public_description, Case.status,
    Case.agency_id, Case.street_id, Case.grid_id, Case.time_limit_label, Case.late, Case.supervised,
    Case.bounce_count, _rating.rating, _rating.public_comment,
)
#: Its moments, read after those: the bulk export has the database write them as text.
PUBLIC_TIMES: tuple[Any, ...] = (Case.reported_at, Case.dispatched_at, Case.deadline, Case.handled_at,
                                 Case.closed_at, Case.updated_at)

#: The names of :func:`public_fields`' values, in order (the cases dataset's columns).
PUBLIC_FIELDS = (
    "id", "case_number", "item_type_scheme", "item_type_code", "item_type_name", "item_kind", "major_name",
    "service_code", "channel", "channel_label", "urgency", "description", "status", "status_label",
    "agency_code", "agency_name", "street_code", "street_name", "grid_code", "grid_name", "place", "lat", "lon",
    "reported_at", "dispatched_at", "deadline", "time_limit", "handled_at", "closed_at", "updated_at", "late",
    "supervised", "bounce_count", "rating", "feedback_comment",
)
_STATUS_TEXT = {status.value: label for status, label in STATUS_LABELS.items()}
_NO_ITEM: tuple[None, ...] = (None,) * 6
_NO_PAIR: tuple[None, None] = (None, None)


def public_select(*, with_feedback: bool = True,
                  moment: Callable[[Any], ColumnElement[Any]] | None = None) -> Select[Any]:
    """SELECT of the public columns of cases (add WHERE / ORDER BY). ``moment`` rewrites each
    time column (the export formats them in the database); ``with_feedback=False`` leaves the
    rating out (NULL) for lists that do not show it."""
    rating: tuple[Any, ...] = PUBLIC_COLUMNS[-2:] if with_feedback else (
        literal(None).label("rating"), literal(None).label("public_comment"))
    times = PUBLIC_TIMES if moment is None else tuple(moment(c).label(c.key) for c in PUBLIC_TIMES)
    stmt = select(*PUBLIC_COLUMNS[:-2], *rating, *times)
    return stmt.outerjoin(_rating, _rating.case_id == Case.id) if with_feedback else stmt


def case_number(case_id: int, reported_at: dt.datetime | str) -> str:
    """The number shown to people: AJ + report date (China time) + id. ``reported_at`` may be the
    export's ISO text, already in China time."""
    if isinstance(reported_at, str):
        day = reported_at[0:4] + reported_at[5:7] + reported_at[8:10]
    else:
        day = f"{reported_at.astimezone(CHINA_TZ):%Y%m%d}"
    return f"AJ{day}{case_id:07d}"


class PublicNames:
    """The catalogue's strings a public case shows, computed once per catalogue version: item
    types (with their Open311 service code), agencies, areas, place labels, grids' public points."""

    def __init__(self, places: Places) -> None:
        self.places = places
        snapshot = places.snapshot
        self.items: dict[int, tuple[Any, ...]] = {
            item_id: (item.scheme, item.code, item.name, item.kind, item.major_name, places.service_code(item))
            for item_id, item in snapshot.items.items()}
        self.agencies: dict[int | None, tuple[str, str]] = {
            agency_id: (agency.code, agency.name) for agency_id, agency in snapshot.agencies.items()}
        self.areas: dict[int | None, tuple[str, str]] = {
            area_id: (area.code, area.name) for area_id, area in snapshot.areas.items()}
        self.points: dict[int | None, tuple[float, float]] = {
            grid_id: shape.centroid for grid_id, shape in places.shapes().items()}
        #: (grid, street) → street code and name, grid code and name, place label, lat, lon.
        self.places_shown: dict[tuple[int | None, int | None], tuple[Any, ...]] = {}

    @classmethod
    def of(cls, places: Places) -> PublicNames:
        names: PublicNames | None = places.__dict__.get("_public_names")
        if names is None:
            names = cls(places)
            places.__dict__["_public_names"] = names
        return names

    def place(self, grid_id: int | None, street_id: int | None) -> tuple[Any, ...]:
        """Where the case is, as the public may know it: street, grid, their label, the grid's point."""
        shown = (*self.areas.get(street_id, _NO_PAIR), *self.areas.get(grid_id, _NO_PAIR),
                 self.places.place_label(grid_id, street_id), *self.points.get(grid_id, _NO_PAIR))
        self.places_shown[(grid_id, street_id)] = shown
        return shown

    def expected(self, item_id: int, grid_id: int | None, reported_at: dt.datetime | str, urgency: str,
                 time_limit: str) -> tuple[tuple[Any, Any], str]:
        """Not dispatched yet: the agency the catalogue makes responsible (as the answer to the
        Open311 POST named it), not "nobody", and its time limit."""
        at = dt.datetime.fromisoformat(reported_at) if isinstance(reported_at, str) else reported_at
        handling = self.places.handling(item_id, grid_id, at, urgency)
        return self.agencies.get(handling.agency_id, _NO_PAIR), time_limit or handling.limit.label


def public_fields(row: Sequence[Any], names: PublicNames) -> tuple[Any, ...]:
    """A row of :func:`public_select` as the public sees it, in :data:`PUBLIC_FIELDS` order."""
    (case_id, item_id, channel, urgency, description, status, agency_id, street_id, grid_id, time_limit, late,
     supervised, bounces, rating, comment, reported_at, dispatched_at, deadline, handled_at, closed_at,
     updated_at) = row
    agency = names.agencies.get(agency_id, _NO_PAIR)
    if agency is _NO_PAIR and status in UNASSIGNED:
        agency, time_limit = names.expected(item_id, grid_id, reported_at, urgency, time_limit)
    place = names.places_shown.get((grid_id, street_id)) or names.place(grid_id, street_id)
    # The export's rows are the driver's tuples (SQLite's booleans are 0 / 1: ``== 1`` makes them
    # booleans). Its times are ISO text already in China time (the common case, a million times).
    number = (f"AJ{reported_at[0:4]}{reported_at[5:7]}{reported_at[8:10]}{case_id:07d}"
              if reported_at.__class__ is str else case_number(case_id, reported_at))
    return (case_id, number, *names.items.get(item_id, _NO_ITEM), channel, CHANNELS.get(channel, channel), urgency,
            description, status, _STATUS_TEXT[status], *agency, *place, reported_at, dispatched_at, deadline,
            time_limit, handled_at, closed_at, updated_at, late == 1, supervised == 1, bounces, rating,
            comment)


@dataclasses.dataclass(frozen=True, slots=True)
class PublicEvent:
    kind: str
    label: str
    at: dt.datetime
    agency: str | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "at": self.at, "agency": self.agency, "note": self.note}


@dataclasses.dataclass(frozen=True, slots=True)
class PublicCase:
    id: int
    case_number: str
    service_code: str | None
    item_type: dict[str, Any] | None
    channel: str
    channel_label: str
    urgency: str
    urgency_label: str
    description: str
    status: str
    status_label: str
    open311_status: str
    agency: dict[str, Any] | None
    street: dict[str, Any] | None
    grid: dict[str, Any] | None
    place: str
    lat: float | None
    lon: float | None
    reported_at: dt.datetime
    dispatched_at: dt.datetime | None
    deadline: dt.datetime | None
    time_limit: str
    handled_at: dt.datetime | None
    closed_at: dt.datetime | None
    updated_at: dt.datetime
    late: bool
    supervised: bool
    bounce_count: int
    rating: str | None
    rating_label: str | None
    feedback_comment: str | None
    events: tuple[PublicEvent, ...] | None = None

    @property
    def status_notes(self) -> str:
        """One Chinese sentence on where the case stands (Open311 ``status_notes``)."""
        agency = self.agency["name"] if self.agency else None
        match Status(self.status):
            case Status.REPORTED:
                return "已受理，等待派遣。"
            case Status.DISPATCHED:
                limit = f"，处置时限{self.time_limit}" if self.time_limit else ""
                return f"已派遣至{agency or '责任单位'}{limit}。"
            case Status.HANDLED:
                return f"{agency or '责任单位'}已处置，等待核查。"
            case Status.VERIFIED:
                return "处置结果已核查，等待结案。"
            case Status.SUPERVISED:
                return "已超过处置时限，正在督促办理。"
            case Status.CLOSED:
                return "已结案归档。" + ("（超时办结）" if self.late else "")
            case Status.BOUNCED:
                return "责任单位退单（非其权属），等待重新派遣。"
            case Status.REOPENED:
                return "已重新办理，等待再次派遣。"
            case Status.CANCELLED:
                return "已撤销。"
            case Status.REJECTED:
                return "经核实不属于城市管理范畴，不予立案。"
        return STATUS_LABELS[Status(self.status)]  # pragma: no cover

    @property
    def service_notice(self) -> str:
        agency = self.agency["name"] if self.agency else None
        if not agency:
            return ""
        return f"由{agency}负责处置" + (f"，处置时限{self.time_limit}" if self.time_limit else "") + "。"

    def as_dict(self) -> dict[str, Any]:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["events"] = [e.as_dict() for e in self.events] if self.events is not None else None
        data["status_notes"] = self.status_notes
        if data["events"] is None:
            del data["events"]
        return data


def public_event(event: CaseEvent, places: Places) -> PublicEvent:
    agency = places.agency(event.agency_id)
    return PublicEvent(event.kind, EVENT_LABELS[EventKind(event.kind)], event.at,
                       agency.name if agency else None, event.public_note)


def public_case(row: Sequence[Any], places: Places, *,
                events: Sequence[CaseEvent] | None = None) -> PublicCase:
    """A row of :func:`public_select` shaped for the pages and the API (the export's values)."""
    (case_id, number, scheme, code, name, kind, major_name, service_code, channel, channel_label, urgency,
     description, status, status_label, agency_code, agency_name, street_code, street_name, grid_code, grid_name,
     place, lat, lon, reported_at, dispatched_at, deadline, time_limit, handled_at, closed_at, updated_at, late,
     supervised, bounces, rating, comment) = public_fields(row, PublicNames.of(places))
    return PublicCase(
        id=case_id,
        case_number=number,
        service_code=service_code,
        item_type={"code": code, "name": name, "kind": kind, "scheme": scheme,
                   "major_name": major_name} if code is not None else None,
        channel=channel,
        channel_label=channel_label,
        urgency=urgency,
        urgency_label=URGENCIES.get(urgency, urgency),
        description=description,
        status=status,
        status_label=status_label,
        open311_status=public_status(status),
        agency={"code": agency_code, "name": agency_name} if agency_code is not None else None,
        street={"code": street_code, "name": street_name} if street_code is not None else None,
        grid={"code": grid_code, "name": grid_name} if grid_code is not None else None,
        place=place,
        lat=lat,
        lon=lon,
        reported_at=reported_at,
        dispatched_at=dispatched_at,
        deadline=deadline,
        time_limit=time_limit,
        handled_at=handled_at,
        closed_at=closed_at,
        updated_at=updated_at,
        late=late,
        supervised=supervised,
        bounce_count=bounces,
        rating=rating,
        rating_label=RATINGS.get(rating) if rating is not None else None,
        feedback_comment=comment,
        events=tuple(public_event(e, places) for e in events) if events is not None else None,
    )


def public_cases(rows: Iterable[Sequence[Any]], places: Places, *,
                 events: dict[int, list[CaseEvent]] | None = None) -> list[PublicCase]:
    return [public_case(row, places, events=events.get(row[0], []) if events is not None else None)
            for row in rows]
