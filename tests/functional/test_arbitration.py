"""Expert arbitration end to end, on SQLite and PostgreSQL: from a bounce hotspot of the demo
cases to a published ruling the lookup answers from, its withdrawal, recusal and the roles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
DEMO_CASES = 2500
DEMO_SEED = 20260701
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def arbitration_world(catalogue_connection):
    """The demo experts and rulings, and a year of demo cases, on the module's catalogue."""
    from portal.arbitration.loader import load_arbitration
    from portal.cases import demo
    from portal.cases.importer import BulkImporter, ImportStats, batched, normalise_record
    from portal.cases.loader import demo_world
    from portal.cases.places import Places

    session = Session(bind=catalogue_connection, join_transaction_mode="create_savepoint",
                      expire_on_commit=False, info={"actor_name": "test-load"})
    load_arbitration(session, ROOT / "knowledge_base")
    session.commit()
    places = Places.of(session)
    world = demo_world(places, session, {}, DEMO_SEED)
    importer = BulkImporter(places, source="demo", actor="demo-data")
    stats = ImportStats()
    records = ((n, normalise_record(r)) for n, r in enumerate(demo.generate(world, DEMO_CASES, DEMO_SEED), start=1))
    for batch in batched(records, 1000):
        importer.import_batch(session, batch, stats)
    session.commit()
    session.close()
    return stats


@pytest.fixture
def dbsession(catalogue_session, arbitration_world):
    return catalogue_session


def login(testapp, username):
    form = testapp.get("/login").forms[0]
    form["username"] = username
    form["password"] = PASSWORD
    form.submit(status=303)


def logout(testapp):
    testapp.reset()


def form_for(page, action):
    """The form on ``page`` whose action ends with ``action``."""
    for form in page.forms.values():
        if (form.action or "").endswith(action):
            return form
    raise AssertionError(f"no form for {action}")


def link_expert_accounts(dbsession, make_user, names):
    """Staff accounts with the expert role, linked to demo experts by name."""
    from portal.arbitration.models import Expert

    users = {}
    for name in names:
        expert = dbsession.scalar(select(Expert).where(Expert.name == name))
        user = make_user(f"expert-{expert.kb_key}", "expert")
        expert.user_id = user.id
        users[name] = (user, expert)
    dbsession.flush()
    return users


def lookup(testapp, item, area):
    body = testapp.get("/api/v1/responsibility", {"item_type": item, "area": area}).json
    return {r["role"]: r for r in body["roles"]}


# ----------------------------------------------------------------------------- the whole way


def test_from_a_demo_hotspot_to_a_published_ruling_and_back(testapp, dbsession, make_user, make_api_key):
    from portal.arbitration.models import Dispute, Vote
    from portal.catalogue.models import Area, Duty

    make_user("clerk1", "clerk")
    login(testapp, "clerk1")
    page = testapp.get("/arbitration/hotspots", {"days": 400, "by": "street", "min_bounces": 3})
    forms = [f for f in page.forms.values()
             if (f.action or "").endswith("/arbitration/hotspots") and f.method.lower() == "post"]
    assert forms, "the demo cases have bounce hotspots"
    form = forms[0]
    item, street = form["item_type"].value, form["area"].value
    grid = dbsession.scalar(select(Area.code).where(Area.level == "grid", Area.code.like(f"{street}%"))
                            .order_by(Area.code))
    before = lookup(testapp, item, grid)

    opened = form.submit(status=303).follow()
    assert "带入" in opened.text or "已就退单热点立案" in opened.text
    dispute = dbsession.scalar(select(Dispute).order_by(Dispute.id.desc()))
    assert dispute.origin == "hotspot" and dispute.stage == "filed"
    # A hotspot counts bounces (one case may bounce twice): every bounced case comes along, once.
    assert dispute.hotspot["bounces"] >= 3 and dispute.parties, "the bounces and bouncing agencies come along"
    assert len(dispute.cases) == dispute.hotspot["cases"] >= 1
    assert dispute.stage_due is not None and dispute.stage_due > dispute.filed_at
    url = f"/arbitration/disputes/{dispute.id}"

    # accepted → inspected
    form = form_for(testapp.get(url), "/move")
    assert form["move"].value == "accept"
    form.submit(status=303)
    page = testapp.get(url)
    inspect = next(f for f in page.forms.values() if "move" in f.fields and f["move"].value == "inspect")
    inspect["inspection_record"] = "现场开井勘查：井下为雨污水管网检查井，井盖无标识，与市政管网相连。"
    inspect.submit(status=303)
    assert dbsession.get(Dispute, dispute.id).stage == "inspected"

    # the panel: three suggested experts, never one affiliated with a party
    page = testapp.get(url)
    panel_form = form_for(page, "/panel")
    seated = [field.value for field in panel_form.fields["experts"] if field.checked]
    assert len(seated) == 3
    panel_form.submit(status=303)
    dispute = dbsession.get(Dispute, dispute.id)
    panel = [seat.expert for seat in dispute.active_seats]
    assert len(panel) == 3

    # the draft ruling: the owner is an agency the majority agrees on
    owner = "SZZX" if not any(p.agency.code == "SZZX" for p in dispute.parties) else "PS"
    draft = form_for(testapp.get(url), "/draft")
    draft["owner"] = owner
    draft["maintainer"] = owner
    draft["reasoning"] = "经现场勘查，争议设施连接市政管网，属市政设施的组成部分，应由市政设施管理单位负责权属与养护。"
    draft["citations"] = "《城市道路管理条例》第二十三条"
    draft["scope"] = "asset"
    draft.submit(status=303)
    testapp.get(url)
    deliberate = next(f for f in testapp.get(url).forms.values()
                      if "move" in f.fields and f["move"].value == "deliberate")
    deliberate.submit(status=303)
    assert dbsession.get(Dispute, dispute.id).stage == "deliberating"

    # three experts vote through the web form: 2 concur, 1 dissents
    from portal.accounts.services import DatabaseUserService

    users = DatabaseUserService(dbsession)
    choices = ["concur", "dissent", "concur"]
    for expert in panel:
        user = users.create(f"panel-{expert.id}", PASSWORD, ["expert"], display_name=expert.name)
        expert.user_id = user.id
    dbsession.flush()
    for expert, choice in zip(panel, choices, strict=True):
        testapp.reset()
        login(testapp, f"panel-{expert.id}")
        mine = testapp.get("/arbitration")
        assert dispute.number in mine.text
        vote = form_for(testapp.get(url), "/vote")
        vote["choice"] = choice
        vote["opinion"] = ("同意草案，事实清楚，依据充分。" if choice == "concur"
                           else "反对：管线权属资料不全，应先补充竣工档案再作裁定。")
        vote.submit(status=303)
    dispute = dbsession.get(Dispute, dispute.id)
    assert dispute.stage == "ruled"
    ruling = dispute.ruling
    assert (ruling.concur, ruling.dissent) == (2, 1) and ruling.state == "pending"
    assert re.fullmatch(r"〔\d{4}〕\d+号", ruling.number)
    # not public yet
    testapp.reset()
    testapp.get(f"/api/v1/rulings/{ruling.id}", status=404)
    testapp.get(f"/rulings/{ruling.id}", status=404)

    # an editor cannot publish; the clerk can
    make_user("editor1", "editor")
    login(testapp, "editor1")
    testapp.get(url, status=403)
    testapp.reset()
    login(testapp, "clerk1")
    publish = next(f for f in testapp.get(url).forms.values() if "move" in f.fields and f["move"].value == "publish")
    publish.submit(status=303)
    assert dbsession.get(Dispute, dispute.id).stage == "published"

    # the lookup answers from the ruling at once, naming it
    testapp.reset()
    after = lookup(testapp, item, grid)
    assert after["owner"]["agency"]["code"] == owner
    assert after["owner"]["source"]["kind"] == "ruling"
    assert after["owner"]["source"]["id"] == str(ruling.id)
    assert ruling.number in after["owner"]["source"]["ref"]
    listed = testapp.get("/api/v1/duties", {"source_kind": "ruling", "page_size": 200}).json
    assert {d["id"] for d in listed["items"]} >= {d.id for d in dbsession.scalars(
        select(Duty).where(Duty.source_id == str(ruling.id)))}
    public = testapp.get(f"/api/v1/rulings/{ruling.id}").json
    assert public["pdf_url"].endswith(f"/rulings/{ruling.id}.pdf")
    assert public["majority"] == {"concur": 2, "dissent": 1}
    assert [d["opinion"] for d in public["dissents"]] == ["反对：管线权属资料不全，应先补充竣工档案再作裁定。"]
    text = str(public)
    assert "position" not in public and "evidence" not in public and "inspection_record" not in text

    # the hotspot is settled: it is not offered again unless cases keep bouncing after the ruling
    clerk_key = {"Authorization": f"Bearer {make_api_key('clerk')}"}
    spots = testapp.get("/api/v1/disputes/hotspots", {"days": 400, "by": "street"}, headers=clerk_key).json["items"]
    spot = next(s for s in spots if s["item_type"]["key"] == item and s["area"]["code"] == street)
    assert spot["ruling_id"] == ruling.id and spot["bounces_since_ruling"] == 0
    again = testapp.post_json("/api/v1/disputes/hotspots", {"item_type": item, "area": street, "days": 400},
                              headers=clerk_key, status=409)
    assert again.json["error"]["code"] == "already_ruled"

    # withdrawing the ruling restores the previous answer
    login(testapp, "clerk1")
    revoke = form_for(testapp.get(f"/rulings/{ruling.id}"), "/revoke")
    revoke["reason"] = "当事方提交了新的竣工档案，需重新审查。"
    revoke.submit(status=303)
    testapp.reset()
    restored = lookup(testapp, item, grid)
    assert {r: v["agency"]["code"] for r, v in restored.items()} == {r: v["agency"]["code"] for r, v in before.items()}
    assert restored["owner"]["source"] == before["owner"]["source"]
    testapp.get(f"/api/v1/rulings/{ruling.id}", status=404)
    assert dbsession.scalar(select(func.count(Vote.id)).where(Vote.ruling_id == ruling.id)) == 3


# ----------------------------------------------------------------------------- recusal


def _dispute_in_deliberation(dbsession, panel_names, parties, settings=None):
    from portal.arbitration.models import Expert
    from portal.arbitration.services import ArbitrationService

    service = ArbitrationService(dbsession, settings=settings)
    dispute = service.open_dispute({"item_type": "0107", "area": "3301990010100101",
                                    "parties": [{"agency": p} for p in parties]})
    service.advance(dispute, "accept")
    service.advance(dispute, "inspect", inspection_record="开井勘查：通信管道，井盖无标识。")
    experts = [dbsession.scalar(select(Expert).where(Expert.name == n)) for n in panel_names]
    service.seat_panel(dispute, [e.id for e in experts])
    service.save_draft(dispute, {"decisions": [{"role": "owner", "agency": "DX"}],
                                 "reasoning": "竣工资料显示该通信管道由中国电信建设，井盖属其附属设施。",
                                 "citations": ["《城市道路管理条例》第二十三条"], "scope": "asset"})
    service.advance(dispute, "deliberate")
    return service, dispute


def test_a_conflicted_expert_can_neither_sit_nor_vote(testapp, dbsession, make_user, make_api_key):
    from portal.arbitration.models import Expert, PanelSeat, Vote

    # 王建华 works for the municipal facilities centre (SZZX).
    users = link_expert_accounts(dbsession, make_user, ["王建华", "周立群", "李雪梅", "马春燕"])
    service, dispute = _dispute_in_deliberation(dbsession, ["王建华", "周立群", "李雪梅"], ["DX", "YD"])
    wang_user, wang = users["王建华"]
    # SZZX becomes a party: 王建华 is recused at once
    service.add_party(dispute, "SZZX", "不属道路附属设施。")
    seat = dbsession.scalar(select(PanelSeat).where(PanelSeat.expert_id == wang.id))
    assert seat.recused_at is not None and "回避" in seat.recusal_reason

    # web form: 403, nothing stored
    login(testapp, wang_user.username)
    testapp.get(f"/arbitration/disputes/{dispute.id}", status=403)
    testapp.post(f"/arbitration/disputes/{dispute.id}/vote",
                 {"choice": "concur", "opinion": "同意草案，事实清楚。", "csrf_token": _csrf(testapp)}, status=403)
    # API: 403, nothing stored
    key = _api_key_for(dbsession, wang_user)
    response = testapp.post_json(f"/api/v1/disputes/{dispute.id}/votes",
                                 {"choice": "concur", "opinion": "同意草案，事实清楚。"},
                                 headers={"Authorization": f"Bearer {key}"}, status=403)
    assert response.json["error"]["code"] in ("forbidden", "expert_conflicted")
    assert dbsession.scalar(select(func.count(Vote.id)).where(Vote.expert_id == wang.id)) == 0

    # nor can a clerk seat him again: 403 through the API, and the panel is unchanged
    clerk = {"Authorization": f"Bearer {make_api_key('clerk')}"}
    testapp.reset()
    dispute.stage = "inspected"
    dbsession.flush()
    others = [users["周立群"][1].id, users["李雪梅"][1].id]
    response = testapp.put_json(f"/api/v1/disputes/{dispute.id}/panel", {"experts": [wang.id, *others]},
                                headers=clerk, status=403)
    assert response.json["error"]["code"] == "expert_conflicted"
    assert {s.expert_id for s in dbsession.get(type(dispute), dispute.id).active_seats} == set(others)
    suggested = testapp.get(f"/api/v1/disputes/{dispute.id}/panel", {"size": 7}, headers=clerk).json
    assert wang.id not in [e["id"] for e in suggested["suggested"]]
    assert wang.id in [e["id"] for e in suggested["recused"]]
    # and the web form refuses him the same way
    testapp.reset()
    make_user("clerk2", "clerk")
    login(testapp, "clerk2")
    testapp.post(f"/arbitration/disputes/{dispute.id}/panel",
                 {"experts": [str(wang.id), *map(str, others)], "csrf_token": _csrf(testapp)}, status=403)
    assert {s.expert_id for s in dbsession.get(type(dispute), dispute.id).active_seats} == set(others)
    assert dbsession.scalar(select(func.count(Expert.id))) >= 12


def _csrf(testapp):
    page = testapp.get("/experts")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def _api_key_for(dbsession, user):
    from portal.accounts.services import DatabaseApiKeyService

    _, secret = DatabaseApiKeyService(dbsession).create(user, "test key")
    return secret


# ----------------------------------------------------------------------------- roles


def test_experts_see_only_their_panels_and_the_public_only_published_rulings(app, testapp, dbsession, make_user,
                                                                               make_api_key):
    users = link_expert_accounts(dbsession, make_user, ["周立群", "李雪梅", "马春燕", "郑海涛"])
    service, dispute = _dispute_in_deliberation(dbsession, ["周立群", "李雪梅", "马春燕"], ["DX", "YD"],
                                                app.registry.settings)
    service.add_evidence(dispute, "../../etc/竣工图 说明.txt", "通信管道竣工资料摘要".encode(), party="DX")
    evidence = dispute.evidence[0]
    assert evidence.filename == "竣工图 说明.txt" and "/" not in evidence.stored_name

    outsider = users["郑海涛"][0]
    member = users["周立群"][0]
    # an expert not on the panel: not listed, no page, no evidence, no vote
    key = _api_key_for(dbsession, outsider)
    headers = {"Authorization": f"Bearer {key}"}
    assert dispute.id not in [d["id"] for d in testapp.get("/api/v1/disputes", headers=headers).json["items"]]
    testapp.get(f"/api/v1/disputes/{dispute.id}", headers=headers, status=403)
    testapp.post_json(f"/api/v1/disputes/{dispute.id}/votes", {"choice": "concur", "opinion": "同意草案，事实清楚。"},
                      headers=headers, status=403)
    login(testapp, outsider.username)
    testapp.get(f"/arbitration/disputes/{dispute.id}", status=403)
    testapp.get(f"/arbitration/disputes/{dispute.id}/evidence/{evidence.id}", status=403)
    # a member sees the file, the positions and the evidence, and votes through the API
    testapp.reset()
    login(testapp, member.username)
    page = testapp.get(f"/arbitration/disputes/{dispute.id}")
    assert "书面意见" in page.text
    served = testapp.get(f"/arbitration/disputes/{dispute.id}/evidence/{evidence.id}")
    assert served.body == "通信管道竣工资料摘要".encode() and served.headers["X-Content-Type-Options"] == "nosniff"
    # members cannot run the dispute
    testapp.post(f"/arbitration/disputes/{dispute.id}/move", {"move": "withdraw", "csrf_token": _csrf(testapp)},
                 status=403)
    key = _api_key_for(dbsession, member)
    vote = testapp.post_json(f"/api/v1/disputes/{dispute.id}/votes",
                             {"choice": "concur", "opinion": "同意草案，事实清楚。"},
                             headers={"Authorization": f"Bearer {key}"}, status=201).json
    assert vote["round"] == 1 and vote["stage"] == "deliberating"
    testapp.post_json(f"/api/v1/disputes/{dispute.id}/votes", {"choice": "concur", "opinion": "再投一次试试看，改为同意草案。"},
                      headers={"Authorization": f"Bearer {key}"}, status=409)
    # anonymous and editors: no dispute, no evidence
    testapp.reset()
    testapp.get(f"/arbitration/disputes/{dispute.id}/evidence/{evidence.id}", status=302)
    testapp.get(f"/api/v1/disputes/{dispute.id}", status=401)
    editor = {"Authorization": f"Bearer {make_api_key('editor')}"}
    testapp.get(f"/api/v1/disputes/{dispute.id}", headers=editor, status=403)
    testapp.post_json(f"/api/v1/disputes/{dispute.id}/transitions", {"move": "withdraw"}, headers=editor, status=403)


def test_public_pages_show_published_rulings_without_internal_material(testapp, dbsession):
    listing = testapp.get("/api/v1/rulings").json
    numbers = {item["number"] for item in listing["items"]}
    assert "示例区城市管理权属争议裁定〔2025〕1号" in numbers and listing["total"] >= 5
    first = next(item for item in listing["items"] if item["number"].endswith("〔2025〕3号"))
    detail = testapp.get(f"/api/v1/rulings/{first['id']}").json
    assert detail["dissents"] and detail["majority"] == {"concur": 2, "dissent": 1}
    assert {d["role"] for d in detail["decisions"]} == {"owner", "maintainer", "supervisor"}
    assert all(set(member) == {"name", "chair", "vote"} for member in detail["panel"])  # no affiliations
    page = testapp.get(f"/rulings/{first['id']}")
    assert "反对意见" in page.text and "孙晓燕" in page.text
    # the parties' positions are internal
    assert "规定小区内排水设施由业主共有" not in page.text and "规定小区内排水设施由业主共有" not in str(detail)
    assert testapp.get("/experts").text.count("任职单位") == 0
    experts = testapp.get("/api/v1/experts").json["items"]
    assert set(experts[0]) == {"id", "name", "specialties", "specialty_names"}
    # the ruling that predates the module is a full record now, linked to its catalogue duties
    one = next(item for item in listing["items"] if item["number"].endswith("〔2025〕1号"))
    assert {d["role"] for d in testapp.get(f"/api/v1/rulings/{one['id']}").json["duties"]} == {"owner", "maintainer"}
    stats = testapp.get("/api/v1/rulings/stats").json
    assert stats["total"]["opened"] >= 5 and stats["total"]["ruled"] >= 5
    assert stats["total"]["median_working_days"] > 0
    assert any(row["code"] == "0103" for row in stats["by_item_type"])
    assert testapp.get("/rulings/stats").status_int == 200
    testapp.get("/api/v1/rulings/99999999", status=404)
    testapp.get("/api/v1/rulings", {"page_size": "x"}, status=400)


def test_the_ruling_pdf_renders_chinese(testapp, dbsession, tmp_path):
    import shutil
    import subprocess

    listing = testapp.get("/api/v1/rulings").json
    target = next(item for item in listing["items"] if item["number"].endswith("〔2025〕3号"))
    response = testapp.get(target["pdf_url"].replace("http://example.com", ""))
    assert response.content_type == "application/pdf" and response.body.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed")
    path = tmp_path / "ruling.pdf"
    path.write_bytes(response.body)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "〔2025〕3号" in text and "反对意见" in text and "孙晓燕" in text and "示例区排水有限公司" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts


@pytest.fixture
def rulings_indexed(app, dbsession):
    from portal.arbitration.documents import RulingDocumentProvider
    from portal.search.interfaces import ISearchService

    service = app.registry.getUtility(ISearchService)
    documents = list(RulingDocumentProvider().documents(dbsession, "ruling"))
    service.index(documents)
    yield {d.extra["number"]: d.doc_id for d in documents}
    service.delete(d.key for d in documents)


@pytest.mark.parametrize("question,number", [
    ("小区里的雨水井盖坏了归谁管", "〔2025〕3号"),
    ("河边废弃的亭子没人管", "〔2026〕1号"),
    ("马路上的通信井盖破了找谁", "〔2025〕2号"),
    ("开发商交出来的路上行道树死了谁负责", "〔2026〕2号"),
])
def test_rulings_are_found_for_everyday_questions(testapp, rulings_indexed, question, number):
    body = testapp.get("/api/v1/search", params={"q": question, "type": "ruling"}).json
    assert body["hits"], question
    assert body["hits"][0]["id"] == rulings_indexed[number]
    assert body["hits"][0]["url"].endswith(f"/rulings/{rulings_indexed[number]}")
    # counted in the doc-type facet of a search without a type
    facets = testapp.get("/api/v1/search", params={"q": question}).json["facets"]["doc_type"]
    assert {f["value"] for f in facets} >= {"ruling"}


def test_evidence_through_the_api_is_checked_and_kept_from_outsiders(app, testapp, dbsession, make_user, make_api_key):
    from portal.arbitration.models import Evidence

    _service, dispute = _dispute_in_deliberation(dbsession, ["周立群", "李雪梅", "马春燕"], ["DX", "YD"],
                                                app.registry.settings)
    clerk = {"Authorization": f"Bearer {make_api_key('clerk')}"}
    url = f"/api/v1/disputes/{dispute.id}/evidence"
    bad = testapp.post(url, {"party": "DX"}, upload_files=[("file", "照片.png", b"MZ\x90\x00not an image")],
                       headers=clerk, status=400)
    assert bad.json["error"]["code"] == "evidence_type"
    testapp.post_json(url, {"file": "x"}, headers=clerk, status=400)
    body = testapp.post(url, {"party": "YD", "description": "产权证明"},
                        upload_files=[("file", "../产权 证明.pdf", b"%PDF-1.4 test")], headers=clerk, status=201).json
    assert [e["filename"] for e in body["evidence"]] == ["产权 证明.pdf"]
    assert dbsession.scalar(select(func.count(Evidence.id)).where(Evidence.dispute_id == dispute.id)) == 1
    dispatcher = {"Authorization": f"Bearer {make_api_key('dispatcher')}"}
    testapp.post(url, upload_files=[("file", "a.pdf", b"%PDF-1.4")], headers=dispatcher, status=403)
    testapp.get(body["evidence"][0]["url"].replace("http://example.com", ""), status=302)  # anonymous: log in first
