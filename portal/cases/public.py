"""The one public view of a case, used by every public surface (HTML, JSON API, Open311, exports).

:func:`public_case` is the only way a case leaves the portal for the public. It reads the case
row and the catalogue's names, never the reporter table, the raw description, the exact point or
the exact address: a new public output built on it cannot leak what it never receives.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from portal.cases.lifecycle import EVENT_LABELS, STATUS_LABELS, EventKind, Status, public_status
from portal.cases.models import CHANNELS, RATINGS, URGENCIES, Case, CaseEvent, Feedback
from portal.cases.places import Places

#: Statuses in which no agency holds the case yet.
UNASSIGNED = frozenset({Status.REPORTED.value, Status.REOPENED.value})


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


def public_case(case: Case, places: Places, *, feedback: Feedback | None = None,
                events: Sequence[CaseEvent] | None = None) -> PublicCase:
    item = places.item(case.item_type_id)
    agency = places.agency(case.agency_id)
    time_limit = case.time_limit_label
    if agency is None and case.status in UNASSIGNED:
        # Not dispatched yet: the agency the catalogue makes responsible (as the answer to the
        # Open311 POST named it), not "nobody".
        expected = places.handling(case.item_type_id, case.grid_id, case.reported_at, case.urgency)
        agency = places.agency(expected.agency_id)
        time_limit = time_limit or expected.limit.label
    street = places.area(case.street_id)
    grid = places.area(case.grid_id)
    lat, lon = places.public_point(case.grid_id)
    return PublicCase(
        id=case.id,
        case_number=case.case_number,
        service_code=places.service_code(item) if item else None,
        item_type={"code": item.code, "name": item.name, "kind": item.kind, "scheme": item.scheme,
                   "major_name": item.major_name} if item else None,
        channel=case.channel,
        channel_label=CHANNELS.get(case.channel, case.channel),
        urgency=case.urgency,
        urgency_label=URGENCIES.get(case.urgency, case.urgency),
        description=case.public_description,
        status=case.status,
        status_label=STATUS_LABELS[Status(case.status)],
        open311_status=public_status(case.status),
        agency={"code": agency.code, "name": agency.name} if agency else None,
        street={"code": street.code, "name": street.name} if street else None,
        grid={"code": grid.code, "name": grid.name} if grid else None,
        place=places.place_label(case.grid_id, case.street_id),
        lat=lat,
        lon=lon,
        reported_at=case.reported_at,
        dispatched_at=case.dispatched_at,
        deadline=case.deadline,
        time_limit=time_limit,
        handled_at=case.handled_at,
        closed_at=case.closed_at,
        updated_at=case.updated_at,
        late=case.late,
        supervised=case.supervised,
        bounce_count=case.bounce_count,
        rating=feedback.rating if feedback else None,
        rating_label=RATINGS.get(feedback.rating) if feedback else None,
        feedback_comment=feedback.public_comment if feedback else None,
        events=tuple(public_event(e, places) for e in events) if events is not None else None,
    )


def public_cases(cases: Iterable[Case], places: Places, *, feedback: dict[int, Feedback] | None = None,
                 events: dict[int, list[CaseEvent]] | None = None) -> list[PublicCase]:
    return [public_case(c, places, feedback=(feedback or {}).get(c.id),
                        events=events.get(c.id, []) if events is not None else None) for c in cases]
