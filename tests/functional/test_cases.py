"""Cases through the API, the public pages and tracking, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.catalogue.calendar import CHINA_TZ

ROOT = Path(__file__).resolve().parents[2]
# A point in 滨湖街道 (grid 3301990010100101's neighbourhood) and a known grid.
LAT, LON = 30.2336, 120.0860
SECRETS = ("欧阳娜娜", "13912345678", "330106199001011234", "浙A12345", "沪AD12345", "nana.ouyang@example.com",
           "文三路138号3幢2单元501室")


@pytest.fixture
def dbsession(catalogue_session):
    """Every test of this module runs against the demo catalogue (tests/conftest.py)."""
    return catalogue_session


@pytest.fixture
def dispatcher(make_api_key, catalogue_connection):
    return {"Authorization": f"Bearer {make_api_key('dispatcher')}"}


def now_china() -> dt.datetime:
    return dt.datetime.now(CHINA_TZ).replace(microsecond=0)


def case_body(**overrides):
    body = {
        "external_id": f"LD-{uuid.uuid4().hex[:10]}",
        "channel": "hotline_12345",
        "item_type": "0103",
        "description": "雨水井盖缺失，很危险",
        "reported_at": (now_china() - dt.timedelta(days=2)).isoformat(),
        "lat": LAT,
        "lon": LON,
        "reporter": {"name": "张三", "phone": "13800001111"},
    }
    body.update(overrides)
    return body


def post_case(testapp, headers, **overrides):
    return testapp.post_json("/api/v1/cases", case_body(**overrides), headers=headers)


def event(testapp, headers, case_id, kind, at, status=201, **extra):
    return testapp.post_json(f"/api/v1/cases/{case_id}/events", {"kind": kind, "at": at.isoformat(), **extra},
                             headers=headers, status=status)


def test_a_case_goes_through_its_whole_life_cycle(testapp, dispatcher, dbsession):
    from portal.catalogue.services import ResponsibilityService

    reported = now_china() - dt.timedelta(days=3)
    created = post_case(testapp, dispatcher, reported_at=reported.isoformat())
    assert created.status_int == 201
    body = created.json
    assert body["created"] is True and body["status"] == "reported" and len(body["tracking_code"]) == 14
    case_id = body["id"]

    dispatched_at = reported + dt.timedelta(hours=1)
    dispatched = event(testapp, dispatcher, body["external_id"], "dispatch", dispatched_at).json
    assert dispatched["status"] == "dispatched"
    # The deadline is the catalogue look-up's, for the agency sent to, counted from dispatch.
    detail = testapp.get(f"/api/v1/cases/{case_id}").json
    lookup = ResponsibilityService(dbsession).resolve("0103", area=detail["grid"]["code"], reported_at=dispatched_at)
    role = next(r for r in lookup["roles"] if r["agency"]["code"] == detail["agency"]["code"])
    assert dt.datetime.fromisoformat(dispatched["deadline"]) == role["deadline"]
    assert detail["agency"]["code"] == "PS" and detail["time_limit"].endswith("工作日")

    # A step out of order is refused with a clear message, and changes nothing.
    refused = event(testapp, dispatcher, case_id, "close", dispatched_at + dt.timedelta(hours=1), status=409)
    assert refused.json["error"]["code"] == "invalid_event"
    assert "当前可执行" in refused.json["error"]["message"]
    earlier = event(testapp, dispatcher, case_id, "handle", reported - dt.timedelta(hours=1), status=409)
    assert earlier.json["error"]["code"] == "event_out_of_order"

    for offset, kind in ((5, "handle"), (6, "verify"), (7, "close")):
        event(testapp, dispatcher, case_id, kind, reported + dt.timedelta(hours=offset))
    detail = testapp.get(f"/api/v1/cases/{case_id}").json
    assert detail["status"] == "closed" and detail["late"] is False
    assert [e["kind"] for e in detail["events"]] == ["report", "dispatch", "handle", "verify", "close"]


def test_replays_never_duplicate(testapp, dispatcher, dbsession):
    from portal.cases.models import Case, CaseEvent

    reported = now_china() - dt.timedelta(days=1)
    steps = [{"kind": "dispatch", "at": (reported + dt.timedelta(minutes=20)).isoformat(), "agency": "PS",
              "external_id": "step-1"}]
    body = case_body(reported_at=reported.isoformat(), events=steps)
    first = testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=201).json
    again = testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=200).json
    assert again["id"] == first["id"] and again["created"] is False and again["tracking_code"] is None
    assert dbsession.scalar(select(func.count()).where(Case.external_id == body["external_id"])) == 1
    # A replay with one more step adds only that step.
    body["events"].append({"kind": "handle", "at": (reported + dt.timedelta(hours=3)).isoformat()})
    third = testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=200).json
    assert third["events_added"] == 1 and third["status"] == "handled"
    # Replaying a single step (by its id, or by kind and time) returns it unchanged.
    replay = event(testapp, dispatcher, first["id"], "dispatch", reported + dt.timedelta(minutes=20), status=200,
                   external_id="step-1").json
    assert replay["created"] is False and replay["seq"] == 2
    event(testapp, dispatcher, first["id"], "handle", reported + dt.timedelta(hours=3), status=200)
    assert dbsession.scalar(select(func.count()).where(CaseEvent.case_id == first["id"])) == 3


def test_a_concurrent_duplicate_is_settled_as_a_replay(testapp, dispatcher, dbsession, monkeypatch):
    """Two requests with the same external id racing past the look-up: the unique index decides,
    and the loser answers as a replay instead of failing."""
    from portal.cases.schemas import CaseRecord
    from portal.cases.services import CaseService

    body = case_body()
    first = testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=201).json
    service = CaseService(dbsession)
    real = service.by_external_id
    calls = []

    def blind_once(external_id):
        calls.append(external_id)
        return None if len(calls) == 1 else real(external_id)

    monkeypatch.setattr(service, "by_external_id", blind_once)
    result = service.ingest(CaseRecord().load(body))
    assert result.created is False and result.case.id == first["id"] and len(calls) == 2


def test_callback_feedback_once_per_closed_case(testapp, dispatcher):
    reported = now_china() - dt.timedelta(days=2)
    case_id = post_case(testapp, dispatcher, reported_at=reported.isoformat()).json["id"]
    url = f"/api/v1/cases/{case_id}/feedback"
    early = testapp.post_json(url, {"rating": "satisfied"}, headers=dispatcher, status=409)
    assert early.json["error"]["code"] == "not_closed"
    for kind, hours in (("dispatch", 1), ("handle", 2), ("verify", 3), ("close", 4)):
        event(testapp, dispatcher, case_id, kind, reported + dt.timedelta(hours=hours))
    body = {"rating": "dissatisfied", "comment": "处理太慢，请回电13912345678"}
    assert testapp.post_json(url, body, headers=dispatcher, status=201).json["created"] is True
    assert testapp.post_json(url, body, headers=dispatcher, status=200).json["created"] is False  # a replay
    other = testapp.post_json(url, {"rating": "satisfied"}, headers=dispatcher, status=409)
    assert other.json["error"]["code"] == "already_rated"
    testapp.post_json(url, {"rating": "great"}, headers=dispatcher, status=400)
    detail = testapp.get(f"/api/v1/cases/{case_id}")
    assert detail.json["rating"] == "dissatisfied" and "13912345678" not in detail.text


def test_bounce_needs_a_reason_and_redispatch_restarts_the_clock(testapp, dispatcher):
    reported = now_china() - dt.timedelta(days=1)
    case_id = post_case(testapp, dispatcher, item_type="0114", reported_at=reported.isoformat()).json["id"]
    event(testapp, dispatcher, case_id, "dispatch", reported + dt.timedelta(minutes=10), agency="GS")
    missing = event(testapp, dispatcher, case_id, "bounce", reported + dt.timedelta(hours=1), status=400)
    assert missing.json["error"]["code"] == "invalid_bounce_reason"
    event(testapp, dispatcher, case_id, "bounce", reported + dt.timedelta(hours=1), reason="not our asset")
    detail = testapp.get(f"/api/v1/cases/{case_id}").json
    assert detail["status"] == "bounced" and detail["bounce_count"] == 1 and detail["agency"] is None
    event(testapp, dispatcher, case_id, "dispatch", reported + dt.timedelta(hours=2))
    assert testapp.get(f"/api/v1/cases/{case_id}").json["status"] == "dispatched"


def test_bounce_hotspots_name_item_place_and_agencies(testapp, dispatcher, dbsession):
    from portal.cases.services import CaseService

    reported = now_china() - dt.timedelta(days=2)
    for _ in range(3):
        case_id = post_case(testapp, dispatcher, item_type="0114", reported_at=reported.isoformat()).json["id"]
        event(testapp, dispatcher, case_id, "dispatch", reported + dt.timedelta(minutes=10), agency="GS")
        event(testapp, dispatcher, case_id, "bounce", reported + dt.timedelta(hours=1), reason="not_our_asset")
    hotspots = CaseService(dbsession).bounce_hotspots(since=reported - dt.timedelta(days=1))
    spot = next(h for h in hotspots if h["item_type"]["code"] == "0114")
    assert spot["bounces"] >= 3 and spot["cases"] >= 3 and spot["area"]["level"] == "grid"
    assert spot["agencies"][0]["code"] == "GS"
    by_street = CaseService(dbsession).bounce_hotspots(by="street", min_bounces=3)
    assert any(h["item_type"]["code"] == "0114" and h["area"]["level"] == "street" for h in by_street)


def test_ingestion_needs_a_dispatcher_or_clerk_key(testapp, make_api_key, catalogue_connection):
    body = case_body()
    testapp.post_json("/api/v1/cases", body, status=401)
    testapp.post_json("/api/v1/cases", body, headers={"Authorization": "Bearer cdp_nonsense"}, status=401)
    editor = {"Authorization": f"Bearer {make_api_key('editor')}"}
    testapp.post_json("/api/v1/cases", body, headers=editor, status=403)
    clerk = {"Authorization": f"Bearer {make_api_key('clerk')}"}
    testapp.post_json("/api/v1/cases", body, headers=clerk, status=201)


@pytest.mark.parametrize("change,field", [
    ({"item_type": "9999"}, "item_type"),
    ({"lat": 10.0, "lon": 10.0}, "lat"),
    ({"reported_at": "2026-01-01T08:00:00"}, "reported_at"),
    ({"channel": "pigeon"}, "channel"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_case_input_gets_400_with_the_field(testapp, dispatcher, change, field):
    response = testapp.post_json("/api/v1/cases", case_body(**change), headers=dispatcher, status=400)
    error = response.json["error"]
    assert field in error["fields"] or field in error["message"] or error["code"] in {"unknown_item_type",
                                                                                       "outside_district"}


def _make_secret_case(testapp, dispatcher) -> dict:
    reported = now_china() - dt.timedelta(days=2)
    description = ("欧阳娜娜（电话13912345678，身份证330106199001011234）反映：浙A12345和沪AD12345两辆车"
                   "常停在文三路138号3幢2单元501室楼下，压坏了雨水井盖。回复请发 nana.ouyang@example.com")
    body = case_body(reported_at=reported.isoformat(), description=description, address="文三路138号3幢2单元501室",
                     reporter={"name": "欧阳娜娜", "phone": "13912345678", "id_number": "330106199001011234",
                               "email": "nana.ouyang@example.com"},
                     events=[{"kind": "dispatch", "at": (reported + dt.timedelta(hours=1)).isoformat()},
                             {"kind": "handle", "at": (reported + dt.timedelta(hours=5)).isoformat(),
                              "note": "已联系欧阳娜娜（13912345678）并更换井盖"},
                             {"kind": "verify", "at": (reported + dt.timedelta(hours=6)).isoformat()},
                             {"kind": "close", "at": (reported + dt.timedelta(hours=7)).isoformat()}])
    return testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=201).json


def test_no_personal_data_on_any_public_surface(testapp, dispatcher):
    created = _make_secret_case(testapp, dispatcher)
    case_id, code = created["id"], created["tracking_code"]
    grid = testapp.get(f"/api/v1/cases/{case_id}").json["grid"]["code"]
    page = testapp.get("/track")
    form = page.forms[len(page.forms) - 1]
    form["tracking_code"] = code
    tracked = form.submit()
    surfaces = {
        "html list": testapp.get("/cases", params={"grid": grid}).text,
        "html detail": testapp.get(f"/cases/{case_id}").text,
        "html track": tracked.text,
        "api list": testapp.get("/api/v1/cases", params={"grid": grid}).text,
        "api detail": testapp.get(f"/api/v1/cases/{case_id}").text,
        "open311 list json": testapp.get("/open311/v2/requests.json", params={"extensions": "true"}).text,
        "open311 list xml": testapp.get("/open311/v2/requests.xml", params={"extensions": "true"}).text,
        "open311 one json": testapp.get(f"/open311/v2/requests/{case_id}.json", params={"extensions": "true"}).text,
        "open311 one xml": testapp.get(f"/open311/v2/requests/{case_id}.xml", params={"extensions": "true"}).text,
    }
    assert str(case_id) in surfaces["html list"] or created["case_number"] in surfaces["html list"]
    assert str(case_id) in surfaces["open311 list json"]
    assert "井盖" in surfaces["api detail"] and "＊＊＊" in surfaces["api detail"]
    for name, text in surfaces.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked on {name}"
        assert "13800001111" not in text and "138号" not in text
    # The point is coarsened to the grid's centre.
    detail = testapp.get(f"/api/v1/cases/{case_id}").json
    assert (detail["lat"], detail["lon"]) != (LAT, LON)


def test_bulk_export_iterates_every_disclosed_case_redacted(testapp, dispatcher, dbsession):
    from portal.cases.services import CaseService

    created = _make_secret_case(testapp, dispatcher)
    hidden = post_case(testapp, dispatcher, item_type="0136").json
    exported = {c.id: c for c in CaseService(dbsession).iter_public(batch_size=2, with_events=True)}
    assert created["id"] in exported and hidden["id"] not in exported
    text = json.dumps([c.as_dict() for c in exported.values()], ensure_ascii=False, default=str)
    for secret in SECRETS:
        assert secret not in text


def test_public_list_filters_and_paginates(testapp, dispatcher):
    marker = uuid.uuid4().hex[:6]
    reported = now_china() - dt.timedelta(days=5)
    ids = []
    for i in range(5):
        ids.append(post_case(testapp, dispatcher, item_type="0103", external_id=f"PG-{marker}-{i}",
                             reported_at=(reported + dt.timedelta(minutes=i)).isoformat()).json["id"])
    event(testapp, dispatcher, ids[0], "dispatch", reported + dt.timedelta(hours=1))
    day = reported.date().isoformat()
    query = {"item_type": "0103", "from": day, "to": day, "page_size": 2}
    first = testapp.get("/api/v1/cases", params=query).json
    assert first["total"] >= 5 and len(first["items"]) == 2 and first["next_cursor"]
    seen = [c["id"] for c in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        more = testapp.get("/api/v1/cases", params={**query, "cursor": cursor}).json
        seen += [c["id"] for c in more["items"]]
        cursor = more["next_cursor"]
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    dispatched = testapp.get("/api/v1/cases", params={**query, "status": "dispatched", "agency": "PS"}).json
    assert ids[0] in [c["id"] for c in dispatched["items"]]
    assert all(c["status"] == "dispatched" for c in dispatched["items"])
    street = testapp.get(f"/api/v1/cases/{ids[0]}").json["street"]["code"]
    by_street = testapp.get("/api/v1/cases", params={"street": street, "item_type": "0103", "from": day, "to": day})
    assert all(c["street"]["code"] == street for c in by_street.json["items"])
    testapp.get("/api/v1/cases", params={"status": "exploded"}, status=400)
    testapp.get("/api/v1/cases", params={"page_size": 1000}, status=400)
    testapp.get("/api/v1/cases", params={"cursor": "!!!"}, status=400)


def test_non_disclosable_item_types_are_left_out(testapp, dispatcher):
    hidden = post_case(testapp, dispatcher, item_type="0136").json  # 监控电子眼
    testapp.get(f"/api/v1/cases/{hidden['id']}", status=404)
    testapp.get(f"/cases/{hidden['id']}", status=404)
    testapp.get(f"/open311/v2/requests/{hidden['id']}.json", status=404)
    listed = testapp.get("/api/v1/cases", params={"item_type": "0136"}).json
    assert listed["items"] == []
    ids = testapp.get("/open311/v2/requests.json", params={"service_request_id": str(hidden["id"])}).json
    assert ids == []


def test_html_pages_list_filter_and_draw_the_district(testapp, dispatcher):
    created = post_case(testapp, dispatcher).json
    page = testapp.get("/cases")
    assert "案件公开" in page.text and "<svg" in page.text and "各网格案件数" in page.text
    # The map is drawn from the grids: no external tiles or scripts.
    assert "tile" not in page.text.lower() and "<script" not in page.text
    assert page.html.select("svg a path")
    filtered = testapp.get("/cases", params={"item_type": "0103", "status": "reported"})
    assert created["case_number"] in filtered.text or "AJ" in filtered.text
    testapp.get("/cases", params={"from": "not-a-date"}, status=200)
    detail = testapp.get(f"/cases/{created['id']}")
    assert "发现上报" in detail.text and "雨水井盖" in detail.text
    testapp.get("/cases/999999999", status=404)


def test_track_shows_the_case_and_allows_one_rating(testapp, dispatcher):
    created = _make_secret_case(testapp, dispatcher)
    code = created["tracking_code"]
    page = testapp.get("/track")
    form = page.forms[len(page.forms) - 1]
    form["tracking_code"] = code.lower().replace("-", "")  # codes are forgiving about case and dashes
    shown = form.submit()
    assert created["case_number"] in shown.text and "评价办理结果" in shown.text
    rating = shown.forms[len(shown.forms) - 1]
    rating["rating"] = "basically_satisfied"
    rating["comment"] = "还行，我电话是13912345678"
    rated = rating.submit()
    assert "您已评价：基本满意" in rated.text
    detail = testapp.get(f"/api/v1/cases/{created['id']}").json
    assert detail["rating"] == "basically_satisfied"
    assert "13912345678" not in testapp.get(f"/api/v1/cases/{created['id']}").text
    # The second rating is refused.
    again = testapp.post("/track", {"tracking_code": code, "action": "rate", "rating": "dissatisfied",
                                    "csrf_token": rating["csrf_token"].value})
    assert "只能评价一次" in again.text
    wrong = testapp.get("/track").forms[0]
    wrong["tracking_code"] = "ZZZZ-ZZZZ-ZZZZ"
    assert "没有找到" in wrong.submit(status=404).text


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def cli_database(database_url, tmp_path_factory):
    """A database of its own for the CLI (which commits), migrated and with the catalogue."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from portal.catalogue.loader import load_catalogue
    from portal.db import get_engine
    from portal.migrate import upgrade

    admin = None
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('cli-cases') / 'cli.sqlite'}"
    else:
        name = f"cases_cli_{uuid.uuid4().hex[:8]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    settings = {"sqlalchemy.url": url, "portal.var_dir": str(tmp_path_factory.mktemp("cli-var"))}
    upgrade(settings)
    cli_engine = get_engine(settings)
    with Session(cli_engine, info={"actor_name": "test-catalogue"}) as session:
        load_catalogue(session, ROOT / "knowledge_base")
        session.commit()
    yield url, cli_engine
    cli_engine.dispose()
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def ini_file(tmp_path, cli_database, app_settings):
    path = tmp_path / "cli.ini"
    path.write_text(
        "[app:main]\nuse = egg:city-duty-portal\n"
        f"sqlalchemy.url = {cli_database[0]}\n"
        f"portal.var_dir = {tmp_path / 'var'}\n"
        f"portal.knowledge_base = {app_settings['portal.knowledge_base']}\n"
        "portal.corpus_dir =\nportal.lawpack = false\nportal.search.warm_up = false\n"
        "portal.search.heal_on_start = false\nsession.secret = cli-test\n",
        encoding="utf-8",
    )
    return str(path)


def run(ini_file: str, *args: str):
    from portal.cli import main

    return CliRunner().invoke(main, ["--config", ini_file, *args], catch_exceptions=False)


def _count(engine, prefix: str) -> tuple[int, int]:
    from portal.cases.models import Case, CaseEvent

    with Session(engine) as session:
        cases = session.scalar(select(func.count()).where(Case.external_id.like(f"{prefix}%")))
        events = session.scalar(select(func.count()).select_from(CaseEvent).join(Case)
                                .where(Case.external_id.like(f"{prefix}%")))
    return cases, events


@pytest.mark.parametrize("options", [(), ("--batch-size", "2", "--workers", "2")], ids=["serial", "parallel"])
def test_import_jsonl_reports_bad_lines_never_stores_half_rows_and_resumes(ini_file, tmp_path, cli_database, options):
    engine = cli_database[1]
    prefix = f"IMP-{uuid.uuid4().hex[:6]}-"
    reported = now_china() - dt.timedelta(days=10)
    good = {"external_id": prefix + "1", "channel": "patrol", "item_type": "0103", "reported_at": reported.isoformat(),
            "grid_code": "3301990010100101",
            "events": [{"kind": "dispatch", "at": (reported + dt.timedelta(hours=1)).isoformat()},
                       {"kind": "handle", "at": (reported + dt.timedelta(hours=2)).isoformat()}]}
    half = {**good, "external_id": prefix + "2",
            "events": [{"kind": "dispatch", "at": (reported + dt.timedelta(hours=1)).isoformat()},
                       {"kind": "close", "at": (reported + dt.timedelta(hours=2)).isoformat()}]}
    lines = [json.dumps(good, ensure_ascii=False), "{not json", json.dumps(half, ensure_ascii=False),
             json.dumps({**good, "external_id": prefix + "3", "item_type": "nope"}),
             json.dumps({**good, "external_id": prefix + "4", "reporter_name": "李四", "reporter_phone": "13700000000"},
                        ensure_ascii=False),
             # The same case again in the same file, with one more step: only the step is added.
             json.dumps({**good, "events": [*good["events"], {"kind": "verify",
                                                              "at": (reported + dt.timedelta(hours=3)).isoformat()}]})]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(ini_file, "import-cases", str(path), *options)
    assert result.exit_code == 1
    assert "第 2 行" in result.output and "第 3 行" in result.output and "第 4 行" in result.output
    assert "新增 2" in result.output and "补充环节 1" in result.output
    assert _count(engine, prefix) == (2, 7)  # the half row (a close without handling) left nothing behind
    again = run(ini_file, "import-cases", str(path), *options)
    assert "新增 0" in again.output and "已存在跳过 3" in again.output
    assert _count(engine, prefix) == (2, 7)


def test_import_csv_with_step_columns(ini_file, tmp_path, cli_database):
    engine = cli_database[1]
    from portal.cases.importer import CSV_COLUMNS

    prefix = f"CSV-{uuid.uuid4().hex[:6]}-"
    reported = now_china() - dt.timedelta(days=4)
    at = lambda hours: (reported + dt.timedelta(hours=hours)).isoformat()  # noqa: E731
    rows = [
        {"external_id": prefix + "1", "channel": "hotline_12345", "item_type": "0103", "reported_at": at(0),
         "lat": str(LAT), "lon": str(LON), "reporter_name": "王五", "agency": "PS", "dispatched_at": at(1),
         "handled_at": at(3), "verified_at": at(4), "closed_at": at(5), "feedback_rating": "satisfied"},
        {"external_id": prefix + "2", "channel": "web", "item_type": "0103", "reported_at": "yesterday",
         "grid_code": "3301990010100101"},
    ]
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "cases.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    result = run(ini_file, "import-cases", str(path))
    assert "第 3 行" in result.output and "reported_at" in result.output
    assert _count(engine, prefix) == (1, 5)


def test_demo_data_is_deterministic_and_idempotent(ini_file, cli_database):
    engine = cli_database[1]
    from portal.cases.models import Case

    first = run(ini_file, "demo-data", "--cases", "300", "--seed", "4242", "--end", "2026-06-30")
    assert first.exit_code == 0, first.output
    assert "示例查询码" in first.output
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).where(Case.external_id.like("DEMO-4242-%")))
        bounced = session.scalar(select(func.count()).where(Case.external_id.like("DEMO-4242-%"), Case.bounce_count > 0))
    assert stored == 300 and bounced > 0
    again = run(ini_file, "demo-data", "--cases", "300", "--seed", "4242", "--end", "2026-06-30")
    assert "新增 0" in again.output


@pytest.mark.parametrize("path", ["/cases/99999999999999999999", "/api/v1/cases/99999999999999999999",
                                  "/open311/v2/requests/99999999999999999999.json"])
def test_absurd_ids_are_404_not_500(testapp, catalogue_connection, path):
    testapp.get(path, status=404)


def test_openapi_documents_the_case_api(testapp, catalogue_connection):
    spec = testapp.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/cases"])
    assert "post" in spec["paths"]["/api/v1/cases/{id}/events"]


def _case_numbers(page):
    return [a.text for a in page.html.select("table.case-table tbody td:first-child a")]


def test_public_list_reaches_every_case_by_cursor_links_both_ways(testapp, dispatcher, monkeypatch):
    # The count stops at COUNT_LIMIT (1 000 in production: "超过 1000 件"); paging must not stop with it.
    monkeypatch.setattr("portal.cases.services.COUNT_LIMIT", 25)
    day = (now_china() - dt.timedelta(days=400)).replace(hour=9, minute=0)
    created = []
    for i in range(45):
        # pairs of cases share a timestamp: the cursor must break ties by id, losing none
        at = day + dt.timedelta(minutes=i // 2)
        created.append(post_case(testapp, dispatcher, external_id=f"KS-{uuid.uuid4().hex[:8]}",
                                 reported_at=at.isoformat()).json["case_number"])
    query = {"from": day.date().isoformat(), "to": day.date().isoformat()}
    page = testapp.get("/cases", params=query)
    # A bounded period is counted exactly (the bulletins link to such lists); paging is the same.
    assert "共 45 件" in page.text or "超过 25 件" in page.text
    pages = [_case_numbers(page)]
    labels = [page.html.select_one("nav.pagination span").text]
    while (link := page.html.select_one("nav.pagination a[rel=next]")) is not None:
        page = testapp.get("/cases" + link["href"])
        pages.append(_case_numbers(page))
        labels.append(page.html.select_one("nav.pagination span").text)
    seen = [n for p in pages for n in p]
    assert len(seen) == 45 and sorted(seen) == sorted(created)
    assert [label.replace(" / 3", "") for label in labels] == ["第 1 页", "第 2 页", "第 3 页"]
    # and back again, page by page, to the plain first page
    back = [_case_numbers(page)]
    while (link := page.html.select_one("nav.pagination a[rel=prev]")) is not None:
        page = testapp.get("/cases" + link["href"])
        back.append(_case_numbers(page))
    assert back == pages[::-1]
    assert "cursor" not in page.request.url and "before" not in page.request.url


def test_public_list_answers_an_out_of_range_page_plainly(testapp, dispatcher):
    day = (now_china() - dt.timedelta(days=420)).replace(hour=9, minute=0)
    numbers = [post_case(testapp, dispatcher, reported_at=(day + dt.timedelta(minutes=i)).isoformat()).json[
        "case_number"] for i in range(3)]
    query = {"from": day.date().isoformat(), "to": day.date().isoformat()}
    assert sorted(_case_numbers(testapp.get("/cases", params=query))) == sorted(numbers)
    beyond = testapp.get("/cases", params={**query, "page": 2}, status=404)
    assert "没有第 2 页" in beyond.text and "共 3 件，1 页" in beyond.text
    assert _case_numbers(beyond) == [] and not beyond.html.select("nav.pagination")
    deep = testapp.get("/cases", params={**query, "page": 1000}, status=400)
    assert "下一页" in deep.text and _case_numbers(deep) == []
    api = testapp.get("/api/v1/cases", params={**query, "page_size": 2}).json
    assert api["prev_cursor"] is None and api["next_cursor"]
    second = testapp.get("/api/v1/cases", params={**query, "page_size": 2, "cursor": api["next_cursor"]}).json
    again = testapp.get("/api/v1/cases", params={**query, "page_size": 2, "before": second["prev_cursor"]}).json
    assert [c["id"] for c in again["items"]] == [c["id"] for c in api["items"]]
