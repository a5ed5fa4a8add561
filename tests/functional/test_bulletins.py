"""Bulletins: indicators checked against an independent computation over hand-built cases,
the public case lists behind every number, frozen publication with corrections, pages and API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from collections import defaultdict

import pytest
from sqlalchemy import select

from portal.bulletins.indicators import INDICATORS, score
from portal.bulletins.models import Bulletin, FrozenBulletin
from portal.bulletins.periods import Period
from portal.bulletins.services import BulletinService, canonical_json, case_list_query
from portal.cases.models import Case
from portal.cases.schemas import CaseQuery
from portal.cases.services import CaseService
from portal.cases.views.api import query_filters
from portal.catalogue.calendar import CHINA_TZ

GRID_A = "3301990010100201"  # 滨湖街道
GRID_B = "3301990020200102"  # 明德街道
MARCH, APRIL = Period.parse("2026-03"), Period.parse("2026-04")


def t(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=CHINA_TZ)


def steps(*items):
    return [{"kind": kind, "at": at, "agency": agency, "reason": "not_our_asset" if kind == "bounce" else None,
             "note": "", "external_id": None, "deadline": deadline}
            for kind, at, agency, deadline in ((s + (None, None))[:4] for s in items)]


# (external id, channel, grid, reported at, steps, rating)
CASES = [
    ("A-on-time", "patrol", GRID_A, t(3, 2, 9), steps(("dispatch", t(3, 2, 9, 30)), ("handle", t(3, 2, 15, 30)),
                                                      ("verify", t(3, 2, 17)), ("close", t(3, 2, 18))), None),
    ("B-late", "hotline_12345", GRID_A, t(3, 3, 10), steps(
        ("dispatch", t(3, 3, 10, 30)), ("supervise", t(3, 9, 9)), ("handle", t(3, 9, 10)), ("verify", t(3, 9, 12)),
        ("close", t(3, 9, 13))), "dissatisfied"),
    ("C-rework", "app", GRID_A, t(3, 4, 8), steps(
        ("dispatch", t(3, 4, 8, 20)), ("handle", t(3, 4, 12)), ("reopen", t(3, 4, 14)), ("dispatch", t(3, 4, 14, 10)),
        ("handle", t(3, 5, 9)), ("verify", t(3, 5, 10)), ("close", t(3, 5, 11))), "basically_satisfied"),
    ("D-bounce", "web", GRID_A, t(3, 5, 9), steps(
        ("dispatch", t(3, 5, 9, 10), "GS"), ("bounce", t(3, 5, 11), "GS"), ("dispatch", t(3, 5, 11, 30), "PS"),
        ("handle", t(3, 5, 16)), ("verify", t(3, 5, 17)), ("close", t(3, 5, 18))), "satisfied"),
    ("E-postponed", "patrol", GRID_A, t(3, 10, 9), steps(
        ("dispatch", t(3, 10, 9, 30)), ("postpone", t(3, 11, 10), None, t(4, 20, 18))), None),
    ("F-rejected", "hotline_12345", GRID_A, t(3, 11, 9), steps(("reject", t(3, 11, 10))), None),
    ("G-cancelled", "video", GRID_A, t(3, 12, 9), steps(("cancel", t(3, 12, 9, 30))), None),
    ("H-two-months", "hotline_12345", GRID_A, t(3, 31, 20), steps(
        ("dispatch", t(3, 31, 20, 30)), ("handle", t(4, 2, 10)), ("verify", t(4, 2, 12)), ("close", t(4, 2, 13))),
     "satisfied"),
    ("I-weekend", "patrol", GRID_A, t(3, 13, 15), steps(
        ("dispatch", t(3, 13, 16)), ("handle", t(3, 16, 10)), ("verify", t(3, 16, 11)), ("close", t(3, 16, 12))), None),
    ("J-april-other-street", "hotline_12345", GRID_B, t(4, 1, 9), steps(
        ("dispatch", t(4, 1, 9, 30)), ("handle", t(4, 1, 11)), ("verify", t(4, 1, 12)), ("close", t(4, 1, 13))), None),
    ("K-february-due-in-march", "web", GRID_A, t(2, 27, 16), steps(
        ("dispatch", t(2, 27, 16, 30)), ("handle", t(3, 3, 9)), ("verify", t(3, 3, 10)), ("close", t(3, 3, 11))), None),
    ("L-waiting", "hotline_12345", GRID_A, t(3, 20, 9), [], None),
]


class FakePdf:
    """A stand-in renderer: the real one is exercised once, in its own test."""

    def render(self, html, base_url=None):
        return b"%PDF-1.7 fake " + hashlib.sha256(html.encode()).hexdigest().encode()


@pytest.fixture
def dbsession(catalogue_session):
    return catalogue_session


@pytest.fixture
def stored(dbsession):
    service = CaseService(dbsession)
    cases = {}
    for external_id, channel, grid, reported, events, rating in CASES:
        record = {"external_id": external_id, "channel": channel, "item_type": "0103", "reported_at": reported,
                  "grid_code": grid, "urgency": "normal", "description": "雨水井盖缺失", "events": events}
        case = service.ingest(record).case
        if rating:
            service.record_feedback(case, rating, channel="callback")
        cases[external_id] = case
    dbsession.flush()
    return cases


def bulletin_service(dbsession, renderer=None):
    return BulletinService(dbsession, settings={}, pdf_renderer=renderer or FakePdf())


# ----------------------------------------------------------------------------- the reference


def working_hours(start, end):
    """Hours on Monday–Friday (the test's dates avoid public holidays)."""
    total, moment = 0.0, start
    while moment < end:
        step = min(end, (moment + dt.timedelta(hours=1)).replace(minute=0, second=0))
        if moment.weekday() < 5:
            total += (step - moment).total_seconds() / 3600
        moment = step
    return total


def reference(stored, period):
    """Each indicator computed from the hand-built histories, independently of the SQL."""
    start, end = period.start, period.end
    groups = {"district": defaultdict(lambda: defaultdict(float)), "street": defaultdict(lambda: defaultdict(float)),
              "agency": defaultdict(lambda: defaultdict(float))}
    for external_id, channel, grid, reported, events, rating in CASES:
        case = stored[external_id]
        kinds = [e["kind"] for e in events]
        last_dispatch = max((i for i, k in enumerate(kinds) if k == "dispatch"), default=None)
        holder = None
        if last_dispatch is not None and "bounce" not in kinds[last_dispatch:]:
            holder = events[last_dispatch]["agency"] or "PS"
        handled_at = next((e["at"] for e in reversed(events[last_dispatch or 0:]) if e["kind"] == "handle"), None) \
            if last_dispatch is not None else None
        deadline = case.deadline  # the catalogue's time limit is an input, not indicator logic
        accepted = not ({"reject", "cancel"} & set(kinds))
        closed = bool(kinds) and kinds[-1] == "close"
        late = "supervise" in kinds or (handled_at is not None and handled_at > deadline)
        rework = any(k == "reopen" and kinds[i - 1] == "handle" for i, k in enumerate(kinds))
        postponed_open = accepted and "postpone" in kinds and not closed
        street = "330199001" if grid == GRID_A else "330199002"
        targets = [("district", None), ("street", street)] + ([("agency", holder)] if holder else [])
        if start <= reported < end:
            for level, key in targets:
                c = groups[level][key]
                c["reported"] += 1
                c["rejected"] += "reject" in kinds
                c["accepted"] += accepted
                c["closure_base"] += accepted and not postponed_open
                c["closed"] += closed
                c["closed_on_time"] += closed and not late
                c["reworked"] += rework
                c["verification"] += "verify" in kinds or rework
                c["rated"] += rating is not None
                c["rated_good"] += rating in ("satisfied", "basically_satisfied")
                c["patrol"] += channel == "patrol"
                c["patrol_or_public"] += channel != "video"
                if handled_at is not None:
                    c["handled"] += 1
                    c["hours"] += working_hours(events[last_dispatch]["at"], handled_at)
                if level != "agency":
                    c["dispatched"] += "dispatch" in kinds
                    c["bounced"] += "bounce" in kinds
            for agency in {e["agency"] or "PS" for e in events if e["kind"] == "dispatch"}:
                groups["agency"][agency]["dispatched"] += 1
            for agency in {e["agency"] for e in events if e["kind"] == "bounce"}:
                groups["agency"][agency]["bounced"] += 1
        if deadline is not None and holder and accepted and start <= deadline < end:
            for level, key in targets:
                c = groups[level][key]
                c["due"] += 1
                on_time = handled_at is not None and handled_at <= deadline
                c["handled_on_time"] += on_time
                c["solved_in_time"] += on_time and closed and not rework
    return groups


def ratio(n, d):
    return round(100 * n / d, 2) if d else None


def expected_values(c, agency=False):
    values = {
        "reported": c["reported"], "rejected": c["rejected"], "accepted": c["accepted"], "dispatched": c["dispatched"],
        "on_time_handling_rate": ratio(c["handled_on_time"], c["due"]),
        "closure_rate": ratio(c["closed"], c["closure_base"]),
        "on_time_closure_rate": ratio(c["closed_on_time"], c["closure_base"]),
        "rework_rate": ratio(c["reworked"], c["verification"]),
        "bounce_rate": ratio(c["bounced"], c["dispatched"]),
        "avg_handling_hours": round(c["hours"] / c["handled"], 2) if c["handled"] else None,
        "satisfaction_rate": ratio(c["rated_good"], c["rated"]),
        "timely_resolution_rate": ratio(c["solved_in_time"], c["due"]),
        "patrol_share": ratio(c["patrol"], c["patrol_or_public"]),
    }
    if agency:
        for key in ("reported", "rejected", "accepted", "patrol_share"):
            values.pop(key)
    return {k: (int(v) if isinstance(v, float) and k in ("reported", "rejected", "accepted", "dispatched") else v)
            for k, v in values.items()}


# ----------------------------------------------------------------------------- indicators


def test_the_hand_built_cases_are_what_the_test_assumes(stored):
    # Two working days for 0103: the due dates below depend on it.
    assert stored["A-on-time"].time_limit_label == "2个工作日"
    assert stored["H-two-months"].deadline.astimezone(CHINA_TZ).month == 4
    assert stored["K-february-due-in-march"].deadline.astimezone(CHINA_TZ).month == 3
    assert stored["E-postponed"].deadline == t(4, 20, 18) and stored["E-postponed"].postponed_at is not None
    assert stored["C-rework"].rework_count == 1 and stored["F-rejected"].status == "rejected"
    assert stored["I-weekend"].handling_hours == 18.0  # Friday 16:00 → Monday 10:00


@pytest.mark.parametrize("period", [MARCH, APRIL], ids=["march", "april"])
def test_every_indicator_matches_an_independent_computation(dbsession, stored, period):
    data = bulletin_service(dbsession).indicators(period)
    expected = reference(stored, period)
    assert data["district"]["values"] == expected_values(expected["district"][None])
    streets = {r["code"]: r["values"] for r in data["streets"]}
    assert streets == {code: expected_values(c) for code, c in expected["street"].items()}
    agencies = {r["code"]: r["values"] for r in data["agencies"]}
    assert agencies == {code: expected_values(c, agency=True) for code, c in expected["agency"].items()}


def test_march_by_hand(dbsession, stored):
    """The same figures worked out on paper, so the reference itself is checked."""
    march = bulletin_service(dbsession).indicators(MARCH)["district"]["values"]
    assert (march["reported"], march["rejected"], march["accepted"], march["dispatched"]) == (10, 1, 8, 7)
    assert march["closure_rate"] == 85.71          # 6 closed of 8 accepted − 1 postponed (E)
    assert march["on_time_closure_rate"] == 71.43  # B was late
    assert march["on_time_handling_rate"] == 66.67  # due in March: A B C D I K; B and K handled late
    assert march["timely_resolution_rate"] == 50.0  # … and C was reworked
    assert march["rework_rate"] == 16.67 and march["bounce_rate"] == 14.29
    assert march["satisfaction_rate"] == 75.0 and march["patrol_share"] == 33.33
    assert march["avg_handling_hours"] == 30.06  # (6 + 95.5 + 18.83 + 4.5 + 37.5 + 18) / 6 working hours
    april = bulletin_service(dbsession).indicators(APRIL)
    gs = next(r for r in bulletin_service(dbsession).indicators(MARCH)["agencies"] if r["code"] == "GS")
    assert gs["values"]["bounce_rate"] == 100.0 and gs["values"]["dispatched"] == 1
    # H was reported in March and fell due in April, E's approved new deadline is in April: both count in
    # April's on-time indicators only (with J, reported in April).
    assert april["district"]["counts"]["due"] == 3 and april["district"]["counts"]["reported"] == 1
    assert april["district"]["counts"]["handled_on_time"] == 2  # E is not handled yet


def test_every_number_links_to_a_case_list_that_counts_the_same(dbsession, stored):
    service = bulletin_service(dbsession)
    data = service.indicators(MARCH)
    cases = CaseService(dbsession)
    rows = [("district", None, data["district"])] + [("street", r["code"], r) for r in data["streets"]] + \
        [("agency", r["code"], r) for r in data["agencies"]]
    checked = 0
    for level, code, row in rows:
        for measure, count in row["counts"].items():
            if measure == "handled_hours":
                continue
            query = case_list_query(data["period"], level, code, measure)
            page = cases.public_page(query_filters(CaseQuery().load(query)))
            assert (page.total, page.total_is_lower_bound) == (count, False), (level, code, measure, query)
            checked += 1
    assert checked > 50


def test_score_weights_and_ranking(dbsession, stored):
    values = {i.key: None for i in INDICATORS}
    assert score(values) is None
    values.update(timely_resolution_rate=80.0, rework_rate=10.0)
    # 30 × 80 + 10 × (100 − 10) over 40
    assert score(values) == 82.5


def test_comparisons_and_determinism(dbsession, stored):
    service = bulletin_service(dbsession)
    first, second = service.compute(APRIL), service.compute(APRIL)
    assert canonical_json(first) == canonical_json(second)
    district = first["district"]
    assert district["mom"]["values"] == service.indicators(MARCH)["district"]["values"]
    assert district["mom"]["delta"]["reported"] == 1 - 10
    assert district["yoy"] is None  # no cases a year earlier: no 同比, not a change from zero
    assert first["commentary"][0].startswith("2026年4月，全区共受理城市管理问题1件")
    assert [p["period"] for p in first["trend"]] == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]


# ----------------------------------------------------------------------------- publication


def test_publishing_freezes_and_a_correction_is_a_new_public_revision(dbsession, stored):
    from portal.errors import InvalidInput

    service = bulletin_service(dbsession)
    draft = service.generate(MARCH)
    again = service.generate(MARCH)
    assert again.id == draft.id and again.revision == 1
    sha = draft.data_sha256
    service.publish(draft)
    assert draft.state == "published"
    assert sha == hashlib.sha256(draft.data_json.encode()).hexdigest()

    draft.data_json = "{}"
    with pytest.raises(FrozenBulletin):
        dbsession.flush()
    dbsession.expire(draft)
    assert draft.data_sha256 == sha
    dbsession.delete(draft)
    with pytest.raises(FrozenBulletin):
        dbsession.flush()
    dbsession.expunge(draft)

    draft = dbsession.scalars(select(Bulletin).where(Bulletin.period == "2026-03")).one()
    with pytest.raises(InvalidInput):
        service.generate(MARCH)  # no correction note
    # A late step changes the data; the correction says why and names what it corrects.
    CaseService(dbsession).add_event(stored["L-waiting"], {"kind": "reject", "at": t(3, 21, 9), "note": ""})
    correction = service.generate(MARCH, "补录不予立案案件一件")
    assert (correction.revision, correction.corrects_id) == (2, draft.id)
    service.publish(correction)
    assert draft.state == "superseded" and draft.data_sha256 == sha
    fixed = json.loads(correction.data_json)
    assert fixed["district"]["values"]["rejected"] == 2 and fixed["correction"]["corrects_revision"] == 1
    assert {b.revision for b in service.public_list()} == {1, 2}
    assert service.get("2026-03").revision == 2
    assert service.get("2026-03", 1).data_sha256 == sha


def test_a_period_that_has_not_ended_is_refused(dbsession):
    from portal.errors import InvalidInput

    with pytest.raises(InvalidInput):
        bulletin_service(dbsession).generate(Period.parse("2026-12"), now=t(12, 1, 12))


def test_real_pdf_is_a4_with_cjk_and_no_missing_glyphs(dbsession, stored, tmp_path):
    from portal.pdf.weasy import WeasyPrintRenderer

    bulletin = bulletin_service(dbsession, WeasyPrintRenderer()).generate(MARCH)  # raises on missing glyphs
    path = tmp_path / "b.pdf"
    path.write_bytes(bulletin.pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "城市管理考评通报" in text and "2026年第3期" in text and "问题及时解决率" in text
    assert "第1页/共3页" in text.replace(" ", "")
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "595.276 x 841.89" in info or "595.28 x 841.89" in info  # A4
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts and all(" yes " in line for line in fonts.splitlines()[2:])  # embedded


# ----------------------------------------------------------------------------- pages and API


@pytest.fixture
def published(dbsession, stored):
    service = bulletin_service(dbsession)
    bulletin = service.generate(MARCH)
    service.publish(bulletin)
    dbsession.flush()
    return bulletin


def test_archive_pages_downloads_and_api(testapp, published):
    archive = testapp.get("/bulletins")
    assert "2026年第3期" in archive.text and "/bulletins/2026-03/r1.pdf" in archive.text
    page = testapp.get("/bulletins/2026-03")
    assert "城市管理考评通报" in page.text and "/cases?" in page.text
    pdf = testapp.get("/bulletins/2026-03/r1.pdf")
    assert pdf.content_type == "application/pdf" and hashlib.sha256(pdf.body).hexdigest() == published.pdf_sha256
    raw = testapp.get("/bulletins/2026-03.json")
    assert hashlib.sha256(raw.body).hexdigest() == published.data_sha256
    csv_text = testapp.get("/bulletins/2026-03/r1.csv").body.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("period,level,code,name,rank,score")
    assert "\n2026-03,district," in csv_text and ",street,330199001," in csv_text
    listing = testapp.get("/api/v1/bulletins").json["items"]
    assert listing[0]["pdf_url"].endswith("/bulletins/2026-03/r1.pdf") and listing[0]["sha256"]["pdf"] == published.pdf_sha256
    detail = testapp.get("/api/v1/bulletins/2026-03").json
    assert detail["csv_url"].endswith(".csv") and detail["data"]["district"]["counts"]["reported"] == 10
    assert testapp.get("/api/v1/bulletins/2026-13", status=400).json["error"]["code"] == "invalid_period"
    assert testapp.get("/api/v1/bulletins/2025-01", status=404).json["error"]["code"] == "bulletin_not_found"
    testapp.get("/bulletins/2026-03/r7", status=404)
    assert "问题及时解决率" in testapp.get("/bulletins/indicators").text


def test_drafts_are_not_public_and_staff_generate_from_the_page(testapp, dbsession, stored, login_as):
    service = bulletin_service(dbsession)
    service.generate(APRIL)
    testapp.get("/bulletins/2026-04", status=404)
    testapp.get("/bulletins/2026-04/r1.pdf", status=404)
    assert testapp.get("/bulletins/manage").status_int in (302, 303, 403)
    login_as("clerk")
    form = testapp.get("/bulletins/manage").forms["generate"]
    form["period"] = "2026-13"
    assert "月份" in form.submit(status=400).text
    form = testapp.get("/bulletins/manage").forms["generate"]
    form["period"] = "2026-03"
    form["publish"] = True
    form.submit(status=303)
    assert dbsession.scalars(select(Bulletin).where(Bulletin.period == "2026-03")).one().state == "published"
    testapp.get("/bulletins/2026-03", status=200)


def test_api_takes_the_new_life_cycle_steps(testapp, make_api_key, stored, dbsession):
    headers = {"Authorization": f"Bearer {make_api_key('dispatcher')}"}
    case = dbsession.get(Case, stored["L-waiting"].id)
    url = f"/api/v1/cases/{case.external_id}/events"
    testapp.post_json(url, {"kind": "dispatch", "at": t(3, 20, 10).isoformat()}, headers=headers, status=201)
    refused = testapp.post_json(url, {"kind": "postpone", "at": t(3, 20, 11).isoformat()}, headers=headers, status=400)
    assert refused.json["error"]["code"] == "postpone_needs_deadline"
    testapp.post_json(url, {"kind": "postpone", "at": t(3, 20, 11).isoformat(),
                            "deadline": t(3, 21, 9).isoformat()}, headers=headers, status=400)  # not later
    ok = testapp.post_json(url, {"kind": "postpone", "at": t(3, 20, 12).isoformat(),
                                 "deadline": t(4, 30, 18).isoformat()}, headers=headers, status=201).json
    assert ok["status"] == "dispatched" and dt.datetime.fromisoformat(ok["deadline"]) == t(4, 30, 18)
    # Open311 shows a 不予立案 as closed.
    rejected = stored["F-rejected"]
    body = testapp.get(f"/open311/v2/requests/{rejected.id}.json").json[0]
    assert body["status"] == "closed" and "不予立案" in body["status_notes"]
