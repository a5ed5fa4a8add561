"""The dispatch assistant: suggestions, learning from dispatchers, and the screen, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEntry
from portal.cases.models import Case
from portal.catalogue.calendar import CHINA_TZ
from portal.dispatch.models import DispatchExample

LAT, LON = 30.2336, 120.0860  # inside 滨湖街道
GRID = "3301990010100101"


@pytest.fixture
def dbsession(catalogue_session):
    return catalogue_session


@pytest.fixture
def dispatcher(make_api_key, catalogue_connection):
    return {"Authorization": f"Bearer {make_api_key('dispatcher')}"}


@pytest.fixture
def editor(make_api_key, catalogue_connection):
    return {"Authorization": f"Bearer {make_api_key('editor')}"}


def suggest(testapp, **params):
    return testapp.get("/api/v1/dispatch/suggest", params=params).json


def codes(answer):
    return [i["code"] for i in answer["item_types"]]


def test_words_and_a_place_named_in_them_give_type_place_owner_and_basis(testapp):
    answer = suggest(testapp, text="香樟社区门口有人在人行道上摆地摊卖水果，走都走不过去")
    best = answer["item_types"][0]
    assert best["code"] == "09006" and best["scheme"] == "gb47678" and best["kind"] == "event"
    assert best["name"] == "占道经营" and best["score"] > 0
    assert "摆地摊" in best["why"]
    assert len(answer["item_types"]) <= 5
    assert answer["place"]["area"]["name"] == "香樟社区" and answer["place"]["source"] == "text"
    assert answer["place"]["matched"] == "香樟社区"
    # the catalogue's own answer for 占道经营 there (street-level entries in the demo catalogue)
    roles = {r["role"]: r for r in answer["responsibility"]["roles"]}
    assert roles["enforcer"]["agency"]["name"]
    assert answer["responsibility"]["area"]["code"] == answer["place"]["area"]["code"]
    assert isinstance(answer["regulations"], list)


def test_a_point_wins_and_a_road_of_the_gazetteer_is_found(testapp):
    answer = testapp.post_json("/api/v1/dispatch/suggest",
                               {"text": "路灯不亮，晚上黑漆漆的", "lat": LAT, "lon": LON}).json
    assert codes(answer)[0] == "01037"
    assert answer["place"]["source"] == "point" and answer["place"]["area"]["level"] == "grid"
    road = suggest(testapp, text="新华路上的红绿灯一直闪黄灯")
    assert road["place"]["matched"] == "新华路" and road["place"]["feature"]["kind"] == "road"
    assert road["place"]["area"]["name"] == "新华社区"


def test_no_place_is_said_plainly(testapp):
    answer = suggest(testapp, text="楼下垃圾桶满了好几天没人清运")
    assert answer["place"]["area"] is None and "地图" in answer["place"]["message"]
    assert answer["responsibility"]["scope"] == "district" and answer["responsibility"]["notice"]


def test_text_pasted_after_blank_lines_is_answered(testapp):
    # A reporter's words copied from a message often start with a newline or spaces.
    answer = testapp.post_json("/api/v1/dispatch/suggest", {"text": "\n  路灯不亮，晚上黑漆漆的",
                                                            "lat": LAT, "lon": LON}).json
    assert codes(answer)[0] == "01037"


@pytest.mark.parametrize("params", [
    {"text": ""},
    {"text": "   "},
    {"text": "井盖" * 2500},
    {"text": "井盖坏了", "lat": "30.2"},
    {"text": "井盖坏了", "lat": "39.9", "lon": "116.4"},
    {"text": "井盖坏了", "area": "330199999"},
    {"text": "井盖坏了", "area": "abc"},
    {"text": "井盖坏了", "lat": "nan", "lon": "1"},
])
def test_bad_input_gets_a_clear_400(testapp, params):
    response = testapp.get("/api/v1/dispatch/suggest", params=params, status=400)
    error = response.json["error"]
    assert error["message"] and (error.get("fields") or error["code"])


def test_bad_json_bodies_are_refused(testapp):
    testapp.post("/api/v1/dispatch/suggest", "{", content_type="application/json", status=400)
    testapp.post_json("/api/v1/dispatch/suggest", {"text": "井盖坏了", "colour": "red"}, status=400)
    testapp.post_json("/api/v1/dispatch/suggest", ["井盖坏了"], status=400)


def test_a_correction_changes_the_next_suggestion_and_a_discarded_one_stops(testapp, dispatcher, editor, dbsession):
    text = "小区门口那排铁栏杆被车撞歪了一大片"
    similar = "小区门口的铁栏杆又被车撞歪了"
    first = codes(suggest(testapp, text=similar))[0]
    assert first == "02017"  # 交通护栏: the vocabulary's reading
    # the dispatcher knows these railings fence the estate's lawn: 绿地护栏
    stored = testapp.post_json("/api/v1/dispatch/examples",
                               {"text": text, "code": "04008", "suggested_code": first},
                               headers=dispatcher, status=201).json
    assert stored["corrected"] is True and stored["source"] == "screen"
    after = suggest(testapp, text=similar)
    assert codes(after)[0] == "04008"
    assert any(f"#{stored['id']}" in w for w in after["item_types"][0]["why"])
    # an unrelated text is not affected
    assert codes(suggest(testapp, text="路灯不亮了"))[0] == "01037"

    testapp.post_json(f"/api/v1/dispatch/examples/{stored['id']}/discard", {"reason": ""}, headers=editor, status=400)
    testapp.post_json(f"/api/v1/dispatch/examples/{stored['id']}/discard", {"reason": "交通护栏，纠正有误"},
                      headers=dispatcher, status=403)
    discarded = testapp.post_json(f"/api/v1/dispatch/examples/{stored['id']}/discard",
                                  {"reason": "交通护栏，纠正有误"}, headers=editor).json
    assert discarded["discarded_at"] and discarded["discard_reason"] == "交通护栏，纠正有误"
    assert codes(suggest(testapp, text=similar))[0] == "02017"
    # audited: the confirmation and the discard, with who did them
    entries = dbsession.scalars(select(AuditEntry).where(AuditEntry.entity_type == "dispatch_examples",
                                                         AuditEntry.entity_id == str(stored["id"]))).all()
    assert len(entries) == 2
    listing = testapp.get("/api/v1/dispatch/examples", params={"include_discarded": "true"}, headers=editor).json
    assert listing["items"][0]["id"] == stored["id"]
    testapp.get("/api/v1/dispatch/examples", status=401)


def test_examples_need_a_dispatcher_and_a_known_code(testapp, dispatcher, make_api_key):
    testapp.post_json("/api/v1/dispatch/examples", {"text": "井盖坏了", "code": "01002"}, status=401)
    testapp.post_json("/api/v1/dispatch/examples", {"text": "井盖坏了", "code": "01002"},
                      headers={"Authorization": f"Bearer {make_api_key('expert')}"}, status=403)
    testapp.post_json("/api/v1/dispatch/examples", {"text": "井盖坏了", "code": "99999"}, headers=dispatcher, status=400)
    stored = testapp.post_json("/api/v1/dispatch/examples",
                               {"text": "井盖坏了，报修电话13912345678", "code": "01002"}, headers=dispatcher).json
    assert "13912345678" not in stored["text"]  # phone numbers never stored


def test_a_case_created_through_the_api_with_text_teaches(testapp, dispatcher, dbsession):
    now = dt.datetime.now(CHINA_TZ).replace(microsecond=0)
    body = {"external_id": f"LD-{uuid.uuid4().hex[:10]}", "channel": "hotline_12345",
            "item_type": "gb47678:event:06034", "description": "王小明反映：路边那辆白色面包车停了一年多没动过，落满了灰",
            "reported_at": now.isoformat(), "grid_code": GRID, "reporter": {"name": "王小明", "phone": "13900001111"}}
    case_id = testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=201).json["id"]
    example = dbsession.scalar(select(DispatchExample).where(DispatchExample.case_id == case_id))
    assert example is not None and example.code == "06034" and example.source == "case_api"
    assert "王小明" not in example.text and "面包车" in example.text
    # a replay creates nothing new
    testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=200)
    assert dbsession.scalar(select(func.count()).select_from(DispatchExample)
                            .where(DispatchExample.case_id == case_id)) == 1



def test_the_screen_goes_from_text_to_a_created_case_without_javascript(testapp, login_as, dbsession):
    login_as("dispatcher", username="paiqian")
    text = "香樟社区有人在人行道上摆地摊卖水果，走都走不过去"
    page = testapp.get("/dispatch", params={"text": text})
    assert "占道经营" in page.text and "摆地摊" in page.text and "香樟社区" in page.text
    # one click: the full answer for the chosen type, with its legal basis
    chosen = page.click(href=re.compile(r"choose=09006"), index=0)
    assert "权属与法律依据" in chosen.text and "执法" in chosen.text
    form = chosen.forms[next(i for i, f in chosen.forms.items() if f.action.endswith("/dispatch/choose"))]
    assert form["code"].value == "09006"
    grid = form["grid"].options[1][0] if form["grid"].value == "" else form["grid"].value
    form["grid"] = grid
    # one more: the case, through the case service, dispatched with its deadline
    done = form.submit("action", value="case", status=303).follow()
    assert "已建案" in done.text and "查询码" in done.text
    case = dbsession.scalar(select(Case).where(Case.description == text))
    assert case is not None and case.grid_id is not None
    assert case.status == "dispatched" and case.deadline is not None
    example = dbsession.scalar(select(DispatchExample).where(DispatchExample.case_id == case.id))
    assert example.code == "09006" and example.created_by


def test_the_screen_says_what_is_wrong_and_who_may_act(testapp, login_as):
    page = testapp.get("/dispatch", params={"text": "井盖坏了", "lat": "39.9", "lon": "116.4"}, status=400)
    assert "不在本辖区" in page.text
    too_long = testapp.get("/dispatch", params={"text": "井盖" * 2500}, status=400)
    assert "2000" in too_long.text
    anonymous = testapp.get("/dispatch", params={"text": "井盖坏了", "choose": "01002"})
    assert "调度员登录" in anonymous.text and "/dispatch/choose" not in anonymous.text
    assert "/login" in testapp.get("/dispatch/examples", status=302).location
    login_as("editor", username="bianji")
    testapp.get("/dispatch/examples", status=200)
