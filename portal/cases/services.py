"""Case services: ingestion (API, import, Open311), disclosure, hotspots and tracking.

A record becomes rows through :func:`portal.cases.planning.plan_case`, the one planning function
the API path and the importer share; this service stores plans, adds steps, and answers the
public case list, a case, the export's rows, the bounce hotspots and the tracking page.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.cases.interfaces import ICaseService
from portal.cases.lifecycle import (
    FINAL_STATUSES,
    EventKind,
    Status,
)
from portal.cases.measures import bounced_by, dispatched_to, measure_criterion
from portal.cases.models import Case, CaseEvent, CaseReporter, Feedback
from portal.cases.places import Places
from portal.cases.planning import (
    CaseContext,
    CasePlan,
    CaseState,
    _known_for,
    apply_step,
    plan_case,
)
from portal.cases.privacy import scrub
from portal.cases.public import PublicCase, public_case, public_cases, public_select
from portal.cases.tracking import (
    new_tracking_code,
    normalise_tracking_code,
    tracking_hash,
)
from portal.catalogue.calendar import WorkingCalendar
from portal.db import stream_tuples, utcnow
from portal.errors import Conflict, InvalidInput, NotFound

#: Item types whose cases are never disclosed (security installations); ``cases.nondisclosable``
#: in the settings replaces the list (codes or keys, separated by spaces or commas).
DEFAULT_NONDISCLOSABLE = ("0136", "0138", "0502", "01050", "01051", "01066")
COUNT_LIMIT = 1_000
GRID_COUNT_TTL = 60.0
#: At most this many tombstones in one incremental page (the duties API keeps the same bound).
TOMBSTONE_LIMIT = 10_000
_GRID_COUNTS: dict[tuple[str, str, str], tuple[float, dict[int, int]]] = {}


# ----------------------------------------------------------------------------- the service


@dataclasses.dataclass
class IngestResult:
    case: Case
    created: bool
    events_added: int
    tracking_code: str | None = None


@dataclasses.dataclass
class PublicPage:
    items: list[PublicCase]
    page: int
    page_size: int
    total: int
    total_is_lower_bound: bool
    next_cursor: str | None
    # The cursor of the page before this one (None on the first page): keyset paging both ways
    # reaches every case, however many there are.
    prev_cursor: str | None = None
    # Incremental sync only: cases changed since then that are not disclosed (id and time).
    tombstones: list[dict[str, Any]] | None = None


def nondisclosable_ids(places: Places, settings: Mapping[str, Any] | None) -> frozenset[int]:
    raw = (settings or {}).get("cases.nondisclosable")
    codes = raw.replace(",", " ").split() if isinstance(raw, str) else DEFAULT_NONDISCLOSABLE
    ids: set[int] = set()
    for code in codes:
        ids.update(item.id for item in places.items_for_code(code))
    return frozenset(ids)


def encode_cursor(reported_at: dt.datetime, case_id: int) -> str:
    raw = f"{reported_at.astimezone(dt.UTC).isoformat()}|{case_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, case_id = raw.split("|")
        return dt.datetime.fromisoformat(stamp), int(case_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor 无效。", code="invalid_cursor", fields={"cursor": ["无效的游标。"]}) from exc


def decode_id_cursor(cursor: str) -> int:
    """The cursor of an incremental (``updated_since``) page: the last id of the page before."""
    if not cursor.isdigit() or len(cursor) > 12:
        raise InvalidInput("cursor 无效。", code="invalid_cursor", fields={"cursor": ["无效的游标。"]})
    return int(cursor)


@implementer(ICaseService)
class CaseService:
    def __init__(self, session: Session, places: Places | None = None, settings: Mapping[str, Any] | None = None,
                 calendar: WorkingCalendar | None = None, actor: str = "") -> None:
        self.session = session
        self._places = places
        self.settings = settings or {}
        self.calendar = calendar or WorkingCalendar.default()
        self.actor = actor

    @property
    def places(self) -> Places:
        if self._places is None:
            self._places = Places.of(self.session)
        return self._places

    @property
    def hidden_item_ids(self) -> frozenset[int]:
        return nondisclosable_ids(self.places, self.settings)

    # -- ingestion ------------------------------------------------------------------------

    def by_external_id(self, external_id: str) -> Case | None:
        return self.session.scalar(select(Case).where(Case.external_id == external_id))

    def get(self, case_id: str | int) -> Case:
        case = self.by_external_id(str(case_id))
        if case is None and str(case_id).isdigit() and len(str(case_id)) <= 11:
            case = self.session.get(Case, int(case_id))
        if case is None:
            raise NotFound(f"案件不存在：{case_id}", code="case_not_found")
        return case

    def store_plan(self, plan: CasePlan) -> Case:
        case = Case(**plan.case)
        if plan.reporter:
            case.reporter = CaseReporter(**plan.reporter)
        case.events = [CaseEvent(**event) for event in plan.events]
        if plan.feedback:
            case.feedback = Feedback(**plan.feedback)
        self.session.add(case)
        self.session.flush()
        return case

    def ingest(self, record: Mapping[str, Any], source: str = "api") -> IngestResult:
        existing = self.by_external_id(record["external_id"])
        if existing is None:
            code = record.get("tracking_code") or new_tracking_code()
            plan = plan_case(record, self.places, self.calendar, self.session, source=source, actor=self.actor,
                             tracking_code=code)
            try:
                with self.session.begin_nested():
                    case = self.store_plan(plan)
                return IngestResult(case, True, len(plan.events) - 1, code)
            except IntegrityError:
                # Another request stored the same external id between our look-up and our insert
                # (PostgreSQL lets both through to the unique index): this one is a replay.
                existing = self.by_external_id(record["external_id"])
                if existing is None:
                    raise
        added = 0
        for step in sorted(record.get("events") or (), key=lambda s: s["at"]):
            _, created = self.add_event(existing, step)
            added += created
        return IngestResult(existing, False, added)

    def _stored_twin(self, case: Case, step: Mapping[str, Any], agency_id: int | None) -> CaseEvent | None:
        for event in case.events:
            if step.get("external_id") and event.external_id == step["external_id"]:
                return event
            if (event.kind == step["kind"] and event.at == step["at"]
                    and (step.get("agency") is None or event.agency_id == agency_id)):
                return event
        return None

    def add_event(self, case: Case, step: Mapping[str, Any], *, _again: bool = True) -> tuple[CaseEvent, bool]:
        agency = self.places.agency_by_code(step["agency"]) if step.get("agency") else None
        twin = self._stored_twin(case, step, agency.id if agency else None)
        if twin is not None:
            return twin, False
        state = CaseState.of(case)
        ctx = CaseContext(case.item_type_id, case.grid_id, case.urgency, self.places, self.calendar)
        row = apply_step(state, {**step, "_known": _known_for(case)}, ctx, case.event_count + 1, self.actor)
        try:
            with self.session.begin_nested():
                for name, value in state.columns().items():
                    setattr(case, name, value)
                case.changed_at = utcnow()
                event = CaseEvent(**row)
                case.events.append(event)
                self.session.flush()
        except IntegrityError:
            # A concurrent step took this sequence number: read the case again and judge anew
            # (the step may now be a replay, or out of order).
            if not _again:
                raise
            self.session.refresh(case)
            return self.add_event(case, step, _again=False)
        return event, True

    def submit(self, record: Mapping[str, Any]) -> tuple[Case, str, Any]:
        """An Open311 POST: a reported case, its tracking code, and who will handle it."""
        code = new_tracking_code()
        plan = plan_case(record, self.places, self.calendar, self.session, source="open311", actor=self.actor, tracking_code=code)
        case = self.store_plan(plan)
        handling = self.places.handling(case.item_type_id, case.grid_id, case.reported_at, case.urgency)
        return case, code, handling

    # -- disclosure -----------------------------------------------------------------------

    def _public_filters(self, filters: Mapping[str, Any]) -> list[Any]:
        places = self.places
        criteria: list[Any] = []
        hidden = self.hidden_item_ids
        if filters.get("item_type"):
            items = [i for i in places.items_for_code(filters["item_type"]) if i.id not in hidden]
            criteria.append(Case.item_type_id.in_([i.id for i in items] or [-1]))
        elif hidden:
            criteria.append(Case.item_type_id.not_in(sorted(hidden)))
        if filters.get("item_type_ids") is not None:
            criteria.append(Case.item_type_id.in_([i for i in filters["item_type_ids"] if i not in hidden] or [-1]))
        if filters.get("ids") is not None:
            criteria.append(Case.id.in_(list(filters["ids"]) or [-1]))
        if filters.get("agency"):
            agency = places.agency_by_code(filters["agency"])
            criteria.append(Case.agency_id == (agency.id if agency else -1))
        for key, column, level in (("street", Case.street_id, "street"), ("grid", Case.grid_id, "grid")):
            if filters.get(key):
                area = places.area_by_code(filters[key])
                criteria.append(column == (area.id if area and area.level == level else -1))
        status = filters.get("status")
        statuses = filters.get("statuses")
        if status == "open" or statuses == "open":
            criteria.append(Case.status.not_in([s.value for s in FINAL_STATUSES]))
        elif status == "closed" or statuses == "closed":
            criteria.append(Case.status.in_([s.value for s in FINAL_STATUSES]))
        elif status:
            criteria.append(Case.status == status)
        if filters.get("since") is not None:
            criteria.append(Case.reported_at >= filters["since"])
        if filters.get("until") is not None:
            criteria.append(Case.reported_at <= filters["until"])
        # The bulletins' case sets: the list counts exactly what an indicator counts.
        if filters.get("measure"):
            criteria.append(measure_criterion(filters["measure"]))
        if filters.get("due_since") is not None:
            criteria.append(Case.deadline >= filters["due_since"])
        if filters.get("due_until") is not None:
            criteria.append(Case.deadline <= filters["due_until"])
        for key, criterion in (("dispatched_to", dispatched_to), ("bounced_by", bounced_by)):
            if filters.get(key):
                agency = places.agency_by_code(filters[key])
                criteria.append(criterion(agency.id) if agency else Case.id == -1)
        return criteria

    @staticmethod
    def _count_limit(filters: Mapping[str, Any]) -> int | None:
        """Counts stop at COUNT_LIMIT, except over a bounded period of at most a year (what a
        bulletin's numbers link to): such a count reads one index range and must be exact."""
        for low, high in (("since", "until"), ("due_since", "due_until")):
            if filters.get(low) is not None and filters.get(high) is not None:
                if filters[high] - filters[low] <= dt.timedelta(days=367):
                    return None
        return COUNT_LIMIT

    def public_page(self, filters: Mapping[str, Any]) -> PublicPage:
        page = int(filters.get("page") or 1)
        page_size = int(filters.get("page_size") or 50)
        criteria = self._public_filters(filters)
        stmt = public_select(with_feedback=filters.get("with_feedback", True)).where(*criteria)
        if filters.get("updated_since") is not None:
            return self._changed_page(stmt, criteria, filters, page_size)
        if filters.get("before"):
            # The page before a cursor: walk up from it (oldest first) and turn the rows round.
            at, case_id = decode_cursor(filters["before"])
            stmt = stmt.where(or_(Case.reported_at > at, and_(Case.reported_at == at, Case.id > case_id)))
            rows = list(self.session.execute(
                stmt.order_by(Case.reported_at.asc(), Case.id.asc()).limit(page_size + 1)))
            earlier_exist = len(rows) > page_size
            rows = rows[:page_size][::-1]
            more = bool(rows)  # the row the cursor names comes after these
        else:
            if filters.get("cursor"):
                at, case_id = decode_cursor(filters["cursor"])
                stmt = stmt.where(or_(Case.reported_at < at, and_(Case.reported_at == at, Case.id < case_id)))
                offset = 0
            else:
                offset = (page - 1) * page_size
            rows = list(self.session.execute(
                stmt.order_by(Case.reported_at.desc(), Case.id.desc()).limit(page_size + 1).offset(offset)))
            more = len(rows) > page_size
            rows = rows[:page_size]
            earlier_exist = bool(filters.get("cursor")) or offset > 0
        with_total = filters.get("with_total", True)
        total, lower_bound = self._total(criteria, self._count_limit(filters)) if with_total else (0, False)
        events = self._events_for([c.id for c in rows]) if filters.get("with_events") else None
        items = public_cases(rows, self.places, events=events)
        cursor = encode_cursor(rows[-1].reported_at, rows[-1].id) if more and rows else None
        prev_cursor = encode_cursor(rows[0].reported_at, rows[0].id) if earlier_exist and rows else None
        return PublicPage(items, page, page_size, total, lower_bound, cursor, prev_cursor)

    def _total(self, criteria: list[Any], limit: int | None) -> tuple[int, bool]:
        """How many cases match (all pages), and whether that is only a lower bound: a count
        stops at ``limit`` (None: exact), as counting a million rows for a list is not worth it."""
        if limit is None:
            return self.session.scalar(select(func.count(Case.id)).where(*criteria)) or 0, False
        capped = select(Case.id).where(*criteria).limit(limit + 1).subquery()
        total = self.session.scalar(select(func.count()).select_from(capped)) or 0
        return min(total, limit), total > limit

    def _events_for(self, ids: Sequence[int]) -> dict[int, list[CaseEvent]]:
        result: dict[int, list[CaseEvent]] = {i: [] for i in ids}
        if ids:
            for event in self.session.scalars(
                select(CaseEvent).where(CaseEvent.case_id.in_(ids)).order_by(CaseEvent.case_id, CaseEvent.seq)
            ):
                result[event.case_id].append(event)
        return result

    def public_get(self, case_id: int | str, with_events: bool = True) -> PublicCase:
        digits = str(case_id)
        row = (self.session.execute(public_select().where(Case.id == int(digits))).first()
               if digits.isdigit() and len(digits) <= 11 else None)
        if row is None or row.item_type_id in self.hidden_item_ids:
            raise NotFound("案件不存在或不公开。", code="case_not_found")
        events = self._events_for([row.id])[row.id] if with_events else None
        return public_case(row, self.places, events=events)

    def public_many(self, ids: Iterable[int], with_events: bool = False) -> list[PublicCase]:
        return self.public_page({"ids": list(ids), "page_size": 1000, "with_total": False,
                                 "with_events": with_events}).items

    def public_rows(self, *, updated_since: dt.datetime | None = None,
                    moment: Callable[[Any], Any] | None = None, batch_size: int = 1000) -> Iterator[Sequence[Any]]:
        """Every disclosed case as :func:`~portal.cases.public.public_select` rows, oldest id first,
        in batches from a server-side cursor (memory stays flat on a million cases): for bulk
        exports, which pass each row through :func:`~portal.cases.public.public_fields`.
        ``updated_since`` keeps the cases changed (a step, a rating, a correction) at or after it."""
        stmt = public_select(moment=moment).order_by(Case.id)
        hidden = sorted(self.hidden_item_ids)
        if hidden:
            stmt = stmt.where(Case.item_type_id.not_in(hidden))
        if updated_since is not None:
            stmt = stmt.where(Case.changed_at >= updated_since)
        if moment is not None:
            # The times come as text: no column needs SQLAlchemy's result processing, so the rows
            # are the driver's own tuples (SQLAlchemy's rows cost ~1.5 µs each on a million).
            yield from stream_tuples(self.session.connection(), stmt, batch_size)
            return
        # Core, not the ORM: plain rows, without the ORM's per-row loading (a quarter of the time).
        result = self.session.connection().execute(
            stmt.execution_options(stream_results=True, yield_per=batch_size))
        try:
            yield from result.partitions()
        finally:
            result.close()

    def iter_public(self, batch_size: int = 2000, with_events: bool = False,
                    updated_since: dt.datetime | None = None) -> Iterator[PublicCase]:
        """Every disclosed case as a :class:`PublicCase` (with its steps when asked), oldest first."""
        for rows in self.public_rows(updated_since=updated_since, batch_size=batch_size):
            events = self._events_for([row.id for row in rows]) if with_events else None
            yield from public_cases(rows, self.places, events=events)

    def _changed_page(self, stmt: Any, criteria: list[Any], filters: Mapping[str, Any], page_size: int) -> PublicPage:
        """Incremental sync (``updated_since``): the disclosed cases changed since then in id order
        (stable under concurrent inserts: new cases come last), the cursor being the last id; the
        first page also lists as tombstones the cases changed since then that are not disclosed
        (a client holding one deletes it), like the duties' tombstones."""
        since: dt.datetime = filters["updated_since"]
        after = decode_id_cursor(filters["cursor"]) if filters.get("cursor") else 0
        rows: list[Any]
        rows = list(self.session.execute(
            stmt.where(Case.changed_at >= since, Case.id > after).order_by(Case.id).limit(page_size + 1)))
        more = len(rows) > page_size
        rows = rows[:page_size]
        tombstones: list[dict[str, Any]] = []
        hidden = sorted(self.hidden_item_ids)
        if hidden:
            # The same id range as the page's items, so that paging through covers each once.
            gone = select(Case.id, Case.changed_at).where(
                Case.item_type_id.in_(hidden), Case.changed_at >= since, Case.id > after)
            if more:
                gone = gone.where(Case.id <= rows[-1].id)
            tombstones = [{"id": case_id, "reason": "not_disclosed", "updated_at": changed}
                          for case_id, changed in self.session.execute(gone.order_by(Case.id).limit(TOMBSTONE_LIMIT))]
        events = self._events_for([r.id for r in rows]) if filters.get("with_events") else None
        items = public_cases(rows, self.places, events=events)
        cursor = str(rows[-1].id) if more and rows else None
        # All the disclosed cases changed since then, over every page, as for any other list.
        total, lower_bound = self._total([*criteria, Case.changed_at >= since], COUNT_LIMIT)
        return PublicPage(items, 1, page_size, total, lower_bound, cursor, None, tombstones)

    def grid_counts(self, filters: Mapping[str, Any]) -> dict[int, int]:
        """Cases per grid for the map. Counting a million rows takes a moment, and a map a minute
        old is as good as a new one, so answers are kept for ``GRID_COUNT_TTL`` seconds."""
        wanted = {k: v for k, v in filters.items()
                  if k in {"item_type", "agency", "street", "status", "since", "until", "measure", "due_since",
                           "due_until", "dispatched_to", "bounced_by"} and v}
        key = (str(self.session.get_bind().engine.url), self.places.snapshot.token, repr(sorted(wanted.items())))
        now = time.monotonic()
        cached = _GRID_COUNTS.get(key)
        if cached is not None and now - cached[0] < GRID_COUNT_TTL:
            return cached[1]
        criteria = self._public_filters(wanted)
        rows = self.session.execute(
            select(Case.grid_id, func.count()).where(*criteria, Case.grid_id.is_not(None)).group_by(Case.grid_id))
        counts = {grid_id: count for grid_id, count in rows if grid_id is not None}
        if len(_GRID_COUNTS) > 256:
            _GRID_COUNTS.clear()
        _GRID_COUNTS[key] = (now, counts)
        return counts

    # -- dispute hotspots ---------------------------------------------------------------

    def bounce_hotspots(self, since: dt.datetime | None = None, *, by: str = "grid", min_bounces: int = 3,
                        limit: int = 50) -> list[dict[str, Any]]:
        """Item types × places where cases keep being returned as "not our asset".

        ``by`` is ``grid`` or ``street``. Each hotspot names the item type, the place, how many
        bounces and bounced cases there were, and which agencies bounced them: the file an expert
        panel needs to rule on the ownership (arbitration reads this).
        """
        place = Case.grid_id if by == "grid" else Case.street_id
        criteria = [CaseEvent.kind == EventKind.BOUNCE.value, CaseEvent.reason == "not_our_asset", place.is_not(None)]
        if since is not None:
            criteria.append(CaseEvent.at >= since)
        rows = self.session.execute(
            select(Case.item_type_id, place, func.count(CaseEvent.id), func.count(func.distinct(Case.id)))
            .join(Case, Case.id == CaseEvent.case_id).where(*criteria)
            .group_by(Case.item_type_id, place).having(func.count(CaseEvent.id) >= min_bounces)
            .order_by(func.count(CaseEvent.id).desc()).limit(limit)
        ).all()
        result = []
        for item_id, area_id, bounces, cases in rows:
            agencies = self.session.execute(
                select(CaseEvent.agency_id, func.count()).join(Case, Case.id == CaseEvent.case_id)
                .where(*criteria, Case.item_type_id == item_id, place == area_id)
                .group_by(CaseEvent.agency_id).order_by(func.count().desc())
            ).all()
            item, area = self.places.item(item_id), self.places.area(area_id)
            result.append({
                "item_type": {"code": item.code, "name": item.name, "key": item.key} if item else None,
                "area": {"code": area.code, "name": area.name, "level": area.level} if area else None,
                "bounces": bounces, "cases": cases,
                "agencies": [{"code": a.code, "name": a.name, "bounces": n}
                             for agency_id, n in agencies if (a := self.places.agency(agency_id)) is not None],
            })
        return result

    # -- tracking -------------------------------------------------------------------------

    def track(self, code: str) -> Case:
        if len(normalise_tracking_code(code)) < 8:
            raise NotFound("查询码无效。", code="tracking_code_not_found")
        case = self.session.scalar(select(Case).where(Case.tracking_hash == tracking_hash(code)))
        if case is None:
            raise NotFound("没有找到与该查询码对应的案件，请核对后重试。", code="tracking_code_not_found")
        return case

    def rate(self, code: str, rating: str, comment: str = "") -> Feedback:
        return self.record_feedback(self.track(code), rating, comment, channel="track")

    def record_feedback(self, case: Case, rating: str, comment: str = "", *, channel: str = "track",
                        at: dt.datetime | None = None, replay_ok: bool = False) -> Feedback:
        """The one rating of a closed case. With ``replay_ok`` the same rating sent again returns
        the stored one (ingestion replays); otherwise a second rating is refused."""
        if case.feedback is not None and replay_ok and case.feedback.rating == rating:
            return case.feedback
        if case.status != Status.CLOSED.value:
            raise Conflict("案件结案后才能评价。", code="not_closed")
        if case.feedback is not None:
            raise Conflict("该案件已评价过，每个案件只能评价一次。", code="already_rated")
        case.feedback = Feedback(rating=rating, comment=comment, public_comment=scrub(comment, _known_for(case)),
                                 channel=channel, **({"at": at} if at is not None else {}))
        case.changed_at = utcnow()  # the public row shows the rating: incremental sync must see it
        self.session.flush()
        return case.feedback


def case_service_factory(context: Any, request: Any) -> CaseService:
    identity = getattr(request, "identity", None)
    actor = identity.user.label if identity is not None else ""
    return CaseService(request.dbsession, Places.of(request.dbsession, request.registry),
                       request.registry.settings, actor=actor)
