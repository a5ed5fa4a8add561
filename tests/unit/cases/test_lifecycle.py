"""The case life cycle: which step is allowed when, and clear refusals otherwise."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.cases.lifecycle import (
    BOUNCE_NOT_OUR_ASSET,
    CaseFacts,
    EventKind,
    EventOutOfOrder,
    InvalidEvent,
    Status,
    advance,
    allowed_events,
    normalise_bounce_reason,
    public_status,
)
from portal.errors import InvalidInput

CST = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def run(*steps: tuple[str, float], deadline_hours: float = 48) -> CaseFacts:
    facts = CaseFacts(status=None)
    for kind, hours in steps:
        facts = advance(facts, kind, at(hours),
                        new_deadline=at(hours + deadline_hours) if kind == "dispatch" else None)
    return facts


def test_the_six_step_closed_loop_on_time():
    facts = run(("report", 0), ("dispatch", 1), ("handle", 5), ("verify", 6), ("close", 7))
    assert facts.status is Status.CLOSED
    assert public_status(facts.status) == "closed"


def test_a_late_case_is_supervised_then_goes_on_with_what_it_owes():
    facts = run(("report", 0), ("dispatch", 1), ("supervise", 60), ("handle", 61))
    assert facts.status is Status.HANDLED
    facts = advance(facts, "verify", at(62))
    facts = advance(facts, "close", at(63))
    assert facts.status is Status.CLOSED


def test_supervision_after_verification_leads_to_closing():
    facts = run(("report", 0), ("dispatch", 1), ("handle", 55), ("verify", 56), ("supervise", 57))
    assert facts.status is Status.SUPERVISED
    assert allowed_events(facts, at(58)) == [EventKind.CLOSE, EventKind.CANCEL]
    assert advance(facts, "close", at(58)).status is Status.CLOSED


def test_supervision_is_refused_before_the_deadline_and_twice():
    facts = run(("report", 0), ("dispatch", 1))
    with pytest.raises(InvalidEvent) as refused:
        advance(facts, "supervise", at(2))
    assert "超过处置时限" in refused.value.message
    facts = advance(facts, "supervise", at(50))
    with pytest.raises(InvalidEvent):
        advance(facts, "supervise", at(51))


def test_bounce_and_redispatch_start_a_new_clock():
    facts = run(("report", 0), ("dispatch", 1), ("bounce", 2))
    assert facts.status is Status.BOUNCED
    facts = advance(facts, "dispatch", at(3), new_deadline=at(27))
    assert facts.status is Status.DISPATCHED and facts.deadline == at(27)


def test_reopen_after_close_or_failed_verification():
    closed = run(("report", 0), ("dispatch", 1), ("handle", 2), ("verify", 3), ("close", 4))
    reopened = advance(closed, "reopen", at(100))
    assert reopened.status is Status.REOPENED and not reopened.handled
    assert allowed_events(reopened) == [EventKind.DISPATCH, EventKind.CANCEL]
    handled = run(("report", 0), ("dispatch", 1), ("handle", 2))
    assert advance(handled, "reopen", at(3)).status is Status.REOPENED


def test_cancel_is_final():
    facts = run(("report", 0), ("cancel", 1))
    assert facts.status is Status.CANCELLED and public_status(facts.status) == "closed"
    assert allowed_events(facts) == []
    with pytest.raises(InvalidEvent):
        advance(facts, "dispatch", at(2))


@pytest.mark.parametrize("steps,kind", [
    ((), "dispatch"),
    ((("report", 0),), "report"),
    ((("report", 0),), "handle"),
    ((("report", 0),), "close"),
    ((("report", 0), ("dispatch", 1)), "verify"),
    ((("report", 0), ("dispatch", 1)), "close"),
    ((("report", 0), ("dispatch", 1), ("handle", 2)), "bounce"),
    ((("report", 0), ("dispatch", 1), ("handle", 2)), "close"),
    ((("report", 0), ("dispatch", 1), ("handle", 2), ("verify", 3), ("close", 4)), "handle"),
])
def test_out_of_order_steps_are_refused_with_what_is_allowed(steps, kind):
    facts = run(*steps)
    with pytest.raises(InvalidEvent) as refused:
        advance(facts, kind, at(10))
    assert refused.value.status == 409 and refused.value.code == "invalid_event"
    assert "当前可执行" in refused.value.message


def test_a_step_dated_before_the_previous_one_is_refused():
    facts = run(("report", 0), ("dispatch", 5))
    with pytest.raises(EventOutOfOrder) as refused:
        advance(facts, "handle", at(4))
    assert refused.value.code == "event_out_of_order" and "早于" in refused.value.message


def test_unknown_steps_and_naive_times_are_bad_input():
    with pytest.raises(InvalidInput):
        advance(CaseFacts(status=None), "explode", T0)
    with pytest.raises(InvalidInput):
        advance(CaseFacts(status=None), "report", dt.datetime(2026, 1, 1))


@pytest.mark.parametrize("given", ["not_our_asset", "not our asset", "Not Our Asset", "非我单位权属"])
def test_bounce_reasons(given):
    assert normalise_bounce_reason(given) == BOUNCE_NOT_OUR_ASSET


@pytest.mark.parametrize("given", [None, "", "懒得管"])
def test_bounce_without_a_valid_reason_is_refused(given):
    with pytest.raises(InvalidInput):
        normalise_bounce_reason(given)


# ----------------------------------------------------------------------------- 不予立案, 缓办/延期, 返工


def test_a_report_that_is_no_city_management_case_is_rejected_and_closed_for_open311():
    facts = run(("report", 0), ("reject", 1))
    assert facts.status is Status.REJECTED and public_status(facts.status) == "closed"
    assert allowed_events(facts, at(2)) == []
    with pytest.raises(InvalidEvent):
        run(("report", 0), ("dispatch", 1), ("reject", 2))


def test_postponement_needs_a_later_approved_deadline_asked_for_in_time():
    facts = run(("report", 0), ("dispatch", 1))  # deadline at 49 h
    later = advance(facts, "postpone", at(10), new_deadline=at(120))
    assert later.status is Status.DISPATCHED and later.deadline == at(120)
    # The new deadline counts: handling at 100 h is not late any more.
    assert advance(later, "supervise", at(121)).status is Status.SUPERVISED
    with pytest.raises(InvalidEvent):
        advance(later, "supervise", at(100))
    with pytest.raises(InvalidInput):
        advance(facts, "postpone", at(10))  # no deadline
    with pytest.raises(InvalidInput):
        advance(facts, "postpone", at(10), new_deadline=at(30))  # not later than the old one
    with pytest.raises(InvalidEvent, match="届满前"):
        advance(facts, "postpone", at(60), new_deadline=at(120))  # already late: supervise instead
    handled = advance(facts, "handle", at(5))
    with pytest.raises(InvalidEvent):
        advance(handled, "postpone", at(6), new_deadline=at(120))


def test_a_reopen_before_verification_is_rework_a_reopen_after_closing_is_not():
    from portal.cases.lifecycle import is_rework

    handled = run(("report", 0), ("dispatch", 1), ("handle", 5))
    assert is_rework(handled, "reopen")
    closed = advance(advance(handled, "verify", at(6)), "close", at(7))
    assert not is_rework(closed, "reopen")
    late_handled = run(("report", 0), ("dispatch", 1), ("supervise", 60), ("handle", 61))
    assert is_rework(late_handled, "reopen")


def test_working_hours_skip_weekends_and_holidays():
    from portal.cases.lifecycle import working_hours_between
    from portal.catalogue.calendar import WorkingCalendar

    calendar = WorkingCalendar.default()
    friday = dt.datetime(2026, 3, 13, 16, tzinfo=CST)
    assert working_hours_between(calendar, friday, friday + dt.timedelta(days=3, hours=-6)) == 18.0
    # 2026-10-01..07 is the National Day holiday: a case dispatched on 30 September at 20:00 and
    # handled on 8 October at 09:00 took 4 + 9 working hours.
    start = dt.datetime(2026, 9, 30, 20, tzinfo=CST)
    assert working_hours_between(calendar, start, dt.datetime(2026, 10, 8, 9, tzinfo=CST)) == 13.0
    assert working_hours_between(calendar, start, start) == 0.0
