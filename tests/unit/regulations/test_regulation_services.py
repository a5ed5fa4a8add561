"""Importing texts as regulations and versions, reading them back, legal-basis look-ups.

Runs on SQLite and PostgreSQL through the foundation's ``dbsession`` fixture.
"""

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEntry
from portal.errors import NotFound
from portal.regulations.models import Article, Regulation, RegulationVersion
from portal.regulations.parsing import parse_regulation_text
from portal.regulations.services import ArticleLookupService, RegulationService, parse_article_ref
from portal.regulations.versions import ImportMetadata, ImportRefused, RegulationImporter, build_metadata

from .texts import PLAIN_RULE, ROAD_V1, ROAD_V2

TITLE = "青石市街巷管理条例"


def _import(session, text, **options):
    parsed = parse_regulation_text(text, source="test.md")
    metadata = build_metadata(parsed, None, ImportMetadata(**options) if options else None)
    return RegulationImporter(session).import_text(parsed, metadata, source="file", source_ref="test.md")


def test_import_creates_regulation_version_and_articles(dbsession):
    outcome = _import(dbsession, ROAD_V1)
    assert outcome.action == "created"
    regulation = outcome.regulation
    assert regulation.title == TITLE
    assert regulation.level == "地方性法规"
    assert regulation.region == "青石市"
    assert regulation.status == "现行有效"
    assert regulation.promulgation_date == dt.date(2001, 3, 5)
    # 本条例自2001年5月1日起施行 in the closing article.
    assert regulation.effective_date == dt.date(2001, 5, 1)
    version = outcome.version
    assert (version.version_no, version.valid_from, version.valid_to, version.is_current) == (
        1, dt.date(2001, 5, 1), None, True)
    articles = dbsession.scalars(select(Article).where(Article.version_id == version.id)
                                 .order_by(Article.position)).all()
    assert [a.label for a in articles] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    assert articles[2].paragraphs[1] == "井盖缺失的，权属单位应当在两小时内设置警示标志。"
    assert articles[3].items == [["（一）擅自移动井盖；", "（二）损毁井盖。"]]
    assert articles[3].chapter_path == ["第二章 井盖"]


def test_reimport_unchanged_text_changes_nothing(dbsession):
    first = _import(dbsession, ROAD_V1)
    second = _import(dbsession, ROAD_V1.replace("第一条 为了", "第一条　为了"))
    assert second.action == "unchanged"
    assert second.version.id == first.version.id
    assert dbsession.scalar(select(func.count(RegulationVersion.id))
                            .where(RegulationVersion.regulation_id == first.regulation.id)) == 1


def test_changed_text_becomes_a_new_version_and_keeps_the_old(dbsession):
    first = _import(dbsession, ROAD_V1)
    second = _import(dbsession, ROAD_V2)
    assert second.action == "new_version"
    assert second.regulation.id == first.regulation.id
    versions = RegulationService(dbsession).versions(second.regulation)
    assert [(v.version_no, v.valid_from, v.valid_to, v.is_current) for v in versions] == [
        (1, dt.date(2001, 5, 1), dt.date(2015, 6, 1), False),
        (2, dt.date(2015, 6, 1), None, True),
    ]
    assert second.regulation.amended_date == dt.date(2015, 6, 1)
    # The old text is still there.
    assert dbsession.scalar(select(func.count(Article.id)).where(Article.version_id == first.version.id)) == 5


def test_point_in_time_reads_the_text_in_force_on_a_date(dbsession):
    _import(dbsession, ROAD_V1)
    regulation = _import(dbsession, ROAD_V2).regulation
    service = RegulationService(dbsession)
    _, old, article = service.article(regulation.id, 3, 0, dt.date(2010, 1, 1))
    assert old.version_no == 1 and "两小时" in article.text
    _, new, article = service.article(regulation.id, 3, 0, dt.date(2016, 1, 1))
    assert new.version_no == 2 and "一小时" in article.text
    _, _, inserted = service.article(regulation.id, 3, 1)
    assert inserted.label == "第三条之一"
    with pytest.raises(NotFound):
        service.article(regulation.id, 3, 1, dt.date(2010, 1, 1))
    assert service.version_on(regulation, dt.date(1999, 1, 1)) is None


def test_browse_filters_and_facets(dbsession):
    _import(dbsession, ROAD_V1)
    _import(dbsession, PLAIN_RULE)
    _import(dbsession, ROAD_V1.replace("青石市", "云岭省白沙市"), region="云岭省白沙市")
    service = RegulationService(dbsession)
    page = service.browse(q="青石市")
    assert page.total == 2
    assert dict(page.facets["level"]) == {"地方性法规": 1, "地方政府规章": 1}
    assert [r.title for r in service.browse(level="地方政府规章", q="青石市").items] == ["青石市占道经营管理办法"]
    assert [r.title for r in service.browse(region="云岭省").items] == ["云岭省白沙市街巷管理条例"]
    # A facet ignores its own filter, so the other values stay selectable.
    assert {value for value, _ in service.browse(level="地方政府规章", q="青石市").facets["level"]} == {
        "地方性法规", "地方政府规章"}
    assert service.browse(q="青石市", at=dt.date(2000, 1, 1)).total == 0
    # Wildcards in the input are literal characters.
    assert service.browse(q="%").total == 0 and service.browse(region="_").total == 0
    assert service.browse(q="青石市", at=dt.date(2020, 1, 1)).total == 2


def test_header_metadata_of_a_plain_text(dbsession):
    regulation = _import(dbsession, PLAIN_RULE).regulation
    assert regulation.issuing_authority == "青石市人民政府"
    assert regulation.document_number == "青石市人民政府令第7号"
    assert regulation.level == "地方政府规章"
    assert regulation.promulgation_date == dt.date(2019, 2, 1)
    assert regulation.effective_date == dt.date(2019, 3, 1)


def test_status_filter_and_facet_use_the_status_on_the_date(dbsession):
    # Declared 现行有效 at import, but not effective before 2019-03-01 and repealed in 2022.
    _import(dbsession, PLAIN_RULE, repealed_date=dt.date(2022, 1, 1), status="现行有效")
    service = RegulationService(dbsession)
    assert service.browse(q="占道", status="已废止").total == 1
    assert service.browse(q="占道", status="现行有效", at=dt.date(2020, 1, 1)).total == 1
    page = service.browse(q="占道", at=dt.date(2019, 2, 15))
    assert page.total == 0
    assert dict(service.facets(q="占道")["status"]) == {"已废止": 1}
    assert dict(service.facets(q="占道", at=dt.date(2020, 1, 1))["status"]) == {"现行有效": 1}


def test_options_win_over_the_text(dbsession):
    regulation = _import(dbsession, PLAIN_RULE, level="规范性文件", region="云岭省青石市",
                         status="已废止", repealed_date=dt.date(2022, 1, 1)).regulation
    assert (regulation.level, regulation.region, regulation.status) == ("规范性文件", "云岭省青石市", "已废止")
    assert regulation.status_on(dt.date(2021, 6, 1)) == "现行有效"
    assert regulation.status_on(dt.date(2022, 1, 1)) == "已废止"


def test_manifest_count_mismatch_is_refused_and_stores_nothing(dbsession):
    parsed = parse_regulation_text(ROAD_V1, source="road.md")
    metadata = build_metadata(parsed, None, ImportMetadata(expected_article_count=6))
    with pytest.raises(ImportRefused) as info:
        RegulationImporter(dbsession).import_text(parsed, metadata)
    assert "road.md" in info.value.message
    assert dbsession.scalar(select(func.count(Regulation.id)).where(Regulation.title == TITLE)) == 0


def test_imports_are_audited(dbsession):
    regulation = _import(dbsession, ROAD_V1).regulation
    dbsession.flush()
    actions = dbsession.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "regulations",
                                                                AuditEntry.entity_id == str(regulation.id))).all()
    assert "regulations.create" in actions


@pytest.mark.parametrize(
    ("value", "expected"),
    [(23, (23, 0)), ("23", (23, 0)), ("23-1", (23, 1)), ("23之1", (23, 1)), ("第二十三条之一", (23, 1)),
     ("二十三", (23, 0)), ("第63条", (63, 0))],
)
def test_parse_article_ref(value, expected):
    assert parse_article_ref(value) == expected


@pytest.mark.parametrize("value", ["", "0", "abc", "23-x", True, -3])
def test_parse_article_ref_rejects(value):
    with pytest.raises(ValueError):
        parse_article_ref(value)


# ----------------------------------------------------------------------- legal basis


def test_lookup_by_full_or_short_title_and_number(dbsession):
    _import(dbsession, ROAD_V1)
    _import(dbsession, ROAD_V2)
    lookup = ArticleLookupService(dbsession)
    result = lookup.lookup("《青石市街巷管理条例》", "第三条", dt.date(2020, 1, 1))
    assert result.in_force and result.reason is None
    assert result.version.version_no == 2
    assert result.render() == "《青石市街巷管理条例》第三条"
    old = lookup.lookup(TITLE, 3, dt.date(2010, 1, 1))
    assert old.in_force and old.version.version_no == 1
    # The article the catalogue cited in 2010 was changed by the 2015 text.
    assert old.changed_on == dt.date(2015, 6, 1)
    assert lookup.lookup(TITLE, 4, dt.date(2010, 1, 1)).changed_on is None


def test_lookup_reasons(dbsession):
    _import(dbsession, ROAD_V1)
    _import(dbsession, PLAIN_RULE, status="已废止", repealed_date=dt.date(2022, 1, 1))
    lookup = ArticleLookupService(dbsession)
    assert lookup.lookup("不存在的条例", 1).reason == "regulation_not_found"
    assert lookup.lookup(TITLE, 99).reason == "article_not_found"
    assert lookup.lookup(TITLE, "3-1", dt.date(2010, 1, 1)).reason == "article_not_found"
    repealed = lookup.lookup("青石市占道经营管理办法", 2, dt.date(2023, 1, 1))
    assert (repealed.in_force, repealed.reason, repealed.status) == (False, "repealed", "已废止")
    assert lookup.lookup("青石市占道经营管理办法", 2, dt.date(2020, 1, 1)).in_force
    early = lookup.lookup("青石市占道经营管理办法", 2, dt.date(2019, 2, 15))
    assert early.reason == "not_yet_effective"


def test_resolve_citations(dbsession):
    _import(dbsession, ROAD_V1)
    lookup = ArticleLookupService(dbsession)
    result = lookup.resolve("《青石市街巷管理条例》第三条第二款", dt.date(2010, 1, 1))
    assert result.in_force
    assert result.paragraph_text == "井盖缺失的，权属单位应当在两小时内设置警示标志。"
    assert result.render() == "《青石市街巷管理条例》第三条第二款"
    assert lookup.resolve("青石市街巷管理条例第3条第9款").reason == "article_not_found"


def test_short_title_of_national_laws(dbsession):
    text = "中华人民共和国示例法\n第一条　为了示例，制定本法。\n第二条　本法自公布之日起施行。\n"
    regulation = _import(dbsession, text, promulgation_date=dt.date(2020, 1, 1)).regulation
    assert regulation.short_title == "示例法"
    assert regulation.level == "法律" and regulation.region == "全国"
    assert regulation.effective_date == dt.date(2020, 1, 1)
    assert RegulationService(dbsession).by_title("示例法").id == regulation.id
    assert RegulationService(dbsession).by_title("《示例法》（2020年公布）").id == regulation.id
    assert ArticleLookupService(dbsession).lookup("示例法", 1).in_force


def test_repeal_clauses_date_the_repealed_statutes(dbsession):
    from portal.regulations.versions import apply_repeals

    old = _import(dbsession, ROAD_V1).regulation
    code = ("青石市街巷与井盖综合条例\n第一条　为了统一街巷管理，制定本条例。\n"
            "第二条　本条例自2020年1月1日起施行。《青石市街巷管理条例》同时废止。\n")
    new = _import(dbsession, code, promulgation_date=dt.date(2019, 6, 1)).regulation
    [repeal] = apply_repeals(dbsession, on=dt.date(2024, 1, 1))
    assert (repeal.repealed.id, repeal.by.id, repeal.on) == (old.id, new.id, dt.date(2020, 1, 1))
    assert old.repealed_date == dt.date(2020, 1, 1) and old.status == "已废止"
    assert old.status_on(dt.date(2019, 12, 31)) == "现行有效"
    lookup = ArticleLookupService(dbsession)
    assert lookup.lookup(TITLE, 3, dt.date(2019, 1, 1)).in_force
    assert lookup.lookup(TITLE, 3, dt.date(2021, 1, 1)).reason == "repealed"
    # Idempotent: a known repeal date is kept.
    assert apply_repeals(dbsession) == []
    assert RegulationService(dbsession).browse(q="青石市街巷", at=dt.date(2021, 1, 1)).total == 1


def test_official_database_copy(dbsession):
    from .texts import OFFICIAL_COPY

    parsed = parse_regulation_text(OFFICIAL_COPY)
    assert parsed.title == "青石市市容管理条例"
    assert [e.kind for e in parsed.history] == ["adopted", "approved", "amended"]
    assert [a.chapter_path for a in parsed.articles] == [
        ("第一章 总则",), ("第一章 总则",), ("第二章 市容管理", "第一节 建筑物"),
        ("第二章 市容管理", "第二节 户外广告"), ("第三章 附则",),
    ]
    assert parsed.articles[2].paragraphs == ["临街建筑物应当符合下列要求：", "违反前款规定的，责令限期改正。"]
    assert parsed.articles[2].items == [["（一）外墙整洁；", "（二）阳台外不得吊挂杂物。"], []]
    outcome = RegulationImporter(dbsession).import_text(parsed, build_metadata(parsed))
    regulation = outcome.regulation
    assert regulation.issuing_authority == "青石市人民代表大会常务委员会（云岭省人民代表大会常务委员会批准）"
    assert (regulation.level, regulation.region) == ("地方性法规", "云岭省青石市")
    assert (regulation.promulgation_date, regulation.effective_date, regulation.amended_date) == (
        dt.date(2005, 3, 1), dt.date(2005, 7, 1), dt.date(2012, 6, 1))
    assert outcome.version.valid_from == dt.date(2012, 6, 1)
