"""Named sets of cases that statistics count (受理, 立案, 按期处置, 结案 …).

One definition serves two readers: the bulletins aggregate these criteria with SQL
(``SUM(CASE WHEN … )`` grouped by agency or street), and the public case list filters by them
(``/cases?measure=closed_on_time&from=…&to=…``). A number in a bulletin and the length of the list
it links to therefore come from the very same expression.

Each set belongs to a period by one moment of the case (``basis``):

- ``reported``: the case's report time (受理时间), for everything counted per case;
- ``due``: the case's handling deadline (处置时限, the approved new one after a postponement), for
  the on-time indicators: a case counts in the period in which it fell due.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, exists, false, not_, or_, true

from portal.cases.lifecycle import EventKind, Status
from portal.cases.models import Case, CaseEvent, Feedback

#: Found by the city's own people (监督员/网格员 on patrol) …
PATROL_CHANNELS = ("patrol",)
#: … against reported by the public. Video discovery is neither and counts in no share.
PUBLIC_CHANNELS = ("hotline_12345", "hotline_12319", "web", "app", "open311")
GOOD_RATINGS = ("satisfied", "basically_satisfied")


@dataclasses.dataclass(frozen=True, slots=True)
class Measure:
    name: str
    label: str
    basis: str  # "reported" | "due"
    criterion: Callable[[], Any]


def _accepted() -> Any:
    return Case.status.not_in([Status.REJECTED.value, Status.CANCELLED.value])


def _postponed_open() -> Any:
    return and_(_accepted(), Case.postponed_at.is_not(None), Case.status != Status.CLOSED.value)


def _due() -> Any:
    return and_(Case.agency_id.is_not(None), Case.deadline.is_not(None), _accepted())


def _handled_on_time() -> Any:
    return and_(_due(), Case.handled_at.is_not(None), Case.handled_at <= Case.deadline)


def _closed() -> Any:
    return Case.status == Status.CLOSED.value


def _rated(good: bool) -> Any:
    criteria = [Feedback.case_id == Case.id]
    if good:
        criteria.append(Feedback.rating.in_(GOOD_RATINGS))
    return exists().where(*criteria)


_MEASURES = (
    Measure("reported", "受理", "reported", true),
    Measure("rejected", "不予立案", "reported", lambda: Case.status == Status.REJECTED.value),
    Measure("accepted", "立案", "reported", _accepted),
    Measure("dispatched", "派遣", "reported", lambda: Case.dispatched_at.is_not(None)),
    Measure("bounced", "退单", "reported", lambda: Case.bounce_count > 0),
    Measure("due", "应处置（当期到期）", "due", _due),
    Measure("handled_on_time", "按期处置（当期到期）", "due", _handled_on_time),
    Measure("solved_in_time", "及时解决（当期到期）", "due",
            lambda: and_(_handled_on_time(), _closed(), Case.rework_count == 0)),
    Measure("closure_base", "应结案（扣除缓办）", "reported", lambda: and_(_accepted(), not_(_postponed_open()))),
    Measure("postponed_open", "缓办未结", "reported", _postponed_open),
    Measure("closed", "结案", "reported", _closed),
    Measure("closed_on_time", "按期结案", "reported", lambda: and_(_closed(), Case.late == false())),
    Measure("verification", "经核查", "reported", lambda: or_(Case.verified_at.is_not(None), Case.rework_count > 0)),
    Measure("reworked", "返工", "reported", lambda: Case.rework_count > 0),
    Measure("handled", "已处置（计处置时长）", "reported", lambda: Case.handling_hours.is_not(None)),
    Measure("rated", "已评价", "reported", lambda: _rated(False)),
    Measure("rated_good", "满意或基本满意", "reported", lambda: _rated(True)),
    Measure("patrol", "巡查发现", "reported", lambda: Case.channel.in_(PATROL_CHANNELS)),
    Measure("patrol_or_public", "巡查发现或公众上报", "reported",
            lambda: Case.channel.in_(PATROL_CHANNELS + PUBLIC_CHANNELS)),
)
MEASURES: dict[str, Measure] = {m.name: m for m in _MEASURES}


def measure_criterion(name: str) -> Any:
    return MEASURES[name].criterion()


def dispatched_to(agency_id: int) -> Any:
    """Cases dispatched to an agency at least once (whoever holds them now)."""
    return exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind == EventKind.DISPATCH.value,
                          CaseEvent.agency_id == agency_id)


def bounced_by(agency_id: int) -> Any:
    """Cases an agency returned (退单) at least once."""
    return exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind == EventKind.BOUNCE.value,
                          CaseEvent.agency_id == agency_id)

