"""The case life cycle (六步闭环) as a pure state machine.

    reported ──dispatch──▶ dispatched ──handle──▶ handled ──verify──▶ verified ──close──▶ closed
        │                    │   ▲                   │                   │               │
        │                 bounce │ dispatch       reopen (核查不通过)      │            reopen
        │                    ▼   │                   ▼                   │               ▼
        │                  bounced               reopened ──dispatch──▶ dispatched      reopened
        ├── reject (不予立案: not a city-management case) ──▶ rejected
        └── cancel (from any open state) ──▶ cancelled

``postpone`` (缓办/延期) sets an approved new deadline on a dispatched case that is not handled
yet; it must be asked for before the current deadline passes, and the case stays dispatched.
A ``reopen`` of a handled case that has not passed verification is a 返工 (rework): the
verification failed and the agency must handle it again.

``supervise`` (督促办理) is the late step: it is allowed once the case is past its deadline, from
dispatched, handled or verified, and leads to *supervised*; a supervised case goes on with
whatever step it still owes (handle, verify or close), or is bounced if no one has handled it.

Every step is a :class:`~portal.cases.models.CaseEvent`; :func:`advance` checks that the step is
allowed in the case's current state and at its time (never before the previous step) and returns
the new state. Nothing here touches the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import StrEnum
from typing import Any

from portal.errors import Conflict, InvalidInput

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


class Status(StrEnum):
    REPORTED = "reported"
    DISPATCHED = "dispatched"
    HANDLED = "handled"
    VERIFIED = "verified"
    SUPERVISED = "supervised"
    CLOSED = "closed"
    BOUNCED = "bounced"
    REOPENED = "reopened"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class EventKind(StrEnum):
    REPORT = "report"
    DISPATCH = "dispatch"
    HANDLE = "handle"
    VERIFY = "verify"
    SUPERVISE = "supervise"
    CLOSE = "close"
    BOUNCE = "bounce"
    REOPEN = "reopen"
    CANCEL = "cancel"
    REJECT = "reject"
    POSTPONE = "postpone"


STATUS_LABELS: dict[Status, str] = {
    Status.REPORTED: "已上报",
    Status.DISPATCHED: "已派遣",
    Status.HANDLED: "已处置",
    Status.VERIFIED: "已核查",
    Status.SUPERVISED: "督办中",
    Status.CLOSED: "已结案",
    Status.BOUNCED: "已退单",
    Status.REOPENED: "已重新办理",
    Status.CANCELLED: "已撤销",
    Status.REJECTED: "不予立案",
}

EVENT_LABELS: dict[EventKind, str] = {
    EventKind.REPORT: "发现上报",
    EventKind.DISPATCH: "指挥派遣",
    EventKind.HANDLE: "处置反馈",
    EventKind.VERIFY: "任务核查",
    EventKind.SUPERVISE: "督促办理",
    EventKind.CLOSE: "结单归档",
    EventKind.BOUNCE: "退单",
    EventKind.REOPEN: "重新办理",
    EventKind.CANCEL: "撤销",
    EventKind.REJECT: "不予立案",
    EventKind.POSTPONE: "缓办/延期",
}

#: Closed for Open311: nothing more will happen unless the case is reopened.
FINAL_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED, Status.REJECTED})
OPEN_STATUSES = frozenset(Status) - FINAL_STATUSES

#: Why an agency may return a case. "not our asset" is the one that feeds dispute hotspots.
BOUNCE_NOT_OUR_ASSET = "not_our_asset"
BOUNCE_REASONS: dict[str, str] = {
    BOUNCE_NOT_OUR_ASSET: "非我单位权属（not our asset）",
    "outside_area": "不在本单位管辖区域",
    "wrong_type": "案件类型有误",
    "duplicate": "重复案件",
}
_REASON_ALIASES = {"not our asset": BOUNCE_NOT_OUR_ASSET, "非我单位权属": BOUNCE_NOT_OUR_ASSET,
                   "非本单位权属": BOUNCE_NOT_OUR_ASSET}


def normalise_bounce_reason(reason: str | None) -> str:
    """The reason code for a bounce; raises InvalidInput for anything else."""
    value = (reason or "").strip()
    value = _REASON_ALIASES.get(value.lower(), _REASON_ALIASES.get(value, value))
    if value not in BOUNCE_REASONS:
        raise InvalidInput(
            "退单必须说明理由：" + "、".join(f"{code}（{label}）" for code, label in BOUNCE_REASONS.items()),
            code="invalid_bounce_reason", fields={"reason": ["退单理由无效。"]},
        )
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the machine needs to know about a case to judge its next step."""

    status: Status | None  # None: not reported yet
    last_event_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    handled: bool = False
    verified: bool = False
    supervised: bool = False


class InvalidEvent(Conflict):
    """A step that the case's state does not allow (409)."""

    code = "invalid_event"


class EventOutOfOrder(Conflict):
    """A step dated before the case's previous step (409)."""

    code = "event_out_of_order"


def is_late(facts: CaseFacts, at: dt.datetime) -> bool:
    return facts.deadline is not None and at > facts.deadline


def _allowed(facts: CaseFacts, kind: EventKind, at: dt.datetime | None) -> bool:
    status = facts.status
    if status is None:
        return kind is EventKind.REPORT
    match kind:
        case EventKind.REPORT:
            return False
        case EventKind.DISPATCH:
            return status in {Status.REPORTED, Status.BOUNCED, Status.REOPENED}
        case EventKind.HANDLE:
            return status is Status.DISPATCHED or (status is Status.SUPERVISED and not facts.handled)
        case EventKind.VERIFY:
            return status is Status.HANDLED or (status is Status.SUPERVISED and facts.handled and not facts.verified)
        case EventKind.CLOSE:
            return status is Status.VERIFIED or (status is Status.SUPERVISED and facts.verified)
        case EventKind.SUPERVISE:
            late = at is None or is_late(facts, at)
            return (status in {Status.DISPATCHED, Status.HANDLED, Status.VERIFIED}
                    and not facts.supervised and facts.deadline is not None and late)
        case EventKind.BOUNCE:
            return status is Status.DISPATCHED or (status is Status.SUPERVISED and not facts.handled)
        case EventKind.REOPEN:
            return (status in {Status.CLOSED, Status.HANDLED, Status.VERIFIED}
                    or (status is Status.SUPERVISED and facts.handled and not facts.verified))
        case EventKind.CANCEL:
            return status not in FINAL_STATUSES
        case EventKind.REJECT:
            return status is Status.REPORTED
        case EventKind.POSTPONE:
            # An extension is asked for in time: a case already late is supervised, not postponed.
            return (status is Status.DISPATCHED and not facts.handled and facts.deadline is not None
                    and (at is None or not is_late(facts, at)))
    return False  # pragma: no cover


def allowed_events(facts: CaseFacts, at: dt.datetime | None = None) -> list[EventKind]:
    """The steps the case may take next (at ``at``, when lateness matters)."""
    return [kind for kind in EventKind if _allowed(facts, kind, at)]


_TARGET: dict[EventKind, Status] = {
    EventKind.REPORT: Status.REPORTED,
    EventKind.DISPATCH: Status.DISPATCHED,
    EventKind.HANDLE: Status.HANDLED,
    EventKind.VERIFY: Status.VERIFIED,
    EventKind.SUPERVISE: Status.SUPERVISED,
    EventKind.CLOSE: Status.CLOSED,
    EventKind.BOUNCE: Status.BOUNCED,
    EventKind.REOPEN: Status.REOPENED,
    EventKind.CANCEL: Status.CANCELLED,
    EventKind.REJECT: Status.REJECTED,
    EventKind.POSTPONE: Status.DISPATCHED,
}


def advance(facts: CaseFacts, kind: EventKind | str, at: dt.datetime, *,
            new_deadline: dt.datetime | None = None) -> CaseFacts:
    """The case's facts after step ``kind`` at ``at``; raises InvalidEvent / EventOutOfOrder.

    A dispatch starts a new clock: its ``new_deadline`` (from the catalogue lookup at dispatch
    time) replaces the old one. A postponement's ``new_deadline`` is the approved one: it must lie
    after the current deadline.
    """
    try:
        kind = EventKind(kind)
    except ValueError:
        raise InvalidInput(f"未知的环节：{kind}", code="invalid_event_kind",
                           fields={"kind": [f"可选：{'、'.join(k.value for k in EventKind)}"]}) from None
    if at.tzinfo is None:
        raise InvalidInput("时间必须带时区（例如 2026-01-01T08:00:00+08:00）。", code="naive_datetime",
                           fields={"at": ["缺少时区。"]})
    if facts.last_event_at is not None and at < facts.last_event_at:
        raise EventOutOfOrder(
            f"环节“{EVENT_LABELS[kind]}”的时间 {at.isoformat()} 早于上一环节的时间 "
            f"{facts.last_event_at.isoformat()}，顺序有误。",
            fields={"at": ["早于上一环节。"]},
        )
    if not _allowed(facts, kind, at):
        current = STATUS_LABELS[facts.status] if facts.status else "尚未上报"
        allowed = "、".join(f"{k.value}（{EVENT_LABELS[k]}）" for k in allowed_events(facts, at)) or "无"
        why = ""
        if kind is EventKind.SUPERVISE and facts.status in {Status.DISPATCHED, Status.HANDLED, Status.VERIFIED}:
            why = "督办只适用于已超过处置时限的案件；" if not facts.supervised else "该案件已督办过；"
        if kind is EventKind.POSTPONE and facts.status is Status.DISPATCHED and facts.deadline is not None:
            why = "缓办/延期须在处置时限届满前申请；"
        raise InvalidEvent(
            f"案件当前状态为“{current}”，不能执行“{EVENT_LABELS[kind]}”（{kind.value}）。{why}"
            f"当前可执行：{allowed}。",
            fields={"kind": [f"当前状态不允许 {kind.value}。"]},
        )
    if kind is EventKind.POSTPONE:
        if new_deadline is None:
            raise InvalidInput("缓办/延期必须给出批准的新处置时限（deadline）。", code="postpone_needs_deadline",
                               fields={"deadline": ["必须提供。"]})
        if new_deadline.tzinfo is None:
            raise InvalidInput("新处置时限必须带时区。", code="naive_datetime", fields={"deadline": ["缺少时区。"]})
        if facts.deadline is not None and new_deadline <= facts.deadline:
            raise InvalidInput(
                f"批准的新处置时限 {new_deadline.isoformat()} 必须晚于原时限 {facts.deadline.isoformat()}。",
                code="postpone_not_later", fields={"deadline": ["必须晚于原处置时限。"]})
    handled, verified, supervised = facts.handled, facts.verified, facts.supervised
    deadline = facts.deadline
    if kind is EventKind.HANDLE:
        handled = True
    elif kind is EventKind.VERIFY:
        verified = True
    elif kind is EventKind.SUPERVISE:
        supervised = True
    elif kind in {EventKind.REOPEN, EventKind.BOUNCE, EventKind.DISPATCH}:
        # A new round of handling starts: the previous one no longer counts.
        handled = verified = False
        if kind is not EventKind.BOUNCE:
            supervised = False
    if kind in {EventKind.DISPATCH, EventKind.POSTPONE}:
        deadline = new_deadline
    return CaseFacts(status=_TARGET[kind], last_event_at=at, deadline=deadline,
                     handled=handled, verified=verified, supervised=supervised)


def is_rework(facts: CaseFacts, kind: EventKind | str) -> bool:
    """A reopen of a handled case that has not passed verification: 返工 (核查不通过)."""
    return EventKind(kind) is EventKind.REOPEN and facts.handled and not facts.verified


def working_hours_between(calendar: Any, start: dt.datetime, end: dt.datetime) -> float:
    """Hours from ``start`` to ``end`` that fall on working days (China time): the clock the
    working-day time limits run on. Rest days and holidays do not count."""
    if end <= start:
        return 0.0
    local_start, local_end = start.astimezone(CHINA_TZ), end.astimezone(CHINA_TZ)
    total = dt.timedelta()
    day = local_start.date()
    while day <= local_end.date():
        if calendar.is_working_day(day):
            day_start = dt.datetime.combine(day, dt.time(), CHINA_TZ)
            lo = max(local_start, day_start)
            hi = min(local_end, day_start + dt.timedelta(days=1))
            if hi > lo:
                total += hi - lo
        day += dt.timedelta(days=1)
    return round(total.total_seconds() / 3600, 4)


def public_status(status: Status | str) -> str:
    """Open311's two statuses."""
    return "closed" if Status(status) in FINAL_STATUSES else "open"
