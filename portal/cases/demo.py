"""Deterministic demo cases for the demo district (``portal demo-data --cases N --seed S``).

The generator knows nothing about the database: it is given a :class:`DemoWorld` (item types,
grids, who is responsible for what where, and the working-day calendar) and yields case records
in the very format ``portal import-cases`` reads, so demo data goes through the same validated,
bulk ingestion path as real data. Same world, ``n``, ``seed`` and ``end`` → the same cases.

What makes the data realistic enough to find things in:

- **seasonal volume**: more cases in summer (greening, stalls, garbage), fewer around the
  Spring Festival, fewer at weekends; within a day, a morning and an afternoon peak;
- **item-type mix**: events (garbage, stalls, parking) far more common than components, and a
  long tail; greening problems peak from April to September;
- **handling times**: each agency has its own speed (a log-normal around a share of the time
  limit), so some agencies are late far more often; late cases are supervised (督办);
- **bounces**: concentrated on a few ambiguous item types and a few hotspot grids, where the
  first dispatch goes to the wrong agency and comes back as "not our asset", sometimes twice;
- **feedback**: most reporters who can be called back rate the result; late or bounced cases
  are rated worse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from portal import clock
from portal.cases.lifecycle import BOUNCE_NOT_OUR_ASSET
from portal.catalogue.calendar import CHINA_TZ, LimitUnit, TimeLimit, WorkingCalendar

# Month → relative volume (July is the busiest month of a city-management year).
SEASON: dict[int, float] = {1: 0.72, 2: 0.62, 3: 0.88, 4: 0.98, 5: 1.05, 6: 1.12,
                            7: 1.22, 8: 1.2, 9: 1.06, 10: 0.95, 11: 0.86, 12: 0.78}
WEEKDAY: tuple[float, ...] = (1.08, 1.05, 1.04, 1.03, 1.0, 0.84, 0.78)
# Hour of day → relative volume (China time).
HOURS: tuple[float, ...] = (0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.9, 1.3, 1.5, 1.45, 1.2,
                            0.9, 1.1, 1.35, 1.4, 1.3, 1.1, 0.9, 0.8, 0.7, 0.55, 0.4, 0.25)
CHANNELS: tuple[tuple[str, float], ...] = (
    ("hotline_12345", 0.35), ("patrol", 0.3), ("app", 0.13), ("video", 0.1), ("web", 0.1), ("hotline_12319", 0.02),
)
#: Channels through which a member of the public reports (and can be called back and rate).
PUBLIC_CHANNELS = frozenset({"hotline_12345", "hotline_12319", "app", "web"})
KEYWORD_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("垃圾", 6.0), ("占道", 5.0), ("停", 4.5), ("乱堆", 4.0), ("井盖", 3.0), ("路灯", 2.5), ("道路", 2.5),
    ("广告", 2.0), ("违", 2.0), ("绿", 1.8), ("树", 1.6), ("积水", 1.5), ("噪", 1.5),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌俊海燕"
PROBLEMS: dict[str, tuple[str, ...]] = {
    "component": ("破损", "缺失", "松动", "倾斜", "被遮挡", "污损"),
    "event": ("", "情况严重", "反复出现", "影响通行", "影响市容"),
}
ROADS = ("文昌路", "滨湖路", "学院路", "人民路", "锦绣大道", "桂花路", "香樟街", "府前街", "湖滨路", "新华路")


@dataclasses.dataclass(frozen=True, slots=True)
class DemoItem:
    code: str          # the service code (item-type code) records carry
    name: str
    kind: str          # component | event
    major_code: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class DemoGrid:
    code: str
    lat: float
    lon: float
    weight: float = 1.0   # relative volume (dense downtown grids report more)


@dataclasses.dataclass(frozen=True, slots=True)
class Responsibility:
    agency: str
    limit: TimeLimit | None = None       # normal limit
    urgent_limit: TimeLimit | None = None


@dataclasses.dataclass
class DemoWorld:
    items: Sequence[DemoItem]
    grids: Sequence[DemoGrid]
    #: (item code, grid code) → who handles it there and within what time; None if nobody.
    responsible: Callable[[str, str], Responsibility | None]
    agencies: Sequence[str]
    calendar: WorkingCalendar = dataclasses.field(default_factory=WorkingCalendar.default)
    ambiguous_items: frozenset[str] = frozenset()
    hotspot_grids: frozenset[str] = frozenset()


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) fixed by ``parts`` (same on every machine and Python run)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def item_weight(item: DemoItem, month: int) -> float:
    weight = 3.0 if item.kind == "event" else 1.0
    for keyword, boost in KEYWORD_WEIGHTS:
        if keyword in item.name:
            weight *= boost
            break
    # A long tail: some item types hardly ever come up.
    weight *= 0.15 + 1.7 * stable_fraction("item", item.code, item.kind)
    if ("绿" in item.name or "树" in item.name or item.major_code == "04") and 4 <= month <= 9:
        weight *= 1.8
    return weight


def agency_speed(agency: str) -> tuple[float, float]:
    """(median share of the time limit used, log-normal sigma) of an agency."""
    share = 0.25 + 0.6 * stable_fraction("speed", agency)
    sigma = 0.45 + 0.35 * stable_fraction("sigma", agency)
    return share, sigma


def rework_share(agency: str) -> float:
    """How often an agency's handling fails verification (返工): 1 % to 9 %."""
    return 0.01 + 0.08 * stable_fraction("rework", agency) ** 2


def daily_volumes(n: int, start: dt.date, end: dt.date, calendar: WorkingCalendar) -> list[tuple[dt.date, int]]:
    """``n`` cases spread over [start, end] by season, weekday and holidays (largest remainder)."""
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]

    def weight(day: dt.date) -> float:
        w = SEASON[day.month] * WEEKDAY[day.weekday()]
        name = calendar.holiday_name(day)
        if name and not calendar.is_working_day(day):
            w *= 0.55 if "春节" in name else 0.8
        return w

    weights = [weight(day) for day in days]
    total = sum(weights)
    shares = [n * w / total for w in weights]
    counts = [math.floor(s) for s in shares]
    by_remainder = sorted(range(len(days)), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return list(zip(days, counts, strict=True))


class _Picker:
    """Weighted choice by bisection over cumulative weights (fast for 10⁶ draws)."""

    def __init__(self, values: Sequence[Any], weights: Sequence[float]) -> None:
        import itertools

        self.values = list(values)
        self.cumulative = list(itertools.accumulate(weights))

    def __call__(self, rng: random.Random) -> Any:
        import bisect

        x = rng.random() * self.cumulative[-1]
        return self.values[min(bisect.bisect_right(self.cumulative, x), len(self.values) - 1)]


def _deadline(world: DemoWorld, start: dt.datetime, limit: TimeLimit | None) -> dt.datetime | None:
    return world.calendar.deadline(start, limit) if limit is not None else None


def _at(value: dt.datetime) -> str:
    return value.astimezone(CHINA_TZ).replace(microsecond=0).isoformat()


def generate(world: DemoWorld, n: int, seed: int, *, end: dt.date | None = None,
             days: int = 365, now: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``n`` case records (import format), oldest first.

    ``end`` is the last day with reports (default: yesterday, China time); steps after ``now``
    (default: the end of ``end``) have not happened yet, so recent cases are still open.
    """
    if n <= 0:
        return
    if end is None:
        # Up to yesterday, and nothing that would happen after this moment.
        current = clock.now().replace(microsecond=0)
        end, now = current.date() - dt.timedelta(days=1), now or current
    start = end - dt.timedelta(days=days - 1)
    now = now or dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), CHINA_TZ)
    rng = random.Random(seed)
    grid_picker = _Picker(world.grids, [g.weight for g in world.grids])
    channel_picker = _Picker([c for c, _ in CHANNELS], [w for _, w in CHANNELS])
    hour_picker = _Picker(range(24), HOURS)
    item_pickers = {month: _Picker(world.items, [item_weight(i, month) for i in world.items]) for month in range(1, 13)}
    sequence = 0
    for day, count in daily_volumes(n, start, end, world.calendar):
        times = sorted(
            dt.datetime.combine(day, dt.time(hour_picker(rng), rng.randrange(60), rng.randrange(60)), CHINA_TZ)
            for _ in range(count)
        )
        for reported in times:
            sequence += 1
            record = _one_case(world, rng, seed, sequence, reported, now,
                               item_pickers[day.month](rng), grid_picker(rng), channel_picker(rng))
            yield record


def _one_case(world: DemoWorld, rng: random.Random, seed: int, sequence: int, reported: dt.datetime,
              now: dt.datetime, item: DemoItem, grid: DemoGrid, channel: str) -> dict[str, Any]:
    urgent = rng.random() < 0.08
    public = channel in PUBLIC_CHANNELS
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    road = rng.choice(ROADS)
    problem = rng.choice(PROBLEMS.get(item.kind, PROBLEMS["event"]))
    description = f"{road}附近{item.name}{problem}".rstrip()
    phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
    if public and rng.random() < 0.12:
        # Callers do leave their numbers and house numbers in the text: the scrubber must catch them.
        description += f"，{name[0]}先生，联系电话{phone}，{road}{rng.randrange(1, 300)}号"
    record: dict[str, Any] = {
        "external_id": f"DEMO-{seed}-{sequence:07d}",
        "channel": channel,
        "item_type": item.code,
        "description": description,
        "reported_at": _at(reported),
        # Reports come from somewhere in the grid, not its exact centre.
        "lat": round(grid.lat + rng.uniform(-0.0008, 0.0008), 6),
        "lon": round(grid.lon + rng.uniform(-0.0008, 0.0008), 6),
        "grid_code": grid.code,
        "urgency": "urgent" if urgent else "normal",
    }
    if public:
        record.update(reporter_name=name, reporter_phone=phone,
                      address=f"{road}{rng.randrange(1, 300)}号")
    events: list[dict[str, Any]] = []
    duty = world.responsible(item.code, grid.code)
    clock = reported

    def step(kind: str, after: dt.timedelta, **extra: Any) -> bool:
        nonlocal clock
        clock = clock + after
        if clock > now:
            return False
        events.append({"kind": kind, "at": _at(clock), **extra})
        return True

    def minutes(median: float, sigma: float = 0.7) -> dt.timedelta:
        return dt.timedelta(minutes=max(1.0, rng.lognormvariate(math.log(median), sigma)))

    if rng.random() < 0.015:
        step("cancel", minutes(40), note="重复上报，予以撤销")
        record["events"] = events
        return record
    if public and rng.random() < 0.025:
        # The centre screens what the public reports: some of it is nobody's city-management business.
        step("reject", minutes(45), note="经核实不属于城市管理范畴，不予立案")
        record["events"] = events
        return record
    if duty is None:
        record["events"] = events
        return record
    bounce_p = 0.02
    if item.code in world.ambiguous_items:
        bounce_p += 0.33
    if grid.code in world.hotspot_grids:
        bounce_p += 0.22
    bounces = 0
    if rng.random() < bounce_p:
        bounces = 2 if rng.random() < 0.3 else 1
    others = [a for a in world.agencies if a != duty.agency] or [duty.agency]
    for _ in range(bounces):
        wrong = rng.choice(others)
        if not step("dispatch", minutes(25), agency=wrong):
            break
        if not step("bounce", minutes(240, 0.9), agency=wrong, reason=BOUNCE_NOT_OUR_ASSET,
                    note="经现场核实，非我单位权属"):
            break
    else:
        limit = duty.urgent_limit if urgent and duty.urgent_limit else duty.limit
        if step("dispatch", minutes(20), agency=duty.agency):
            deadline = _deadline(world, clock, limit)
            share, sigma = agency_speed(duty.agency)
            allowed = (deadline - clock) if deadline else dt.timedelta(days=3)
            took = dt.timedelta(seconds=allowed.total_seconds() * share * rng.lognormvariate(0, sigma))
            handled_at = clock + max(took, dt.timedelta(minutes=10))
            ok = True
            if (deadline is not None and limit is not None and limit.unit is LimitUnit.WORKING_DAYS
                    and rng.random() < (0.06 if item.kind == "component" else 0.02)):
                # 缓办/延期: repairs that wait for funds or materials get an approved new deadline,
                # asked for before the old one passes.
                ask = clock + (deadline - clock) * rng.uniform(0.3, 0.8)
                new_deadline = world.calendar.add_working_days(deadline, rng.choice((3, 5, 10)))
                ok = step("postpone", ask - clock, deadline=_at(new_deadline), note="需协调资金与材料，经批准延期")
                deadline = new_deadline.replace(microsecond=0)
                handled_at = clock + dt.timedelta(
                    seconds=(deadline - clock).total_seconds() * share * rng.lognormvariate(0, sigma))
                handled_at = max(handled_at, clock + dt.timedelta(minutes=10))
            if ok and deadline is not None and handled_at > deadline:
                late_by = dt.timedelta(hours=rng.uniform(0.5, 6))
                ok = step("supervise", (deadline - clock) + late_by, note="已超处置时限，督促办理")
            if ok and step("handle", handled_at - clock if handled_at > clock else minutes(30),
                           agency=duty.agency, note="已处置完毕"):
                if rng.random() < rework_share(duty.agency):
                    # 返工: the verification finds the job not done; the agency must do it again.
                    ok = (step("reopen", minutes(180, 0.8), note="核查不通过，返工")
                          and step("dispatch", minutes(20), agency=duty.agency)
                          and step("handle", minutes(60 * 12, 0.6), agency=duty.agency, note="返工处置完毕"))
                if ok and step("verify", minutes(180, 0.8), note="核查属实，已处置到位"):
                    if step("close", minutes(120, 0.8), note="结案"):
                        if rng.random() < 0.01 and step("reopen", dt.timedelta(days=rng.uniform(1, 10)),
                                                        note="问题复发，重新办理"):
                            if step("dispatch", minutes(20), agency=duty.agency):
                                if step("handle", minutes(60 * 24, 0.6), agency=duty.agency, note="再次处置"):
                                    if step("verify", minutes(180)):
                                        step("close", minutes(120))
    record["events"] = events
    if public and events and events[-1]["kind"] == "close" and rng.random() < 0.6:
        late = any(e["kind"] == "supervise" for e in events)
        bounced = any(e["kind"] == "bounce" for e in events)
        p_ok, p_mid = (0.5, 0.3) if late else (0.62, 0.25) if bounced else (0.82, 0.14)
        roll = rng.random()
        rating = "satisfied" if roll < p_ok else "basically_satisfied" if roll < p_ok + p_mid else "dissatisfied"
        comment = {"satisfied": "处理及时，谢谢", "basically_satisfied": "问题解决了，就是慢了点",
                   "dissatisfied": "拖了很久才处理"}[rating]
        at = dt.datetime.fromisoformat(events[-1]["at"]) + dt.timedelta(hours=rng.uniform(2, 72))
        if at <= now:
            record["feedback"] = {"rating": rating, "comment": comment, "at": _at(at)}
    return record


def pick_hotspots(grids: Sequence[DemoGrid], seed: int, count: int = 6) -> frozenset[str]:
    """A few grids where ownership is muddled (always the same for a seed)."""
    codes = sorted(g.code for g in grids)
    return frozenset(random.Random(f"hotspots-{seed}").sample(codes, min(count, len(codes))))


def working_days(amount: int) -> TimeLimit:
    return TimeLimit(amount, LimitUnit.WORKING_DAYS)
