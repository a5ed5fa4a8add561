"""The demo-case generator: deterministic, seasonal, with late cases, bounce hotspots and feedback."""

from __future__ import annotations

import collections
import datetime as dt

from portal.cases import demo
from portal.cases.lifecycle import CaseFacts, Status, advance
from portal.catalogue.calendar import LimitUnit, TimeLimit

ITEMS = [demo.DemoItem("0101", "上水井盖", "component", "01"), demo.DemoItem("0114", "其他井盖", "component", "01"),
         demo.DemoItem("0401", "古树名木", "component", "04"), demo.DemoItem("01001", "暴露垃圾", "event", "01"),
         demo.DemoItem("02003", "占道经营", "event", "02")]
GRIDS = [demo.DemoGrid(f"33019900101001{i:02d}", 30.2 + i * 0.001, 120.1 + i * 0.001, 1.0 + i % 3) for i in range(1, 21)]
AGENCIES = ["GS", "PS", "CGJ", "LHJ", "JD01"]
SPEEDY = {"0101": "GS", "0114": "PS", "0401": "LHJ", "01001": "JD01", "02003": "CGJ"}


def responsible(item: str, grid: str) -> demo.Responsibility:
    return demo.Responsibility(SPEEDY[item], TimeLimit(3, LimitUnit.WORKING_DAYS), TimeLimit(4, LimitUnit.HOURS))


def world() -> demo.DemoWorld:
    return demo.DemoWorld(items=ITEMS, grids=GRIDS, responsible=responsible, agencies=AGENCIES,
                          ambiguous_items=frozenset({"0114"}), hotspot_grids=demo.pick_hotspots(GRIDS, 7, 2))


END = dt.date(2026, 6, 30)


def cases(n=3000, seed=7):
    return list(demo.generate(world(), n, seed, end=END))


def test_same_seed_same_cases_other_seed_other_cases():
    assert cases(300) == cases(300)
    assert cases(300) != cases(300, seed=8)
    assert len(cases(300)) == 300


def test_volume_follows_the_seasons_and_the_spring_festival():
    by_month = collections.Counter(dt.datetime.fromisoformat(c["reported_at"]).month for c in cases())
    assert by_month[7] > by_month[2] * 1.5
    volumes = dict(demo.daily_volumes(10000, dt.date(2026, 1, 1), dt.date(2026, 12, 31),
                                      world().calendar))
    assert sum(volumes.values()) == 10000
    assert volumes[dt.date(2026, 2, 17)] < volumes[dt.date(2026, 3, 17)]  # 春节 vs an ordinary Tuesday


def test_every_generated_history_is_a_valid_life_cycle_and_ends_by_now():
    statuses = collections.Counter()
    for case in cases():
        facts = advance(CaseFacts(status=None), "report", dt.datetime.fromisoformat(case["reported_at"]))
        deadline = None
        for event in case["events"]:
            at = dt.datetime.fromisoformat(event["at"])
            if event["kind"] == "dispatch":
                duty = responsible(case["item_type"], case["grid_code"])
                limit = duty.urgent_limit if case["urgency"] == "urgent" else duty.limit
                deadline = world().calendar.deadline(at, limit)
            if event["kind"] == "postpone":
                deadline = dt.datetime.fromisoformat(event["deadline"])
            facts = advance(facts, event["kind"], at, new_deadline=deadline)
            assert at <= dt.datetime(2026, 7, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        statuses[facts.status] += 1
    assert statuses[Status.CLOSED] > 0.8 * sum(statuses.values())
    assert statuses[Status.CANCELLED] > 0
    assert statuses[Status.REJECTED] > 0


def test_some_cases_are_postponed_in_time_and_some_handled_twice_after_failed_verification():
    all_cases = cases()
    postponed = [c for c in all_cases if any(e["kind"] == "postpone" for e in c["events"])]
    assert 0.005 * 3000 < len(postponed) < 0.1 * 3000
    for case in postponed:
        kinds = [e["kind"] for e in case["events"]]
        assert kinds.index("postpone") > kinds.index("dispatch")
        assert "handle" not in kinds[:kinds.index("postpone")]
    reworked = [c for c in all_cases
                if any(e["kind"] == "reopen" and e.get("note") == "核查不通过，返工" for e in c["events"])]
    assert reworked
    for case in reworked:
        kinds = [e["kind"] for e in case["events"]]
        at = kinds.index("reopen")
        assert kinds[at - 1] == "handle" and kinds[at + 1] == "dispatch"


def test_some_cases_are_late_and_supervised():
    supervised = sum(any(e["kind"] == "supervise" for e in c["events"]) for c in cases())
    assert 0.02 * 3000 < supervised < 0.5 * 3000


def test_bounces_concentrate_on_ambiguous_items_and_hotspots():
    all_cases = cases()
    hot = world().hotspot_grids

    def rate(selected):
        selected = list(selected)
        return sum(any(e["kind"] == "bounce" for e in c["events"]) for c in selected) / max(1, len(selected))

    ambiguous = rate(c for c in all_cases if c["item_type"] == "0114")
    hotspot = rate(c for c in all_cases if c["grid_code"] in hot and c["item_type"] != "0114")
    elsewhere = rate(c for c in all_cases if c["grid_code"] not in hot and c["item_type"] != "0114")
    assert ambiguous > 5 * elsewhere and hotspot > 5 * elsewhere
    reasons = {e.get("reason") for c in all_cases for e in c["events"] if e["kind"] == "bounce"}
    assert reasons == {"not_our_asset"}


def test_feedback_and_reporters_only_for_public_channels():
    all_cases = cases()
    rated = [c for c in all_cases if "feedback" in c]
    assert len(rated) > 0.2 * len(all_cases)
    assert {c["feedback"]["rating"] for c in rated} == {"satisfied", "basically_satisfied", "dissatisfied"}
    for case in all_cases:
        assert ("reporter_name" in case) == (case["channel"] in demo.PUBLIC_CHANNELS)
    # Some callers leave personal data in the text, so scrubbing has something to do.
    assert any("联系电话" in c["description"] for c in all_cases)
