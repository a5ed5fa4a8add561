"""Statistical periods of a bulletin: a month (``2026-10``), a quarter (``2026-Q3``) or a year (``2026``).

Periods are whole days in China time: ``2026-10`` runs from 2026-10-01 00:00 to 2026-10-31
24:00 (+08:00). A period knows the one before it (环比) and the same one a year earlier (同比).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from portal.catalogue.calendar import CHINA_TZ
from portal.errors import InvalidInput

_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{1,2})|[Qq](?P<quarter>[1-4])))?$")
QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
KIND_LABELS = {"month": "月度", "quarter": "季度", "year": "年度"}


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    kind: str  # month | quarter | year
    number: int  # month 1-12, quarter 1-4, 1 for a year

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PATTERN.match((text or "").strip())
        if not match:
            raise InvalidInput(f"统计期格式无效：{text!r}（应为 2026-10、2026-Q3 或 2026）。", code="invalid_period",
                               fields={"period": ["格式应为 YYYY-MM、YYYY-Qn 或 YYYY。"]})
        year = int(match["year"])
        if not 2000 <= year <= 2100:
            raise InvalidInput(f"统计期年份超出范围：{year}。", code="invalid_period", fields={"period": ["年份无效。"]})
        if match["month"]:
            month = int(match["month"])
            if not 1 <= month <= 12:
                raise InvalidInput(f"月份无效：{month}。", code="invalid_period", fields={"period": ["月份应为 1-12。"]})
            return cls(year, "month", month)
        if match["quarter"]:
            return cls(year, "quarter", int(match["quarter"]))
        return cls(year, "year", 1)

    @property
    def code(self) -> str:
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return str(self.year)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.year}年{self.number}月"
        if self.kind == "quarter":
            return f"{self.year}年{QUARTER_NAMES[self.number]}"
        return f"{self.year}年"

    @property
    def issue_label(self) -> str:
        """第N期: monthly bulletins are numbered by month, quarterly ones by quarter, within the year."""
        if self.kind == "month":
            return f"{self.year}年第{self.number}期"
        if self.kind == "quarter":
            return f"{self.year}年季度通报第{self.number}期"
        return f"{self.year}年年度通报第1期"

    @property
    def first_day(self) -> dt.date:
        if self.kind == "month":
            return dt.date(self.year, self.number, 1)
        if self.kind == "quarter":
            return dt.date(self.year, 3 * self.number - 2, 1)
        return dt.date(self.year, 1, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), CHINA_TZ)

    @property
    def end(self) -> dt.datetime:
        """The first moment after the period (exclusive bound)."""
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), CHINA_TZ)

    @property
    def inclusive_end(self) -> dt.datetime:
        """The last moment of the period, as the case list's ``to`` day means it."""
        return dt.datetime.combine(self.last_day, dt.time(23, 59, 59, 999999), CHINA_TZ)

    def next(self) -> Period:
        if self.kind == "month":
            return Period(self.year + self.number // 12, "month", self.number % 12 + 1)
        if self.kind == "quarter":
            return Period(self.year + self.number // 4, "quarter", self.number % 4 + 1)
        return Period(self.year + 1, "year", 1)

    def previous(self) -> Period:
        if self.kind == "month":
            return Period(self.year - (self.number == 1), "month", (self.number - 2) % 12 + 1)
        if self.kind == "quarter":
            return Period(self.year - (self.number == 1), "quarter", (self.number - 2) % 4 + 1)
        return Period(self.year - 1, "year", 1)

    def year_ago(self) -> Period:
        return Period(self.year - 1, self.kind, self.number)

    def trailing(self, count: int) -> list[Period]:
        """This period and the ``count - 1`` before it, oldest first."""
        periods = [self]
        while len(periods) < count:
            periods.append(periods[-1].previous())
        return periods[::-1]

    def has_ended(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(CHINA_TZ)) >= self.end

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "kind": self.kind, "label": self.label,
                "first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat()}


def months_between(first: dt.date, last: dt.date) -> list[Period]:
    """Every whole month inside [first, last]."""
    period = Period(first.year, "month", first.month)
    if period.first_day < first:
        period = period.next()
    months = []
    while period.last_day <= last:
        months.append(period)
        period = period.next()
    return months
