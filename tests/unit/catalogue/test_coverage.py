"""Issue 11: every item type of both schemes answers in the demo district, and says how.

Runs over the shipped knowledge_base/ loaded into the database (SQLite and PostgreSQL): a gap in
any of the three item lists fails the suite.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.catalogue.legal import article_lookup_for_session
from portal.catalogue.models import Duty, ItemType
from portal.catalogue.reports import CatalogueReports
from portal.catalogue.services import ResponsibilityService
from portal.workflow import State

TODAY = dt.date(2026, 12, 1)
GRID = "3301990010100101"  # 滨湖街道
JINXIU_GRID_UNIT = "33019900305002"  # 嘉禾社区, 锦绣街道: the 2025 ruling on unknown covers


def resolve(session, code, kind, area=GRID, at=TODAY, scheme="gb47678"):
    service = ResponsibilityService(session, article_lookup=article_lookup_for_session(session))
    return service.resolve(code, area=area, at=at, scheme=scheme, kind=kind)


def roles_of(answer):
    return {r["role"]: r for r in answer["roles"]}


def test_all_three_lists_answer_every_required_role_at_every_street(session):
    report = CatalogueReports(session).coverage(TODAY)
    lists = {(lst["scheme"], lst["kind"]): lst for lst in report["lists"]}
    assert {k: v["items"] for k, v in lists.items()} == {
        ("gbt30428", "component"): 85, ("gb47678", "component"): 153, ("gb47678", "event"): 250}
    assert report["missing"] == []
    assert report["gaps"] == 0
    assert len(report["streets"]) == 9
    # answers reach through every route, and the report says so
    assert {"duty", "crosswalk", "component_relation", "ruling"} <= set(report["routes"])


def test_coverage_names_the_missing_role_street_and_item(session):
    event = session.scalar(select(ItemType).where(ItemType.scheme == "gb47678", ItemType.kind == "event",
                                                  ItemType.code == "06028"))
    supervisors = session.scalars(select(Duty).where(Duty.item_type_id == event.id, Duty.role == "supervisor",
                                                     Duty.state == State.PUBLISHED.value)).all()
    assert supervisors
    for duty in supervisors:
        duty.state = State.WITHDRAWN.value
    session.flush()
    report = CatalogueReports(session).coverage(TODAY, kind="event", scheme="gb47678")
    assert [lst["label"] for lst in report["lists"]] == ["五位码事件"]
    gaps = [g for g in report["missing"] if g["item"]["code"] == "06028"]
    assert len(gaps) == 9 and report["gaps"] == 9
    assert {g["role_label"] for g in gaps} == {"主管"} and {g["problem"] for g in gaps} == {"missing"}
    assert {g["street_name"] for g in gaps} >= {"滨湖街道", "春晖街道"}


def test_a_violation_without_a_penalty_power_is_a_gap(session):
    from portal.catalogue.models import Power

    for power in session.scalars(select(Power)):
        if "gb47678:event:09009" in (power.item_type_keys or []):
            power.item_type_keys = [k for k in power.item_type_keys if k != "gb47678:event:09009"]
    session.flush()
    report = CatalogueReports(session).coverage(TODAY, kind="event")
    assert {(g["item"]["code"], g["problem"]) for g in report["missing"]} == {("09009", "no_power")}


@pytest.mark.parametrize("code", ["06028", "08001", "06027", "09011", "01037", "01011"])
def test_the_six_examples_answer_with_agencies_basis_and_time_limit(session, code):
    answer = resolve(session, code, "event")
    roles = roles_of(answer)
    assert "supervisor" in roles and ({"maintainer", "enforcer"} & set(roles)), roles.keys()
    assert not answer["conflicts"] and answer["missing_roles"] == []
    for role in roles.values():
        assert role["agency"]["name"]
        assert role["legal_basis"], (code, role["role"])
        assert role["time_limit"]["normal"] or role["time_limit"]["urgent"]
        assert role["route"]["kind"] in ("duty", "component_relation", "crosswalk", "ruling")
    if code in ("06028", "08001", "06027", "09011"):  # violations: enforcer and its power
        assert answer["powers"] and any(p["category"] == "行政处罚" and p["penalty"] for p in answer["powers"])
        assert roles["enforcer"]["route"]["kind"] == "duty"


def test_an_event_x_abnormal_is_answered_by_component_x_and_says_so(session):
    answer = resolve(session, "01011", "event")  # 燃气井盖异常 → component 01011 → 0111 燃气井盖
    roles = roles_of(answer)
    handler = roles["maintainer"]
    assert handler["role_label"] == "处置"
    assert handler["agency"]["code"] == "RQ"
    assert handler["route"]["kind"] == "component_relation"
    assert [step["code"] for step in handler["route"]["via"]] == ["01011", "0111"]
    assert answer["answered_as"]["route"] == "component_relation"
    # the gas regulation of the State Council is in the library now: text, in force
    gas = [b for b in roles["supervisor"]["legal_basis"] if "燃气" in b["citation"]]
    assert gas and gas[0]["status"] == "in_force" and "燃气管理部门" in gas[0]["text"]
    # the event's own time limit applies, not the component's default
    assert roles["maintainer"]["time_limit"]["urgent"]["amount"] == 1


def test_a_five_digit_component_answers_through_the_crosswalk_only_when_it_is_the_same_thing(session):
    renamed = roles_of(resolve(session, "01001", "component"))  # 供水井盖 ← 0101 上水井盖 (renamed)
    assert renamed["owner"]["agency"]["code"] == "GS"
    assert renamed["owner"]["route"]["kind"] == "crosswalk"
    assert renamed["owner"]["route"]["via"][0]["code"] == "0101"
    split = roles_of(resolve(session, "01031", "component"))  # 通信立杆: split from 0117 立杆
    assert split["owner"]["route"]["kind"] == "duty"
    assert split["owner"]["agency"]["code"] == "TXLB"
    own = roles_of(resolve(session, "0101", "component", scheme="gbt30428"))
    assert own["owner"]["route"] == {"kind": "duty", "label": "本类型权责条目", "through": "duty", "via": []}


def test_a_ruling_on_the_four_digit_code_decides_its_five_digit_counterpart(session):
    from portal.catalogue.models import Area

    estate_grid = session.scalar(select(Area.code).where(Area.level == "grid", Area.code.like(JINXIU_GRID_UNIT + "%"))
                                 .order_by(Area.code))
    owner = roles_of(resolve(session, "01023", "component", area=estate_grid, at=dt.date(2025, 7, 1)))["owner"]
    assert owner["agency"]["code"] == "PS"
    assert owner["route"]["kind"] == "ruling" and owner["route"]["through"] == "crosswalk"


def test_lookup_words_find_their_item_types(session):
    from portal.catalogue.services import CatalogueService

    catalogue = CatalogueService(session)
    found = {word: [(i.kind, i.code) for i in catalogue.find_item_types(word, limit=5)]
             for word in ("井盖缺失", "违停", "路灯不亮", "下水道盖子")}
    assert ("event", "09009") in found["违停"]
    assert found["路灯不亮"][0] == ("event", "01037")  # the fault, not the lamp
    assert ("component", "01002") in found["下水道盖子"]
    assert ("event", "01023") in found["井盖缺失"]
