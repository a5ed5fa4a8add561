"""The indicators of a bulletin: definitions, weights, SQL aggregation, score, ranking, changes.

Every indicator is a ratio (or a count, or an average) of named case sets from
:mod:`portal.cases.measures`, so the public case list can show exactly the cases behind each
number. Counting is done by the database: one ``GROUP BY (agency, street)`` pass over the cases
reported in the period and one over the cases that fell due in it, plus one pass over the
dispatch and bounce steps for the per-agency counts; agencies, streets and the district are
then rolled up from those few hundred groups in Python. Nothing loops over case rows.

Rates are kept as integer numerators and denominators; the percentages, the composite score and
the ranking are computed from those integers, so the same cases always give the same figures.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.bulletins.periods import Period
from portal.cases.lifecycle import EventKind
from portal.cases.measures import MEASURES, measure_criterion
from portal.cases.models import Case, CaseEvent, Feedback

SCHEMA_VERSION = "portal.bulletin/1"
#: An agency or street with fewer cases due than this is shown but not ranked (too few to compare).
MIN_DUE_FOR_RANKING = 10


@dataclasses.dataclass(frozen=True, slots=True)
class Indicator:
    key: str
    label: str
    kind: str  # count | rate | average
    numerator: str  # a measure name (for an average: the measure of the cases averaged)
    denominator: str | None = None
    formula: str = ""
    moment: str = ""
    higher_is_better: bool = True
    weight: int = 0  # share of the composite score, in per cent
    for_agencies: bool = True
    note: str = ""

    @property
    def basis(self) -> str:
        return MEASURES[self.numerator].basis


_REPORTED = "按受理（上报）时间归属：上报时间在统计期内的案件计入本期，无论之后何时办结。"
_DUE = "按处置时限归属：处置时限（经批准缓办/延期的，为批准后的新时限）在统计期内届满的案件计入本期。"

INDICATORS: tuple[Indicator, ...] = (
    Indicator("reported", "受理数", "count", "reported", formula="受理数 = 统计期内上报的案件数",
              moment=_REPORTED, for_agencies=False,
              note="含所有渠道（12345/12319 热线、网站、手机应用、巡查、视频、Open311 接口）。"),
    Indicator("rejected", "不予立案数", "count", "rejected", formula="不予立案数 = 受理后经核实不属于城市管理范畴、不予立案的案件数",
              moment=_REPORTED, for_agencies=False),
    Indicator("accepted", "立案数", "count", "accepted", formula="立案数 = 受理数 − 不予立案数 − 撤销数",
              moment=_REPORTED, for_agencies=False, note="撤销指重复上报等原因撤销的案件。"),
    Indicator("dispatched", "派遣数", "count", "dispatched",
              formula="派遣数 = 立案后至少派遣一次的案件数（部门：曾派遣至该部门的案件数）", moment=_REPORTED,
              note="同一案件多次派遣只计一次；部门的派遣数包括派遣后被该部门退回的案件。"),
    Indicator("on_time_handling_rate", "按期处置率", "rate", "handled_on_time", "due",
              formula="按期处置率 = 按期处置数 ÷ 应处置数 × 100%", moment=_DUE, weight=20,
              note="应处置数：已派遣至责任单位、处置时限在统计期内届满的案件（不含不予立案、撤销）；"
                   "按期处置数：其中处置反馈时间不晚于处置时限的案件。"),
    Indicator("closure_rate", "结案率", "rate", "closed", "closure_base",
              formula="结案率 = 结案数 ÷ (应结案数 − 缓办数) × 100%", moment=_REPORTED, weight=10,
              note="应结案数即立案数；缓办数：经批准缓办/延期且尚未结案的案件；结案数：已核查结案的案件。"),
    Indicator("on_time_closure_rate", "按期结案率", "rate", "closed_on_time", "closure_base",
              formula="按期结案率 = 按期结案数 ÷ (应结案数 − 缓办数) × 100%", moment=_REPORTED, weight=15,
              note="按期结案数：结案且从未超过处置时限（未督办、处置不晚于时限）的案件。"),
    Indicator("rework_rate", "返工率", "rate", "reworked", "verification",
              formula="返工率 = 返工案件数 ÷ 经核查案件数 × 100%", moment=_REPORTED, weight=10, higher_is_better=False,
              note="返工：处置后核查不通过、退回重新办理的案件；经核查案件数：已核查通过或曾核查不通过的案件。"
                   "结案后因问题复发重新办理的不计返工。"),
    Indicator("bounce_rate", "退单率", "rate", "bounced", "dispatched",
              formula="退单率 = 退单案件数 ÷ 派遣数 × 100%", moment=_REPORTED, weight=5, higher_is_better=False,
              note="部门：该部门退回的案件数 ÷ 曾派遣至该部门的案件数。"),
    Indicator("avg_handling_hours", "平均处置时长", "average", "handled",
              formula="平均处置时长 = Σ(处置反馈时间 − 最后一次派遣时间) ÷ 已处置案件数，单位：工作小时",
              moment=_REPORTED, higher_is_better=False,
              note="工作小时只计工作日（按国务院公布的节假日与调休安排），与按工作日计算的处置时限用同一时钟；"
                   "返工或重新派遣的案件按最后一轮计算。"),
    Indicator("satisfaction_rate", "满意率", "rate", "rated_good", "rated",
              formula="满意率 = (满意数 + 基本满意数) ÷ 参评数 × 100%", moment=_REPORTED, weight=10,
              note="参评数：已回访并作出评价的案件数。"),
    Indicator("timely_resolution_rate", "问题及时解决率", "rate", "solved_in_time", "due",
              formula="问题及时解决率 = 在规定时限内解决的问题数 ÷ 当期应解决的问题数 × 100%（杭州口径）",
              moment=_DUE, weight=30,
              note="应解决问题数：处置时限在统计期内届满的案件（同“应处置数”）；在规定时限内解决：处置不晚于时限、"
                   "经核查结案且未返工。"),
    Indicator("patrol_share", "巡查发现占比", "rate", "patrol", "patrol_or_public",
              formula="巡查发现占比 = 监督员/网格员巡查发现数 ÷ (巡查发现数 + 公众上报数) × 100%", moment=_REPORTED,
              for_agencies=False,
              note="公众上报：12345/12319 热线、网站、手机应用、Open311 接口；视频发现两者都不计。"
                   "占比越高，说明问题越多由城管队伍主动发现。"),
)
BY_KEY: dict[str, Indicator] = {i.key: i for i in INDICATORS}
WEIGHTED = tuple(i for i in INDICATORS if i.weight)
assert sum(i.weight for i in WEIGHTED) == 100

REPORTED_MEASURES = tuple(name for name, m in MEASURES.items() if m.basis == "reported")
DUE_MEASURES = tuple(name for name, m in MEASURES.items() if m.basis == "due")


# ----------------------------------------------------------------------------- counting

def _sums(names: Iterable[str]) -> list[Any]:
    return [func.sum(case((measure_criterion(name), 1), else_=0)).label(name) for name in names]


def count_groups(session: Session, period: Period, hidden_item_ids: Sequence[int]) -> dict[str, Any]:
    """Raw counts of ``period``: per (agency id, street id) group, and per agency from the steps."""
    visible = [Case.item_type_id.not_in(sorted(hidden_item_ids))] if hidden_item_ids else []
    reported = [Case.reported_at >= period.start, Case.reported_at < period.end, *visible]
    groups: dict[tuple[int | None, int | None], dict[str, int | float]] = defaultdict(dict)
    stmt = (select(Case.agency_id, Case.street_id, *_sums(REPORTED_MEASURES),
                   func.sum(func.coalesce(Case.handling_hours, 0.0)).label("handled_hours"))
            .where(*reported).group_by(Case.agency_id, Case.street_id))
    for row in session.execute(stmt).mappings():
        key = (row["agency_id"], row["street_id"])
        groups[key].update({name: int(row[name] or 0) for name in REPORTED_MEASURES})
        groups[key]["handled_hours"] = float(row["handled_hours"] or 0.0)
    due = [Case.deadline >= period.start, Case.deadline < period.end, *visible]
    stmt = select(Case.agency_id, Case.street_id, *_sums(DUE_MEASURES)).where(*due).group_by(
        Case.agency_id, Case.street_id)
    for row in session.execute(stmt).mappings():
        groups[(row["agency_id"], row["street_id"])].update({name: int(row[name] or 0) for name in DUE_MEASURES})
    by_agency: dict[int, dict[str, int]] = defaultdict(dict)
    names = {EventKind.DISPATCH.value: "dispatched", EventKind.BOUNCE.value: "bounced"}
    # One pass over the steps of the period's cases (report-time index, steps found by case id).
    # The kind is compared through coalesce() so the planner does not start from the (kind, at)
    # index instead: that would read every dispatch ever made (a million) for one month.
    stmt = (select(CaseEvent.agency_id, CaseEvent.kind, func.count(func.distinct(CaseEvent.case_id)))
            .select_from(Case).join(CaseEvent, CaseEvent.case_id == Case.id)
            .where(*reported, func.coalesce(CaseEvent.kind, "").in_(list(names)), CaseEvent.agency_id.is_not(None))
            .group_by(CaseEvent.agency_id, CaseEvent.kind))
    for agency_id, kind, count in session.execute(stmt):
        if agency_id is not None:  # the query leaves steps without an agency out
            by_agency[agency_id][names[kind]] = int(count)
    return {"groups": groups, "agency_steps": by_agency}


def watermark(session: Session) -> dict[str, Any]:
    """What identifies the state of the case data a bulletin was computed from."""
    cases = session.execute(select(func.count(Case.id), func.max(Case.id), func.max(Case.updated_at))).one()
    events = session.execute(select(func.count(CaseEvent.id), func.max(CaseEvent.id))).one()
    feedback = session.scalar(select(func.count()).select_from(Feedback)) or 0
    return {"cases": int(cases[0] or 0), "max_case_id": int(cases[1] or 0),
            "last_case_update": cases[2].isoformat() if cases[2] else None,
            "events": int(events[0] or 0), "max_event_id": int(events[1] or 0), "feedback": int(feedback)}


# ----------------------------------------------------------------------------- rolling up

def _add(total: dict[str, Any], part: Mapping[str, Any]) -> None:
    for name, value in part.items():
        total[name] = total.get(name, 0) + value


def roll_up(raw: Mapping[str, Any]) -> dict[str, dict[Any, dict[str, Any]]]:
    """Counts per agency id, per street id and for the district, from the groups."""
    agencies: dict[Any, dict[str, Any]] = defaultdict(dict)
    streets: dict[Any, dict[str, Any]] = defaultdict(dict)
    district: dict[str, Any] = {}
    for (agency_id, street_id), counts in raw["groups"].items():
        _add(district, counts)
        if street_id is not None:
            _add(streets[street_id], counts)
        if agency_id is not None:
            _add(agencies[agency_id], counts)
    for agency_id, steps in raw["agency_steps"].items():
        # An agency's dispatches and bounces are the steps it received or made, not its current cases.
        agencies[agency_id].update({"dispatched": 0, "bounced": 0, **steps})
    for counts in agencies.values():
        counts.setdefault("dispatched", 0)
        counts.setdefault("bounced", 0)
    return {"agencies": dict(agencies), "streets": dict(streets), "district": {None: district}}


def _rate(numerator: int, denominator: int) -> float | None:
    return round(100.0 * numerator / denominator, 2) if denominator else None


def values(counts: Mapping[str, Any], *, agency: bool = False) -> dict[str, Any]:
    """Indicator values from a group's counts (None where the denominator is empty)."""
    result: dict[str, Any] = {}
    for indicator in INDICATORS:
        if agency and not indicator.for_agencies:
            continue
        n = int(counts.get(indicator.numerator, 0))
        if indicator.kind == "count":
            result[indicator.key] = n
        elif indicator.kind == "rate":
            result[indicator.key] = _rate(n, int(counts.get(indicator.denominator or "", 0)))
        else:
            hours = float(counts.get("handled_hours", 0.0))
            result[indicator.key] = round(hours / n, 2) if n else None
    return result


def score(indicator_values: Mapping[str, Any]) -> float | None:
    """The composite score (0–100): weighted mean of the weighted indicators, a lower-is-better
    rate counting as 100 − rate. Indicators without cases drop out and the rest are re-weighted."""
    total = weights = 0.0
    for indicator in WEIGHTED:
        value = indicator_values.get(indicator.key)
        if value is None:
            continue
        total += indicator.weight * (value if indicator.higher_is_better else 100.0 - value)
        weights += indicator.weight
    return round(total / weights, 2) if weights else None


# ----------------------------------------------------------------------------- the whole set

def _rows(counts_by_id: Mapping[Any, Mapping[str, Any]], names: Mapping[Any, tuple[str, str]], *,
          agency: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for group_id, counts in counts_by_id.items():
        if group_id not in names:
            continue
        code, name = names[group_id]
        vals = values(counts, agency=agency)
        due = int(counts.get("due", 0))
        rankable = due >= MIN_DUE_FOR_RANKING
        clean_counts: dict[str, float] = {m: int(counts.get(m, 0)) for m in MEASURES}
        clean_counts["handled_hours"] = round(float(counts.get("handled_hours", 0.0)), 2)
        rows.append({"code": code, "name": name, "counts": clean_counts, "values": vals,
                     "score": score(vals) if rankable else None, "rank": None})
    rows = [r for r in rows if r["counts"]["reported"] or r["counts"]["dispatched"] or r["counts"]["due"]]
    ranked = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], r["code"]))
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    unranked = sorted((r for r in rows if r["score"] is None), key=lambda r: r["code"])
    return ranked + unranked


def compute(session: Session, period: Period, places: Any, hidden_item_ids: Sequence[int]) -> dict[str, Any]:
    """Indicators of one period for the district, each street and each agency (no comparisons)."""
    rolled = roll_up(count_groups(session, period, hidden_item_ids))
    snapshot = places.snapshot
    agency_names = {a.id: (a.code, a.name) for a in snapshot.agencies.values()}
    street_names = {a.id: (a.code, a.name) for a in snapshot.areas.values() if a.level == "street"}
    district = places.district
    district_row = _rows(rolled["district"], {None: (district.code if district else "", district.name if district else "全区")},
                         agency=False)
    return {
        "period": period.as_dict(),
        "district": district_row[0] if district_row else None,
        "streets": _rows(rolled["streets"], street_names, agency=False),
        "agencies": _rows(rolled["agencies"], agency_names, agency=True),
    }


def _changes(current: Mapping[str, Any], before: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if before is None:
        return None
    delta: dict[str, Any] = {}
    for key, value in current["values"].items():
        old = before["values"].get(key)
        delta[key] = round(value - old, 2) if value is not None and old is not None else None
    delta["score"] = (round(current["score"] - before["score"], 2)
                      if current.get("score") is not None and before.get("score") is not None else None)
    return {"values": before["values"], "score": before.get("score"), "rank": before.get("rank"), "delta": delta}


def compare(current: dict[str, Any], previous: dict[str, Any], year_ago: dict[str, Any]) -> dict[str, Any]:
    """Adds 环比 (``mom``) and 同比 (``yoy``) to every row of ``current``."""
    for section in ("streets", "agencies"):
        before = {r["code"]: r for r in previous[section]}
        last_year = {r["code"]: r for r in year_ago[section]}
        for row in current[section]:
            row["mom"] = _changes(row, before.get(row["code"]))
            row["yoy"] = _changes(row, last_year.get(row["code"]))
    if current["district"] is not None:
        current["district"]["mom"] = _changes(current["district"], previous["district"])
        current["district"]["yoy"] = _changes(current["district"], year_ago["district"])
    return current


def definitions() -> list[dict[str, Any]]:
    """The indicator definitions as published on /bulletins/indicators and in every bulletin."""
    return [{"key": i.key, "label": i.label, "kind": i.kind, "formula": i.formula, "moment": i.moment,
             "numerator": {"measure": i.numerator, "label": MEASURES[i.numerator].label},
             "denominator": ({"measure": i.denominator, "label": MEASURES[i.denominator].label}
                             if i.denominator else None),
             "basis": i.basis, "weight": i.weight, "higher_is_better": i.higher_is_better,
             "for_agencies": i.for_agencies, "note": i.note} for i in INDICATORS]


__all__ = ["BY_KEY", "INDICATORS", "MIN_DUE_FOR_RANKING", "SCHEMA_VERSION", "WEIGHTED", "compare", "compute",
           "count_groups", "definitions", "roll_up", "score", "values", "watermark"]
