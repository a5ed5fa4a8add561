"""From a validated case record to the rows to store: the life-cycle state and the plan.

One planning function, :func:`plan_case`, turns a validated record into the rows to store (case,
reporter, events, feedback), running every step through the life-cycle state machine and taking
each dispatch's deadline from the catalogue at dispatch time. The API path stores one plan with
the ORM (:class:`~portal.cases.services.CaseService`); the importer stores thousands per
transaction with bulk inserts. Both therefore accept and refuse exactly the same things.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from portal.cases.lifecycle import (
    CaseFacts,
    EventKind,
    Status,
    advance,
    is_rework,
    normalise_bounce_reason,
    working_hours_between,
)
from portal.cases.models import Case
from portal.cases.places import Places
from portal.cases.privacy import scrub
from portal.cases.rescrub import known_personal
from portal.cases.tracking import (
    tracking_hash,
)
from portal.catalogue.calendar import WorkingCalendar
from portal.db import utcnow
from portal.errors import InvalidInput

# ----------------------------------------------------------------------------- life-cycle state


@dataclasses.dataclass(slots=True)
class CaseState:
    """The life-cycle columns of a case, advanced step by step."""

    status: str | None = None
    last_event_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    time_limit_label: str = ""
    agency_id: int | None = None
    dispatched_at: dt.datetime | None = None
    handled_at: dt.datetime | None = None
    verified_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    handled: bool = False
    verified: bool = False
    supervised: bool = False
    late: bool = False
    bounce_count: int = 0
    event_count: int = 0
    rework_count: int = 0
    postponed_at: dt.datetime | None = None
    handling_hours: float | None = None

    FIELDS = ("status", "deadline", "time_limit_label", "agency_id", "dispatched_at", "handled_at",
              "verified_at", "closed_at", "updated_at", "handled", "verified", "supervised", "late",
              "bounce_count", "event_count", "rework_count", "postponed_at", "handling_hours")

    @classmethod
    def of(cls, case: Case) -> CaseState:
        state = cls(**{name: getattr(case, name) for name in cls.FIELDS})
        state.last_event_at = case.updated_at
        return state

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def facts(self) -> CaseFacts:
        return CaseFacts(status=Status(self.status) if self.status else None, last_event_at=self.last_event_at,
                         deadline=self.deadline, handled=self.handled, verified=self.verified,
                         supervised=self.supervised)


@dataclasses.dataclass(frozen=True, slots=True)
class CaseContext:
    item_id: int
    area_id: int | None
    urgency: str
    places: Places
    calendar: WorkingCalendar


def apply_step(state: CaseState, step: Mapping[str, Any], ctx: CaseContext, seq: int,
               actor: str = "") -> dict[str, Any]:
    """Advance ``state`` by one validated step; returns the ``case_events`` row to store."""
    kind = EventKind(step["kind"])
    at: dt.datetime = step["at"]
    agency_id = None
    if step.get("agency"):
        agency = ctx.places.agency_by_code(step["agency"])
        if agency is None:
            raise InvalidInput(f"未知的单位代码：{step['agency']}", code="unknown_agency",
                               fields={"agency": ["单位代码不存在。"]})
        agency_id = agency.id
    reason = normalise_bounce_reason(step.get("reason")) if kind is EventKind.BOUNCE else None
    new_deadline = None
    handling = None
    if kind is EventKind.DISPATCH:
        handling = ctx.places.handling(ctx.item_id, ctx.area_id, at, ctx.urgency, agency_id)
        agency_id = agency_id if agency_id is not None else handling.agency_id
        if agency_id is None:
            raise InvalidInput("权责清单中没有该类案件在此处的责任单位，派遣时必须指定 agency。",
                               code="no_responsible_agency", fields={"agency": ["必须指定。"]})
        new_deadline = handling.deadline(at, ctx.calendar)
    elif kind is EventKind.POSTPONE:
        new_deadline = step.get("deadline")
    before = state.facts()
    facts = advance(before, kind, at, new_deadline=new_deadline)
    state.status = facts.status.value if facts.status else None
    state.last_event_at = at
    state.updated_at = at
    state.supervised = facts.supervised
    state.handled = facts.handled
    state.verified = facts.verified
    state.event_count += 1
    if kind is EventKind.DISPATCH:
        assert handling is not None
        state.agency_id = agency_id
        state.dispatched_at = at
        state.deadline = new_deadline
        state.time_limit_label = handling.limit.label
        state.handled_at = state.verified_at = None
        state.handling_hours = None
        state.postponed_at = None
    elif kind is EventKind.POSTPONE:
        state.deadline = new_deadline
        state.postponed_at = at
    elif kind is EventKind.HANDLE:
        state.handled_at = at
        if state.dispatched_at is not None:
            state.handling_hours = working_hours_between(ctx.calendar, state.dispatched_at, at)
        if agency_id is not None:
            state.agency_id = agency_id
        if state.deadline is not None and at > state.deadline:
            state.late = True
    elif kind is EventKind.VERIFY:
        state.verified_at = at
    elif kind is EventKind.SUPERVISE:
        state.late = True
    elif kind in {EventKind.CLOSE, EventKind.CANCEL, EventKind.REJECT}:
        state.closed_at = at
    elif kind is EventKind.BOUNCE:
        state.bounce_count += 1
        agency_id = agency_id if agency_id is not None else state.agency_id
        state.agency_id = None
        state.deadline = None
        state.postponed_at = None
        state.time_limit_label = ""
    elif kind is EventKind.REOPEN:
        if is_rework(before, kind):
            state.rework_count += 1
        state.closed_at = state.handled_at = state.verified_at = None
        state.handling_hours = None
    note = step.get("note") or ""
    return {
        "seq": seq, "kind": kind.value, "at": at, "agency_id": agency_id, "reason": reason,
        "note": note, "public_note": scrub(note, step.get("_known", ())),
        "deadline": new_deadline, "external_id": step.get("external_id"), "actor": actor,
    }


# ----------------------------------------------------------------------------- planning


@dataclasses.dataclass
class CasePlan:
    case: dict[str, Any]
    reporter: dict[str, Any] | None
    events: list[dict[str, Any]]
    feedback: dict[str, Any] | None
    tracking_code: str | None


def _known_personal(record: Mapping[str, Any]) -> tuple[str, ...]:
    reporter = record.get("reporter") or {}
    return known_personal(reporter.get("name"), reporter.get("phone"), reporter.get("email"),
                          reporter.get("id_number"), record.get("address"))


def _known_for(case: Case) -> tuple[str, ...]:
    reporter = case.reporter
    if reporter is None:
        return known_personal(None, None, None, None, case.address)
    return known_personal(reporter.name, reporter.phone, reporter.email, reporter.id_number, case.address)


def resolve_place(record: Mapping[str, Any], places: Places, session: Session) -> tuple[int | None, int | None]:
    """(grid id, street id) of a record: the grid containing lat/lon, else the given grid code."""
    grid = None
    if record.get("lat") is not None and record.get("lon") is not None:
        grid = places.locate(session, record["lat"], record["lon"], hint=record.get("grid_code"))
        if grid is None and not record.get("grid_code"):
            raise InvalidInput("该位置不在本辖区的任何网格内。", code="outside_district",
                               fields={"lat": ["位置不在辖区内。"]})
    if grid is None and record.get("grid_code"):
        grid = places.area_by_code(record["grid_code"])
        if grid is None or grid.level != "grid":
            raise InvalidInput(f"未知的网格代码：{record['grid_code']}", code="unknown_grid",
                               fields={"grid_code": ["网格代码不存在。"]})
    if grid is None:
        return None, None
    return grid.id, places.street_of.get(grid.id)


def plan_case(record: Mapping[str, Any], places: Places, calendar: WorkingCalendar, session: Session, *, source: str,
              actor: str = "", tracking_code: str | None = None) -> CasePlan:
    """The rows for a validated record; raises InvalidInput / InvalidEvent with a clear message."""
    item = places.item_for_code(record["item_type"])
    if item is None:
        raise InvalidInput(f"未知的部件/事件类型：{record['item_type']}", code="unknown_item_type",
                           fields={"item_type": ["类型代码不存在。"]})
    grid_id, street_id = resolve_place(record, places, session)
    known = _known_personal(record)
    reported_at: dt.datetime = record["reported_at"]
    state = CaseState()
    ctx = CaseContext(item.id, grid_id, record.get("urgency") or "normal", places, calendar)
    events = [apply_step(state, {"kind": "report", "at": reported_at, "note": "", "_known": known}, ctx, 1, actor)]
    for seq, step in enumerate(sorted(record.get("events") or (), key=lambda s: s["at"]), start=2):
        events.append(apply_step(state, {**step, "_known": known}, ctx, seq, actor))
    code = tracking_code or record.get("tracking_code")
    case = {
        "external_id": record.get("external_id"),
        "source": source,
        "channel": record["channel"],
        "item_type_id": item.id,
        "urgency": record.get("urgency") or "normal",
        "description": record.get("description") or "",
        "public_description": scrub(record.get("description"), known),
        "lat": record.get("lat"),
        "lon": record.get("lon"),
        "address": record.get("address") or "",
        "grid_id": grid_id,
        "street_id": street_id,
        "reported_at": reported_at,
        "tracking_hash": tracking_hash(code) if code else None,
        "changed_at": utcnow(),
        **state.columns(),
    }
    reporter = None
    if record.get("reporter") and any(record["reporter"].values()):
        reporter = {key: record["reporter"].get(key) or "" for key in ("name", "phone", "email", "id_number", "account_id")}
    feedback = None
    if record.get("feedback"):
        if state.status != Status.CLOSED.value:
            raise InvalidInput("只有已结案的案件才能有回访评价。", code="feedback_not_closed",
                               fields={"feedback": ["案件尚未结案。"]})
        fb = record["feedback"]
        feedback = {"rating": fb["rating"], "comment": fb.get("comment") or "",
                    "public_comment": scrub(fb.get("comment"), known),
                    "at": fb.get("at") or state.closed_at, "channel": "import"}
    return CasePlan(case, reporter, events, feedback, code)
