import datetime as dt

import pytest

from portal.catalogue.calendar import (
    CHINA_TZ,
    LimitUnit,
    TimeLimit,
    WorkingCalendar,
)

D = dt.date
T = dt.datetime


@pytest.fixture(scope="module")
def cal():
    return WorkingCalendar.default()


@pytest.mark.parametrize(
    "day",
    [D(2025, 1, 28), D(2025, 2, 4), D(2025, 1, 1), D(2025, 5, 2), D(2025, 10, 8),
     D(2024, 2, 10), D(2024, 10, 7), D(2026, 2, 23), D(2026, 1, 2), D(2023, 1, 27)],
)
def test_official_holidays_are_rest_days(cal, day):
    assert not cal.is_working_day(day)
    assert cal.holiday_name(day)


@pytest.mark.parametrize(
    "day",
    [D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11),
     D(2024, 2, 4), D(2024, 2, 18), D(2024, 5, 11), D(2026, 1, 4), D(2026, 2, 28),
     D(2026, 5, 9), D(2026, 9, 20)],
)
def test_make_up_days_are_working_days(cal, day):
    assert day.weekday() >= 5
    assert cal.is_working_day(day)


def test_ordinary_week(cal):
    assert cal.is_working_day(D(2025, 3, 12))  # Wednesday
    assert not cal.is_working_day(D(2025, 3, 15))  # Saturday
    assert cal.holiday_name(D(2025, 3, 12)) is None


def test_spring_festival_2025_has_eight_rest_days(cal):
    days = [D(2025, 1, 28) + dt.timedelta(n) for n in range(8)]
    assert not any(cal.is_working_day(d) for d in days)
    assert cal.is_working_day(D(2025, 2, 5))


def test_covers_published_years_only(cal):
    assert cal.covers(D(2024, 6, 1)) and cal.covers(D(2026, 12, 31))
    assert not cal.covers(D(2030, 1, 1))
    # uncovered years: Monday to Friday, but for the statutory holidays (a Tuesday here)
    assert cal.is_working_day(D(2030, 1, 8)) and not cal.is_working_day(D(2030, 1, 1))


def test_the_statutory_rule_agrees_with_every_published_schedule(cal):
    """Lunar dates, the Qingming solar term and both texts of the 办法 (2008, 2025), checked
    against the State Council's schedules of the years the calendar holds."""
    from portal.catalogue.calendar import statutory_days

    assert len(cal.years) >= 4
    for year in sorted(cal.years):
        for name, days in statutory_days(year):
            for day in days:
                assert not cal.is_working_day(day), (year, name, day)
                assert cal.holiday_name(day) is not None


def test_years_beyond_the_lunar_tables_count_monday_to_friday():
    """A reported time far ahead (the look-up takes any) must still give a deadline."""
    cal = WorkingCalendar.from_mapping({"years": {2026: {"holidays": []}}})
    start = T(2150, 12, 31, 10, tzinfo=CHINA_TZ)  # a Thursday
    assert cal.deadline(start, TimeLimit(2, LimitUnit.WORKING_DAYS)) == T(2151, 1, 4, 10, tzinfo=CHINA_TZ)
    assert cal.is_working_day(D(9999, 12, 31)) is True  # a Friday


def test_a_year_without_a_schedule_rests_on_its_statutory_holidays():
    """2027 (not yet announced when this was written): New Year's Day is a Friday; Spring
    Festival runs from New Year's Eve (Friday 5 Feb) to the 3rd (Monday 8 Feb), and its weekend
    is made up on the Tuesday and Wednesday after."""
    cal = WorkingCalendar.from_mapping({"years": {2026: {"holidays": []}}})
    assert not cal.is_working_day(D(2027, 1, 1)) and cal.holiday_name(D(2027, 1, 1)) == "元旦"
    assert [d.day for d in (D(2027, 2, n) for n in range(4, 13)) if not cal.is_working_day(d)] == \
        [5, 6, 7, 8, 9, 10]
    assert cal.holiday_name(D(2027, 2, 9)) == "春节"
    assert not cal.is_working_day(D(2027, 5, 3))  # Labour Day's Saturday (1 May) made up on Monday
    # Two working days from the Wednesday before New Year: Thursday, then Monday 4 January.
    start = T(2026, 12, 30, 10, tzinfo=CHINA_TZ)
    assert cal.deadline(start, TimeLimit(2, LimitUnit.WORKING_DAYS)) == T(2027, 1, 4, 10, tzinfo=CHINA_TZ)


def test_a_working_day_deadline_into_a_year_without_a_schedule_says_so():
    """A dispatcher in late December reads a deadline that may move once the next year's
    holidays are announced (New Year's Day is certain to be one): it must say so."""
    from portal.catalogue.calendar import calendar_note

    cal = WorkingCalendar.from_mapping({"years": {2026: {"holidays": [
        {"name": "国庆节", "from": "2026-10-01", "to": "2026-10-07"}]}}})
    start = T(2026, 12, 28, 10, tzinfo=CHINA_TZ)
    five_days = TimeLimit(5, LimitUnit.WORKING_DAYS)
    due = cal.deadline(start, five_days)
    assert cal.unknown_years(five_days, start, due) == [2027]
    assert "2027 年" in calendar_note([2027]) and calendar_note([]) is None
    # within a published year, or a limit the schedule cannot move: nothing to say
    june = T(2026, 6, 1, 10, tzinfo=CHINA_TZ)
    assert cal.unknown_years(five_days, june, cal.deadline(june, five_days)) == []
    hours = TimeLimit(48, LimitUnit.HOURS)
    assert cal.unknown_years(hours, start, cal.deadline(start, hours)) == []


def test_add_working_days_skips_spring_festival(cal):
    # reported the Monday before the 2025 holiday; 3 working days
    start = T(2025, 1, 27, 10, 0)
    assert cal.add_working_days(start, 1) == T(2025, 2, 5, 10, 0)
    assert cal.add_working_days(start, 3) == T(2025, 2, 7, 10, 0)
    # Saturday 8 Feb is a make-up working day
    assert cal.add_working_days(start, 4) == T(2025, 2, 8, 10, 0)


def test_add_working_days_from_rest_day_starts_next_working_day(cal):
    saturday = T(2025, 3, 15, 16, 30)
    assert cal.add_working_days(saturday, 1) == T(2025, 3, 18, 0, 0)
    assert cal.add_working_days(saturday, 0) == T(2025, 3, 17, 0, 0)


def test_add_working_days_friday_to_monday(cal):
    assert cal.add_working_days(T(2025, 3, 14, 9, 15), 1) == T(2025, 3, 17, 9, 15)


def test_aware_datetimes_keep_their_zone(cal):
    # 2025-01-27 23:30 UTC is already 28 Jan 07:30 in China, a holiday
    start = T(2025, 1, 27, 23, 30, tzinfo=dt.UTC)
    result = cal.add_working_days(start, 1)
    assert result.tzinfo is dt.UTC
    assert result.astimezone(CHINA_TZ) == T(2025, 2, 6, 0, 0, tzinfo=CHINA_TZ)


def test_add_hours_runs_around_the_clock_by_default(cal):
    start = T(2025, 1, 28, 23, 0)
    assert cal.add_hours(start, 2) == T(2025, 1, 29, 1, 0)


def test_add_hours_working_time_only(cal):
    start = T(2025, 3, 14, 20, 0)  # Friday evening
    assert cal.add_hours(start, 6, working_time_only=True) == T(2025, 3, 17, 2, 0)
    assert cal.add_hours(T(2025, 3, 15, 12, 0), 1, working_time_only=True) == T(2025, 3, 17, 1, 0)


def test_deadline_by_unit(cal):
    start = T(2025, 9, 30, 14, 0)
    assert cal.deadline(start, TimeLimit(2, LimitUnit.HOURS)) == T(2025, 9, 30, 16, 0)
    # National Day + Mid-Autumn: 1-8 Oct off, 11 Oct (Sat) working
    assert cal.deadline(start, TimeLimit(1, "working_days")) == T(2025, 10, 9, 14, 0)
    assert cal.deadline(start, TimeLimit(3, "working_days")) == T(2025, 10, 11, 14, 0)
    assert cal.deadline(start, TimeLimit(2, "calendar_days")) == T(2025, 10, 2, 14, 0)


def test_working_days_between(cal):
    assert cal.working_days_between(D(2025, 1, 27), D(2025, 2, 10)) == 5
    assert cal.working_days_between(D(2025, 2, 10), D(2025, 2, 10)) == 0


def test_time_limit_labels():
    assert TimeLimit(2, "hours").label == "2小时"
    assert TimeLimit(3, "working_days").label == "3个工作日"
    with pytest.raises(ValueError):
        TimeLimit(-1, "hours")
    with pytest.raises(ValueError):
        TimeLimit(1, "fortnights")


def test_rejects_clashing_data():
    with pytest.raises(ValueError):
        WorkingCalendar.from_mapping(
            {"years": {2025: {"holidays": [
                {"name": "x", "from": "2025-01-01", "to": "2025-01-02", "workdays": ["2025-01-02"]}
            ]}}}
        )


def test_year_schedule_sanity(cal):
    # every covered year has its seven festivals' rest days and make-up days on weekends
    for year in (2024, 2025, 2026):
        rest = [d for d in _days(year) if cal.holiday_name(d) and not cal.is_working_day(d)]
        assert len({cal.holiday_name(d) for d in rest}) >= 6
        for holiday in cal.holidays:
            for w in holiday.workdays:
                assert w.weekday() >= 5, (holiday.name, w)


def _days(year):
    d = D(year, 1, 1)
    while d.year == year:
        yield d
        d += dt.timedelta(1)
