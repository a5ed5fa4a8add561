"""Statistical periods: parsing, bounds in China time, 环比 and 同比 neighbours."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.bulletins.periods import Period, months_between
from portal.errors import InvalidInput


def test_months_quarters_and_years():
    october = Period.parse("2026-10")
    assert (october.code, october.label, october.issue_label) == ("2026-10", "2026年10月", "2026年第10期")
    assert october.start.isoformat() == "2026-10-01T00:00:00+08:00"
    assert october.end.isoformat() == "2026-11-01T00:00:00+08:00"
    assert october.previous().code == "2026-09" and october.year_ago().code == "2025-10"
    assert Period.parse("2026-01").previous().code == "2025-12"
    q3 = Period.parse("2026-q3")
    assert (q3.code, q3.label, q3.first_day, q3.last_day) == ("2026-Q3", "2026年第三季度", dt.date(2026, 7, 1),
                                                               dt.date(2026, 9, 30))
    assert Period.parse("2026-Q1").previous().code == "2025-Q4"
    year = Period.parse("2026")
    assert (year.first_day, year.last_day, year.previous().code) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31), "2025")
    assert [p.code for p in Period.parse("2026-02").trailing(3)] == ["2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q5", "26-10", "2026/10", "", "abcd", "1900"])
def test_bad_periods_are_refused_clearly(text):
    with pytest.raises(InvalidInput) as caught:
        Period.parse(text)
    assert caught.value.code == "invalid_period"


def test_whole_months_between_two_days():
    assert [p.code for p in months_between(dt.date(2025, 12, 2), dt.date(2026, 3, 31))] == ["2026-01", "2026-02", "2026-03"]
    assert months_between(dt.date(2026, 3, 2), dt.date(2026, 3, 30)) == []
