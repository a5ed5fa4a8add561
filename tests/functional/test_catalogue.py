"""The catalogue as dispatchers, editors and client systems meet it: pages and the JSON API."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
GRID = "3301990010100101"
LAWS = ROOT.parent / "shared" / "corpus" / "laws"


@pytest.fixture(scope="module")
def catalogue_laws() -> tuple[str, ...]:
    """Cited laws imported beside the catalogue when the shared corpus is present."""
    return ("city-road-management-regulation.md", "city-water-supply-regulation.md")


def _user(session, *roles):
    from portal.accounts.services import DatabaseUserService

    name = f"u-{uuid.uuid4().hex[:6]}"
    return DatabaseUserService(session).create(name, "correct horse battery", roles, display_name=name)


@pytest.fixture
def editor_key(session) -> str:
    from portal.accounts.services import DatabaseApiKeyService

    _, secret = DatabaseApiKeyService(session).create(_user(session, "editor"), "test key")
    return secret


@pytest.fixture
def reviewer_key(session) -> str:
    """A second editor: publishing needs someone other than the change's author (four eyes)."""
    from portal.accounts.services import DatabaseApiKeyService

    _, secret = DatabaseApiKeyService(session).create(_user(session, "editor"), "test key")
    return secret


@pytest.fixture
def dispatcher_key(session) -> str:
    from portal.accounts.services import DatabaseApiKeyService

    _, secret = DatabaseApiKeyService(session).create(_user(session, "dispatcher"), "test key")
    return secret


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def duty_form(page):
    return next(f for f in page.forms.values() if "/catalogue/duties/" in (f.action or "")
                and "transition" not in f.action)


def login(app_, session, *roles):
    user = _user(session, *roles)
    form = app_.get("/login").forms[0]
    form["username"] = user.username
    form["password"] = "correct horse battery"
    form.submit(status=303)
    return user


# ----------------------------------------------------------------------------- JSON reading


def test_item_types_by_kind_and_scheme(app_):
    four = app_.get("/api/v1/item-types", {"scheme": "gbt30428"}).json
    assert four["total"] == 85 and four["items"][0]["code"] == "0101"
    events = app_.get("/api/v1/item-types", {"kind": "event", "scheme": "gb47678"}).json
    assert events["total"] == 250
    assert app_.get("/api/v1/item-types", {"kind": "component", "scheme": "gb47678"}).json["total"] == 153
    found = app_.get("/api/v1/item-types", {"q": "窨井盖"}).json
    assert "0102" in {i["code"] for i in found["items"]}
    bad = app_.get("/api/v1/item-types", {"kind": "thing"}, status=400).json
    assert "kind" in bad["error"]["fields"]


def test_item_type_detail_with_crosswalk(app_):
    item = app_.get("/api/v1/item-types/0117").json
    assert item["name"] == "立杆"
    assert {c["code"] for c in item["crosswalk"]} == {"01030", "01031", "01032", "01033", "01034"}
    assert {c["link"] for c in item["crosswalk"]} == {"split"}
    ambiguous = app_.get("/api/v1/item-types/01001", {"kind": "event"}).json
    assert ambiguous["kind"] == "event" and ambiguous["name"] == "供水井盖异常"
    app_.get("/api/v1/item-types/9999", status=404)


def test_completion(app_):
    items = app_.get("/api/v1/item-types/complete", {"q": "红绿"}).json["items"]
    assert items[0]["code"] == "0210"
    app_.get("/api/v1/item-types/complete", status=400)


def test_agencies_and_areas(app_):
    agencies = app_.get("/api/v1/agencies").json
    assert agencies["total"] == 70
    kinds = {a["kind"] for a in agencies["items"]}
    assert kinds == {"government", "street_office", "utility", "enterprise", "property_company"}
    offices = app_.get("/api/v1/agencies", {"kind": "street_office"}).json
    assert offices["total"] == 9
    wy = app_.get("/api/v1/agencies/WY01").json
    assert wy["units"] and wy["phone_is_demo"] is True
    tree = app_.get("/api/v1/areas").json["items"]
    district = tree[0]
    assert district["code"] == "330199" and len(district["children"]) == 9
    counts = {"zone": 0, "unit": 0, "grid": 0}

    def walk(node):
        for child in node.get("children", []):
            counts[child["level"]] = counts.get(child["level"], 0) + 1
            walk(child)

    walk(district)
    assert counts == {"zone": 41, "unit": 134, "grid": 364, "street": 9}
    shallow = app_.get("/api/v1/areas", {"max_level": "street"}).json["items"][0]
    assert "children" not in shallow["children"][0]
    area = app_.get(f"/api/v1/areas/{GRID}").json
    assert area["geometry"]["type"] == "Polygon" and len(area["ancestors"]) == 4


def test_locate(app_, session):
    from shapely.geometry import shape

    from portal.catalogue.models import Area

    point = shape(session.scalar(select(Area.geometry).where(Area.code == GRID))).representative_point()
    found = app_.get("/api/v1/areas/locate", {"lat": point.y, "lon": point.x}).json
    assert found["grid"]["code"] == GRID
    assert [a["code"] for a in found["ancestors"]] == ["330199", "330199001", "33019900101", "33019900101001"]
    outside = app_.get("/api/v1/areas/locate", {"lat": 39.9, "lon": 116.4}, status=404).json
    assert outside["error"]["code"] == "outside_grids"
    for params in ({"lat": "north", "lon": 1}, {"lat": 95, "lon": 120}, {"lat": "nan", "lon": 120}, {"lon": 120}):
        assert app_.get("/api/v1/areas/locate", params, status=400).json["error"]["code"] == "validation_failed"


# ----------------------------------------------------------------------------- the look-up


def test_responsibility_response_shape(app_):
    body = app_.get("/api/v1/responsibility", {"item_type": "0101", "area": GRID, "at": "2025-03-14"}).json
    assert set(body) >= {"item_type", "area", "at", "roles", "conflicts"}
    assert body["at"] == "2025-03-14" and body["conflicts"] == []
    roles = {r["role"]: r for r in body["roles"]}
    assert list(roles) == ["owner", "maintainer", "supervisor", "enforcer"]
    owner = roles["owner"]
    assert set(owner) >= {"role", "agency", "duty_id", "legal_basis", "time_limit", "deadline", "source"}
    assert owner["agency"]["code"] == "GS"
    assert owner["source"]["kind"] == "regulation"
    basis = owner["legal_basis"][0]
    assert set(basis) >= {"citation", "regulation_id", "article_number", "text", "in_force"}
    assert basis["citation"] == "《城市道路管理条例》第二十三条" and basis["article_number"] == 23
    if LAWS.is_dir():
        assert basis["in_force"] is True and "检查井" in basis["text"] and basis["regulation_id"]
    assert dt.datetime.fromisoformat(owner["deadline"]).utcoffset() == dt.timedelta(hours=8)


def test_responsibility_by_point_and_past_date(app_, session):
    from shapely.geometry import shape

    from portal.catalogue.models import Area

    point = shape(session.scalar(select(Area.geometry).where(Area.code == GRID))).representative_point()
    body = app_.get("/api/v1/responsibility", {"item_type": "0118", "lat": point.y, "lon": point.x,
                                               "at": "2024-06-01"}).json
    assert body["area"]["code"] == GRID
    assert {r["role"]: r["agency"]["code"] for r in body["roles"]}["maintainer"] == "SZYH"
    later = app_.get("/api/v1/responsibility", {"item_type": "0118", "area": GRID, "at": "2025-06-01"}).json
    assert {r["role"]: r["agency"]["code"] for r in later["roles"]}["maintainer"] == "ZMGS"


def test_responsibility_deadline_from_reported_time(app_):
    body = app_.get("/api/v1/responsibility", {
        "item_type": "0101", "area": GRID, "reported_at": "2025-01-27T10:00:00+08:00"}).json
    owner = body["roles"][0]
    # 2 working days across the 2025 Spring Festival (28 Jan - 4 Feb)
    assert owner["deadline"].startswith("2025-02-06T10:00")
    urgent = app_.get("/api/v1/responsibility", {
        "item_type": "0101", "area": GRID, "reported_at": "2025-01-27T10:00:00+08:00", "urgency": "urgent"}).json
    assert urgent["roles"][0]["deadline"].startswith("2025-01-27T12:00")


def test_a_deadline_counted_without_a_holiday_schedule_carries_a_note(app_):
    from portal.catalogue.calendar import WorkingCalendar

    unknown = max(WorkingCalendar.default().years) + 1
    late = app_.get("/api/v1/responsibility", {
        "item_type": "0101", "area": GRID, "reported_at": f"{unknown - 1}-12-30T10:00:00+08:00"}).json
    assert late["roles"][0]["deadline"].startswith(f"{unknown}-")
    assert f"{unknown} 年" in late["calendar_note"]
    covered = app_.get("/api/v1/responsibility", {
        "item_type": "0101", "area": GRID, "reported_at": "2025-01-27T10:00:00+08:00"}).json
    assert covered["calendar_note"] is None
    # Beyond any holiday rule the portal knows (the lunar tables end in 2100): still an answer.
    far = app_.get("/api/v1/responsibility", {
        "item_type": "0101", "area": GRID, "reported_at": "2150-12-31T10:00:00+08:00"}).json
    assert far["roles"][0]["deadline"].startswith("2151-01-04T10:00") and "2151 年" in far["calendar_note"]


@pytest.mark.parametrize("params, status, field", [
    ({"area": GRID}, 400, "item_type"),
    ({"item_type": "0101"}, 400, "area"),
    ({"item_type": "0101", "lat": 30.2}, 400, "lon"),
    ({"item_type": "0101", "area": "abc"}, 400, "area"),
    ({"item_type": "0101", "area": GRID, "at": "2025-13-01"}, 400, "at"),
    ({"item_type": "0101", "area": GRID, "urgency": "soon"}, 400, "urgency"),
    ({"item_type": "0101", "area": "330199999999"}, 404, None),
    ({"item_type": "x" * 41, "area": GRID}, 400, "item_type"),
])
def test_responsibility_bad_input_is_a_4xx_with_envelope(app_, params, status, field):
    body = app_.get("/api/v1/responsibility", params, status=status).json
    assert set(body["error"]) == {"code", "message", "fields", "message_en"}
    if field:
        assert field in body["error"]["fields"]


def test_area_with_a_point_answers_for_the_area(app_):
    # The OpenAPI document allows both (issue 15: a schema-valid request was refused); area wins.
    at = "2026-11-20T10:00:00+08:00"
    both = app_.get("/api/v1/responsibility", {"item_type": "0101", "area": GRID, "lat": 0.0, "lon": 0.0,
                                               "reported_at": at}).json
    assert both == app_.get("/api/v1/responsibility", {"item_type": "0101", "area": GRID, "reported_at": at}).json


def test_hostile_query_never_500s(app_):
    for query in ["item_type=%FF%FE&area=1", "item_type=" + quote("井" * 60) + f"&area={GRID}",
                  f"item_type=0101&area={GRID}&at=0000-00-00", "lat=1e999&lon=1&item_type=0101"]:
        response = app_.get("/api/v1/responsibility?" + query, expect_errors=True)
        assert 400 <= response.status_int < 500, query


# ----------------------------------------------------------------------------- editing over the API


def test_duty_api_requires_an_editor_key(app_, dispatcher_key):
    body = {"item_type": "0101", "area": "330199001", "role": "owner", "agency": "DX"}
    app_.post_json("/api/v1/duties", body, status=401)
    app_.post_json("/api/v1/duties", body, headers=auth(dispatcher_key), status=403)
    app_.post_json("/api/v1/duties", body, headers={"Authorization": "Bearer nope"}, status=401)


def test_duty_lifecycle_over_the_api(app_, editor_key, reviewer_key):
    created = app_.post_json("/api/v1/duties", {
        "item_type": "0101", "area": "330199001", "role": "owner", "agency": "DX",
        "citations": ["城市道路管理条例第23条"], "valid_from": "2025-01-01", "note": "测试",
    }, headers=auth(editor_key), status=201).json
    assert created["state"] == "draft" and created["citations"] == ["《城市道路管理条例》第二十三条"]
    duty_url = f"/api/v1/duties/{created['id']}"
    # drafts are invisible to the public
    app_.get(duty_url, status=404)
    patched = app_.patch_json(duty_url, {"note": "修改后"}, headers=auth(editor_key)).json
    assert patched["note"] == "修改后" and patched["id"] == created["id"]
    for name, key in (("submit", editor_key), ("publish", reviewer_key)):
        app_.post_json(f"{duty_url}/transitions", {"transition": name}, headers=auth(key))
    assert app_.get(duty_url).json["state"] == "published"
    answer = app_.get("/api/v1/responsibility", {"item_type": "0101", "area": GRID}).json
    assert {r["role"]: r["duty_id"] for r in answer["roles"]}["owner"] == created["id"]
    # editing the published duty opens a revision, reviewed before it replaces the original
    revision = app_.patch_json(duty_url, {"agency": "YD"}, headers=auth(editor_key), status=201).json
    assert revision["revision_of"] == created["id"] and revision["state"] == "draft"
    for name, key in (("submit", editor_key), ("publish", reviewer_key)):
        app_.post_json(f"/api/v1/duties/{revision['id']}/transitions", {"transition": name},
                       headers=auth(key))
    assert app_.get(duty_url).json["state"] == "superseded"
    history = app_.get(f"/api/v1/duties/{revision['id']}/history").json["events"]
    assert any(c["field"] == "agency_id" for e in history for c in e["changes"])
    assert any(e["action"] == "supersede" for e in history)


def test_colliding_duty_is_refused_then_forced(app_, editor_key, reviewer_key):
    def publish(agency, force=False):
        created = app_.post_json("/api/v1/duties", {
            "item_type": "0109", "area": "33019900101", "role": "owner", "agency": agency, "submit": True,
        }, headers=auth(editor_key), status=201).json
        return app_.post_json(f"/api/v1/duties/{created['id']}/transitions",
                              {"transition": "publish", "force": force, "comment": "双方均主张"},
                              headers=auth(reviewer_key), expect_errors=True)

    assert publish("LT").status_int == 200
    refused = publish("DX")
    assert refused.status_int == 409 and refused.json["error"]["code"] == "duty_collision"
    forced = publish("YD", force=True)
    assert forced.status_int == 200 and forced.json["conflict_forced"] is True
    answer = app_.get("/api/v1/responsibility", {"item_type": "0109", "area": GRID}).json
    assert answer["conflicts"][0]["role"] == "owner"
    assert {d["agency"]["code"] for d in answer["conflicts"][0]["duties"]} == {"LT", "YD"}


def test_duty_body_validation(app_, editor_key):
    body = app_.post_json("/api/v1/duties", {"item_type": "0101", "area": "330199", "role": "boss",
                                             "agency": "GS", "extra": 1},
                          headers=auth(editor_key), status=400).json
    assert {"role", "extra"} <= set(body["error"]["fields"])
    body = app_.post_json("/api/v1/duties", {"item_type": "0101", "area": "330199", "role": "owner",
                                             "agency": "GS", "citations": ["随便写写"]},
                          headers=auth(editor_key), status=400).json
    assert "citations" in body["error"]["fields"]
    app_.post("/api/v1/duties", "not json", headers={**auth(editor_key), "Content-Type": "application/json"},
              status=400)
    app_.patch_json("/api/v1/duties/99999999", {"note": "x"}, headers=auth(editor_key), status=404)
    app_.get("/api/v1/duties/99999999999999", status=404)


def test_duty_list_public_sees_published_only(app_, editor_key):
    app_.post_json("/api/v1/duties", {"item_type": "0101", "area": "330199001", "role": "owner", "agency": "DX"},
                   headers=auth(editor_key), status=201)
    public = app_.get("/api/v1/duties", {"state": "draft"}).json
    assert public["total"] == 0
    staff = app_.get("/api/v1/duties", {"state": "draft"}, headers=auth(editor_key)).json
    assert staff["total"] >= 1
    by_item = app_.get("/api/v1/duties", {"item_type": "0101", "area": "330199"}).json
    assert by_item["total"] == 4


# ----------------------------------------------------------------------------- reports


def test_reports_api(app_):
    coverage = app_.get("/api/v1/catalogue/coverage", {"at": "2025-07-01"}).json
    assert coverage["gaps"] == 0 and len(coverage["streets"]) == 9
    stale = app_.get("/api/v1/catalogue/stale-basis", {"at": "2025-07-01"}).json
    assert stale["stale"] == 0
    assert any(f["problem"] == "unresolved" for f in stale["findings"])


def test_powers_api(app_):
    powers = app_.get("/api/v1/powers").json
    assert powers["total"] == 48
    noise = next(p for p in powers["items"] if p["code"] == "QL-CF-0023")
    assert "gb47678:event:06028" in noise["item_types"] and "五千元以上五万元以下" in noise["penalty"]
    assert {p["category"] for p in powers["items"]} == {"行政处罚", "行政强制", "行政检查", "行政许可", "其他"}


def test_openapi_lists_the_catalogue(app_):
    spec = app_.get("/api/v1/openapi.json").json
    validate(spec)
    for path in ("/api/v1/item-types", "/api/v1/agencies", "/api/v1/areas", "/api/v1/areas/locate",
                 "/api/v1/responsibility", "/api/v1/duties", "/api/v1/duties/{id}"):
        assert path in spec["paths"], path
    assert "patch" in spec["paths"]["/api/v1/duties/{id}"]
    params = {p["name"] for p in spec["paths"]["/api/v1/responsibility"]["get"]["parameters"]}
    assert {"item_type", "area", "lat", "lon", "at"} <= params


# ----------------------------------------------------------------------------- pages


def test_catalogue_pages_render(app_):
    index = app_.get("/catalogue")
    assert "权责清单" in index.text and "上水井盖" in index.text
    assert "五位码" in app_.get("/catalogue", {"scheme": "gb47678", "kind": "event"}).text
    page = app_.get("/catalogue/item-types/0101")
    assert "自来水有限公司" in page.text and "01001" in page.text
    assert "供水井盖" in app_.get("/catalogue/item-types/01001").text  # the component unless kind=event
    assert "供水井盖异常" in app_.get("/catalogue/item-types/01001", {"kind": "event"}).text
    assert "示例区安居物业服务有限公司" in app_.get("/catalogue/agencies").text
    assert "滨湖街道" in app_.get("/catalogue/areas").text
    powers = app_.get("/catalogue/powers")
    link = powers.html.select_one("table.data a")["href"]
    assert "责任事项" in app_.get(link).text
    assert "依据失效" in app_.get("/catalogue/reports/stale-basis").text
    assert "全部有人负责、有据可依" in app_.get("/catalogue/reports/coverage", {"at": "2025-07-01"}).text
    events = app_.get("/catalogue/reports/coverage", {"at": "2026-12-01", "kind": "event", "scheme": "gb47678"})
    assert "五位码事件 × 街道" in events.text and "关联" in events.text  # the grid says which route answered
    app_.get("/catalogue/item-types/9999", status=404)


def test_lookup_screen_works_without_javascript(app_):
    page = app_.get("/catalogue/lookup")
    form = page.forms[0]
    assert page.html.find("datalist", id="item-names").find("option", value="窨井盖") is not None
    form["item"] = "窨井盖"
    form["area"] = GRID
    choices = form.submit()
    assert "请选择具体类型" in choices.text
    chosen = choices.click(href="item_type=gbt30428%3Acomponent%3A0102", index=0)
    assert "示例区排水有限公司" in chosen.text and "《城市道路管理条例》第二十三条" in chosen.text
    assert "截止" in chosen.text
    direct = app_.get("/catalogue/lookup", {"item": "上水井盖", "area": GRID, "at": "2025-03-14"})
    assert "示例区自来水有限公司" in direct.text
    missing = app_.get("/catalogue/lookup", {"item": "不存在的东西", "area": GRID})
    assert "没有找到" in missing.text
    outside = app_.get("/catalogue/lookup", {"item": "上水井盖", "lat": "39.9", "lon": "116.4"})
    assert "不在任何网格内" in outside.text


def test_editor_forms_with_csrf(app_, session):
    assert "/login" in app_.get("/catalogue/duties/new", status=302).location
    login(app_, session, "editor")
    form = duty_form(app_.get("/catalogue/duties/new"))
    form["item_type"] = "0131"
    form["area"] = "33019900101"
    form["role"] = "maintainer"
    form["agency"] = "GS"
    form["citations"] = "《城市供水条例》第二十七条\n城市道路管理条例第23条"
    form["submit_for_review"] = True
    page = form.submit(status=303).follow()
    assert "待审核" in page.text and "《城市道路管理条例》第二十三条" in page.text
    app_.post("/logout", {"csrf_token": page.html.find("input", attrs={"name": "csrf_token"})["value"]})
    login(app_, session, "editor")  # a second person publishes (four eyes)
    page = app_.get(page.request.path)
    publish = next(f for f in page.forms.values() if f.get("transition", default=None) is not None
                   and f["transition"].value == "publish")
    page = publish.submit(status=303).follow()
    assert "已发布" in page.text
    edit = duty_form(app_.get(page.request.path + "/edit"))
    edit["note"] = "修订说明"
    revision = edit.submit(status=303).follow()
    assert "的修订" in revision.text and "修订说明" in revision.text
    assert "修改历史" in revision.text
    # a bad form comes back with messages, not a 500
    bad = duty_form(app_.get("/catalogue/duties/new"))
    bad["item_type"] = "9999"
    bad["citations"] = "乱写"
    response = bad.submit(status=400)
    assert "无法识别的引用" in response.text
    # without the CSRF token the post is refused
    app_.post("/catalogue/duties/new", {"item_type": "0101"}, status=400)
