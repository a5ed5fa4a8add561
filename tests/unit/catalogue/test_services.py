"""Catalogue services on SQLite and PostgreSQL: the look-up, editing, reports, the loader."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEntry
from portal.catalogue.editing import DutyService
from portal.catalogue.legal import article_lookup_for_session
from portal.catalogue.loader import load_catalogue
from portal.catalogue.models import Agency, Area, Duty, ItemType
from portal.catalogue.reports import CatalogueReports
from portal.catalogue.services import CatalogueService, ResponsibilityService
from portal.errors import Conflict, InvalidInput, NotFound

from .conftest import LAWS, ROOT

GRID = "3301990010100101"  # 府前社区第一网格, 滨湖街道
ESTATE_UNIT = "33019900505003"  # 安居社区, run by 安居物业 (WY01)
REPORTED = dt.datetime(2025, 3, 14, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Friday


def resolver(session):
    return ResponsibilityService(session, article_lookup=article_lookup_for_session(session))


def by_role(answer):
    return {r["role"]: r for r in answer["roles"]}


def first_grid_of(session, unit_code):
    return session.scalar(select(Area.code).where(Area.parent.has(code=unit_code)).order_by(Area.code))


# ----------------------------------------------------------------------------- look-up


def test_resolve_answers_all_roles_with_legal_basis_and_deadline(session):
    answer = resolver(session).resolve("0101", area=GRID, at=dt.date(2025, 3, 14), reported_at=REPORTED)
    roles = by_role(answer)
    assert set(roles) == {"owner", "maintainer", "supervisor", "enforcer"}
    assert roles["owner"]["agency"]["code"] == "GS"
    assert roles["enforcer"]["agency"]["code"] == "CGJ"
    assert answer["conflicts"] == []
    assert answer["item_type"]["code"] == "0101" and answer["area"]["code"] == GRID
    assert [a["level"] for a in answer["area"]["ancestors"]] == ["district", "street", "zone", "unit"]
    owner = roles["owner"]
    assert owner["duty_id"] and owner["source"]["kind"] == "regulation"
    assert owner["time_limit"]["normal"] == {"amount": 2, "unit": "working_days", "label": "2个工作日"}
    # Friday 09:30 + 2 working days = Tuesday 09:30
    assert owner["deadline"] == dt.datetime(2025, 3, 18, 9, 30, tzinfo=owner["deadline"].tzinfo)
    urgent = resolver(session).resolve("0101", area=GRID, reported_at=REPORTED, urgency="urgent")
    assert by_role(urgent)["owner"]["deadline"].hour == 11
    basis = owner["legal_basis"][0]
    assert basis["citation"] == "《城市道路管理条例》第二十三条"
    assert basis["article_number"] == 23


@pytest.mark.skipif(not LAWS.is_dir(), reason="shared law corpus not available")
def test_legal_basis_carries_article_text_and_in_force_status(session):
    owner = by_role(resolver(session).resolve("0101", area=GRID, at=dt.date(2025, 3, 14)))["owner"]
    basis = owner["legal_basis"][0]
    assert basis["status"] == "in_force" and basis["in_force"] is True
    assert basis["regulation_id"] is not None
    assert "检查井" in basis["text"]


def test_unheld_regulation_is_unresolved_not_an_error(session):
    # 0116 cites 《中华人民共和国电力法》第六条, which the library does not hold
    supervisor = by_role(resolver(session).resolve("0116", area=GRID))["supervisor"]
    basis = supervisor["legal_basis"][0]
    assert basis["citation"] == "《中华人民共和国电力法》第六条"
    assert basis["status"] == "unresolved" and basis["in_force"] is False
    assert basis["regulation_title"] == "中华人民共和国电力法" and basis["article_number"] == 6


def test_point_lookup_locates_the_grid(session):
    catalogue = CatalogueService(session)
    geometry = session.scalar(select(Area.geometry).where(Area.code == GRID))
    from shapely.geometry import shape

    point = shape(geometry).representative_point()
    grid, ancestors = catalogue.locate(point.y, point.x)
    assert grid.code == GRID and [a.level for a in ancestors] == ["district", "street", "zone", "unit"]
    answer = resolver(session).resolve("0102", lat=point.y, lon=point.x)
    assert answer["area"]["code"] == GRID and answer["located"]["grid"] == GRID
    with pytest.raises(NotFound):
        catalogue.locate(31.5, 121.5)


def test_most_specific_area_wins(session):
    grid = first_grid_of(session, ESTATE_UNIT)
    roles = by_role(resolver(session).resolve("0102", area=grid))
    assert roles["owner"]["agency"]["code"] == "WY01"
    assert roles["owner"]["scope"]["code"] == ESTATE_UNIT
    assert roles["enforcer"]["agency"]["code"] == "CGJ"  # not overridden: district default
    street_level = by_role(resolver(session).resolve("0307", area=grid))
    assert street_level["enforcer"]["agency"]["code"] == "CGJ-ZD005"


def test_ruling_outranks_general_entries_within_its_scope(session):
    estate_grid = first_grid_of(session, "33019900305002")  # 嘉禾社区 in 锦绣街道 (003)
    before = by_role(resolver(session).resolve("0114", area=estate_grid, at=dt.date(2025, 5, 31)))
    after = by_role(resolver(session).resolve("0114", area=estate_grid, at=dt.date(2025, 6, 1)))
    assert before["owner"]["agency"]["code"] == "WY03"
    assert after["owner"]["agency"]["code"] == "PS"
    assert after["owner"]["source"]["kind"] == "ruling"
    assert "〔2025〕1号" in after["owner"]["source"]["ref"]
    # outside the ruling's street the general entries still apply
    other = by_role(resolver(session).resolve("0114", area=GRID, at=dt.date(2025, 6, 1)))
    assert other["owner"]["agency"]["code"] == "SZZX"


def test_past_dates_answer_as_of_that_date(session):
    old = by_role(resolver(session).resolve("0118", area=GRID, at=dt.date(2024, 12, 31)))
    new = by_role(resolver(session).resolve("0118", area=GRID, at=dt.date(2025, 1, 1)))
    assert old["maintainer"]["agency"]["code"] == "SZYH"
    assert new["maintainer"]["agency"]["code"] == "ZMGS"
    # before the unknown-cover agreement took effect there was no owner at district level
    early = resolver(session).resolve("0114", area=GRID, at=dt.date(2024, 2, 1))
    assert "owner" in early["missing_roles"]


def test_five_digit_code_answers_through_the_crosswalk(session):
    answer = resolver(session).resolve("01001", area=GRID)
    assert answer["item_type"]["code"] == "01001"
    assert answer["answered_as"]["code"] == "0101" and answer["answered_as"]["link"] == "renamed"
    assert by_role(answer)["owner"]["agency"]["code"] == "GS"
    event = resolver(session).resolve("06001", kind="event", area=GRID)
    assert by_role(event)["enforcer"]["agency"]["code"] == "CGJ"


def test_item_type_input_errors(session):
    with pytest.raises(NotFound):
        resolver(session).resolve("9999", area=GRID)
    with pytest.raises(NotFound):
        resolver(session).resolve("0101", area="330199999")
    with pytest.raises(InvalidInput):
        resolver(session).resolve("0101")
    # a name typed in full works like its code
    assert resolver(session).resolve("上水井盖", area=GRID)["item_type"]["code"] == "0101"


def test_completion_finds_aliases(session):
    found = CatalogueService(session).find_item_types("窨井盖", limit=50)
    codes = {i.code for i in found}
    assert {"0101", "0102", "0103"} <= codes
    assert CatalogueService(session).find_item_types("红绿灯")[0].code == "0210"
    assert CatalogueService(session).find_item_types("01")[0].code.startswith("01")


# ----------------------------------------------------------------------------- editing


def _new_duty(service, **overrides):
    data = {"item_type": "0101", "area": "330199001", "role": "owner", "agency": "DX",
            "citations": ["城市道路管理条例第23条"], "valid_from": dt.date(2025, 1, 1)}
    data.update(overrides)
    return service.create(data)


def test_create_submit_publish_and_audit(session):
    service = DutyService(session)
    duty = _new_duty(service, agency="GS", role="maintainer", item_type="0131", area="33019900101")
    assert duty.state == "draft" and duty.lineage_id == duty.id
    assert duty.citations == ["《城市道路管理条例》第二十三条"]
    service.transition(duty, "submit")
    service.transition(duty, "publish", "审核通过")
    assert duty.state == "published" and duty.published_at is not None
    actions = set(session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity_type == "catalogue_duties", AuditEntry.entity_id == str(duty.id))))
    assert {"catalogue_duties.create", "catalogue_duties.update"} <= actions
    history = service.history(duty, include_drafts=True)
    assert [e["action"] for e in history if e["kind"] == "workflow"] == ["submit", "publish"]


def test_overlapping_published_duty_is_refused_unless_forced(session):
    service = DutyService(session)
    duty = _new_duty(service)  # owner of 0101 in 滨湖街道 = 电信, colliding with nothing at street level
    service.transition(duty, "submit")
    service.transition(duty, "publish")
    rival = _new_duty(service, agency="YD")
    service.transition(rival, "submit")
    with pytest.raises(Conflict) as exc:
        service.transition(rival, "publish")
    assert exc.value.code == "duty_collision"
    assert rival.state == "pending"
    service.transition(rival, "publish", "两家均主张权属，待裁定", force=True)
    assert rival.conflict_forced and rival.state == "published"
    answer = resolver(session).resolve("0101", area=GRID, at=dt.date(2025, 6, 1))
    assert [c["role"] for c in answer["conflicts"]] == ["owner"]
    assert {d["agency"]["code"] for d in answer["conflicts"][0]["duties"]} == {"DX", "YD"}
    assert "owner" not in by_role(answer)
    # a ruling at the same scope settles it
    ruling = _new_duty(service, agency="YD", source_kind="ruling", source_id="R-7", source_ref="裁定〔2025〕7号")
    service.transition(ruling, "submit")
    service.transition(ruling, "publish")
    settled = resolver(session).resolve("0101", area=GRID, at=dt.date(2025, 6, 1))
    assert settled["conflicts"] == []
    assert by_role(settled)["owner"]["agency"]["code"] == "YD"
    assert by_role(settled)["owner"]["source"] == {"kind": "ruling", "label": "裁定", "id": "R-7",
                                                   "ref": "裁定〔2025〕7号"}


def test_non_overlapping_periods_do_not_collide(session):
    service = DutyService(session)
    first = _new_duty(service, valid_to=dt.date(2025, 6, 30))
    service.transition(first, "submit")
    service.transition(first, "publish")
    second = _new_duty(service, agency="LT", valid_from=dt.date(2025, 7, 1))
    service.transition(second, "submit")
    service.transition(second, "publish")
    assert not second.conflict_forced


def test_editing_a_published_duty_opens_a_revision(session):
    service = DutyService(session)
    original = session.scalar(select(Duty).where(Duty.kb_key.like("gbt30428:component:0101@330199#owner@330199")))
    revision = service.update(original, {"note": "以井盖标识为准", "citations": ["《城市供水条例》第二十七条"]})
    assert revision.id != original.id and revision.state == "draft"
    assert revision.revision_of_id == original.id and revision.lineage_id == original.lineage_id
    assert original.state == "published"
    with pytest.raises(Conflict):
        service.update(original, {"note": "again"})
    # the look-up keeps answering from the published original while the revision is reviewed
    assert by_role(resolver(session).resolve("0101", area=GRID))["owner"]["duty_id"] == original.id
    service.transition(revision, "submit")
    service.transition(revision, "publish")
    assert original.state == "superseded"
    assert by_role(resolver(session).resolve("0101", area=GRID))["owner"]["duty_id"] == revision.id
    history = service.history(revision, include_drafts=True)
    changed = {c["field"] for event in history if event["duty_id"] == revision.id for c in event["changes"]}
    assert "note" in changed
    assert any(e["action"] == "supersede" and e["duty_id"] == original.id for e in history)


def test_invalid_duty_input(session):
    service = DutyService(session)
    with pytest.raises(InvalidInput) as exc:
        service.create({"item_type": "0101", "area": "1", "role": "owner", "agency": "NOPE",
                        "citations": ["not a citation"]})
    assert set(exc.value.fields) >= {"area", "agency", "citations"}
    with pytest.raises(InvalidInput):
        _new_duty(service, valid_from=dt.date(2025, 2, 1), valid_to=dt.date(2025, 1, 1))


# ----------------------------------------------------------------------------- reports


def test_catalogue_has_no_coverage_gaps_in_any_list(session):
    report = CatalogueReports(session).coverage(dt.date(2025, 7, 1))
    assert report["gaps"] == 0 and len(report["rows"]) == 85 + 153 + 250 and len(report["streets"]) == 9


def test_coverage_can_be_narrowed_to_one_list(session):
    report = CatalogueReports(session).coverage(dt.date(2025, 7, 1), kind="component", scheme="gbt30428")
    assert [lst["label"] for lst in report["lists"]] == ["四位码部件"] and len(report["rows"]) == 85
    row = next(r for r in report["rows"] if r["item"]["code"] == "0118")
    cell = row["cells"][0]
    assert cell["agencies"]["maintainer"] == "城市照明公司" and cell["routes"]["owner"] == "duty"


def test_stale_basis_finds_a_repealed_article(session):
    from portal.regulations.parsing import parse_regulation_text
    from portal.regulations.versions import ImportMetadata, RegulationImporter, build_metadata

    text = ("# 示例区井盖管理办法\n\n2020年1月1日 示例区人民政府发布\n\n<!-- INFO END -->\n\n"
            "第一条 为了管好井盖，制定本办法。\n\n第二条 井盖由权属单位养护。\n\n第三条 本办法自2020年2月1日起施行。\n")
    parsed = parse_regulation_text(text)
    regulation = RegulationImporter(session).import_text(
        parsed, build_metadata(parsed, None, ImportMetadata())).regulation
    service = DutyService(session)
    duty = _new_duty(service, item_type="0131", area=GRID, agency="JD001",
                     citations=["《示例区井盖管理办法》第二条", "《示例区井盖管理办法》第九条"])
    service.transition(duty, "submit")
    service.transition(duty, "publish")
    reports = CatalogueReports(session, article_lookup=article_lookup_for_session(session))
    mine = [f for f in reports.stale_basis(dt.date(2025, 7, 1)) if f.duty_id == duty.id]
    assert [(f.citation, f.problem) for f in mine] == [("《示例区井盖管理办法》第九条", "missing")]
    regulation.status = "已废止"
    regulation.repealed_date = dt.date(2025, 1, 1)
    session.flush()
    reports = CatalogueReports(session, article_lookup=article_lookup_for_session(session))
    problems = {f.citation: f.problem for f in reports.stale_basis(dt.date(2025, 7, 1)) if f.duty_id == duty.id}
    assert problems["《示例区井盖管理办法》第二条"] == "repealed"
    assert all(f.stale for f in reports.stale_basis(dt.date(2025, 7, 1)) if f.duty_id == duty.id)


def test_stale_basis_finds_an_article_amended_after_review(session):
    from portal.regulations.parsing import parse_regulation_text
    from portal.regulations.versions import ImportMetadata, RegulationImporter, build_metadata

    v1 = ("# 示例区街巷保洁规定\n\n2020年1月1日 示例区人民政府发布\n\n<!-- INFO END -->\n\n"
          "第一条 街巷保洁由街道办事处负责。\n\n第二条 本规定自2020年2月1日起施行。\n")
    v2 = v1.replace("发布\n", "发布\n\n2024年6月1日 示例区人民政府修改\n").replace(
        "街道办事处负责。", "街道办事处负责，每日两次。")
    importer = RegulationImporter(session)
    for text, valid_from in ((v1, dt.date(2020, 2, 1)), (v2, dt.date(2024, 6, 1))):
        parsed = parse_regulation_text(text)
        importer.import_text(parsed, build_metadata(parsed, None, ImportMetadata(valid_from=valid_from)))
    service = DutyService(session)
    duty = _new_duty(service, item_type="0131", area=GRID, agency="JD001",
                     citations=["《示例区街巷保洁规定》第一条"], basis_reviewed_on=dt.date(2023, 1, 1))
    service.transition(duty, "submit")
    service.transition(duty, "publish")
    reports = CatalogueReports(session, article_lookup=article_lookup_for_session(session))
    mine = [f for f in reports.stale_basis(dt.date(2025, 7, 1)) if f.duty_id == duty.id]
    assert [f.problem for f in mine] == ["amended"]
    # reviewing the basis again clears it
    duty.basis_reviewed_on = dt.date(2025, 1, 1)
    session.flush()
    mine = [f for f in reports.stale_basis(dt.date(2025, 7, 1)) if f.duty_id == duty.id]
    assert mine == []


# ----------------------------------------------------------------------------- the loader


def test_second_load_changes_nothing_and_keeps_user_edits(session):
    def counts():
        return (session.scalar(select(func.count()).select_from(Duty)),
                session.scalar(select(func.count()).select_from(AuditEntry)))

    before = counts()
    assert not load_catalogue(session, ROOT / "knowledge_base")
    assert counts() == before
    # an editor changes a KB duty's agency phone and a duty's note in the portal
    agency = session.scalar(select(Agency).where(Agency.code == "GS"))
    agency.supervision_phone = "0571-80000000"
    duty = session.scalar(select(Duty).where(Duty.kb_key == "gbt30428:component:0102@330199#owner@330199"))
    duty.note = "编辑修改"
    session.flush()
    stats = load_catalogue(session, ROOT / "knowledge_base")
    assert not stats  # the files did not change: nothing to do, nothing overwritten
    assert agency.supervision_phone == "0571-80000000" and duty.note == "编辑修改"


def test_changed_knowledge_base_updates_untouched_rows_only(session, tmp_path):
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge_base", kb)
    path = kb / "catalogue" / "duties" / "01-public-facilities.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("note: 以井盖标识为准；默认中国电信", "note: 以井盖标识为准；默认中国电信（2025 复核）"),
                    encoding="utf-8")
    edited = session.scalar(select(Duty).where(Duty.kb_key == "gbt30428:component:0107@330199#owner@330199"))
    untouched = session.scalar(select(Duty).where(
        Duty.kb_key == "gbt30428:component:0115@330199#owner@330199"))
    path.write_text(path.read_text(encoding="utf-8").replace(
        "note: 以箱体标识为准；默认中国电信", "note: 以箱体标识为准；默认中国电信（复核）"), encoding="utf-8")
    edited.note = "编辑在门户中改过"
    session.flush()
    stats = load_catalogue(session, kb)
    assert stats["duties updated"] == 1 and stats["duties kept (edited in portal)"] == 1
    assert edited.note == "编辑在门户中改过"
    assert untouched.note.endswith("（复核）")


def test_a_ruling_creates_duties_that_outrank_and_supersede_earlier_rulings(session):
    service = DutyService(session)
    grid_unit = ESTATE_UNIT  # 安居社区: the estate's property company owns 0102 there
    first = service.apply_ruling(11, "示例区城市管理权属争议裁定〔2025〕3号", [
        {"item_type": "0102", "area": grid_unit, "role": "owner", "agency": "PS",
         "citations": ["《城镇排水与污水处理条例》第十六条"], "valid_from": dt.date(2025, 3, 1)}])
    assert first[0].state == "published" and first[0].source_kind == "ruling" and first[0].source_id == "11"
    grid = first_grid_of(session, grid_unit)
    owner = by_role(resolver(session).resolve("0102", area=grid, at=dt.date(2025, 6, 1)))["owner"]
    assert owner["agency"]["code"] == "PS" and owner["source"]["id"] == "11"
    second = service.apply_ruling(12, "示例区城市管理权属争议裁定〔2025〕4号", [
        {"item_type": "0102", "area": grid_unit, "role": "owner", "agency": "WY01", "valid_from": dt.date(2025, 5, 1)}])
    assert first[0].state == "superseded"
    owner = by_role(resolver(session).resolve("0102", area=grid, at=dt.date(2025, 6, 1)))["owner"]
    assert owner["agency"]["code"] == "WY01" and owner["source"]["ref"].endswith("4号")
    assert second[0].conflict_forced is False


def test_search_documents_per_item_type(session):
    from portal.catalogue.documents import CatalogueDocumentProvider

    provider = CatalogueDocumentProvider()
    item = session.scalar(select(ItemType).where(ItemType.scheme == "gbt30428", ItemType.code == "0102"))
    docs = list(provider.documents(session, "duty", [str(item.id)]))
    assert len(docs) == 1
    doc = docs[0]
    assert doc.title.startswith("0102 污水井盖") and "窨井盖" in doc.body
    assert "示例区排水有限公司" in doc.body and "《城市道路管理条例》第二十三条" in doc.body
    assert "物业服务有限公司（" in doc.body  # the estates, with their unit
    assert doc.url == "/catalogue/item-types/0102?scheme=gbt30428&kind=component"
    assert provider.count(session, "duty") >= 85
    assert list(provider.documents(session, "duty", ["not-a-number"])) == []
