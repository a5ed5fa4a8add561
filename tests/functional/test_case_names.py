"""Names of reporters and third parties never reach a public surface (defect: "我叫王小明…")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from tests.functional.test_cases import case_body, dbsession, dispatcher, now_china  # noqa: F401 - fixtures

NAMES = ("王小明", "李四", "王五", "赵小红")


def _closed_case(testapp, dispatcher, **overrides):  # noqa: F811 - the fixture's value
    reported = now_china() - dt.timedelta(days=2)
    steps = [("dispatch", 1), ("handle", 5), ("verify", 6), ("close", 7)]
    body = case_body(reported_at=reported.isoformat(),
                     events=[{"kind": kind, "at": (reported + dt.timedelta(hours=h)).isoformat()}
                             for kind, h in steps], **overrides)
    return testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=201).json


def _public_surfaces(testapp, case_id):
    grid = testapp.get(f"/api/v1/cases/{case_id}").json["grid"]["code"]
    return {
        "html list": testapp.get("/cases", params={"grid": grid}).text,
        "html detail": testapp.get(f"/cases/{case_id}").text,
        "api detail": testapp.get(f"/api/v1/cases/{case_id}").text,
        "api list": testapp.get("/api/v1/cases", params={"grid": grid}).text,
        "open311 json": testapp.get(f"/open311/v2/requests/{case_id}.json", params={"extensions": "true"}).text,
        "open311 xml": testapp.get(f"/open311/v2/requests/{case_id}.xml", params={"extensions": "true"}).text,
    }


def test_names_in_descriptions_notes_and_ratings_are_masked_everywhere(testapp, dispatcher):  # noqa: F811
    created = _closed_case(testapp, dispatcher,
                           description="李四和王五在胜利社区门口占道经营，邻居赵小红也反映过",
                           reporter={"name": "", "phone": "13800001111"})
    page = testapp.get("/track")
    form = page.forms[len(page.forms) - 1]
    form["tracking_code"] = created["tracking_code"]
    shown = form.submit()
    rating = shown.forms[len(shown.forms) - 1]
    rating["rating"] = "satisfied"
    rating["comment"] = "我叫王小明，处理得很及时，谢谢"
    rating.submit()
    surfaces = _public_surfaces(testapp, created["id"])
    assert "处理得很及时" in surfaces["api detail"] and "胜利社区" in surfaces["api detail"]
    for surface, text in surfaces.items():
        for name in NAMES:
            assert name not in text, f"{name} on {surface}"


def test_texts_stored_before_the_scrubber_knew_names_are_scrubbed_again(testapp, dispatcher, dbsession):  # noqa: F811
    from portal.cases.models import Case, Feedback
    from portal.cases.rescrub import rescrub_public_text

    created = _closed_case(testapp, dispatcher, description="联系人张伟说井盖丢了")
    case = dbsession.get(Case, created["id"])
    # As an older scrubber stored them: the name left in.
    case.public_description = "联系人张伟说井盖丢了"
    dbsession.add(Feedback(case_id=case.id, rating="satisfied", comment="我叫王小明，满意", public_comment="我叫王小明，满意",
                           channel="track"))
    dbsession.flush()
    assert "张伟" in testapp.get(f"/api/v1/cases/{case.id}").text
    assert rescrub_public_text(dbsession.connection()) == 2
    dbsession.expire_all()
    text = testapp.get(f"/api/v1/cases/{case.id}").text
    assert "张伟" not in text and "王小明" not in text and "井盖丢了" in text
    assert rescrub_public_text(dbsession.connection()) == 0
    assert dbsession.scalar(select(Feedback.public_comment).where(Feedback.case_id == case.id)) == "我叫＊＊＊，满意"
