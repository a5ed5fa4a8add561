"""Working-day calendar for handling deadlines (处置时限).

Handling limits in the catalogue come in two kinds:

* urgent limits in hours (``hours``): the clock runs around the clock, a missing manhole
  cover must be secured within two hours on a Sunday as well;
* normal limits in working days (``working_days``): the clock only runs on working days of
  the mainland Chinese calendar, with the official public holidays (法定节假日) and the
  make-up working days (调休上班) published each year by the State Council.

The calendar is pure Python: no database, no request. It is loaded once from
``knowledge_base/calendar/holidays_cn.yaml`` and shared.

A year whose schedule is not in that file yet (the State Council announces the next year's in
November or December, and deadlines reach into it before) is not taken as an ordinary week: its
statutory holidays are known from 《全国年节及纪念日放假办法》 (:func:`statutory_holidays`), only
the make-up arrangements (调休) are not. Such deadlines are estimates, and say so
(:meth:`WorkingCalendar.unknown_years`, :func:`calendar_note`).

Counting rule for working days: the clock runs only during working days. A case reported at
10:00 on a Friday with a limit of 1 working day is due at 10:00 on the next working day
(normally Monday). A case reported on a rest day starts its clock at 00:00 of the next working
day, so one working day later is 24:00 of that day (00:00 of the day after).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from portal.clock import CHINA_TZ
from portal.knowledge import read_yaml

DEFAULT_HOLIDAYS_PATH = (
    Path(__file__).resolve().parents[2] / "knowledge_base" / "calendar" / "holidays_cn.yaml"
)

_ONE_DAY = dt.timedelta(days=1)
#: The last year borax's lunar tables cover.
LAST_LUNAR_YEAR = 2100


class LimitUnit(enum.StrEnum):
    """Unit of a handling time limit."""

    HOURS = "hours"
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


@dataclasses.dataclass(frozen=True, slots=True)
class TimeLimit:
    """A handling time limit such as "2 hours" or "3 working days"."""

    amount: int
    unit: LimitUnit

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a time limit cannot be negative")
        object.__setattr__(self, "unit", LimitUnit(self.unit))

    @property
    def label(self) -> str:
        """Chinese label, e.g. ``2小时`` or ``3个工作日``."""
        match self.unit:
            case LimitUnit.HOURS:
                return f"{self.amount}小时"
            case LimitUnit.WORKING_DAYS:
                return f"{self.amount}个工作日"
            case _:
                return f"{self.amount}日"

    def as_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": str(self.unit), "label": self.label}


@dataclasses.dataclass(frozen=True, slots=True)
class Holiday:
    name: str
    first: dt.date
    last: dt.date
    workdays: tuple[dt.date, ...] = ()


def statutory_days(year: int) -> list[tuple[str, list[dt.date]]]:
    """The public holidays every citizen has in ``year`` by 《全国年节及纪念日放假办法》: from
    2025 New Year's Eve and the first three days, and 1–2 May; 2014–2024 the first three days;
    2008–2013 New Year's Eve and the first two days. Empty before 2008 (other rules). Spring Festival, Dragon Boat and Mid-Autumn follow the lunar calendar,
    Qingming the solar term. Empty after ``LAST_LUNAR_YEAR`` too (the lunar tables end there;
    such a date is Monday to Friday)."""
    from borax.calendars.lunardate import LunarDate, TermUtils

    if not 2008 <= year <= LAST_LUNAR_YEAR:
        return []
    revised = year >= 2025
    new_year = LunarDate(year, 1, 1).to_solar_date()
    spring = range(-1, 3) if revised else range(3) if year >= 2014 else range(-1, 2)
    return [
        ("元旦", [dt.date(year, 1, 1)]),
        ("春节", [new_year + dt.timedelta(days=n) for n in spring]),
        ("清明节", [TermUtils.nth_term_day(year, term_name="清明")]),
        ("劳动节", [dt.date(year, 5, 1), dt.date(year, 5, 2)] if revised else [dt.date(year, 5, 1)]),
        ("端午节", [LunarDate(year, 5, 5).to_solar_date()]),
        ("中秋节", [LunarDate(year, 8, 15).to_solar_date()]),
        ("国庆节", [dt.date(year, 10, n) for n in (1, 2, 3)]),
    ]


def statutory_holidays(year: int) -> list[Holiday]:
    """The holidays of a year whose schedule is not published: the statutory days
    (:func:`statutory_days`) and, for each one falling on a Saturday or Sunday, a working day
    off after it (Article 6 of the 办法: 补假). The annual notice then also moves weekends
    (调休), which no rule predicts."""
    named = statutory_days(year)
    rest = {day for _name, days in named for day in days}
    holidays = []
    for name, days in named:
        last = max(days)
        # A day off for each holiday on a weekend, on the next weekdays that are not holidays.
        owed = sum(1 for day in days if day.weekday() >= 5)
        day = last
        while owed:
            day += _ONE_DAY
            if day.weekday() < 5 and day not in rest:
                rest.add(day)
                owed -= 1
        holidays.append(Holiday(name=name, first=min(days), last=max(last, day)))
    return holidays


class WorkingCalendar:
    """Answers whether a date is a working day and computes deadlines.

    Dates in a year the calendar does not cover follow the statutory holidays of that year
    (:func:`statutory_holidays`), without the yearly make-up arrangements; :meth:`covers` tells
    whether a date is backed by a published schedule.
    """

    def __init__(self, holidays: Iterable[Holiday] = (), years: Iterable[int] = ()) -> None:
        self.holidays: tuple[Holiday, ...] = tuple(holidays)
        self._rest: dict[dt.date, str] = {}
        self._work: dict[dt.date, str] = {}
        for holiday in self.holidays:
            if holiday.last < holiday.first:
                raise ValueError(f"holiday {holiday.name} ends before it starts")
            day = holiday.first
            while day <= holiday.last:
                self._rest[day] = holiday.name
                day += _ONE_DAY
            for workday in holiday.workdays:
                self._work[workday] = holiday.name
        clash = set(self._rest) & set(self._work)
        if clash:
            raise ValueError(f"dates both holiday and make-up working day: {sorted(clash)}")
        self.years: frozenset[int] = frozenset(years) or frozenset(
            h.last.year for h in self.holidays
        )
        # rest day -> holiday name, per year without a published schedule (filled when asked)
        self._estimated: dict[int, dict[dt.date, str]] = {}

    def _estimated_rest(self, year: int) -> dict[dt.date, str]:
        rest = self._estimated.get(year)
        if rest is None:
            rest = {}
            for holiday in statutory_holidays(year):
                day = holiday.first
                while day <= holiday.last:
                    # A block may hold days that are not its own (a weekend inside, a day off
                    # owed for one): all are rest days, named after the block.
                    rest.setdefault(day, holiday.name)
                    day += _ONE_DAY
            self._estimated[year] = rest
        return rest

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkingCalendar:
        """Build from the structure of ``holidays_cn.yaml``."""
        holidays: list[Holiday] = []
        years = []
        for year, entry in (data.get("years") or {}).items():
            years.append(int(year))
            for item in entry.get("holidays") or ():
                holidays.append(
                    Holiday(
                        name=str(item["name"]),
                        first=_as_date(item["from"]),
                        last=_as_date(item.get("to", item["from"])),
                        workdays=tuple(_as_date(d) for d in item.get("workdays") or ()),
                    )
                )
        return cls(holidays, years)

    @classmethod
    def from_yaml(cls, path: str | Path) -> WorkingCalendar:
        with open(path, encoding="utf-8") as fh:
            return cls.from_mapping(read_yaml(fh) or {})

    @classmethod
    @functools.cache
    def default(cls) -> WorkingCalendar:
        """The calendar shipped in ``knowledge_base/`` (loaded once per process)."""
        return cls.from_yaml(DEFAULT_HOLIDAYS_PATH)

    # -- queries ----------------------------------------------------------------------

    def covers(self, day: dt.date) -> bool:
        """True when ``day`` falls in a year whose official schedule is loaded."""
        return day.year in self.years

    def unknown_years(self, limit: TimeLimit, start: dt.datetime, deadline: dt.datetime) -> list[int]:
        """Years without a published schedule that a working-day deadline runs through: there
        it was counted with the statutory holidays only, and the make-up arrangements announced
        later may move it. Hours and calendar days do not depend on the schedule."""
        if limit.unit != LimitUnit.WORKING_DAYS:
            return []
        first, last = _local(start).year, _local(deadline).year
        return [year for year in range(first, last + 1) if year not in self.years]

    def is_working_day(self, day: dt.date) -> bool:
        if isinstance(day, dt.datetime):
            day = _local(day).date()
        if day in self._work:
            return True
        if day in self._rest:
            return False
        if day.year not in self.years and day in self._estimated_rest(day.year):
            return False
        return day.weekday() < 5

    def holiday_name(self, day: dt.date) -> str | None:
        """Name of the holiday ``day`` belongs to (rest day or make-up working day)."""
        name = self._rest.get(day) or self._work.get(day)
        if name is None and day.year not in self.years:
            name = self._estimated_rest(day.year).get(day)
        return name

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in the half-open range ``[start, end)``."""
        if end <= start:
            return 0
        count = 0
        day = start
        while day < end:
            count += self.is_working_day(day)
            day += _ONE_DAY
        return count

    # -- deadlines --------------------------------------------------------------------

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """``start`` plus ``days`` working days, the clock running on working days only.

        Naive datetimes are taken as China local time; aware ones are converted to China
        local time for the day arithmetic and returned in their own time zone.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        local = _local(start).replace(tzinfo=None)
        day, clock = local.date(), local.time()
        if not self.is_working_day(day):
            day, clock = self.next_working_day(day), dt.time()
        for _ in range(days):
            day = self.next_working_day(day)
        return _restore(dt.datetime.combine(day, clock), start)

    def add_hours(
        self, start: dt.datetime, hours: float, *, working_time_only: bool = False
    ) -> dt.datetime:
        """``start`` plus ``hours``.

        By default hours are elapsed hours (urgent limits run around the clock). With
        ``working_time_only`` the clock stops outside working days.
        """
        if hours < 0:
            raise ValueError("hours must not be negative")
        if not working_time_only:
            return start + dt.timedelta(hours=hours)
        local = _local(start).replace(tzinfo=None)
        remaining = dt.timedelta(hours=hours)
        if not self.is_working_day(local.date()):
            local = dt.datetime.combine(self.next_working_day(local.date()), dt.time())
        while True:
            end_of_day = dt.datetime.combine(local.date() + _ONE_DAY, dt.time())
            available = end_of_day - local
            if remaining <= available:
                return _restore(local + remaining, start)
            remaining -= available
            local = dt.datetime.combine(self.next_working_day(local.date()), dt.time())

    def deadline(self, start: dt.datetime, limit: TimeLimit) -> dt.datetime:
        """Deadline for a case reported at ``start`` with handling limit ``limit``."""
        match limit.unit:
            case LimitUnit.HOURS:
                return self.add_hours(start, limit.amount)
            case LimitUnit.WORKING_DAYS:
                return self.add_working_days(start, limit.amount)
            case LimitUnit.CALENDAR_DAYS:
                return start + dt.timedelta(days=limit.amount)
        raise ValueError(f"unknown unit {limit.unit!r}")  # pragma: no cover


def calendar_note(unknown_years: Sequence[int]) -> str | None:
    """What a deadline counted without a holiday schedule must say to the person reading it."""
    if not unknown_years:
        return None
    years = "、".join(f"{year} 年" for year in unknown_years)
    return (f"{years}的放假安排尚未公布：截止时间按法定节假日（含周末补假）推算，未计调休，"
            "国务院公布放假调休安排后以其为准。")


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(CHINA_TZ) if moment.tzinfo else moment


def _restore(local_naive: dt.datetime, original: dt.datetime) -> dt.datetime:
    if original.tzinfo is None:
        return local_naive
    return local_naive.replace(tzinfo=CHINA_TZ).astimezone(original.tzinfo)
